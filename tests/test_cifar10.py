"""Tests of resnet_lessons.cifar10: the batch-file reader, the Keras cache lookup, the offline fast-fail, the copy."""

import pickle
import socket
import threading
import time

import numpy as np
import pytest

from resnet_lessons import cifar10, downloads

IMAGES_PER_BATCH = 3


def make_batch(first_label, num_images=IMAGES_PER_BATCH, seed=0):
    """A small batch in CIFAR-10's own format, and the NHWC images it should read back as."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(num_images, 32, 32, 3), dtype=np.uint8)  # (N, H, W, C)
    # CIFAR-10 stores each image as its red plane, then green, then blue, each row-major
    rows = images.transpose(0, 3, 1, 2).reshape(num_images, 3072)
    labels = [(first_label + index) % 10 for index in range(num_images)]
    return {b"batch_label": b"test batch", b"data": rows, b"labels": labels}, images, np.array(labels)


def write_cifar_directory(directory):
    """Write data_batch_1..5 and test_batch into ``directory``; return the expected arrays."""
    directory.mkdir(parents=True, exist_ok=True)
    expected_train_images, expected_train_labels = [], []
    for index, file_name in enumerate(cifar10.TRAIN_BATCH_FILES):
        content, images, labels = make_batch(first_label=index, seed=index)
        (directory / file_name).write_bytes(pickle.dumps(content, protocol=2))
        expected_train_images.append(images)
        expected_train_labels.append(labels)
    content, test_images, test_labels = make_batch(first_label=7, num_images=2, seed=99)
    (directory / cifar10.TEST_BATCH_FILE).write_bytes(pickle.dumps(content, protocol=2))
    return np.concatenate(expected_train_images), np.concatenate(expected_train_labels), test_images, test_labels


def load(**arguments):
    """``cifar10.load_data``'s images and labels as one dict, and its description."""
    (x_train, y_train), (x_test, y_test), class_names, description = cifar10.load_data(**arguments)
    assert class_names == cifar10.CLASS_NAMES
    return dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test), description


def test_read_batches_reproduces_pixels_and_labels(tmp_path):
    expected = write_cifar_directory(tmp_path / "cifar-10-batches-py")
    (x_train, y_train), (x_test, y_test) = cifar10.read_batches(tmp_path / "cifar-10-batches-py")
    assert x_train.shape == (5 * IMAGES_PER_BATCH, 32, 32, 3)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int32 and y_test.dtype == np.int32
    for array, expected_array in zip((x_train, y_train, x_test, y_test), expected):
        np.testing.assert_array_equal(array, expected_array)
    assert cifar10.CLASS_NAMES[0] == "airplane" and len(cifar10.CLASS_NAMES) == 10


def test_read_batches_converts_colour_planes_to_channels_last(tmp_path):
    directory = tmp_path / "batches"
    write_cifar_directory(directory)
    # one image whose red plane is 10, green 20, blue 30, with one marked pixel at row 1, column 2
    row = np.concatenate([np.full(1024, 10), np.full(1024, 20), np.full(1024, 30)]).astype(np.uint8)
    row[1 * 32 + 2] = 200  # red plane, row 1, column 2
    content = {b"data": row[np.newaxis, :], b"labels": [3]}
    (directory / "test_batch").write_bytes(pickle.dumps(content, protocol=2))
    image = cifar10.read_batches(directory)[1][0][0]
    assert image.shape == (32, 32, 3)
    assert tuple(image[0, 0]) == (10, 20, 30)
    assert tuple(image[1, 2]) == (200, 20, 30)
    assert tuple(image[2, 1]) == (10, 20, 30)


def test_read_batches_accepts_python3_pickles_with_str_keys(tmp_path):
    directory = tmp_path / "batches"
    write_cifar_directory(directory)
    content, images, labels = make_batch(first_label=0, num_images=1)
    content = {"data": content[b"data"], "labels": content[b"labels"]}
    (directory / "test_batch").write_bytes(pickle.dumps(content, protocol=pickle.HIGHEST_PROTOCOL))
    np.testing.assert_array_equal(cifar10.read_batches(directory)[1][0], images)


def test_read_batches_names_a_missing_file(tmp_path):
    directory = tmp_path / "batches"
    write_cifar_directory(directory)
    (directory / "data_batch_3").unlink()
    with pytest.raises(cifar10.CIFAR10Unavailable, match="data_batch_3"):
        cifar10.read_batches(directory)


