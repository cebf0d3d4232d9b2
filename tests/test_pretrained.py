"""Tests of resnet_lessons.pretrained, all offline: no test touches the network.

The real download cannot run here; the tests cover everything around it: the cache, the checksum, the fast failure
when offline (refused or hanging), the download call with its socket timeout, and loading a weight file in Keras'
format into our ResNet-50, with and without conv biases. About 15 s of CPU time (building ResNet-50 three times).
"""

import hashlib
import json
import socket
import time

import keras
import numpy as np
import pytest

from resnet_lessons import downloads, models, pretrained


def _refuse(address, timeout=None):
    raise OSError("Network is unreachable")


def _no_download(*args, **kwargs):
    raise AssertionError("no download may start")


def _md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_weights_file_names_follow_keras():
    assert pretrained.weights_file_name(50) == "resnet50_weights_tf_dim_ordering_tf_kernels.h5"
    assert pretrained.weights_file_name(152, include_top=False) == (
        "resnet152_weights_tf_dim_ordering_tf_kernels_notop.h5")


@pytest.mark.parametrize("depth", [18, 34, 20, 50.0, "50", True])
def test_only_published_depths(depth):
    with pytest.raises(ValueError, match="ResNet-50, 101 and 152"):
        pretrained.weights_file(depth)


def test_offline_is_a_fast_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(socket, "create_connection", _refuse)
    monkeypatch.setattr(keras.utils, "get_file", _no_download)
    start = time.perf_counter()
    with pytest.raises(pretrained.WeightsUnavailable, match="cannot be downloaded.*Network is unreachable.*offline"):
        pretrained.weights_file(50, cache_dir=tmp_path)
    assert time.perf_counter() - start < 2


def test_a_hanging_network_gives_up_after_the_timeout(tmp_path, monkeypatch):
    def hang(address, timeout=None):
        time.sleep(5)  # a DNS lookup that ignores every timeout, then fails
        raise OSError("too late")

    monkeypatch.setattr(socket, "create_connection", hang)
    monkeypatch.setattr(keras.utils, "get_file", _no_download)
    model = models.resnet50(include_top=False, input_shape=(32, 32, 3))
    start = time.perf_counter()
    with pytest.raises(pretrained.WeightsUnavailable, match="no answer") as error:
        pretrained.load_imagenet_weights(model, cache_dir=tmp_path, timeout=0.3)
    assert time.perf_counter() - start < 2  # the probe gives up after 0.3 s; nothing waits for the 5 s
    assert "offline" in error.value.reason


def test_without_download_nothing_is_probed(tmp_path, monkeypatch):
    monkeypatch.setattr(downloads, "host_reachable", _no_download)
    with pytest.raises(pretrained.WeightsUnavailable, match="download=False"):
        pretrained.weights_file(101, cache_dir=tmp_path, download=False)


def test_a_damaged_cached_file_is_reported(tmp_path, monkeypatch):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / pretrained.weights_file_name(50)).write_bytes(b"not the weights")
    monkeypatch.setattr(downloads, "host_reachable", _no_download)
    with pytest.raises(pretrained.WeightsUnavailable, match="damaged"):
        pretrained.weights_file(50, cache_dir=tmp_path)


def test_the_download_runs_with_a_socket_timeout(tmp_path, monkeypatch):
    calls = []

    def fake_get_file(fname, origin, cache_subdir, file_hash, cache_dir):
        assert socket.getdefaulttimeout() is not None  # a stalled download fails instead of hanging
        calls.append((fname, origin, cache_subdir, file_hash, cache_dir))
        return str(tmp_path / cache_subdir / fname)

    monkeypatch.setattr(downloads, "host_reachable", lambda host, port, timeout: (True, ""))
    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    previous = socket.getdefaulttimeout()
    path = pretrained.weights_file(50, include_top=False, cache_dir=tmp_path)
    assert socket.getdefaulttimeout() == previous
    name = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert calls == [(name, pretrained.KERAS_WEIGHTS_URL + name, "models", pretrained.KERAS_WEIGHTS_MD5[50][1],
                      str(tmp_path))]
    assert path == tmp_path / "models" / name


def test_a_failed_download_is_wrapped(tmp_path, monkeypatch):
    def failing_get_file(*args, **kwargs):
        raise OSError("connection reset")

    monkeypatch.setattr(downloads, "host_reachable", lambda host, port, timeout: (True, ""))
    monkeypatch.setattr(keras.utils, "get_file", failing_get_file)
    with pytest.raises(pretrained.WeightsUnavailable, match="failed.*connection reset"):
        pretrained.weights_file(50, cache_dir=tmp_path)


def test_bad_timeout():
    with pytest.raises(ValueError, match="timeout"):
        pretrained.weights_file(50, timeout=0)


