"""The data sets of the book: one container, one loader over a table of sources, and the transforms around them.

Chapter 0: every chapter trains on an :class:`ImageDataset` from :func:`load_dataset`: real CIFAR-10 (He et al.
2016, section 4.2) when it can be had (``resnet_lessons.cifar10``), else, with a notice, a deterministic synthetic
set of CIFAR-shaped images (``resnet_lessons.synthetic``), so every chapter runs anywhere and says which data it used.

A source returns arrays, class names and a description, as ``keras.datasets`` loaders do, and knows nothing of the
container; :data:`_LOADERS` maps a source's name to its loader, so a new data set is a module and one entry there.
The transforms (:func:`subset`, :func:`resize`, :func:`split_validation`, :func:`channel_statistics`) work on whole
uint8 data sets in memory.
"""

import dataclasses
import textwrap

import numpy as np

from resnet_lessons import arguments, cifar10, downloads, synthetic

CIFAR10_CLASS_NAMES = cifar10.CLASS_NAMES

# CIFAR-10's split sizes; the synthetic set offers the same, so quick runs can ask for any size up to them.
CIFAR10_NUM_TRAIN = 50_000
CIFAR10_NUM_TEST = 10_000

# Images handled per step when computing statistics or resizing, so float copies stay small (~60 MB).
_CHUNK_SIZE = 5_000


