"""Image classification data given as an image folder: ``train/<class>/*.jpg`` and ``test/<class>/*.jpg``.

Chapter 0: where the official CIFAR-10 release can be neither found nor downloaded, the book reads a copy in the layout
``keras.utils.image_dataset_from_directory`` reads, as a folder or one archive (``.tar``, ``.tar.gz``, ``.zip``): how
CIFAR-10 is often shared, and how the machines that build this book get it offline. Two things differ from the
official release, and :func:`read_image_folder` makes both explicit:

- **Order.** Listing files by class would make "the first N images" all airplanes, so each split comes in a fixed
  shuffled order (a seeded permutation of the files sorted by class and name): the same on every machine.
- **Pixels.** A JPEG copy is not the original pixels: the format decoded is reported, with the JPEG quality read off
  the files' quantisation tables (e.g. ``"JPEG (quality 75)"``).

The decoded arrays are cached (an ``.npz`` in the Keras cache, keyed by the archive's SHA-256 or the folder's file
list), since decoding 60,000 small JPEGs takes seconds. This module knows nothing of the data container or CIFAR-10.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import os
import pathlib
import tarfile
import zipfile

import numpy as np

from resnet_lessons import arguments, downloads

SPLITS = ("train", "test")

# What keras.utils.image_dataset_from_directory reads; other files (a README, .DS_Store) are ignored like there.
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")

# Bump when the cached arrays' meaning changes, so an old cache is never read as a new one.
_CACHE_FORMAT = 1
_CACHE_SUBDIR = os.path.join("datasets", "resnet_lessons")
_ARRAYS = ("x_train", "y_train", "x_test", "y_test")  # the fields of FolderImages saved as arrays, in order

# The IJG (libjpeg) example quantisation tables for quality 50, in natural (row-major) order, as Pillow reports
# tables; every JPEG encoder built on libjpeg scales these for its "quality" setting.
_IJG_LUMINANCE = (16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
                  14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
                  49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99)
_IJG_CHROMINANCE = (17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
                    47, 66, 99, 99, 99, 99, 99, 99, *([99] * 32))


@dataclasses.dataclass(frozen=True)
class FolderImages:
    """The two splits of an image folder, decoded, each in its fixed shuffled order (the permutation of ``order_seed``).

    Images are uint8 (N, height, width, 3), labels int32 (N,) positions in ``class_names`` (the class folders, in
    label order); ``image_format`` is what the files were, e.g. ``"JPEG (quality 75)"`` or ``"PNG"``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    image_format: str
    order_seed: int


def read_image_folder(path, *, class_names=None, image_size: int | None = None, order_seed: int = 0,
                      cache_dir=None, cache: bool = True, verbose: bool = False) -> FolderImages:
    """Read ``train/<class>/<image>`` and ``test/<class>/<image>`` from a folder or a ``.tar*``/``.zip`` archive of one.

    ``train/`` and ``test/`` may be at the top or inside one wrapping folder; hidden files and files that are not
    images (by extension) are ignored. ``class_names`` are the class folders that must be there, in label order (None:
    whatever ``train/`` has, sorted, as long as ``test/`` has the same); with ``image_size`` every image must be that
    square size. ``cache_dir`` is the Keras cache root for the decoded arrays (None: Keras' own). A wrong layout, an
    image that cannot be decoded or has the wrong size, or an unreadable archive is a ``ValueError`` naming the file.
    """
    path = pathlib.Path(path).expanduser()
    if not path.exists():
        raise ValueError(f"image folder {path} does not exist: expected a folder or an archive (.tar.gz, .zip) "
                         "holding train/<class>/ and test/<class>/")
    if class_names is not None:
        class_names = tuple(class_names)
        if not class_names or not all(isinstance(name, str) and name for name in class_names):
            raise ValueError(f"class_names must be a non-empty sequence of folder names, got {class_names!r}")
    if image_size is not None:
        image_size = arguments.positive_int(image_size, "image_size")
    order_seed = arguments.non_negative_int(order_seed, "order_seed")

    cache_file = None
    if cache:
        key = f"{_fingerprint(path)}-{class_names}-{image_size}-{order_seed}-{_CACHE_FORMAT}"
        digest = hashlib.sha256(key.encode()).hexdigest()[:20]
        root = downloads.keras_cache_roots(cache_dir)[0]
        cache_file = root / _CACHE_SUBDIR / f"{_stem(path)}-{digest}.npz"
        cached = _read_cache(cache_file, order_seed)
        if cached is not None:
            return cached

    files = _list_files(path)
    if verbose:
        print(f"Decoding the {len(files):,} images of {path.name} (once: then cached)")
    images = _decode_splits(files, path, class_names, image_size, order_seed)
    if cache_file is not None:
        _write_cache(cache_file, images)
    return images