def test_class_names_from_the_cached_index(tmp_path, monkeypatch):
    index = {str(number): [f"n{number:08d}", f"class_{number}"] for number in range(1000)}
    (tmp_path / "models").mkdir()
    path = tmp_path / "models" / "imagenet_class_index.json"
    path.write_text(json.dumps(index))
    monkeypatch.setattr(pretrained, "CLASS_INDEX_MD5", _md5(path))
    names = pretrained.imagenet_class_names(cache_dir=tmp_path)
    assert len(names) == 1000 and names[0] == "class 0" and names[999] == "class 999"


def test_top_classes():
    probabilities = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]])
    assert pretrained.top_classes(probabilities, ["a", "b", "c"], top=2) == [[("b", 0.6), ("c", 0.3)],
                                                                            [("a", 0.5), ("c", 0.3)]]
    with pytest.raises(ValueError, match="shape"):
        pretrained.top_classes(probabilities, ["a", "b"])
    with pytest.raises(ValueError, match="top must be"):
        pretrained.top_classes(probabilities, ["a", "b", "c"], top=4)


def _conv_bn_net(use_bias, seed):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(3, 3, use_bias=use_bias, bias_initializer="random_normal", name="x_conv")(inputs)
    outputs = keras.layers.BatchNormalization(name="x_bn")(x)
    return keras.Model(inputs, outputs, name=f"bias_{use_bias}")


def test_a_conv_bias_folds_into_the_batch_norm_after_it():
    with_bias, without_bias = _conv_bn_net(True, 0), _conv_bn_net(False, 1)
    gamma, beta, _, variance = with_bias.get_layer("x_bn").get_weights()
    with_bias.get_layer("x_bn").set_weights([gamma, beta, np.array([0.3, -0.2, 0.1]), variance])
    assert pretrained.copy_keras_weights(with_bias, without_bias) == 2
    x = np.random.default_rng(0).normal(size=(4, 6, 6, 2)).astype("float32")
    for training in (False, True):  # in training mode the batch mean absorbs the bias by itself
        np.testing.assert_allclose(without_bias(x, training=training), with_bias(x, training=training), atol=1e-5)


def test_copy_refuses_other_layer_names():
    with pytest.raises(ValueError, match="layer names differ"):
        pretrained.copy_keras_weights(_conv_bn_net(True, 0), models.resnet20(input_shape=(8, 8, 3)))


@pytest.fixture(scope="module")
def keras_weight_file(tmp_path_factory):
    """A ResNet-50 weight file in Keras' format (random weights and batch-norm statistics), in a Keras cache."""
    keras.utils.set_random_seed(0)
    reference = keras.applications.ResNet50(weights=None, include_top=False)
    rng = np.random.default_rng(0)
    for layer in reference.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            shape = layer.gamma.shape
            layer.set_weights([rng.uniform(0.5, 1.5, shape), rng.normal(0, 0.1, shape),
                               rng.normal(0, 0.1, shape), rng.uniform(0.5, 1.5, shape)])
        elif isinstance(layer, keras.layers.Conv2D):
            layer.bias.assign(rng.normal(0, 0.1, layer.bias.shape))
    cache = tmp_path_factory.mktemp("keras-cache")
    (cache / "models").mkdir()
    path = cache / "models" / "resnet50_notop_test.weights.h5"
    reference.save_weights(path)
    return reference, cache, path


@pytest.mark.parametrize("use_bias", [True, False])
def test_loading_into_our_resnet50_gives_the_same_outputs(keras_weight_file, monkeypatch, use_bias):
    reference, cache, path = keras_weight_file
    monkeypatch.setattr(pretrained, "weights_file_name", lambda depth, include_top=True: path.name)
    monkeypatch.setattr(pretrained, "KERAS_WEIGHTS_MD5", {50: ("unused", _md5(path))})
    monkeypatch.setattr(downloads, "host_reachable", _no_download)
    ours = models.resnet50(include_top=False, input_shape=(64, 64, 3), use_bias=use_bias)
    x = np.random.default_rng(1).normal(0, 50, size=(2, 64, 64, 3)).astype("float32")
    assert pretrained.load_imagenet_weights(ours, cache_dir=cache) is ours
    expected = np.asarray(reference(x, training=False))
    np.testing.assert_allclose(np.asarray(ours(x, training=False)), expected, atol=1e-4 * np.abs(expected).max())


@pytest.mark.parametrize("build, message", [
    (lambda: models.resnet18(input_shape=(32, 32, 3)), "not a bottleneck ResNet-50, 101 or 152"),
    (lambda: models.resnet50(input_shape=(32, 32, 3), stride_on="3x3"), "stride_on='1x1'"),
    (lambda: models.resnet50(input_shape=(32, 32, 3), num_classes=10), "include_top=False"),
    (lambda: "resnet50", "keras.Model"),
])
def test_models_the_weights_do_not_fit(build, message, monkeypatch):
    monkeypatch.setattr(downloads, "host_reachable", _no_download)
    with pytest.raises(ValueError, match=message):
        pretrained.load_imagenet_weights(build())
