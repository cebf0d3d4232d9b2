"""Tests of resnet_lessons.data: the container, the loader and its fallback, and the transforms."""

import dataclasses
import pickle
import re

import numpy as np
import pytest

from resnet_lessons import cifar10, data, downloads, synthetic


def tiny_dataset(num_train=6, num_test=4, image_size=4, name="synthetic"):
    """A small ImageDataset with distinct, known pixel values."""
    rng = np.random.default_rng(0)
    return data.ImageDataset(
        name=name,
        x_train=rng.integers(0, 256, size=(num_train, image_size, image_size, 3), dtype=np.uint8),
        y_train=(np.arange(num_train) % 3).astype(np.int32),
        x_test=rng.integers(0, 256, size=(num_test, image_size, image_size, 3), dtype=np.uint8),
        y_test=(np.arange(num_test) % 3).astype(np.int32),
        class_names=("a", "b", "c"),
        description="tiny test data",
    )


def test_image_dataset_properties():
    dataset = tiny_dataset(num_train=6, num_test=4, image_size=8)
    assert (dataset.num_classes, dataset.image_size, dataset.num_train, dataset.num_test) == (3, 8, 6, 4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        dataset.name = "other"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"x_train": np.zeros((6, 4, 4, 3), np.float32)}, "x_train must have dtype uint8"),
        ({"x_test": np.zeros((4, 4, 4), np.uint8)}, r"x_test must have shape \(num_images, size, size, 3\)"),
        ({"x_train": np.zeros((6, 4, 5, 3), np.uint8)}, "square"),
        ({"x_train": [[0]]}, "x_train must be a numpy array"),
        ({"y_train": np.zeros(6, np.float32)}, "y_train must be integers"),
        ({"y_train": np.zeros(5, np.int32)}, r"y_train must have shape \(6,\)"),
        ({"y_test": np.array([0, 1, 2, 3], np.int32)}, r"y_test must hold labels in \[0, 3\)"),
        ({"y_test": np.array([0, -1, 2, 0], np.int32)}, r"labels in \[0, 3\)"),
        ({"x_test": np.zeros((4, 8, 8, 3), np.uint8)}, "same image shape"),
        ({"class_names": ["a", "b", "c"]}, "class_names must be a non-empty tuple"),
        ({"name": ""}, "name must be a non-empty string"),
    ],
)
def test_image_dataset_rejects_bad_contents(changes, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(tiny_dataset(), **changes)


@pytest.mark.parametrize("labels", [
    np.array([0, 1, 2, 0, 1, 2], np.int64), np.array([0, 1, 2, 0, 1, 2], np.uint8), [0, 1, 2, 0, 1, 2],
    np.array([[0], [1], [2], [0], [1], [2]], np.uint8),  # the (N, 1) column keras.datasets gives
], ids=["int64", "uint8", "list", "column"])
def test_image_dataset_takes_the_labels_numpy_and_keras_give_and_stores_int32(labels):
    dataset = dataclasses.replace(tiny_dataset(), y_train=labels)
    assert dataset.y_train.dtype == np.int32 and dataset.y_train.tolist() == [0, 1, 2, 0, 1, 2]


def test_cifar10_class_names():
    assert data.CIFAR10_CLASS_NAMES == (
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"
    )


def printed_paragraphs(text: str) -> list[str]:
    """What was printed, one entry per message: a wrapped message continues on lines that start with a space."""
    return [" ".join(message.split()) for message in re.split(r"\n(?=\S)", text.strip())]


def unavailable(**kwargs):
    raise cifar10.CIFAR10Unavailable("CIFAR-10 is not cached and the host is unreachable", reason="offline and not cached")


def test_load_dataset_auto_falls_back_to_synthetic_with_one_notice(monkeypatch, capsys):
    monkeypatch.setattr(cifar10, "load_data", unavailable)
    dataset = data.load_dataset(num_train=20, num_test=10)
    lines = printed_paragraphs(capsys.readouterr().out)
    assert len(lines) == 2
    assert lines[0].startswith("Notice: CIFAR-10 is not available here (offline and not cached)")
    assert "synthetic" in lines[0]
    assert lines[1] == f"Data: {dataset.description}"
    assert dataset.name == "synthetic" and (dataset.num_train, dataset.num_test) == (20, 10)
    assert "CIFAR-10 was not available: offline and not cached" in dataset.description
    (reference, _), _, _, _ = synthetic.load_data(20, 10, seed=0)
    np.testing.assert_array_equal(dataset.x_train, reference)


def test_load_dataset_is_quiet_when_not_verbose(monkeypatch, capsys):
    monkeypatch.setattr(cifar10, "load_data", unavailable)
    data.load_dataset("auto", num_train=10, num_test=10, verbose=False)
    assert capsys.readouterr().out == ""


def test_load_dataset_cifar10_raises_when_unavailable(monkeypatch):
    monkeypatch.setattr(cifar10, "load_data", unavailable)
    with pytest.raises(cifar10.CIFAR10Unavailable, match="unreachable"):
        data.load_dataset("cifar10")


def test_load_dataset_passes_download_through(monkeypatch):
    calls = []

    def record(**kwargs):
        calls.append(kwargs)
        unavailable()

    monkeypatch.setattr(cifar10, "load_data", record)
    data.load_dataset("auto", num_train=10, num_test=10, download=False, verbose=False)
    assert calls == [{"download": False, "image_folder": None, "verbose": False}]


def test_load_dataset_offline_without_cache_is_fast(monkeypatch, tmp_path):
    # this machine is offline; make the cache empty and the network refuse, so the test never downloads
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(downloads, "keras_cache_roots", lambda cache_dir=None: [tmp_path])
    monkeypatch.setattr(downloads, "host_reachable", lambda host, port, timeout: (False, "offline in this test"))
    dataset = data.load_dataset("auto", num_train=10, num_test=10, verbose=False)
    assert dataset.name == "synthetic" and "offline" in dataset.description


def test_load_dataset_reads_cifar10_from_the_keras_cache(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(downloads, "keras_cache_roots", lambda cache_dir=None: [tmp_path])
    directory = tmp_path / "datasets" / "cifar-10-batches-py"
    directory.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for file_name in cifar10.TRAIN_BATCH_FILES + (cifar10.TEST_BATCH_FILE,):
        content = {b"data": rng.integers(0, 256, size=(4, 3072), dtype=np.uint8), b"labels": [0, 1, 2, 9]}
        (directory / file_name).write_bytes(pickle.dumps(content, protocol=2))
    dataset = data.load_dataset("auto", num_train=7, download=False)
    assert dataset.name == "cifar10" and (dataset.num_train, dataset.num_test) == (7, 4)
    assert dataset.description.startswith("CIFAR-10, official release from the Keras cache: 20 train / 4 test")
    assert str(tmp_path) not in dataset.description
    output = capsys.readouterr().out
    assert "Notice" not in output and output.startswith("Data: CIFAR-10")


def test_load_dataset_synthetic_generates_only_what_is_asked(capsys):
    dataset = data.load_dataset("synthetic", num_train=30, num_test=5, seed=3)
    assert (dataset.num_train, dataset.num_test, dataset.image_size) == (30, 5, 32)
    assert "seed 3" in dataset.description
    assert printed_paragraphs(capsys.readouterr().out) == [f"Data: {dataset.description}"]


@pytest.mark.parametrize("source", ["cifar", "CIFAR10", "", None])
def test_load_dataset_rejects_unknown_sources(source):
    with pytest.raises(ValueError, match="source must be one of 'auto', 'cifar10', 'synthetic'"):
        data.load_dataset(source)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"num_train": 0}, "num_train must be between 1 and 50,000"),
        ({"num_train": 50_001}, "num_train must be between 1 and 50,000"),
        ({"num_test": 10_001}, "num_test must be between 1 and 10,000"),
        ({"num_test": 2.5}, "num_test must be a positive int"),
        ({"num_train": True}, "num_train must be a positive int"),
    ],
)
def test_load_dataset_rejects_bad_sizes(arguments, message):
    with pytest.raises(ValueError, match=message):
        data.load_dataset("synthetic", **arguments)