def test_read_batches_rejects_a_missing_folder(tmp_path):
    with pytest.raises(cifar10.CIFAR10Unavailable, match="does not exist"):
        cifar10.read_batches(tmp_path / "nowhere")


@pytest.mark.parametrize(
    "content, message",
    [
        ([1, 2, 3], "expected a dict"),
        ({b"labels": [1]}, "no 'data' entry"),
        ({b"data": np.zeros((1, 3072), np.uint8)}, "no 'labels' entry"),
        ({b"data": np.zeros((1, 100), np.uint8), b"labels": [1]}, r"shape \(num_images, 3072\)"),
        ({b"data": np.zeros((1, 3072), np.float32), b"labels": [1]}, "uint8"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1]}, "2 integers"),
        ({b"data": np.zeros((1, 3072), np.uint8), b"labels": [10]}, r"\[0, 10\)"),
    ],
)
def test_read_batches_names_the_malformed_file(tmp_path, content, message):
    directory = tmp_path / "batches"
    write_cifar_directory(directory)
    (directory / "data_batch_2").write_bytes(pickle.dumps(content, protocol=2))
    with pytest.raises(ValueError, match=message) as error:
        cifar10.read_batches(directory)
    assert "data_batch_2" in str(error.value)


def test_read_batches_refuses_pickles_that_run_code(tmp_path):
    directory = tmp_path / "batches"
    write_cifar_directory(directory)
    (directory / "test_batch").write_bytes(pickle.dumps({b"data": threading.Thread}, protocol=2))
    with pytest.raises(ValueError, match="test_batch.*refusing"):
        cifar10.read_batches(directory)


def test_read_batches_rejects_a_truncated_file(tmp_path):
    directory = tmp_path / "batches"
    write_cifar_directory(directory)
    whole = (directory / "test_batch").read_bytes()
    (directory / "test_batch").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match="test_batch"):
        cifar10.read_batches(directory)


@pytest.mark.parametrize(
    "layout",
    ["cifar-10-batches-py-target/cifar-10-batches-py", "cifar-10-batches-py"],
)
def test_find_cached_cifar10_knows_current_and_older_keras_layouts(tmp_path, layout):
    assert cifar10.find_cached_cifar10(tmp_path) is None
    write_cifar_directory(tmp_path / "datasets" / layout)
    assert cifar10.find_cached_cifar10(tmp_path) == tmp_path / "datasets" / layout


def test_find_cached_cifar10_ignores_an_incomplete_folder(tmp_path):
    directory = tmp_path / "datasets" / "cifar-10-batches-py"
    write_cifar_directory(directory)
    (directory / "test_batch").unlink()
    assert cifar10.find_cached_cifar10(tmp_path) is None


def test_find_cached_cifar10_respects_keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    assert downloads.keras_cache_roots()[0] == tmp_path / "keras-home"
    write_cifar_directory(tmp_path / "keras-home" / "datasets" / "cifar-10-batches-py-target" / "cifar-10-batches-py")
    found = cifar10.find_cached_cifar10()
    assert found == tmp_path / "keras-home" / "datasets" / "cifar-10-batches-py-target" / "cifar-10-batches-py"


