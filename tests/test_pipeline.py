"""Tests of resnet_lessons.pipeline: batch shapes, normalisation, augmentation, and epoch-exact reproducibility."""

import numpy as np
import pytest
import tensorflow as tf

from resnet_lessons import pipeline

MEAN = np.array([100.0, 110.0, 120.0], np.float32)
STD = np.array([50.0, 60.0, 70.0], np.float32)


def numbered_images(num_images, size=8):
    """Images whose every pixel value encodes the image index, so batches can be traced back."""
    values = np.arange(num_images, dtype=np.uint8)[:, None, None, None]
    return np.broadcast_to(values, (num_images, size, size, 3)).copy(), np.arange(num_images, dtype=np.int32) % 10


def as_arrays(dataset):
    return [(images.numpy(), labels.numpy()) for images, labels in dataset]


def test_steps_per_epoch():
    assert pipeline.steps_per_epoch(50_000, 128) == 390
    assert pipeline.steps_per_epoch(128, 128) == 1
    with pytest.raises(ValueError, match="batch_size must be at most the number of training images"):
        pipeline.steps_per_epoch(100, 128)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        pipeline.steps_per_epoch(100, 0)


def test_epoch_order_is_a_permutation_fixed_by_seed_and_epoch():
    order = pipeline.epoch_order(100, seed=3, epoch=2)
    assert order.dtype == np.int32 and sorted(order.tolist()) == list(range(100))
    np.testing.assert_array_equal(order, pipeline.epoch_order(100, seed=3, epoch=2))
    assert not np.array_equal(order, pipeline.epoch_order(100, seed=3, epoch=3))
    assert not np.array_equal(order, pipeline.epoch_order(100, seed=4, epoch=2))


def test_train_pipeline_batches_without_augmentation():
    images, labels = numbered_images(50)
    dataset = pipeline.train_pipeline(images, labels, batch_size=16, mean=MEAN, std=STD, seed=0, augment=False)
    batches = as_arrays(dataset)
    assert len(batches) == 3 == int(dataset.cardinality())  # 50 // 16, the remainder dropped
    batch_images, batch_labels = batches[0]
    assert batch_images.shape == (16, 8, 8, 3) and batch_images.dtype == np.float32
    assert batch_labels.shape == (16,) and batch_labels.dtype == np.int32
    # normalised per channel, and each label still belongs to its image
    index = np.rint(batch_images[:, 0, 0, 0] * STD[0] + MEAN[0]).astype(int)
    np.testing.assert_allclose(batch_images[:, 0, 0, :], (index[:, None] - MEAN) / STD, rtol=1e-5)
    np.testing.assert_array_equal(batch_labels, index % 10)
    # the epoch visits distinct images in the order epoch_order gives
    visited = np.concatenate([np.rint(b[:, 0, 0, 0] * STD[0] + MEAN[0]).astype(int) for b, _ in batches])
    np.testing.assert_array_equal(visited, pipeline.epoch_order(50, seed=0, epoch=0)[:48])


def test_train_pipeline_runs_without_the_autotuning_thread():
    # At the end of a training run, destroying the iterator waited for tf.data's autotuning thread (about 10 s per
    # quick-profile run on 2 cores); the parallel map and the prefetch keep their own defaults.
    images, labels = numbered_images(40)
    dataset = pipeline.train_pipeline(images, labels, batch_size=10, mean=MEAN, std=STD, seed=1, epochs=2)
    assert dataset.options().autotune.enabled is False


def test_train_pipeline_runs_several_epochs_back_to_back():
    images, labels = numbered_images(40)
    dataset = pipeline.train_pipeline(images, labels, batch_size=10, mean=MEAN, std=STD, seed=1, epochs=3)
    batches = as_arrays(dataset)
    assert len(batches) == 12 == int(dataset.cardinality())
    first_epoch_labels = np.concatenate([labels for _, labels in batches[:4]])
    second_epoch_labels = np.concatenate([labels for _, labels in batches[4:8]])
    assert sorted(first_epoch_labels.tolist()) == sorted(labels.tolist())
    assert not np.array_equal(first_epoch_labels, second_epoch_labels)  # reshuffled