def jpeg_quality(quantization: dict) -> int | None:
    """The IJG quality setting (1-100) whose tables equal a JPEG's quantisation tables, or None if none does.

    ``quantization`` is ``PIL.Image.quantization``: ``{0: luminance table, 1: chrominance table}``, 64 values each.
    """
    try:
        tables = tuple(tuple(int(value) for value in quantization[index]) for index in sorted(quantization))
    except (TypeError, ValueError, KeyError, AttributeError):
        raise ValueError(f"quantization must map table numbers to 64 integers, as PIL.Image.quantization does, "
                         f"got {quantization!r:.80}") from None
    if not tables or any(len(table) != 64 for table in tables):
        raise ValueError(f"quantization must hold tables of 64 values each, got sizes {[len(t) for t in tables]}")
    return _quality_by_tables().get(tables)


def _ijg_table(base, quality):
    """libjpeg's ``jpeg_set_quality`` scaling of one table (baseline: values clamped to 1..255)."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return tuple(min(max((value * scale + 50) // 100, 1), 255) for value in base)


@functools.cache
def _quality_by_tables() -> dict:
    """``{tables: quality}`` for every IJG quality, the lowest quality first where two give the same tables."""
    qualities = {}
    for quality in range(1, 101):
        luminance, chrominance = _ijg_table(_IJG_LUMINANCE, quality), _ijg_table(_IJG_CHROMINANCE, quality)
        qualities.setdefault((luminance, chrominance), quality)
        qualities.setdefault((luminance,), quality)  # a greyscale JPEG has one table
    return qualities


def _stem(path):
    suffix = next((s for s in (".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".tar", ".zip") if path.name.endswith(s)), "")
    return path.name[: len(path.name) - len(suffix)]


def _fingerprint(path):
    """What decides the content: an archive's SHA-256, or a folder's file names, sizes and modification times."""
    digest = hashlib.sha256()
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            stat = file.stat()
            digest.update(f"{file.relative_to(path).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        return "folder-" + digest.hexdigest()
    with open(path, "rb") as archive:
        return "archive-" + hashlib.file_digest(archive, "sha256").hexdigest()


def _list_files(path) -> dict[str, bytes]:
    """``{relative posix path: file content}`` of every non-hidden image file under ``path`` (folder or archive)."""
    if path.is_dir():
        return {file.relative_to(path).as_posix(): file.read_bytes()
                for file in sorted(path.rglob("*")) if file.is_file() and _is_image_name(file.relative_to(path))}
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                return {info.filename: archive.read(info) for info in archive.infolist()
                        if not info.is_dir() and _is_image_name(pathlib.PurePosixPath(info.filename))}
        with tarfile.open(path, "r:*") as archive:
            return {member.name: archive.extractfile(member).read() for member in archive
                    if member.isfile() and _is_image_name(pathlib.PurePosixPath(member.name))}
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as error:
        raise ValueError(f"{path} is neither a folder nor a readable .tar/.tar.gz/.zip archive ({error})") from error


def _is_image_name(relative):
    parts = pathlib.PurePosixPath(relative).parts
    return (not any(part.startswith(".") or part == "__MACOSX" for part in parts)
            and pathlib.PurePosixPath(relative).suffix.lower() in IMAGE_EXTENSIONS)


def _split_layout(files, path, class_names):
    """Group the files into ``{split: {class: [relative paths]}}``, checking the layout."""
    paths = [pathlib.PurePosixPath(name) for name in files]
    # train/ and test/ at the top, or inside one wrapping folder (archives are often made of a folder)
    prefix = ()
    tops = {p.parts[0] for p in paths if len(p.parts) > 1}
    if len(tops) == 1 and not tops & set(SPLITS):
        prefix = (next(iter(tops)),)
    grouped = {split: {} for split in SPLITS}
    for p, name in zip(paths, files):
        parts = p.parts[len(prefix):] if p.parts[: len(prefix)] == prefix else p.parts
        if not parts or parts[0] not in SPLITS:
            continue  # images beside the splits (a preview, a sample) are not part of the data
        if len(parts) != 3:
            raise ValueError(f"{path}: {name} is not in a class folder: expected {parts[0]}/<class>/<image>")
        grouped[parts[0]].setdefault(parts[1], []).append(name)
    for split in SPLITS:
        if not grouped[split]:
            raise ValueError(f"{path} has no {split}/<class>/<image> files: expected train/<class>/ and "
                             "test/<class>/ folders of images (the layout of keras.utils.image_dataset_from_directory)")
    expected = class_names if class_names is not None else tuple(sorted(grouped["train"]))
    for split in SPLITS:
        missing = [name for name in expected if name not in grouped[split]]
        extra = sorted(set(grouped[split]) - set(expected))
        for problem, names in (("no class folder", missing), ("unexpected class folder(s)", extra)):
            if names:
                raise ValueError(f"{path}: {split}/ has {problem} {', '.join(map(repr, names))} "
                                 f"(expected the classes {', '.join(expected)})")
    return grouped, expected


def _decode_splits(files, path, class_names, image_size, order_seed) -> FolderImages:
    # Imported here: Pillow (a Matplotlib dependency) is needed only when a folder is decoded, not read from cache.
    from PIL import Image

    grouped, names = _split_layout(files, path, class_names)
    arrays, formats, shape = {}, set(), None
    for split in SPLITS:
        entries = [(label, file_name) for label, class_name in enumerate(names)
                   for file_name in sorted(grouped[split][class_name])]
        order = np.random.default_rng(order_seed).permutation(len(entries))
        images, labels = [], np.empty(len(entries), dtype=np.int32)
        for position, index in enumerate(order):
            label, file_name = entries[index]
            try:
                with Image.open(io.BytesIO(files[file_name])) as image:
                    image.load()
                    formats.add(_format_of(image))
                    pixels = np.asarray(image.convert("RGB"), dtype=np.uint8)
            except (OSError, SyntaxError, ValueError) as error:  # Pillow's errors for broken or unknown files
                raise ValueError(f"{path}: {file_name} cannot be read as an image ({error})") from error
            height, width = pixels.shape[:2]
            if image_size is not None and (height, width) != (image_size, image_size):
                raise ValueError(f"{path}: {file_name} is {width}x{height} pixels, expected {image_size}x{image_size}")
            if shape is None:
                shape = pixels.shape
            elif pixels.shape != shape:
                raise ValueError(f"{path}: {file_name} is {width}x{height} pixels, but the images before it are "
                                 f"{shape[1]}x{shape[0]}: all images must have one size")
            images.append(pixels)
            labels[position] = label
        arrays[split] = (np.stack(images), labels)
    return FolderImages(*arrays["train"], *arrays["test"], tuple(names), _describe_formats(formats), order_seed)


def _format_of(image):
    if image.format == "JPEG":
        quality = jpeg_quality(image.quantization) if getattr(image, "quantization", None) else None
        return f"JPEG (quality {quality})" if quality is not None else "JPEG (non-standard quantisation tables)"
    return image.format or "unknown format"


def _describe_formats(formats):
    return next(iter(formats)) if len(formats) == 1 else "mixed: " + ", ".join(sorted(formats))


def _read_cache(cache_file, order_seed):
    try:
        with np.load(cache_file, allow_pickle=False) as saved:
            return FolderImages(*(saved[name] for name in _ARRAYS), tuple(str(name) for name in saved["class_names"]),
                                str(saved["image_format"]), order_seed)
    except (OSError, KeyError, ValueError):  # no cache yet, or a damaged one: decode again
        return None


def _write_cache(cache_file, images):
    """Write the decoded arrays atomically; a cache that cannot be written (read-only, full disk) is skipped."""
    temporary = cache_file.with_name(f".{cache_file.name}.partial")
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "wb") as handle:
            np.savez(handle, **{name: getattr(images, name) for name in _ARRAYS},
                     class_names=np.array(images.class_names), image_format=np.array(images.image_format))
        os.replace(temporary, cache_file)
    except OSError:
        temporary.unlink(missing_ok=True)
