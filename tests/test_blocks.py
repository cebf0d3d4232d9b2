"""Blocks and shortcuts: option A's zero padding, projections, plain blocks, validation."""

import keras
import numpy as np
import pytest

from resnet_lessons import blocks


def block_model(input_shape, filters, strides, **kwargs):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, blocks.basic_block(inputs, filters, strides, name="b", **kwargs))


def test_zero_pad_shortcut_subsamples_and_appends_zero_channels():
    x = np.arange(2 * 4 * 4 * 3, dtype="float32").reshape(2, 4, 4, 3)
    y = keras.ops.convert_to_numpy(blocks.ZeroPadShortcut(5, strides=2)(x))
    assert y.shape == (2, 2, 2, 5)
    np.testing.assert_array_equal(y[..., :3], x[:, ::2, ::2, :])
    np.testing.assert_array_equal(y[..., 3:], 0)


def test_zero_pad_shortcut_is_serialisable():
    layer = blocks.ZeroPadShortcut(32, strides=2, name="pad")
    clone = blocks.ZeroPadShortcut.from_config(layer.get_config())
    assert (clone.filters, clone.strides, clone.name) == (32, 2, "pad")


def test_zero_pad_shortcut_cannot_remove_channels():
    with pytest.raises(ValueError, match="only add channels"):
        blocks.ZeroPadShortcut(2)(np.zeros((1, 4, 4, 3), "float32"))


@pytest.mark.parametrize("option, strides, in_channels, projection", [
    ("A", 1, 16, False), ("A", 2, 16, False), ("B", 1, 16, False), ("B", 2, 16, True), ("C", 1, 16, True),
])
def test_shortcut_options_project_where_the_paper_says(option, strides, in_channels, projection):
    model = block_model((8, 8, in_channels), 16 * strides, strides, shortcut_option=option)
    names = {layer.name for layer in model.layers}
    assert ("b_0_conv" in names) == projection
    assert ("b_0_pad" in names) == (option == "A" and strides == 2)
    assert model.output.shape[1:] == (8 // strides, 8 // strides, 16 * strides)


def test_plain_block_has_no_addition():
    model = block_model((8, 8, 16), 16, 1, residual=False)
    assert not any(isinstance(layer, keras.layers.Add) for layer in model.layers)


def test_basic_block_parameter_count():
    model = block_model((8, 8, 16), 32, 2, shortcut_option="B")
    convs = 3 * 3 * 16 * 32 + 3 * 3 * 32 * 32 + 16 * 32
    batch_norms = 3 * 2 * 32
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == convs + batch_norms


def test_use_bias_gives_convolutions_biases():
    model = block_model((8, 8, 16), 16, 1, use_bias=True)
    assert model.get_layer("b_1_conv").use_bias and model.get_layer("b_2_conv").use_bias


@pytest.mark.parametrize("option", ["a", "b", "c"])
def test_shortcut_option_is_case_insensitive(option):
    assert blocks.validate_shortcut(option) == option.upper()


@pytest.mark.parametrize("kwargs, message", [
    ({"shortcut_option": "D"}, "unknown shortcut option"),
    ({"shortcut_option": None}, "unknown shortcut option"),
])
def test_bad_block_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        block_model((8, 8, 16), 16, 1, **kwargs)


@pytest.mark.parametrize("filters, strides", [(0, 1), (16, 0), (16.0, 1)])
def test_bad_filters_and_strides(filters, strides):
    with pytest.raises(ValueError, match="positive integer"):
        block_model((8, 8, 16), filters, strides)
