"""Tests of resnet_lessons.equivalence: copying weights between models and comparing their outputs."""

import keras
import numpy as np
import pytest

from resnet_lessons import equivalence, models


def _small_net(name, prefix="", seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(4, 4, 2))
    x = keras.layers.Conv2D(3, 3, padding="same", name=f"{prefix}conv")(inputs)
    x = keras.layers.BatchNormalization(name=f"{prefix}bn")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(2, name=f"{prefix}dense")(x), name=name)


def test_copy_by_name_makes_outputs_equal():
    first, second = _small_net("first", seed=0), _small_net("second", seed=1)
    inputs = np.random.default_rng(0).normal(size=(5, 4, 4, 2)).astype("float32")
    assert equivalence.max_output_difference(first, second, inputs) > 1e-3
    assert equivalence.copy_weights(first, second) == 3
    assert equivalence.max_output_difference(first, second, inputs) == 0.0


def test_copy_by_order_pairs_differently_named_layers():
    first, second = _small_net("first", seed=0), _small_net("second", prefix="other_", seed=1)
    with pytest.raises(ValueError, match="layer names differ"):
        equivalence.copy_weights(first, second)
    equivalence.copy_weights(first, second, match="order")
    inputs = np.ones((2, 4, 4, 2), dtype="float32")
    assert equivalence.max_output_difference(first, second, inputs, training=True) == 0.0


def test_mismatched_shapes_copy_nothing():
    first = models.resnet20(input_shape=(8, 8, 3))
    second = models.resnet20(input_shape=(8, 8, 3), num_classes=5)
    before = second.get_layer("conv1_conv").get_weights()[0].copy()
    with pytest.raises(ValueError, match="predictions"):
        equivalence.copy_weights(first, second)
    np.testing.assert_array_equal(second.get_layer("conv1_conv").get_weights()[0], before)


def test_order_match_needs_equal_layer_counts():
    with pytest.raises(ValueError, match="one to one"):
        equivalence.copy_weights(models.resnet20(input_shape=(8, 8, 3)), models.resnet32(input_shape=(8, 8, 3)),
                                 match="order")


def test_bad_arguments():
    net = _small_net("net")
    with pytest.raises(ValueError, match="match must be"):
        equivalence.copy_weights(net, net, match="position")
    with pytest.raises(ValueError, match="keras.Model"):
        equivalence.weighted_layers(None)
    other = keras.Sequential([keras.Input(shape=(4, 4, 2)), keras.layers.Flatten()])
    with pytest.raises(ValueError, match="outputs shape"):
        equivalence.max_output_difference(net, other, np.zeros((1, 4, 4, 2), dtype="float32"))
