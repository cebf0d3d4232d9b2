"""Real CIFAR-10: the official release from the Keras cache or downloaded there, else an image-folder copy.

Chapter 0: CIFAR-10 (Krizhevsky 2009) is the data set of the paper's CIFAR experiments (He et al. 2016, section 4.2):
50,000 training and 10,000 test images, 32x32 RGB, 10 classes. :func:`load_data` takes the official release from the
Keras cache (where ``keras.datasets.cifar10`` keeps it; its batch files are read directly), else downloads it there
(:func:`resnet_lessons.downloads.fetch`, so an offline machine never hangs), else reads an image-folder copy named by
``image_folder`` or ``$RESNET_LESSONS_CIFAR10_FOLDER``: how machines without internet (the book's CI among them) get
real photographs. A JPEG copy's pixels are close to, not equal to, the official ones, and its order is a fixed
shuffle (:mod:`resnet_lessons.image_folder`); the description says so, and never names a path of the machine, so it
can be printed in stored notebook outputs. When none works, :class:`CIFAR10Unavailable` says why and what to do.
"""

import os
import pathlib
import pickle
import urllib.parse

import numpy as np

from resnet_lessons import downloads, image_folder

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
# SHA-256 of the archive at CIFAR10_URL, the value keras.datasets.cifar10 checks.
CIFAR10_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"

# The folder inside the archive, and where Keras versions extracted it in <keras home>/datasets: Keras >= 3.6 uses
# get_file(fname="cifar-10-batches-py-target", extract=True), older Keras and tf.keras extracted it straight there.
ARCHIVE_FOLDER = "cifar-10-batches-py"
KERAS_DOWNLOAD_NAME = "cifar-10-batches-py-target"
_CACHE_LAYOUTS = tuple(pathlib.Path(*parents, ARCHIVE_FOLDER) for parents in (
    (KERAS_DOWNLOAD_NAME,), (), (f"{ARCHIVE_FOLDER}_extracted",), ("cifar-10-python_extracted",)))

TRAIN_BATCH_FILES = tuple(f"data_batch_{index}" for index in range(1, 6))
TEST_BATCH_FILE = "test_batch"
IMAGE_SIZE = 32

# Where an image-folder copy of CIFAR-10 is, when no argument names one (a folder or a .tar.gz/.zip archive).
FOLDER_ENVIRONMENT_VARIABLE = "RESNET_LESSONS_CIFAR10_FOLDER"
# The seed of the fixed order of an image-folder copy's images: the same on every machine, never chosen per run.
FOLDER_ORDER_SEED = 0
# Each row of a batch file holds one image as three 32x32 colour planes: 1024 red, 1024 green, 1024 blue.
_VALUES_PER_IMAGE = 3 * IMAGE_SIZE * IMAGE_SIZE

# The only globals a CIFAR-10 batch file (a pickled dict of a numpy array and a list) may refer to.
_ALLOWED_PICKLE_GLOBALS = {(f"numpy.{core}.{module}", name) for core in ("core", "_core") for module, name in
                           (("multiarray", "_reconstruct"), ("multiarray", "scalar"), ("numeric", "_frombuffer"))}
_ALLOWED_PICKLE_GLOBALS |= {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}


class CIFAR10Unavailable(downloads.Unavailable):
    """CIFAR-10 is neither in the Keras cache nor downloadable (offline, unreachable, failed or damaged)."""