def test_restarting_at_an_epoch_reproduces_the_uninterrupted_run():
    images = np.random.default_rng(0).integers(0, 256, size=(64, 16, 16, 3), dtype=np.uint8)
    labels = np.arange(64) % 10
    arguments = {"batch_size": 16, "mean": MEAN, "std": STD, "seed": 7}
    uninterrupted = as_arrays(pipeline.train_pipeline(images, labels, epochs=4, **arguments))
    resumed = as_arrays(pipeline.train_pipeline(images, labels, first_epoch=2, epochs=4, **arguments))
    only_epoch_two = as_arrays(pipeline.train_pipeline(images, labels, first_epoch=2, **arguments))
    assert len(uninterrupted) == 16 and len(resumed) == 8 and len(only_epoch_two) == 4
    for (expected_images, expected_labels), (images_again, labels_again) in zip(uninterrupted[8:], resumed):
        np.testing.assert_array_equal(expected_images, images_again)
        np.testing.assert_array_equal(expected_labels, labels_again)
    for (expected_images, _), (images_again, _) in zip(uninterrupted[8:12], only_epoch_two):
        np.testing.assert_array_equal(expected_images, images_again)
    # and a different seed gives different batches
    other_seed = as_arrays(pipeline.train_pipeline(images, labels, **{**arguments, "seed": 8}))
    assert not np.array_equal(other_seed[0][0], uninterrupted[0][0])


def test_augment_batch_crops_and_flips_within_the_padding():
    size, padding = 16, 2  # 16 // 8
    # each pixel holds its column in channel 0 and its row in channel 1, starting at 1 so the padding is 0
    rows, columns = np.meshgrid(np.arange(1, size + 1), np.arange(1, size + 1), indexing="ij")
    image = np.stack([columns, rows, np.full_like(rows, 255)], axis=-1).astype(np.uint8)
    images = np.repeat(image[None], 64, axis=0)
    augmented = pipeline.augment_batch(images, seed=0, epoch=1, step=2).numpy()
    assert augmented.shape == images.shape and augmented.dtype == np.uint8
    flips = 0
    output_rows, output_columns = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    for picture in augmented:
        inside = picture[..., 2] == 255
        assert np.all(picture[~inside] == 0)  # the uncovered border is zero padding
        source_rows = picture[..., 1].astype(int) - 1
        source_columns = picture[..., 0].astype(int) - 1
        # one vertical shift for the whole image, within the padding
        row_shifts = np.unique((source_rows - output_rows)[inside])
        assert len(row_shifts) == 1 and abs(row_shifts[0]) <= padding
        assert inside.sum() == (size - abs(row_shifts[0])) * inside.any(axis=0).sum()
        # columns are shifted (source = output + shift) or flipped (source = shift - output)
        shifted = np.unique((source_columns - output_columns)[inside])
        flipped = np.unique((source_columns + output_columns)[inside])
        assert len(shifted) == 1 or len(flipped) == 1
        if len(flipped) == 1:
            flips += 1
            assert abs(flipped[0] - (size - 1)) <= padding
        else:
            assert abs(shifted[0]) <= padding
    assert 10 < flips < 54  # about half of the 64 images are flipped
    np.testing.assert_array_equal(augmented, pipeline.augment_batch(images, seed=0, epoch=1, step=2).numpy())
    assert not np.array_equal(augmented, pipeline.augment_batch(images, seed=0, epoch=1, step=3).numpy())


def test_train_pipeline_applies_exactly_augment_batch():
    images = np.random.default_rng(2).integers(0, 256, size=(32, 8, 8, 3), dtype=np.uint8)
    labels = np.zeros(32, np.int32)
    dataset = pipeline.train_pipeline(images, labels, batch_size=8, mean=MEAN, std=STD, seed=5, first_epoch=1)
    batch_images, _ = as_arrays(dataset)[2]
    indices = pipeline.epoch_order(32, seed=5, epoch=1)[16:24]
    expected = pipeline.augment_batch(images[indices], seed=5, epoch=1, step=2).numpy()
    np.testing.assert_allclose(batch_images, (expected.astype(np.float32) - MEAN) / STD, rtol=1e-6)