@dataclasses.dataclass(frozen=True)
class ImageDataset:
    """A labelled image classification data set with a train and a test split, held in memory.

    One container for real and synthetic data, so models, training loops and plots never need to know which one a
    run uses; ``name`` is the source (see :data:`SOURCES`), ``description`` one line for printing beside results.
    Images are uint8 (N, image_size, image_size, 3), checked on creation. Labels may be given as any integer array or
    list, flat or as the (N, 1) column ``keras.datasets`` returns; they are stored as int32 (N,) in
    [0, len(class_names)).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple
    description: str

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.description, str):
            raise ValueError(f"description must be a string, got {type(self.description).__name__}")
        if not isinstance(self.class_names, tuple) or not self.class_names:
            raise ValueError(f"class_names must be a non-empty tuple of strings, got {self.class_names!r}")
        if not all(isinstance(class_name, str) for class_name in self.class_names):
            raise ValueError(f"class_names must contain only strings, got {self.class_names!r}")
        for split in ("train", "test"):
            images = getattr(self, f"x_{split}")
            _check_images(images, f"x_{split}")
            labels = integer_labels(getattr(self, f"y_{split}"), len(images), f"y_{split}")
            if labels.size and (labels.min() < 0 or labels.max() >= len(self.class_names)):
                raise ValueError(f"y_{split} must hold labels in [0, {len(self.class_names)}), got values from "
                                 f"{labels.min()} to {labels.max()}")
            object.__setattr__(self, f"y_{split}", labels)
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise ValueError(f"x_train and x_test must have the same image shape, got {self.x_train.shape[1:]} "
                             f"and {self.x_test.shape[1:]}")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_size(self) -> int:
        """The height (equal to the width) of every image, in pixels."""
        return int(self.x_train.shape[1])

    @property
    def num_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def num_test(self) -> int:
        return int(self.x_test.shape[0])


def _check_array(array, argument_name, dtype):
    if not isinstance(array, np.ndarray):
        raise ValueError(f"{argument_name} must be a numpy array, got {type(array).__name__}")
    if array.dtype != dtype:
        raise ValueError(f"{argument_name} must have dtype {np.dtype(dtype)}, got {array.dtype}")


def _check_images(images, argument_name):
    """Raise ValueError unless ``images`` is a uint8 array of square RGB images (N, H, H, 3)."""
    _check_array(images, argument_name, np.uint8)
    if images.ndim != 4 or images.shape[3] != 3 or images.shape[1] != images.shape[2] or images.shape[1] < 1:
        raise ValueError(f"{argument_name} must have shape (num_images, size, size, 3) with square RGB images, "
                         f"got {images.shape}")


def integer_labels(labels, num_images: int, argument_name: str = "labels") -> np.ndarray:
    """``labels`` as an int32 vector of ``num_images`` class indices: any integer dtype, a list, or the (N, 1)
    column of ``keras.datasets``; a ``ValueError`` naming ``argument_name`` for anything else."""
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.shape != (num_images,):
        raise ValueError(f"{argument_name} must have shape ({num_images},) or ({num_images}, 1), one label per image, "
                         f"got {labels.shape}")
    if not (np.issubdtype(labels.dtype, np.integer) or labels.size == 0):
        raise ValueError(f"{argument_name} must be integers (class indices), got dtype {labels.dtype}")
    return labels.astype(np.int32)


def _load_cifar10(*, download, cifar10_folder, verbose, **_):
    """CIFAR-10 in full (it is fixed: ``seed`` does not apply; ``load_dataset`` takes the first images)."""
    return cifar10.load_data(download=download, image_folder=cifar10_folder, verbose=verbose)


def _load_synthetic(*, num_train, num_test, seed, **_):
    """Only the images asked for are generated (the first of the full set, so the same whatever the total)."""
    return synthetic.load_data(num_train=num_train or CIFAR10_NUM_TRAIN, num_test=num_test or CIFAR10_NUM_TEST,
                               seed=seed)


# The sources load_dataset knows: name -> loader. A loader takes the arguments of load_dataset it needs, by keyword,
# and returns ``(x_train, y_train), (x_test, y_test), class_names, description``; it raises downloads.Unavailable
# (with a reason) when its data cannot be had here.
_LOADERS = {"cifar10": _load_cifar10, "synthetic": _load_synthetic}
# "auto" is CIFAR-10, falling back to the synthetic set when CIFAR-10 is unavailable.
SOURCES = ("auto", *_LOADERS)


def load_dataset(source: str = "auto", *, num_train: int | None = None, num_test: int | None = None, seed: int = 0,
                 download: bool = True, cifar10_folder=None, verbose: bool = True) -> ImageDataset:
    """Load the data a chapter trains on: CIFAR-10 when it can be had, else the synthetic set.

    The book must run anywhere, offline machines without a CIFAR-10 cache included, and say which data produced its
    numbers: ``"auto"`` therefore falls back to the synthetic set with one visible notice rather than failing.

    ``source`` is ``"cifar10"`` (real CIFAR-10 or a ``cifar10.CIFAR10Unavailable``), ``"synthetic"`` or ``"auto"``;
    ``num_train`` and ``num_test`` keep the first images of each split (None: all; the synthetic set generates only
    these), ``seed`` is the synthetic set's; ``download`` and ``cifar10_folder`` (an image-folder copy) are
    ``cifar10.load_data``'s. ``verbose`` prints ``Data: <description>``, and the notice when ``"auto"`` falls back.
    """
    if source != "auto" and source not in _LOADERS:
        names = ", ".join(repr(name) for name in ("auto", *_LOADERS))
        raise ValueError(f"source must be one of {names}, got {source!r}")
    # checked before loading; subset() takes them
    _first(num_train, "num_train", CIFAR10_NUM_TRAIN), _first(num_test, "num_test", CIFAR10_NUM_TEST)
    options = dict(num_train=num_train, num_test=num_test, seed=seed, download=download,
                   cifar10_folder=cifar10_folder, verbose=verbose)
    name = "cifar10" if source == "auto" else source
    fallback_reason = None
    try:
        loaded = _LOADERS[name](**options)
    except downloads.Unavailable as error:
        if source != "auto":
            raise
        name, fallback_reason = "synthetic", error.reason
        loaded = _LOADERS[name](**options)
    (x_train, y_train), (x_test, y_test), class_names, description = loaded
    if fallback_reason is not None:
        description = f"{description}; CIFAR-10 was not available: {fallback_reason}"
        if verbose:
            print(textwrap.fill(f"Notice: CIFAR-10 is not available here ({fallback_reason}), so this run uses "
                                "synthetic CIFAR-shaped data; its numbers are not comparable with the paper's "
                                "CIFAR-10 results.", width=88, subsequent_indent="  "))
    dataset = subset(ImageDataset(name, x_train, y_train, x_test, y_test, class_names, description),
                     num_train=num_train, num_test=num_test)
    if verbose:
        print(textwrap.fill(f"Data: {dataset.description}", width=88, subsequent_indent="  "))
    return dataset


def subset(dataset: ImageDataset, num_train: int | None = None, num_test: int | None = None) -> ImageDataset:
    """Keep the first images of each split (None keeps a split whole), for quick runs.

    The first N rather than a random N: a quick run sees the same images every time, and for the synthetic set they
    are the very images a larger request would start with. Returns ``dataset`` itself if nothing is cut.
    """
    num_train = _first(num_train, "num_train", dataset.num_train)
    num_test = _first(num_test, "num_test", dataset.num_test)
    if num_train == dataset.num_train and num_test == dataset.num_test:
        return dataset
    return dataclasses.replace(
        dataset, x_train=dataset.x_train[:num_train], y_train=dataset.y_train[:num_train],
        x_test=dataset.x_test[:num_test], y_test=dataset.y_test[:num_test],
        description=f"{dataset.description}; using the first {num_train:,} train / {num_test:,} test images")


def _first(count, name, available):
    """How many of the ``available`` images to keep: ``count`` checked, or all of them for None."""
    return available if count is None else arguments.count_at_most(count, name, available, what="the images available")


def downsample_images(images: np.ndarray, image_size: int) -> np.ndarray:
    """Area-downsample square uint8 images (N, H, H, 3) to ``image_size``, which must divide H.

    Averaging factor x factor blocks is what a camera with bigger pixels would record: it keeps the content without
    the aliasing of plain subsampling; 16x16 images make CPU training ~4x cheaper. Each pixel is the rounded mean.
    """
    _check_images(images, "images")
    size = images.shape[1]
    image_size = arguments.positive_int(image_size, "image_size")
    if image_size > size or size % image_size != 0:
        raise ValueError(f"image_size must divide the current image size {size} (downsampling only), got {image_size}")
    factor = size // image_size
    if factor == 1:
        return images
    block_area = factor * factor
    resized = np.empty((len(images), image_size, image_size, 3), dtype=np.uint8)
    for start in range(0, len(images), _CHUNK_SIZE):
        chunk = images[start : start + _CHUNK_SIZE]
        # (n, image_size, factor, image_size, factor, 3) -> sum over each factor x factor block
        blocks = chunk.reshape(len(chunk), image_size, factor, image_size, factor, 3)
        block_sums = blocks.sum(axis=(2, 4), dtype=np.uint32)
        # integer round-half-up of the block mean
        resized[start : start + _CHUNK_SIZE] = (block_sums + block_area // 2) // block_area
    return resized


def resize(dataset: ImageDataset, image_size: int) -> ImageDataset:
    """Area-downsample every image of a data set (e.g. 32x32 -> 16x16, see :func:`downsample_images`).

    Returns ``dataset`` itself when ``image_size`` equals its current size.
    """
    x_train = downsample_images(dataset.x_train, image_size)
    if x_train is dataset.x_train:
        return dataset
    return dataclasses.replace(dataset, x_train=x_train, x_test=downsample_images(dataset.x_test, image_size),
                               description=f"{dataset.description}; area-downsampled to {image_size}x{image_size}")


def split_validation(dataset: ImageDataset, num_validation: int, seed: int = 0) -> tuple[ImageDataset, ImageDataset]:
    """Hold out ``num_validation`` training images (chosen at random given ``seed``) as the paper's 45k/5k split does.

    He et al. (2016, section 4.2) choose hyperparameters on 5k of the 50k training images, keeping the test set out
    of every decision. Returns ``(train_part, validation_as_test)``, both training on the rest (in the original
    order); the second has the held-out images as its test split, so code that evaluates "the test split" validates.
    """
    num_validation = arguments.count_at_most(num_validation, "num_validation", dataset.num_train - 1,
                                             what="fewer than the training images")
    order = np.random.default_rng(seed).permutation(dataset.num_train)
    validation_indices = np.sort(order[:num_validation])
    keep_indices = np.sort(order[num_validation:])
    x_keep = dataset.x_train[keep_indices]
    y_keep = dataset.y_train[keep_indices]
    training_on = f"{dataset.description}; training on {len(keep_indices):,} images"
    train_part = dataclasses.replace(
        dataset, x_train=x_keep, y_train=y_keep,
        description=f"{training_on}, {num_validation:,} held out for validation (seed {seed})")
    validation_as_test = dataclasses.replace(
        dataset, x_train=x_keep, y_train=y_keep, x_test=dataset.x_train[validation_indices],
        y_test=dataset.y_train[validation_indices],
        description=f"{training_on}, validating on {num_validation:,} held-out training images (seed {seed}) in "
        "place of the test split")
    return train_part, validation_as_test


def channel_statistics(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of images (N, H, W, 3), float32 (3,) each in [0, 255] pixel units.

    The paper subtracts the per-pixel mean; the common per-channel variant also divides by the standard deviation
    so every input channel has unit scale. Compute them from the training images only (in float64 here).
    """
    if not isinstance(images, np.ndarray):
        raise ValueError(f"images must be a numpy array, got {type(images).__name__}")
    if images.ndim != 4 or images.shape[3] != 3 or images.shape[0] < 1:
        raise ValueError(
            f"images must have shape (num_images, height, width, 3) with num_images >= 1, got {images.shape}")
    total = np.zeros(3, dtype=np.float64)
    total_of_squares = np.zeros(3, dtype=np.float64)
    for start in range(0, len(images), _CHUNK_SIZE):
        chunk = images[start : start + _CHUNK_SIZE].astype(np.float64)
        total += chunk.sum(axis=(0, 1, 2))
        total_of_squares += np.square(chunk).sum(axis=(0, 1, 2))
    count = images.shape[0] * images.shape[1] * images.shape[2]
    mean = total / count
    variance = np.maximum(total_of_squares / count - np.square(mean), 0.0)
    return mean.astype(np.float32), np.sqrt(variance).astype(np.float32)
