"""The image-folder reader: archives and folders the tests write, a fixed class-mixed order, the cache, bad input."""

import io
import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image

from resnet_lessons import image_folder

CLASSES = ("cat", "dog", "frog")


def image_bytes(seed, size=32, format="JPEG", quality=75):
    """A random RGB image encoded as ``format``, and its pixels."""
    pixels = np.random.default_rng(seed).integers(0, 256, size=(size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=format, **({"quality": quality} if format == "JPEG" else {}))
    return buffer.getvalue(), pixels


def layout(per_class=(4, 2), classes=CLASSES, format="JPEG", prefix=""):
    """``{relative path: bytes}`` of a small image folder: per_class[0] training and per_class[1] test images."""
    files = {}
    seed = 0
    for split, count in zip(("train", "test"), per_class):
        for class_name in classes:
            for index in range(count):
                seed += 1
                suffix = "jpg" if format == "JPEG" else format.lower()
                files[f"{prefix}{split}/{class_name}/{index:04d}.{suffix}"] = image_bytes(seed, format=format)[0]
    return files


def write_folder(root, files):
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


def write_tar(path, files):
    with tarfile.open(path, "w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return path


def write_zip(path, files):
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return path


def read(path, tmp_path, **kwargs):
    return image_folder.read_image_folder(path, cache_dir=tmp_path / "keras", **kwargs)


def test_a_folder_a_tar_gz_and_a_zip_give_the_same_arrays(tmp_path):
    files = layout()
    from_folder = read(write_folder(tmp_path / "folder", files), tmp_path, cache=False)
    from_tar = read(write_tar(tmp_path / "copy.tar.gz", files), tmp_path, cache=False)
    from_zip = read(write_zip(tmp_path / "copy.zip", files), tmp_path, cache=False)
    for other in (from_tar, from_zip):
        np.testing.assert_array_equal(other.x_train, from_folder.x_train)
        np.testing.assert_array_equal(other.y_test, from_folder.y_test)
    assert from_folder.x_train.shape == (12, 32, 32, 3) and from_folder.x_train.dtype == np.uint8
    assert from_folder.y_train.dtype == np.int32 and from_folder.x_test.shape == (6, 32, 32, 3)
    assert from_folder.class_names == CLASSES
    assert from_folder.image_format == "JPEG (quality 75)"


def test_labels_follow_the_class_folders_and_pixels_are_decoded(tmp_path):
    files = layout(format="PNG")  # lossless, so the pixels can be compared exactly
    images = read(write_folder(tmp_path / "folder", files), tmp_path, cache=False)
    decoded = {}
    for name, content in files.items():
        split, class_name, _ = name.split("/")
        pixels = np.asarray(Image.open(io.BytesIO(content)).convert("RGB"))
        decoded[pixels.tobytes()] = (split, CLASSES.index(class_name))
    for split in ("train", "test"):
        x, y = getattr(images, f"x_{split}"), getattr(images, f"y_{split}")
        assert [decoded[image.tobytes()] for image in x] == [(split, int(label)) for label in y]
    assert images.image_format == "PNG"


def test_the_order_is_a_fixed_class_mixed_shuffle(tmp_path):
    files = layout(per_class=(20, 2))
    path = write_tar(tmp_path / "copy.tar.gz", files)
    first = read(path, tmp_path, cache=False)
    again = read(path, tmp_path, cache=False)
    np.testing.assert_array_equal(first.y_train, again.y_train)
    np.testing.assert_array_equal(first.x_train, again.x_train)
    # not sorted by class: the first ten images hold more than one class
    assert len(set(first.y_train[:10].tolist())) > 1
    assert sorted(first.y_train.tolist()) == sorted([0] * 20 + [1] * 20 + [2] * 20)
    # the order is the permutation given by the seed, the same on every machine
    expected = np.repeat(np.arange(3), 20)[np.random.default_rng(0).permutation(60)]
    np.testing.assert_array_equal(first.y_train, expected)
    other = read(path, tmp_path, cache=False, order_seed=1)
    assert not np.array_equal(other.y_train, first.y_train)


def test_train_and_test_may_sit_in_one_wrapping_folder_and_other_files_are_ignored(tmp_path):
    files = layout(prefix="cifar10/")
    files["cifar10/README.txt"] = b"not an image"
    files["cifar10/train/cat/.DS_Store"] = b"\x00\x01"
    files["__MACOSX/cifar10/train/cat/._0000.jpg"] = b"resource fork"
    files["cifar10/preview.jpg"] = image_bytes(99)[0]
    images = read(write_zip(tmp_path / "copy.zip", files), tmp_path, cache=False)
    assert images.x_train.shape[0] == 12 and images.class_names == CLASSES


def test_the_decoded_arrays_are_cached_and_reused(tmp_path, monkeypatch):
    path = write_tar(tmp_path / "copy.tar.gz", layout())
    first = read(path, tmp_path)
    (cache_file,) = (tmp_path / "keras" / "datasets" / "resnet_lessons").glob("copy-*.npz")

    def no_decoding(*args, **kwargs):
        raise AssertionError("a cached folder must not be decoded again")

    monkeypatch.setattr(image_folder, "_decode_splits", no_decoding)
    cached = read(path, tmp_path)
    np.testing.assert_array_equal(cached.x_train, first.x_train)
    np.testing.assert_array_equal(cached.y_test, first.y_test)
    assert cached.class_names == CLASSES and cached.image_format == first.image_format
    # another archive (other bytes) has another cache entry
    monkeypatch.undo()
    write_tar(path, layout(per_class=(3, 2)))
    assert read(path, tmp_path).x_train.shape[0] == 9
    # a damaged cache file is decoded again, not trusted
    for file in cache_file.parent.glob("*.npz"):
        file.write_bytes(b"damaged")
    assert read(path, tmp_path).x_train.shape[0] == 9


def test_jpeg_quality_is_read_off_the_quantisation_tables():
    for quality in (50, 75, 90, 95):
        content, _ = image_bytes(1, quality=quality)
        assert image_folder.jpeg_quality(Image.open(io.BytesIO(content)).quantization) == quality
    assert image_folder.jpeg_quality({0: [1] * 63 + [2]}) is None


def test_class_names_are_checked_when_given(tmp_path):
    path = write_folder(tmp_path / "folder", layout())
    images = read(path, tmp_path, cache=False, class_names=("cat", "dog", "frog"))
    assert images.class_names == CLASSES
    with pytest.raises(ValueError, match=r"train/ has no class folder 'horse'"):
        read(path, tmp_path, cache=False, class_names=("cat", "dog", "frog", "horse"))
    with pytest.raises(ValueError, match=r"unexpected class folder\(s\) 'frog'"):
        read(path, tmp_path, cache=False, class_names=("cat", "dog"))


def test_a_class_missing_from_the_test_split_is_named(tmp_path):
    files = {name: content for name, content in layout().items() if not name.startswith("test/dog/")}
    with pytest.raises(ValueError, match=r"test/ has no class folder 'dog'"):
        read(write_folder(tmp_path / "folder", files), tmp_path, cache=False)


def test_a_wrong_layout_is_refused_with_the_expected_one(tmp_path):
    files = {name: content for name, content in layout().items() if name.startswith("train/")}
    with pytest.raises(ValueError, match=r"no test/<class>/<image> files"):
        read(write_folder(tmp_path / "only-train", files), tmp_path, cache=False)
    flat = {"images/0001.jpg": image_bytes(1)[0], "images/0002.jpg": image_bytes(2)[0]}
    with pytest.raises(ValueError, match=r"no train/<class>/<image> files"):
        read(write_folder(tmp_path / "flat", flat), tmp_path, cache=False)
    nested = {**layout(), "train/cat/extra/0001.jpg": image_bytes(5)[0]}
    with pytest.raises(ValueError, match=r"train/cat/extra/0001.jpg is not in a class folder"):
        read(write_folder(tmp_path / "nested", nested), tmp_path, cache=False)
    loose = {**layout(), "test/0001.jpg": image_bytes(6)[0]}
    with pytest.raises(ValueError, match=r"test/0001.jpg is not in a class folder"):
        read(write_folder(tmp_path / "loose", loose), tmp_path, cache=False)


def test_an_unreadable_image_is_named(tmp_path):
    files = {**layout(), "train/dog/0002.jpg": b"these bytes are no JPEG"}
    with pytest.raises(ValueError, match=r"train/dog/0002.jpg cannot be read as an image"):
        read(write_tar(tmp_path / "copy.tar.gz", files), tmp_path, cache=False)


def test_an_image_of_the_wrong_size_is_named(tmp_path):
    files = layout()
    files["test/frog/0001.jpg"] = image_bytes(7, size=24)[0]
    with pytest.raises(ValueError, match=r"test/frog/0001.jpg is 24x24 pixels, expected 32x32"):
        read(write_folder(tmp_path / "folder", files), tmp_path, cache=False, image_size=32)
    with pytest.raises(ValueError, match=r"all images must have one size"):
        read(write_folder(tmp_path / "folder2", files), tmp_path, cache=False)


@pytest.mark.parametrize("kwargs, message", [
    ({"class_names": ()}, "class_names"), ({"class_names": ("cat", "")}, "class_names"),
    ({"image_size": 0}, "image_size"), ({"image_size": 32.0}, "image_size"),
    ({"order_seed": -1}, "order_seed"), ({"order_seed": True}, "order_seed"),
])
def test_bad_arguments_are_refused(tmp_path, kwargs, message):
    path = write_folder(tmp_path / "folder", layout())
    with pytest.raises(ValueError, match=message):
        read(path, tmp_path, **kwargs)


def test_a_missing_path_or_a_file_that_is_no_archive_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"does not exist: expected a folder or an archive"):
        read(tmp_path / "nowhere.tar.gz", tmp_path)
    not_an_archive = tmp_path / "notes.tar.gz"
    not_an_archive.write_bytes(b"plain text, not gzip")
    with pytest.raises(ValueError, match=r"neither a folder nor a readable .tar/.tar.gz/.zip archive"):
        read(not_an_archive, tmp_path)


@pytest.mark.parametrize("quantization", [{}, {0: [1] * 63}, {0: "tables"}, None])
def test_jpeg_quality_refuses_what_is_not_a_set_of_tables(quantization):
    with pytest.raises(ValueError, match="quantization"):
        image_folder.jpeg_quality(quantization)
