"""``tf.data`` input pipelines with the paper's CIFAR augmentation, reproducible epoch by epoch.

He et al. (2016, section 4.2): "4 pixels are padded on each side, and a 32x32 crop is randomly sampled from the padded
image or its horizontal flip". Here the zero padding is ``image_size // 8`` pixels (4 for 32x32, 2 for 16x16), then
per-channel normalisation; chapter 4 shows what :func:`augment_batch` does to a batch. Every random choice is a
function of ``(seed, epoch)`` only (the order of epoch ``e`` from ``(seed, e)``, the crops and flips of its step ``s``
from ``(seed, e, s)``, with stateless random ops), so a run restarted with ``first_epoch=k`` sees exactly the batches
the uninterrupted run would have. The augmentation is one gather per batch, much faster on a CPU than a per-image map.
"""

import numpy as np
import tensorflow as tf

from resnet_lessons import arguments, data

# Stream ids folded into the seed, so the shuffle and the augmentation draw independent random numbers.
_SHUFFLE_STREAM = 1
_AUGMENTATION_STREAM = 2


def steps_per_epoch(num_train: int, batch_size: int) -> int:
    """The number of full batches in one epoch over ``num_train`` training images (``ImageDataset.num_train``),
    ``num_train // batch_size``: training drops the remainder."""
    num_train = arguments.positive_int(num_train, "num_train")
    batch_size = arguments.positive_int(batch_size, "batch_size")
    if batch_size > num_train:
        raise ValueError(f"batch_size must be at most the number of training images ({num_train}), got {batch_size}: "
                         "an epoch would have no full batch")
    return num_train // batch_size


def epoch_order(num_train: int, seed: int, epoch: int) -> np.ndarray:
    """The order (an int32 permutation of ``range(num_train)``) in which :func:`train_pipeline` visits an epoch.

    Exposed so that tests and chapters can check that every epoch is a permutation fixed by ``(seed, epoch)`` alone.
    """
    arguments.positive_int(num_train, "num_train")
    arguments.non_negative_int(seed, "seed")
    arguments.non_negative_int(epoch, "epoch")
    return _epoch_order(num_train, tf.constant(seed, tf.int64), tf.constant(epoch, tf.int64)).numpy()


def augment_batch(images, *, seed: int, epoch: int = 0, step: int = 0) -> tf.Tensor:
    """The paper's augmentation of a batch (batch, size, size, 3): zero-pad, random crop back, random horizontal flip.

    It is exactly what :func:`train_pipeline` applies (before normalisation) to step ``step`` of epoch ``epoch``, so
    a chapter can show what the network really sees. Returns a tensor of the same shape and dtype, each image shifted
    by up to ``size // 8`` pixels (the uncovered border zeros) and flipped left-right with probability 1/2.
    """
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4 or images.shape[-1] != 3 or images.shape[1] != images.shape[2]:
        raise ValueError(f"images must have shape (batch, size, size, 3), got {tuple(images.shape)}")
    arguments.non_negative_int(seed, "seed")
    arguments.non_negative_int(epoch, "epoch")
    arguments.non_negative_int(step, "step")
    key = _augmentation_key(tf.constant(seed, tf.int64), tf.constant(epoch, tf.int64), tf.constant(step, tf.int64))
    return _augment(images, key)