class _BatchUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds numpy arrays and nothing else, so a tampered file cannot run code."""

    def find_class(self, module, name):
        if (module, name) in _ALLOWED_PICKLE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a CIFAR-10 batch holds only arrays and lists")


def _read_batch(path):
    """Read one batch file into uint8 (N, 32, 32, 3) images and int32 (N,) labels (errors as in read_batches)."""
    try:
        with open(path, "rb") as batch_file:
            try:
                # encoding="bytes": the files were written by Python 2, whose str keys arrive as bytes
                content = _BatchUnpickler(batch_file, encoding="bytes").load()
            except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as error:
                raise ValueError(f"{path} is not a CIFAR-10 batch file (unpickling failed: {error})") from error
    except FileNotFoundError as error:
        raise CIFAR10Unavailable(f"CIFAR-10 batch file {path} is missing") from error
    except OSError as error:
        raise CIFAR10Unavailable(f"CIFAR-10 batch file {path} cannot be read: {error}") from error

    if not isinstance(content, dict):
        raise ValueError(f"{path} is not a CIFAR-10 batch file: expected a dict, got {type(content).__name__}")
    # accept str keys too (files re-pickled by Python 3)
    content = {key.decode("latin1") if isinstance(key, bytes) else key: value for key, value in content.items()}
    for key in ("data", "labels"):
        if key not in content:
            raise ValueError(f"{path} is not a CIFAR-10 batch file: it has no {key!r} entry (keys: {sorted(content)})")
    pixels = np.asarray(content["data"])
    if pixels.dtype != np.uint8 or pixels.ndim != 2 or pixels.shape[1] != _VALUES_PER_IMAGE:
        raise ValueError(f"{path}: 'data' must be a uint8 array of shape (num_images, {_VALUES_PER_IMAGE}), "
                         f"got {pixels.dtype} {pixels.shape}")
    labels = np.asarray(content["labels"])
    if labels.shape != (len(pixels),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{path}: 'labels' must be {len(pixels)} integers (one per image), got {labels.dtype} "
                         f"{labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASS_NAMES)):
        raise ValueError(f"{path}: labels must lie in [0, 10), got values from {labels.min()} to {labels.max()}")
    # (N, 3072) -> (N, 3, 32, 32) colour planes -> (N, 32, 32, 3) channels last
    images = pixels.reshape(len(pixels), 3, IMAGE_SIZE, IMAGE_SIZE).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels.astype(np.int32)


def read_batches(directory) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Read an extracted ``cifar-10-batches-py`` folder: ``data_batch_1`` .. ``data_batch_5`` and ``test_batch``.

    Reading the batch files ourselves (rather than through ``keras.datasets``) lets the book use a copy found in any
    Keras cache layout. Each file is a Python pickle of a dict with ``b"data"``, a (N, 3072) uint8 array of row-major
    red, green and blue planes, and ``b"labels"``, N ints in [0, 10).

    Returns ``(x_train, y_train), (x_test, y_test)`` as ``keras.datasets.cifar10.load_data()`` does, but with int32
    labels of shape (N,). A missing or unreadable folder or file is a ``CIFAR10Unavailable``, a file that is not a
    CIFAR-10 batch a ``ValueError``; both name the file.
    """
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        raise CIFAR10Unavailable(f"CIFAR-10 folder {directory} does not exist")
    train_batches = [_read_batch(directory / file_name) for file_name in TRAIN_BATCH_FILES]
    x_train = np.concatenate([images for images, _ in train_batches])
    y_train = np.concatenate([labels for _, labels in train_batches])
    return (x_train, y_train), _read_batch(directory / TEST_BATCH_FILE)


def _has_all_batches(directory):
    return all((directory / file_name).is_file() for file_name in TRAIN_BATCH_FILES + (TEST_BATCH_FILE,))


def find_cached_cifar10(cache_dir=None) -> pathlib.Path | None:
    """The folder of an extracted CIFAR-10 in the Keras cache, wherever a Keras version put it, or None.

    Searches ``datasets/`` in each root of :func:`resnet_lessons.downloads.keras_cache_roots` (``cache_dir``, else
    Keras' own) for the layouts of :data:`_CACHE_LAYOUTS`.
    """
    for root in downloads.keras_cache_roots(cache_dir):
        for layout in _CACHE_LAYOUTS:
            candidate = root / "datasets" / layout
            if _has_all_batches(candidate):
                return candidate
    return None


def folder_setting(image_folder=None) -> pathlib.Path | None:
    """The image-folder copy to fall back on: ``image_folder``, else ``$RESNET_LESSONS_CIFAR10_FOLDER``, else None."""
    if image_folder is None:
        image_folder = os.environ.get(FOLDER_ENVIRONMENT_VARIABLE, "").strip() or None
    return None if image_folder is None else pathlib.Path(image_folder).expanduser()


def load_data(cache_dir=None, download: bool = True, timeout: float = 3.0, image_folder=None, verbose: bool = False):
    """Load real CIFAR-10: the official release (cached, else downloaded), else an image-folder copy.

    It fails within seconds, not minutes, when it cannot have them, so that ``data.load_dataset("auto")`` can fall
    back. A copy that was asked for is never skipped silently: a missing or malformed one is a ``ValueError``.

    ``download`` allows the official release's download (about 170 MB) into the cache ``cache_dir`` (None: Keras'
    own), ``timeout`` is how long the host may take to answer; ``image_folder`` is a copy (``train/<class>/*.jpg``,
    ``test/<class>/*.jpg``, a folder or a ``.tar.gz``/``.zip`` archive; None: the environment's); ``verbose`` prints
    a line before decoding it. Returns ``(x_train, y_train), (x_test, y_test), class_names, description``.
    """
    downloads.check_timeout(timeout)
    cached = find_cached_cifar10(cache_dir)
    if cached is not None:
        try:
            return _official_release(cached, "from the Keras cache")
        except ValueError as error:
            raise CIFAR10Unavailable(
                f"the cached CIFAR-10 in {cached} is damaged ({error}); delete that folder and load it again",
                reason="the copy in the Keras cache is damaged",
            ) from error

    folder = folder_setting(image_folder)
    try:
        directory = _download(cache_dir, download, timeout)
    except CIFAR10Unavailable as error:
        if folder is None:
            raise CIFAR10Unavailable(
                f"{str(error).rstrip('.')}. Or set {FOLDER_ENVIRONMENT_VARIABLE} to an image-folder copy "
                "(train/<class>/*.jpg, test/<class>/*.jpg, as a folder or a .tar.gz/.zip archive).",
                reason=f"{error.reason}, and no image-folder copy is set (${FOLDER_ENVIRONMENT_VARIABLE})",
            ) from error
        if not folder.exists():
            raise ValueError(f"the CIFAR-10 image-folder copy {folder} does not exist (set by the image_folder "
                             f"argument or ${FOLDER_ENVIRONMENT_VARIABLE})") from error
        return _image_folder_copy(folder, cache_dir=cache_dir, verbose=verbose)
    return _official_release(directory, "downloaded into the Keras cache")