def test_eval_pipeline_keeps_order_and_remainder():
    images, labels = numbered_images(25)
    batches = as_arrays(pipeline.eval_pipeline(images, labels, batch_size=10, mean=MEAN, std=STD))
    assert [len(batch_labels) for _, batch_labels in batches] == [10, 10, 5]
    all_images = np.concatenate([batch_images for batch_images, _ in batches])
    np.testing.assert_allclose(all_images, (images.astype(np.float32) - MEAN) / STD, rtol=1e-6)
    assert all_images.dtype == np.float32
    np.testing.assert_array_equal(np.concatenate([batch_labels for _, batch_labels in batches]), labels)
    assert batches[0][1].dtype == np.int32


def test_both_pipelines_take_uint8_labels_and_the_keras_column_and_give_int32():
    images, labels = numbered_images(10)
    column = labels.astype(np.uint8)[:, None]
    for dataset in (pipeline.eval_pipeline(images, column, batch_size=10, mean=MEAN, std=STD),
                    pipeline.train_pipeline(images, column, batch_size=10, mean=MEAN, std=STD, seed=0)):
        [(_, batch_labels)] = as_arrays(dataset)
        assert batch_labels.dtype == np.int32 and sorted(batch_labels.tolist()) == sorted(labels.tolist())


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"images": np.zeros((10, 8, 8), np.uint8)}, r"images must have shape \(num_images, size, size, 3\)"),
        ({"images": np.zeros((10, 8, 8, 1), np.uint8)}, "images must have shape"),
        ({"images": np.zeros((10, 8, 8, 3), np.int64)}, "images must be uint8 or floating point"),
        ({"labels": np.zeros(9, np.int32)}, r"labels must have shape \(10,\)"),
        ({"labels": np.zeros(10, np.float32)}, "labels must be integers"),
        ({"batch_size": 0}, "batch_size must be a positive int"),
        ({"batch_size": 11}, "batch_size must be at most the number of training images"),
        ({"mean": [1.0, 2.0]}, "mean must be 3 numbers"),
        ({"std": np.ones((1, 3))}, "std must be 3 numbers"),
        ({"std": [1.0, 0.0, 1.0]}, "std must be positive"),
        ({"seed": -1}, "seed must be a non-negative int"),
        ({"first_epoch": -1}, "first_epoch must be a non-negative int"),
        ({"first_epoch": 3, "epochs": 3}, r"first_epoch must be smaller than epochs \(3\)"),
        ({"epochs": 0}, "epochs must be a positive int"),
    ],
)
def test_train_pipeline_rejects_bad_arguments(changes, message):
    arguments = {
        "images": np.zeros((10, 8, 8, 3), np.uint8),
        "labels": np.zeros(10, np.int32),
        "batch_size": 4,
        "mean": MEAN,
        "std": STD,
        "seed": 0,
    }
    arguments.update(changes)
    images, labels = arguments.pop("images"), arguments.pop("labels")
    with pytest.raises(ValueError, match=message):
        pipeline.train_pipeline(images, labels, **arguments)


def test_eval_pipeline_rejects_bad_arguments():
    images, labels = numbered_images(10)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        pipeline.eval_pipeline(images, labels, batch_size=-1, mean=MEAN, std=STD)
    with pytest.raises(ValueError, match=r"labels must have shape \(10,\)"):
        pipeline.eval_pipeline(images, labels[:5], batch_size=4, mean=MEAN, std=STD)


def test_augment_batch_rejects_bad_arguments():
    with pytest.raises(ValueError, match="images must have shape"):
        pipeline.augment_batch(np.zeros((2, 8, 8), np.uint8), seed=0)
    with pytest.raises(ValueError, match="step must be a non-negative int"):
        pipeline.augment_batch(np.zeros((2, 8, 8, 3), np.uint8), seed=0, step=-1)


def test_train_pipeline_feeds_keras_fit():
    import keras

    images, labels = numbered_images(32)
    dataset = pipeline.train_pipeline(images, labels, batch_size=8, mean=MEAN, std=STD, seed=0, epochs=2)
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(10)])
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(dataset, epochs=2, steps_per_epoch=pipeline.steps_per_epoch(32, 8), shuffle=False, verbose=0)
    assert len(history.history["loss"]) == 2
    assert isinstance(dataset.element_spec[0], tf.TensorSpec)