def test_find_cached_cifar10_defaults_to_home_dot_keras(tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert downloads.keras_cache_roots()[0] == tmp_path / ".keras"
    write_cifar_directory(tmp_path / ".keras" / "datasets" / "cifar-10-batches-py")
    assert cifar10.find_cached_cifar10() == tmp_path / ".keras" / "datasets" / "cifar-10-batches-py"


def test_load_data_reads_the_cache_without_touching_the_network(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the network must not be used when CIFAR-10 is cached")

    monkeypatch.setattr(downloads, "host_reachable", no_network)
    x_train, _, _, _ = write_cifar_directory(tmp_path / "datasets" / "cifar-10-batches-py-target" / "cifar-10-batches-py")
    arrays, description = load(cache_dir=tmp_path)
    np.testing.assert_array_equal(arrays["x_train"], x_train)
    assert description == "CIFAR-10, official release from the Keras cache: 15 train / 2 test images of 32x32"
    assert str(tmp_path) not in description  # descriptions are printed in stored outputs: no paths


def test_load_data_without_download_says_what_to_do(tmp_path):
    with pytest.raises(cifar10.CIFAR10Unavailable, match="download=False") as error:
        cifar10.load_data(cache_dir=tmp_path, download=False)
    assert str(tmp_path) in str(error.value)
    assert isinstance(error.value, downloads.Unavailable) and isinstance(error.value, OSError)
    assert error.value.reason.startswith("not in the Keras cache, and download=False")


def test_load_data_fails_fast_when_the_host_refuses(tmp_path, monkeypatch):
    import keras

    def refuse(address, timeout=None):
        raise OSError("Network is unreachable")

    def no_download(*args, **kwargs):
        raise AssertionError("no download may start when the host is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(keras.utils, "get_file", no_download)
    start = time.monotonic()
    with pytest.raises(cifar10.CIFAR10Unavailable, match="cannot be downloaded.*Network is unreachable") as error:
        cifar10.load_data(cache_dir=tmp_path, timeout=1.0)
    assert error.value.reason.startswith("not in the Keras cache and www.cs.toronto.edu is unreachable, so probably "
                                         "offline")
    assert time.monotonic() - start < 3.0


def test_load_data_fails_fast_when_the_network_hangs(tmp_path, monkeypatch):
    release = threading.Event()

    def hang(address, timeout=None):
        release.wait(30.0)  # like a DNS lookup that never answers
        raise OSError("gave up")

    monkeypatch.setattr(socket, "create_connection", hang)
    start = time.monotonic()
    try:
        with pytest.raises(cifar10.CIFAR10Unavailable, match=r"no answer .* within 0.5 s"):
            cifar10.load_data(cache_dir=tmp_path, timeout=0.5)
        assert time.monotonic() - start < 3.0
    finally:
        release.set()


def test_load_data_wraps_a_failed_download(tmp_path, monkeypatch):
    import keras

    def failing_get_file(**kwargs):
        assert kwargs["origin"] == cifar10.CIFAR10_URL
        assert kwargs["fname"] == "cifar-10-batches-py-target" and kwargs["extract"]
        assert kwargs["cache_dir"] == str(tmp_path)
        # while downloading, a stalled socket must time out instead of hanging
        assert socket.getdefaulttimeout() is not None
        raise Exception("URL fetch failure: connection reset")

    monkeypatch.setattr(downloads, "host_reachable", lambda host, port, timeout: (True, ""))
    monkeypatch.setattr(keras.utils, "get_file", failing_get_file)
    previous_timeout = socket.getdefaulttimeout()
    with pytest.raises(cifar10.CIFAR10Unavailable, match="connection reset"):
        cifar10.load_data(cache_dir=tmp_path)
    assert socket.getdefaulttimeout() == previous_timeout


def test_load_data_reads_what_the_download_extracted(tmp_path, monkeypatch):
    import keras

    def fake_get_file(**kwargs):
        extracted = tmp_path / "datasets" / kwargs["fname"]
        write_cifar_directory(extracted / "cifar-10-batches-py")
        return str(extracted)

    monkeypatch.setattr(downloads, "host_reachable", lambda host, port, timeout: (True, ""))
    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    arrays, description = load(cache_dir=tmp_path)
    assert len(arrays["x_train"]) == 15
    assert description.startswith("CIFAR-10, official release downloaded into the Keras cache: 15 train")


@pytest.mark.parametrize("timeout", [0, -1.0, "3", True])
def test_load_data_rejects_bad_timeouts(tmp_path, timeout):
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        cifar10.load_data(cache_dir=tmp_path, timeout=timeout)


# --------------------------------------------------------------------------------------------- an image-folder copy

def write_cifar_image_folder(path, per_class=(2, 1)):
    """A small CIFAR-10 copy as a .tar.gz of JPEG files (quality 75) in the image-folder layout."""
    import io
    import tarfile

    from PIL import Image

    rng = np.random.default_rng(0)
    with tarfile.open(path, "w:gz") as archive:
        for split, count in zip(("train", "test"), per_class):
            for class_name in cifar10.CLASS_NAMES:
                for index in range(count):
                    buffer = io.BytesIO()
                    pixels = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
                    Image.fromarray(pixels).save(buffer, format="JPEG", quality=75)
                    info = tarfile.TarInfo(f"{split}/{class_name}/{index:04d}.jpg")
                    info.size = buffer.tell()
                    buffer.seek(0)
                    archive.addfile(info, buffer)
    return path


def offline(monkeypatch):
    def no_network(host, port, timeout):
        return False, "offline in this test"

    monkeypatch.setattr(downloads, "host_reachable", no_network)


def test_an_image_folder_copy_says_what_it_is_without_a_path(tmp_path, monkeypatch):
    offline(monkeypatch)
    path = write_cifar_image_folder(tmp_path / "cifar10-jpeg.tar.gz")
    arrays, description = load(cache_dir=tmp_path / "keras", image_folder=path)
    assert (len(arrays["x_train"]), len(arrays["x_test"])) == (20, 10)
    assert arrays["x_train"].shape[1:] == (32, 32, 3) and arrays["y_train"].dtype == np.int32
    assert description == ("CIFAR-10, JPEG copy (quality 75): 20 train / 10 test images of 32x32, "
                           "in a fixed shuffled order (seed 0)")
    assert str(tmp_path) not in description
    assert sorted(arrays["y_test"].tolist()) == list(range(10))


def test_the_copy_is_used_only_when_the_official_release_cannot_be_had(tmp_path, monkeypatch):
    copy = write_cifar_image_folder(tmp_path / "copy.tar.gz")
    offline(monkeypatch)
    # not cached, offline: the copy named by the argument
    assert load(cache_dir=tmp_path / "keras", image_folder=copy)[1].startswith("CIFAR-10, JPEG copy (quality 75)")
    # ... or by the environment variable
    monkeypatch.setenv(cifar10.FOLDER_ENVIRONMENT_VARIABLE, str(copy))
    assert len(load(cache_dir=tmp_path / "keras")[0]["x_train"]) == 20
    # the official release in the Keras cache comes first
    write_cifar_directory(tmp_path / "keras" / "datasets" / "cifar-10-batches-py")
    assert load(cache_dir=tmp_path / "keras")[1].startswith("CIFAR-10, official release")


def test_the_copy_is_used_when_the_download_fails(tmp_path, monkeypatch):
    copy = write_cifar_image_folder(tmp_path / "copy.tar.gz")

    def failing_download(cache_dir, download, timeout):
        raise cifar10.CIFAR10Unavailable("the download broke off", reason="the download failed")

    monkeypatch.setattr(cifar10, "_download", failing_download)
    assert "JPEG copy" in load(cache_dir=tmp_path / "keras", image_folder=copy)[1]
    with pytest.raises(cifar10.CIFAR10Unavailable, match=r"broke off\. Or set RESNET_LESSONS_CIFAR10_FOLDER") as error:
        cifar10.load_data(cache_dir=tmp_path / "keras")
    assert error.value.reason == "the download failed, and no image-folder copy is set ($RESNET_LESSONS_CIFAR10_FOLDER)"


def test_a_copy_that_was_asked_for_but_is_missing_is_an_error_not_a_fallback(tmp_path, monkeypatch):
    offline(monkeypatch)
    monkeypatch.setenv(cifar10.FOLDER_ENVIRONMENT_VARIABLE, str(tmp_path / "nowhere.tar.gz"))
    with pytest.raises(ValueError, match=r"image-folder copy .*nowhere.tar.gz does not exist"):
        cifar10.load_data(cache_dir=tmp_path / "keras")


def test_without_a_copy_the_error_names_the_setting(tmp_path, monkeypatch):
    offline(monkeypatch)
    with pytest.raises(cifar10.CIFAR10Unavailable, match="RESNET_LESSONS_CIFAR10_FOLDER") as error:
        cifar10.load_data(cache_dir=tmp_path / "keras")
    assert "no image-folder copy is set" in error.value.reason


def test_availability_names_the_source_or_the_remedy(tmp_path, monkeypatch):
    offline(monkeypatch)
    available, explanation = cifar10.availability(cache_dir=tmp_path / "keras")
    assert not available
    assert "RESNET_LESSONS_CIFAR10_FOLDER=/path/to/cifar10-jpeg.tar.gz" in explanation and "offline" in explanation
    assert cifar10.availability(cache_dir=tmp_path / "keras", image_folder=tmp_path / "gone")[0] is False
    copy = write_cifar_image_folder(tmp_path / "copy.tar.gz")
    assert cifar10.availability(cache_dir=tmp_path / "keras", image_folder=copy) == (
        True, "the image-folder copy named by $RESNET_LESSONS_CIFAR10_FOLDER")
    monkeypatch.setattr(downloads, "host_reachable", lambda host, port, timeout: (True, ""))
    assert cifar10.availability(cache_dir=tmp_path / "keras")[1].startswith("the official release, to be downloaded")
    write_cifar_directory(tmp_path / "keras" / "datasets" / "cifar-10-batches-py")
    assert cifar10.availability(cache_dir=tmp_path / "keras") == (True, "the official release, from the Keras cache")


@pytest.mark.parametrize("timeout", [0, -1.0, "3", True])
def test_availability_rejects_bad_timeouts(tmp_path, timeout):
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        cifar10.availability(cache_dir=tmp_path, timeout=timeout)