def test_subset_takes_the_first_images():
    dataset = tiny_dataset(num_train=6, num_test=4)
    part = data.subset(dataset, num_train=2, num_test=3)
    np.testing.assert_array_equal(part.x_train, dataset.x_train[:2])
    np.testing.assert_array_equal(part.y_test, dataset.y_test[:3])
    assert "first 2 train / 3 test" in part.description
    assert data.subset(dataset) is dataset
    assert data.subset(dataset, num_train=3).num_test == 4
    with pytest.raises(ValueError, match="num_train must be between 1 and 6"):
        data.subset(dataset, num_train=7)


def test_resize_averages_blocks():
    x_train = np.zeros((1, 4, 4, 3), np.uint8)
    x_train[0, :2, :2, 0] = [[0, 1], [2, 4]]  # mean 1.75 -> 2
    x_train[0, 2:, 2:, 1] = [[255, 255], [255, 254]]  # mean 254.75 -> 255
    x_train[0, :2, 2:, 2] = [[1, 1], [2, 2]]  # mean 1.5 -> 2 (half rounds up)
    dataset = dataclasses.replace(tiny_dataset(num_train=1, image_size=4), x_train=x_train)
    small = data.resize(dataset, 2)
    assert small.x_train.shape == (1, 2, 2, 3) and small.x_train.dtype == np.uint8
    assert small.x_test.shape == (4, 2, 2, 3)
    assert small.x_train[0, 0, 0, 0] == 2 and small.x_train[0, 1, 1, 1] == 255 and small.x_train[0, 0, 1, 2] == 2
    assert small.x_train[0, 1, 0].tolist() == [0, 0, 0]
    np.testing.assert_array_equal(small.y_train, dataset.y_train)
    assert "area-downsampled to 2x2" in small.description