def train_pipeline(images, labels, *, batch_size: int, mean, std, seed: int, first_epoch: int = 0,
                   epochs: int | None = None, augment: bool = True) -> tf.data.Dataset:
    """The training input pipeline: shuffled, augmented, normalised batches for a range of epochs.

    Fast (batched augmentation, parallel map, prefetching) and resumable (every batch a function of seed, epoch and
    step). ``images`` are (N, size, size, 3) in [0, 255] units, ``mean`` and ``std`` 3 numbers in the same units
    (``data.channel_statistics``); epochs ``first_epoch .. epochs - 1`` come back to back (``epochs=None``: epoch
    ``first_epoch`` only), ``steps_per_epoch(N, batch_size)`` batches each (the last partial batch is dropped), the
    cardinality known; ``augment=False`` still shuffles. For several epochs, call ``model.fit(dataset, epochs=epochs,
    initial_epoch=first_epoch, steps_per_epoch=...)``: given ``steps_per_epoch``, Keras reads one iterator throughout.
    """
    images, labels = _check_images_and_labels(images, labels)
    num_train = len(images)
    steps = steps_per_epoch(num_train, batch_size)
    mean, std = _check_statistics(mean, std)
    arguments.non_negative_int(seed, "seed")
    arguments.non_negative_int(first_epoch, "first_epoch")
    if epochs is None:
        last_epoch = first_epoch + 1
    else:
        arguments.positive_int(epochs, "epochs")
        if first_epoch >= epochs:
            raise ValueError(f"first_epoch must be smaller than epochs ({epochs}), got {first_epoch}")
        last_epoch = epochs

    image_tensor = tf.constant(images)  # (N, size, size, 3), gathered by index below
    label_tensor = tf.constant(labels)  # (N,) int32
    seed_tensor = tf.constant(seed, tf.int64)

    def batches_of_epoch(epoch):
        # (steps, batch_size) example indices of this epoch, in visiting order
        order = _epoch_order(num_train, seed_tensor, epoch)[: steps * batch_size]
        index_batches = tf.reshape(order, (steps, batch_size))
        epoch_ids = tf.fill([steps], epoch)
        step_ids = tf.range(steps, dtype=tf.int64)
        return tf.data.Dataset.from_tensor_slices((index_batches, epoch_ids, step_ids))

    def make_batch(indices, epoch, step):
        batch_images = tf.gather(image_tensor, indices)  # (batch_size, size, size, 3)
        if augment:
            batch_images = _augment(batch_images, _augmentation_key(seed_tensor, epoch, step))
        return _normalise(batch_images, mean, std), tf.gather(label_tensor, indices)

    dataset = tf.data.Dataset.range(first_epoch, last_epoch).flat_map(batches_of_epoch)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality((last_epoch - first_epoch) * steps))
    dataset = dataset.map(make_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    # Without tf.data's autotuning thread: destroying the iterator at the end of a run waited for it (about 10 s on
    # 2 cores); the batches are the same.
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(options)


def eval_pipeline(images, labels, *, batch_size: int, mean, std) -> tf.data.Dataset:
    """The evaluation input pipeline: every example once, in order, normalised, not augmented.

    Arguments as for :func:`train_pipeline` (``mean`` and ``std`` from the training images); the last of the
    ``ceil(N / batch_size)`` batches keeps the remainder.
    """
    images, labels = _check_images_and_labels(images, labels)
    arguments.positive_int(batch_size, "batch_size")
    mean, std = _check_statistics(mean, std)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)
    dataset = dataset.map(lambda batch_images, batch_labels: (_normalise(batch_images, mean, std), batch_labels),
                          num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


def _epoch_order(num_train, seed, epoch):
    """Permutation (num_train,) int32 of one epoch, from stateless random numbers keyed by (seed, epoch)."""
    key = tf.random.experimental.stateless_fold_in(tf.stack([seed, tf.constant(_SHUFFLE_STREAM, tf.int64)]), epoch)
    scores = tf.random.stateless_uniform([num_train], seed=key)
    return tf.argsort(scores, stable=True)  # int32


def _augmentation_key(seed, epoch, step):
    """The stateless seed, shape (2,), of the augmentation of one batch."""
    key = tf.stack([seed, tf.constant(_AUGMENTATION_STREAM, tf.int64)])
    key = tf.random.experimental.stateless_fold_in(key, epoch)
    return tf.random.experimental.stateless_fold_in(key, step)


def _augment(images, key):
    """Zero-pad by size // 8, crop back at a random offset and flip at random, for a whole batch.

    Crop and flip are one gather: the rows of image i are ``top_i + r`` and its columns ``left_i + c``,
    or ``left_i + size - 1 - c`` when it is flipped.
    """
    size = images.shape[1]
    padding = size // 8
    batch = tf.shape(images)[0]
    crop_key, flip_key = tf.unstack(tf.random.experimental.stateless_split(key, 2))
    # (batch, 2) top and left offsets in [0, 2 * padding]
    offsets = tf.random.stateless_uniform([batch, 2], seed=crop_key, minval=0, maxval=2 * padding + 1, dtype=tf.int32)
    flips = tf.random.stateless_uniform([batch], seed=flip_key) < 0.5  # (batch,)
    padded = tf.pad(images, [[0, 0], [padding, padding], [padding, padding], [0, 0]])  # (batch, size+2p, size+2p, 3)
    positions = tf.range(size, dtype=tf.int32)[tf.newaxis, :]  # (1, size)
    rows = offsets[:, 0:1] + positions  # (batch, size)
    columns = offsets[:, 1:2] + tf.where(flips[:, tf.newaxis], size - 1 - positions, positions)  # (batch, size)
    cropped_rows = tf.gather(padded, rows, axis=1, batch_dims=1)  # (batch, size, size+2p, 3)
    return tf.gather(cropped_rows, columns, axis=2, batch_dims=1)  # (batch, size, size, 3)


def _normalise(images, mean, std):
    """(x - mean) / std per channel, as float32."""
    return (tf.cast(images, tf.float32) - mean) / std


def _check_images_and_labels(images, labels):
    """Validate a training or evaluation set and return it as numpy arrays (labels as int32)."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[3] != 3 or images.shape[1] != images.shape[2] or images.shape[0] < 1:
        raise ValueError(f"images must have shape (num_images, size, size, 3) with num_images >= 1, got {images.shape}")
    if not (images.dtype == np.uint8 or np.issubdtype(images.dtype, np.floating)):
        raise ValueError(f"images must be uint8 or floating point in [0, 255] units, got dtype {images.dtype}")
    return images, data.integer_labels(labels, len(images))


def _check_statistics(mean, std):
    """Validate per-channel mean and std and return them as float32 tensors of shape (3,)."""
    mean = np.asarray(mean, dtype=np.float32)
    std = np.asarray(std, dtype=np.float32)
    for name, values in (("mean", mean), ("std", std)):
        if values.shape != (3,):
            raise ValueError(f"{name} must be 3 numbers, one per channel, got shape {values.shape}")
    if not np.all(std > 0):
        raise ValueError(f"std must be positive in every channel, got {std.tolist()}")
    return tf.constant(mean), tf.constant(std)
