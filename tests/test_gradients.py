"""Tests of resnet_lessons.gradients: per-layer gradient norms, checked against a hand-written gradient."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from resnet_lessons import gradients, models, seeding


def _batch(size=8, image_size=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(size, image_size, image_size, 3)).astype("float32"), rng.integers(0, 10, size)


def test_one_entry_per_weighted_layer_in_order():
    seeding.set_seed(0)
    model = models.plain20(input_shape=(8, 8, 3))
    images, labels = _batch()
    result = gradients.layer_gradient_norms(model, images, labels)
    assert len(result) == 20  # 19 convolutions and the dense layer: the "20" in plain-20
    assert [item.depth for item in result] == list(range(1, 21))
    assert result[0].name == "conv1_conv" and result[-1].name == "predictions"
    assert all(item.gradient_norm > 0 and item.weight_norm > 0 for item in result)


def test_matches_a_gradient_computed_by_hand_for_a_dense_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(2, 2, 1))
    outputs = keras.layers.Dense(3, name="dense")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, outputs)
    images = np.arange(8, dtype="float32").reshape(2, 2, 2, 1) / 8
    labels = np.array([0, 2])
    (result,) = gradients.layer_gradient_norms(model, images, labels)
    # d(mean cross-entropy)/dW = X^T (softmax(XW + b) - onehot) / batch
    flat = images.reshape(2, 4)
    kernel, bias = model.get_layer("dense").get_weights()
    logits = flat @ kernel + bias
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = flat.T @ (probabilities - np.eye(3)[labels]) / 2
    assert result.gradient_norm == pytest.approx(np.linalg.norm(expected), rel=1e-5)
    assert result.weight_norm == pytest.approx(np.linalg.norm(kernel), rel=1e-6)
    assert result.relative_norm == pytest.approx(result.gradient_norm / result.weight_norm)


def test_leaves_batch_norm_statistics_and_weights_unchanged():
    seeding.set_seed(0)
    model = models.plain20(input_shape=(8, 8, 3))
    before = [variable.numpy().copy() for variable in model.variables]
    gradients.layer_gradient_norms(model, *_batch())
    for old, variable in zip(before, model.variables):
        np.testing.assert_array_equal(old, variable.numpy())


def test_is_deterministic():
    seeding.set_seed(0)
    model = models.plain20(input_shape=(8, 8, 3))
    images, labels = _batch()
    first = gradients.layer_gradient_norms(model, images, labels)
    assert first == gradients.layer_gradient_norms(model, images, labels)


def test_bad_inputs_are_named():
    seeding.set_seed(0)
    model = models.plain20(input_shape=(8, 8, 3))
    images, labels = _batch()
    with pytest.raises(ValueError, match="keras.Model"):
        gradients.layer_gradient_norms("plain20", images, labels)
    with pytest.raises(ValueError, match=r"images must have shape \(batch, 8, 8, 3\)"):
        gradients.layer_gradient_norms(model, images[:, :4], labels)
    with pytest.raises(ValueError, match="labels must be 8 integer class labels"):
        gradients.layer_gradient_norms(model, images, labels[:3])
    with pytest.raises(ValueError, match="integer"):
        gradients.layer_gradient_norms(model, images, labels.astype("float32"))
    inputs = keras.Input(shape=(8, 8, 3))
    with pytest.raises(ValueError, match="no convolution or dense layer"):
        gradients.layer_gradient_norms(keras.Model(inputs, keras.layers.Flatten()(inputs)), images, labels)


def test_tensors_are_accepted():
    seeding.set_seed(0)
    model = models.plain20(input_shape=(8, 8, 3))
    images, labels = _batch()
    result = gradients.layer_gradient_norms(model, tf.constant(images), tf.constant(labels, dtype=tf.int32))
    assert len(result) == 20


def test_activation_gradient_matches_the_hand_written_one_for_a_dense_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(2, 2, 1))
    hidden = keras.layers.Dense(1, name="hidden")(inputs)  # acts on the last axis: (batch, 2, 2, 1)
    model = keras.Model(inputs, keras.layers.Dense(3, name="dense")(keras.layers.Flatten()(hidden)))
    images = np.arange(8, dtype="float32").reshape(2, 2, 2, 1) / 8
    labels = np.array([0, 2])
    (norm,) = gradients.activation_gradient_norms(model, images, labels, ["hidden"])
    # d(mean cross-entropy)/dX = (softmax(XW + b) - onehot) W^T / batch, X the flattened hidden layer
    kernel, bias = model.get_layer("dense").get_weights()
    logits = model.get_layer("hidden")(images).numpy().reshape(2, 4) @ kernel + bias
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = (probabilities - np.eye(3)[labels]) @ kernel.T / 2
    assert norm == pytest.approx(np.linalg.norm(expected), rel=1e-5)


def test_activation_gradients_leave_the_model_unchanged_and_name_bad_layers():
    seeding.set_seed(0)
    model = models.resnet20(input_shape=(8, 8, 3))
    before = [variable.numpy().copy() for variable in model.variables]
    norms = gradients.activation_gradient_norms(model, *_batch(), ["conv1_relu", "conv4_block3_out"])
    assert len(norms) == 2 and all(norm > 0 for norm in norms)
    for old, variable in zip(before, model.variables):
        np.testing.assert_array_equal(old, variable.numpy())
    with pytest.raises(ValueError, match="conv9_out"):
        gradients.activation_gradient_norms(model, *_batch(), ["conv1_relu", "conv9_out"])
    with pytest.raises(ValueError, match="layer_names"):
        gradients.activation_gradient_norms(model, *_batch(), [])


def test_activation_gradient_norms_do_not_underflow_for_tiny_gradients():
    """A gradient of about 1e-22 per unit, as behind 54 shortcuts scaled by 0.5: its squares are below float32's
    range."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(1, 1, 4))
    hidden = keras.layers.Dense(4, name="hidden")(inputs)
    scaled = keras.layers.Rescaling(1e-22)(hidden)
    model = keras.Model(inputs, keras.layers.Dense(3, name="dense")(keras.layers.Flatten()(scaled)))
    images = np.ones((2, 1, 1, 4), "float32")
    labels = np.array([0, 2])
    (norm,) = gradients.activation_gradient_norms(model, images, labels, ["hidden"])
    kernel, bias = model.get_layer("dense").get_weights()
    hidden_values = model.get_layer("hidden")(images).numpy().reshape(2, 4).astype("float64")
    logits = 1e-22 * hidden_values @ kernel + bias
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = 1e-22 * (probabilities - np.eye(3)[labels]) @ kernel.T / 2
    assert norm == pytest.approx(np.linalg.norm(expected), rel=1e-4)


def test_a_layer_without_a_gradient_is_named():
    # Keras gives no gradient for the output of a layer without weights directly after the input
    inputs = keras.Input(shape=(1, 1, 4))
    relu = keras.layers.Activation("relu", name="first_relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(relu)))
    with pytest.raises(ValueError, match="first_relu"):
        gradients.activation_gradient_norms(model, np.ones((2, 1, 1, 4), "float32"), np.array([0, 1]), ["first_relu"])