def test_resize_matches_a_float_mean_on_random_images():
    dataset = tiny_dataset(num_train=5, image_size=8)
    small = data.resize(dataset, 2)
    expected = dataset.x_train.reshape(5, 2, 4, 2, 4, 3).astype(np.float64).mean(axis=(2, 4))
    assert np.abs(small.x_train.astype(np.float64) - expected).max() <= 0.5


def test_resize_to_the_same_size_returns_the_dataset():
    dataset = tiny_dataset(image_size=4)
    assert data.resize(dataset, 4) is dataset


@pytest.mark.parametrize(
    "image_size, message",
    [(3, "must divide the current image size 4"), (8, "must divide"), (0, "positive int"), (-2, "positive int"), (2.0, "positive int")],
)
def test_resize_rejects_sizes_that_do_not_divide(image_size, message):
    with pytest.raises(ValueError, match=message):
        data.resize(tiny_dataset(image_size=4), image_size)


def test_downsample_images_checks_its_input():
    with pytest.raises(ValueError, match="images must have dtype uint8"):
        data.downsample_images(np.zeros((1, 4, 4, 3), np.float32), 2)


def test_split_validation_is_deterministic_and_disjoint():
    dataset = dataclasses.replace(
        tiny_dataset(num_train=10),
        x_train=np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1).repeat(4, axis=1).repeat(4, axis=2).repeat(3, axis=3),
        y_train=(np.arange(10) % 3).astype(np.int32),
    )
    train_part, validation_as_test = data.split_validation(dataset, num_validation=3, seed=1)
    assert train_part.num_train == 7 and validation_as_test.num_test == 3
    np.testing.assert_array_equal(train_part.x_train, validation_as_test.x_train)
    np.testing.assert_array_equal(train_part.x_test, dataset.x_test)
    kept = set(train_part.x_train[:, 0, 0, 0].tolist())
    held_out = set(validation_as_test.x_test[:, 0, 0, 0].tolist())
    assert kept.isdisjoint(held_out) and kept | held_out == set(range(10))
    # labels travel with their images
    np.testing.assert_array_equal(validation_as_test.y_test, validation_as_test.x_test[:, 0, 0, 0] % 3)
    again, _ = data.split_validation(dataset, num_validation=3, seed=1)
    np.testing.assert_array_equal(again.x_train, train_part.x_train)
    other, _ = data.split_validation(dataset, num_validation=3, seed=2)
    assert not np.array_equal(other.x_train, train_part.x_train)