def availability(cache_dir=None, image_folder=None, timeout: float = 3.0) -> tuple[bool, str]:
    """``(available, explanation)``: whether :func:`load_data` would find CIFAR-10 here, without reading it.

    The book's notebook tests need CIFAR-10; when it cannot be had they say so once, with the remedy (the
    explanation), instead of failing dozens of output comparisons.
    """
    downloads.check_timeout(timeout)
    if find_cached_cifar10(cache_dir) is not None:
        return True, "the official release, from the Keras cache"
    folder = folder_setting(image_folder)
    if folder is not None:
        if folder.exists():
            return True, f"the image-folder copy named by ${FOLDER_ENVIRONMENT_VARIABLE}"
        return False, (f"${FOLDER_ENVIRONMENT_VARIABLE} names {folder}, which does not exist: point it to an "
                       "image-folder copy of CIFAR-10 (a folder or a .tar.gz/.zip archive)")
    host = urllib.parse.urlsplit(CIFAR10_URL).hostname
    reachable, reason = downloads.host_reachable(host, 443, timeout)
    if reachable:
        return True, f"the official release, to be downloaded from {host}"
    return False, (f"CIFAR-10 is not in the Keras cache, cannot be downloaded ({reason}), and "
                   f"${FOLDER_ENVIRONMENT_VARIABLE} is not set: run once with internet access, or set "
                   f"{FOLDER_ENVIRONMENT_VARIABLE}=/path/to/cifar10-jpeg.tar.gz (an image-folder copy)")


def _download(cache_dir, download, timeout) -> pathlib.Path:
    """Download and extract the official release into the Keras cache; the folder of its batch files."""
    extracted = downloads.fetch(
        CIFAR10_URL, what="CIFAR-10", advice="run once on a machine with internet access and copy the Keras cache "
        "over, or use the synthetic data set", cache_subdir="datasets", cache_dir=cache_dir, download=download,
        timeout=timeout, error=CIFAR10Unavailable, fname=KERAS_DOWNLOAD_NAME, extract=True, file_hash=CIFAR10_SHA256)
    directory = extracted / ARCHIVE_FOLDER
    if not _has_all_batches(directory):
        raise CIFAR10Unavailable(f"the CIFAR-10 download did not produce the batch files in {directory}; delete that "
                                 "folder and its '_archive' file and try again",
                                 reason="the download did not produce the batch files")
    return directory


def _official_release(directory, origin):
    """The batch files in ``directory``, described as the official release ``origin`` (in words, no path)."""
    (x_train, y_train), (x_test, y_test) = read_batches(directory)
    description = _describe(f"CIFAR-10, official release {origin}", len(x_train), len(x_test))
    return (x_train, y_train), (x_test, y_test), CLASS_NAMES, description


def _image_folder_copy(path, *, cache_dir, verbose):
    """An image-folder copy (see :mod:`resnet_lessons.image_folder`), described by its format, e.g. a JPEG copy."""
    images = image_folder.read_image_folder(path, class_names=CLASS_NAMES, image_size=IMAGE_SIZE,
                                            order_seed=FOLDER_ORDER_SEED, cache_dir=cache_dir, verbose=verbose)
    kind, _, detail = images.image_format.partition(" (")
    if kind.startswith("mixed"):
        source = f"CIFAR-10, image-folder copy ({images.image_format})"
    else:
        source = f"CIFAR-10, {kind} copy" + (f" ({detail}" if detail else "")
    description = _describe(source, len(images.x_train), len(images.x_test),
                            f"in a fixed shuffled order (seed {FOLDER_ORDER_SEED})")
    return (images.x_train, images.y_train), (images.x_test, images.y_test), CLASS_NAMES, description


def _describe(source, num_train, num_test, note=None):
    """``"<source>: 50,000 train / 10,000 test images of 32x32"`` (plus a note), with no path in it."""
    return (f"{source}: {num_train:,} train / {num_test:,} test images of {IMAGE_SIZE}x{IMAGE_SIZE}"
            + (f", {note}" if note else ""))
