"""Tests of resnet_lessons.complexity: multiply-adds counted from built models."""

import keras
import pytest

from resnet_lessons import complexity, models


def test_counts_a_convolution_and_a_dense_layer_by_hand():
    inputs = keras.Input(shape=(8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)  # 8*8*4 outputs, 3*3*3 each
    x = keras.layers.Conv2D(6, 1, strides=2, name="pointwise")(x)  # 4*4*6 outputs, 4 each
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(5, name="dense")(x)  # 5 outputs, 6 each
    model = keras.Model(inputs, outputs)
    assert complexity.multiply_adds_by_layer(model) == {"conv": 8 * 8 * 4 * 27, "pointwise": 4 * 4 * 6 * 4,
                                                        "dense": 30}
    assert complexity.count_multiply_adds(model) == 8 * 8 * 4 * 27 + 4 * 4 * 6 * 4 + 30


def test_grouped_and_depthwise_convolutions():
    inputs = keras.Input(shape=(6, 6, 4))
    grouped = keras.layers.Conv2D(8, 3, padding="same", groups=2, name="grouped")(inputs)
    depthwise = keras.layers.DepthwiseConv2D(3, padding="same", name="depthwise")(inputs)
    model = keras.Model(inputs, [grouped, depthwise])
    assert complexity.multiply_adds_by_layer(model) == {"grouped": 6 * 6 * 8 * 9 * 2, "depthwise": 6 * 6 * 4 * 9}


def test_resnet20_matches_the_known_cost():
    # By hand, per layer: output values times k * k * C_in, for the stem, the three stages and the classifier.
    stem = 32 * 32 * 16 * 27
    stage2 = 6 * 32 * 32 * 16 * 144
    stage3 = 32 * 16 * 16 * (16 * 9) + 5 * 16 * 16 * 32 * (32 * 9)
    stage4 = 64 * 8 * 8 * (32 * 9) + 5 * 8 * 8 * 64 * (64 * 9)
    expected = stem + stage2 + stage3 + stage4 + 64 * 10
    assert complexity.count_multiply_adds(models.resnet20()) == expected == 40_551_040


def test_plain_and_option_a_nets_cost_the_same():
    assert complexity.count_multiply_adds(models.plain20()) == complexity.count_multiply_adds(models.resnet20())


def test_nested_models_are_counted_under_their_name():
    inner = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, name="d")], name="inner")
    inputs = keras.Input(shape=(4,))
    model = keras.Model(inputs, inner(inputs))
    assert complexity.multiply_adds_by_layer(model) == {"inner/d": 12}


def test_unknown_input_size_is_a_clear_error():
    inputs = keras.Input(shape=(None, None, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3, name="conv")(inputs))
    with pytest.raises(ValueError, match="fixed input size"):
        complexity.count_multiply_adds(model)


def test_rejects_what_is_not_a_model():
    with pytest.raises(ValueError, match="keras.Model"):
        complexity.count_multiply_adds("resnet20")
