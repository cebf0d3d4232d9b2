"""Tests for resnet_lessons.shipped_weights on small networks the tests train nothing for: store, load, check."""

import json

import numpy as np
import pytest

from resnet_lessons import downloads, models, profiles, shipped_weights

CONFIG = profiles.get_profile("quick")


def tiny_network(seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    return models.cifar_network(8, residual=True, input_shape=CONFIG.input_shape)


def ship(model, folder, name="resnet-8"):
    return shipped_weights.ship(
        model, name=name, folder=folder, config=CONFIG, data="test data", seed=0, epochs=1,
        errors={"train_error": 50.0, "val_error": 51.0, "test_error": 52.123}, mean=[120.0, 121.0, 122.0],
        std=np.array([60.0, 61.0, 62.0]), command="python make.py",
        residual=True, depth=8)


def test_a_shipped_network_loads_with_its_float16_weights(tmp_path):
    model = tiny_network()
    shipped = ship(model, tmp_path)
    loaded = shipped_weights.load("resnet-8", folder=tmp_path)
    assert loaded.name == model.name and loaded.count_params() == model.count_params()
    for original, reloaded in zip(model.weights, loaded.weights):
        assert reloaded.dtype == "float32"
        np.testing.assert_array_equal(reloaded.numpy(), original.numpy().astype(np.float16).astype(np.float32))
    images = np.random.default_rng(0).uniform(size=(4, *CONFIG.input_shape)).astype("float32")
    np.testing.assert_allclose(loaded(images).numpy(), model(images).numpy(), atol=0.05)
    assert shipped.errors["test_error"] == 52.12 and shipped.input_shape == CONFIG.input_shape
    assert shipped.reproduces(52.2) and not shipped.reproduces(52.3)
    np.testing.assert_allclose(shipped.normalise(np.full((1, 2, 2, 3), 120.0))[0, 0, 0], [0, -1 / 61, -2 / 62],
                               rtol=1e-6)
    assert "resnet-8: 1 epochs of the 'quick' recipe, seed 0, 52.1 % test error" == shipped.describe()


def test_the_manifest_records_the_file_and_replaces_an_entry_of_the_same_name(tmp_path):
    ship(tiny_network(0), tmp_path)
    ship(tiny_network(1), tmp_path, name="other")
    second = ship(tiny_network(2), tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert [network["name"] for network in manifest["networks"]] == ["other", "resnet-8"]
    assert shipped_weights.manifest_entry("resnet-8", folder=tmp_path) == second
    assert second.sha256 == shipped_weights.file_sha256(tmp_path / "resnet-8.weights.h5")
    assert second.config["name"] == "quick" and second.command == "python make.py"


def test_an_unknown_name_lists_the_networks_there_are(tmp_path):
    ship(tiny_network(), tmp_path)
    with pytest.raises(ValueError, match="no shipped network 'resnet-9'; there are: resnet-8"):
        shipped_weights.load("resnet-9", folder=tmp_path)


def test_a_damaged_file_is_refused(tmp_path):
    ship(tiny_network(), tmp_path)
    path = tmp_path / "resnet-8.weights.h5"
    content = bytearray(path.read_bytes())
    content[-100] ^= 0xFF
    path.write_bytes(bytes(content))
    with pytest.raises(ValueError, match="does not match its manifest"):
        shipped_weights.load("resnet-8", folder=tmp_path)


def test_a_folder_without_a_manifest_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no manifest.json in"):
        shipped_weights.load("resnet-8", folder=tmp_path)


def test_a_manifest_of_another_kind_is_a_clear_error(tmp_path):
    (tmp_path / "manifest.json").write_text('{"something": []}')
    with pytest.raises(ValueError, match="is not a manifest of shipped weights"):
        shipped_weights.read_manifest(tmp_path)


def test_without_a_checkout_the_files_are_downloaded_and_checked(tmp_path, monkeypatch):
    remote = tmp_path / "remote"
    shipped = ship(tiny_network(), remote)
    fetched = []

    def fake_fetch(url, *, file_hash, fname, **_):
        fetched.append((url, file_hash))
        return remote / fname

    monkeypatch.setattr(shipped_weights, "default_folder", lambda: tmp_path / "no-checkout")
    monkeypatch.setattr(downloads, "find_in_keras_cache", lambda *args, **kwargs: None)
    monkeypatch.setattr(downloads, "fetch", fake_fetch)
    assert shipped_weights.load("resnet-8").count_params() == tiny_network().count_params()
    assert fetched == [(shipped_weights.REPOSITORY_URL + "manifest.json", None),
                       (shipped_weights.REPOSITORY_URL + "resnet-8.weights.h5", shipped.sha256)]


def test_offline_without_a_checkout_is_a_fast_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(shipped_weights, "default_folder", lambda: tmp_path / "no-checkout")
    monkeypatch.setattr(downloads, "find_in_keras_cache", lambda *args, **kwargs: None)
    monkeypatch.setattr(downloads, "host_reachable", lambda host, port, timeout: (False, "no route"))
    with pytest.raises(shipped_weights.WeightsUnavailable, match="clone the repository"):
        shipped_weights.load("resnet-56")


def test_the_test_error_is_measured_as_the_network_was_trained(tmp_path):
    from resnet_lessons import data, synthetic

    (x_train, y_train), (x_test, y_test), names, description = synthetic.load_data(8, 20, image_size=32)
    dataset = data.ImageDataset("synthetic", x_train, y_train, x_test, y_test, tuple(names), description)
    model = tiny_network()
    shipped = ship(model, tmp_path)
    images = shipped.normalise(data.downsample_images(dataset.x_test[:10], CONFIG.image_size))
    expected = 100.0 * np.mean(model.predict(images, verbose=0).argmax(axis=1) != dataset.y_test[:10])
    assert shipped_weights.measure_test_error(model, shipped, dataset, limit=10) == pytest.approx(expected)


def test_values_too_large_for_float16_stay_float32(tmp_path):
    model = tiny_network()
    variance = next(weight for weight in model.weights if "moving_variance" in weight.path)
    variance.assign(np.full(variance.shape, 1e6, dtype="float32"))
    ship(model, tmp_path)
    loaded = shipped_weights.load("resnet-8", folder=tmp_path)
    reloaded = next(weight for weight in loaded.weights if weight.path == variance.path)
    np.testing.assert_array_equal(reloaded.numpy(), variance.numpy())


SHIPPED = shipped_weights.default_folder() / shipped_weights.MANIFEST_NAME


@pytest.mark.slow  # loads the CIFAR-10 copy and runs each shipped network on 1,000 images
@pytest.mark.skipif(not SHIPPED.is_file(), reason="no networks are shipped in book/data/weights yet")
def test_the_shipped_networks_give_their_manifest_error_on_the_first_1000_test_images():
    from resnet_lessons import cifar10, data

    available, why = cifar10.availability()
    if not available:
        pytest.skip(why)
    dataset = data.load_dataset("cifar10", num_train=1, num_test=1000, verbose=False)
    for name, shipped in shipped_weights.read_manifest().items():
        measured = shipped_weights.measure_test_error(shipped_weights.load(name), shipped, dataset)
        # 3 images of 1,000: another processor's rounding may flip the odd borderline image
        assert measured == pytest.approx(shipped.errors["test_error_first_1000"], abs=0.3), name