@pytest.mark.parametrize("num_validation", [0, 6, -1, 1.5])
def test_split_validation_rejects_bad_sizes(num_validation):
    with pytest.raises(ValueError, match="num_validation must be"):
        data.split_validation(tiny_dataset(num_train=6), num_validation)


def test_channel_statistics():
    images = np.zeros((2, 2, 2, 3), np.uint8)
    images[0, ..., 0] = 10
    images[1, ..., 0] = 30
    images[..., 1] = 255
    images[:, 0, :, 2] = 100
    mean, std = data.channel_statistics(images)
    assert mean.dtype == np.float32 and std.dtype == np.float32 and mean.shape == std.shape == (3,)
    np.testing.assert_allclose(mean, [20, 255, 50])
    np.testing.assert_allclose(std, [10, 0, 50])


def test_channel_statistics_matches_numpy_across_chunks():
    images = np.random.default_rng(1).integers(0, 256, size=(data._CHUNK_SIZE + 7, 2, 2, 3), dtype=np.uint8)
    mean, std = data.channel_statistics(images)
    np.testing.assert_allclose(mean, images.mean(axis=(0, 1, 2)), rtol=1e-6)
    np.testing.assert_allclose(std, images.std(axis=(0, 1, 2)), rtol=1e-5)


@pytest.mark.parametrize(
    "images, message",
    [(np.zeros((0, 2, 2, 3), np.uint8), "num_images >= 1"), (np.zeros((2, 2, 2), np.uint8), "shape"), ([1, 2, 3], "numpy array")],
)
def test_channel_statistics_rejects_bad_images(images, message):
    with pytest.raises(ValueError, match=message):
        data.channel_statistics(images)


def test_load_dataset_reads_an_image_folder_copy_when_the_release_cannot_be_had(monkeypatch, tmp_path, capsys):
    from test_cifar10 import write_cifar_image_folder

    monkeypatch.setattr(downloads, "keras_cache_roots", lambda cache_dir=None: [tmp_path / "keras"])
    monkeypatch.setattr(downloads, "host_reachable", lambda host, port, timeout: (False, "offline in this test"))
    copy = write_cifar_image_folder(tmp_path / "cifar10-jpeg.tar.gz", per_class=(3, 1))
    dataset = data.load_dataset(num_train=12, cifar10_folder=copy)
    assert dataset.name == "cifar10" and (dataset.num_train, dataset.num_test) == (12, 10)
    # the first N of a copy are class-mixed (a fixed shuffle), not the first class folder
    assert len(set(dataset.y_train.tolist())) > 3
    output = capsys.readouterr().out
    assert "Notice" not in output
    assert all(len(line) <= 88 for line in output.splitlines())
    assert printed_paragraphs(output)[-1] == (
        "Data: CIFAR-10, JPEG copy (quality 75): 30 train / 10 test images of 32x32, in a fixed shuffled order "
        "(seed 0); using the first 12 train / 10 test images")
    assert str(tmp_path) not in output
    # the same through the environment variable
    monkeypatch.setenv(cifar10.FOLDER_ENVIRONMENT_VARIABLE, str(copy))
    again = data.load_dataset(num_train=12, verbose=False)
    np.testing.assert_array_equal(again.x_train, dataset.x_train)


def test_load_dataset_offline_without_any_cifar10_names_the_folder_setting(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(downloads, "keras_cache_roots", lambda cache_dir=None: [tmp_path])
    monkeypatch.setattr(downloads, "host_reachable", lambda host, port, timeout: (False, "offline in this test"))
    dataset = data.load_dataset("auto", num_train=10, num_test=10)
    assert dataset.name == "synthetic"
    notice = printed_paragraphs(capsys.readouterr().out)[0]
    assert notice.startswith("Notice: CIFAR-10 is not available here") and "RESNET_LESSONS_CIFAR10_FOLDER" in notice
