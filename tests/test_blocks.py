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
def test_shortcuts_project_where_the_paper_says(option, strides, in_channels, projection):
    model = block_model((8, 8, in_channels), 16 * strides, strides, shortcut=option)
    names = {layer.name for layer in model.layers}
    assert ("b_0_conv" in names) == projection
    assert ("b_0_pad" in names) == (option == "A" and strides == 2)
    assert model.output.shape[1:] == (8 // strides, 8 // strides, 16 * strides)


def test_plain_block_has_no_addition():
    model = block_model((8, 8, 16), 16, 1, residual=False)
    assert not any(isinstance(layer, keras.layers.Add) for layer in model.layers)


def test_basic_block_parameter_count():
    model = block_model((8, 8, 16), 32, 2, shortcut="B")
    convs = 3 * 3 * 16 * 32 + 3 * 3 * 32 * 32 + 16 * 32
    batch_norms = 3 * 2 * 32
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == convs + batch_norms


def test_use_bias_gives_convolutions_biases():
    model = block_model((8, 8, 16), 16, 1, use_bias=True)
    assert model.get_layer("b_1_conv").use_bias and model.get_layer("b_2_conv").use_bias


@pytest.mark.parametrize("option", ["a", "b", "c"])
def test_shortcut_is_case_insensitive(option):
    assert blocks.validate_shortcut(option) == option.upper()


@pytest.mark.parametrize("kwargs, message", [
    ({"shortcut": "D"}, "unknown shortcut option"),
    ({"shortcut": None}, "unknown shortcut option"),
])
def test_bad_block_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        block_model((8, 8, 16), 16, 1, **kwargs)


@pytest.mark.parametrize("filters, strides", [(0, 1), (16, 0), (16.0, 1)])
def test_bad_filters_and_strides(filters, strides):
    with pytest.raises(ValueError, match="positive integer"):
        block_model((8, 8, 16), filters, strides)


# --- The bottleneck block (chapter 5) ---

def bottleneck_model(input_shape, filters, strides, **kwargs):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, blocks.bottleneck_block(inputs, filters, strides, name="b", **kwargs))


def test_bottleneck_parameter_count_by_hand():
    model = bottleneck_model((8, 8, 16), 4, 2)  # 16 -> 4 -> 4 -> 16 channels, with a projection (stride 2)
    convs = 1 * 1 * 16 * 4 + 3 * 3 * 4 * 4 + 1 * 1 * 4 * 16 + 1 * 1 * 16 * 16
    batch_norms = 2 * (4 + 4 + 16 + 16)
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == convs + batch_norms
    assert model.output.shape[1:] == (4, 4, 16)


def test_bottleneck_layer_names_follow_keras_applications():
    names = [layer.name for layer in bottleneck_model((8, 8, 16), 8, 2).layers[1:]]
    expected = {f"b_{index}_{kind}" for index in (0, 1, 2, 3) for kind in ("conv", "bn")}
    expected |= {"b_1_relu", "b_2_relu", "b_add", "b_out"}
    assert set(names) == expected


def test_identity_shortcut_where_the_shape_is_kept():
    names = {layer.name for layer in bottleneck_model((8, 8, 32), 8, 1).layers}
    assert "b_0_conv" not in names and "b_add" in names


@pytest.mark.parametrize("stride_on, strided, unstrided", [("1x1", "b_1_conv", "b_2_conv"),
                                                           ("3x3", "b_2_conv", "b_1_conv")])
def test_stride_placement(stride_on, strided, unstrided):
    model = bottleneck_model((8, 8, 16), 4, 2, stride_on=stride_on)
    assert model.get_layer(strided).strides == (2, 2)
    assert model.get_layer(unstrided).strides == (1, 1)
    assert model.get_layer("b_0_conv").strides == (2, 2)  # the projection is strided either way
    assert ("b_2_pad" in {layer.name for layer in model.layers}) == (stride_on == "3x3")
    assert model.output.shape[1:] == (4, 4, 16)


def test_strided_3x3_is_centred_on_the_pixels_the_shortcut_samples():
    # A 3x3 kernel with only its centre tap set copies the pixel under its centre. With symmetric padding (as in
    # PyTorch) the stride-2 convolution centres on pixels 0, 2, 4, ... like the 1x1 projection; TensorFlow's
    # "same" would pad only the bottom and right and centre on pixels 1, 3, 5, ...
    model = bottleneck_model((8, 8, 1), 1, 2, stride_on="3x3")
    conv = model.get_layer("b_2_conv")
    kernel = np.zeros(conv.kernel.shape, "float32")
    kernel[1, 1, 0, 0] = 1.0
    conv.set_weights([kernel])
    probe = keras.Model(model.input, conv.output)
    x = np.random.default_rng(0).uniform(size=(1, 8, 8, 1)).astype("float32")
    first = keras.Model(model.input, model.get_layer("b_1_relu").output)(x)
    np.testing.assert_allclose(probe(x), np.asarray(first)[:, ::2, ::2, :], atol=1e-6)


def test_bottleneck_zero_init_starts_as_relu_of_the_input():
    model = bottleneck_model((4, 4, 16), 4, 1, zero_init_residual=True)
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 16)).astype("float32")
    np.testing.assert_allclose(model(x, training=False), np.maximum(x, 0), atol=1e-6)


def test_bottleneck_with_option_a_pads_zeros():
    names = {layer.name for layer in bottleneck_model((8, 8, 16), 8, 2, shortcut="A").layers}
    assert "b_0_pad" in names and "b_0_conv" not in names


def test_bottleneck_use_bias():
    model = bottleneck_model((8, 8, 16), 4, 2, use_bias=True)
    assert all(model.get_layer(f"b_{index}_conv").use_bias for index in range(4))


@pytest.mark.parametrize("stride_on", ["2x2", "1X1", None, 1])
def test_bad_stride_placement(stride_on):
    with pytest.raises(ValueError, match="stride_on must be one of '1x1', '3x3'"):
        bottleneck_model((8, 8, 16), 4, 2, stride_on=stride_on)


@pytest.mark.parametrize("filters, strides", [(0, 1), (4, 0), (4.0, 1)])
def test_bad_bottleneck_filters_and_strides(filters, strides):
    with pytest.raises(ValueError, match="positive integer"):
        bottleneck_model((8, 8, 16), filters, strides)


def test_conv_bn_valid_padding():
    inputs = keras.Input((8, 8, 3))
    assert blocks.conv_bn(inputs, 4, 3, 1, "c", padding="valid").shape[1:] == (6, 6, 4)


# --- The pre-activation block (He et al. 2016) ---

def preact_model(input_shape, filters, strides, **kwargs):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, blocks.preact_basic_block(inputs, filters, strides, name="b", **kwargs))


@pytest.mark.parametrize("option, projection", [("A", 0), ("B", 1 * 1 * 16 * 32), ("C", 1 * 1 * 16 * 32)])
def test_preact_block_parameter_count_by_hand(option, projection):
    model = preact_model((8, 8, 16), 32, 2, shortcut=option)
    # BN(16) - conv 3x3 16->32 - BN(32) - conv 3x3 32->32, and a projection without batch norm
    expected = 2 * 16 + 3 * 3 * 16 * 32 + 2 * 32 + 3 * 3 * 32 * 32 + projection
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == expected
    assert model.output.shape[1:] == (4, 4, 32)


def test_preact_block_layer_names_follow_keras_resnet_v2():
    names = {layer.name for layer in preact_model((8, 8, 16), 32, 2, shortcut="B").layers[1:]}
    assert names == {"b_preact_bn", "b_preact_relu", "b_1_conv", "b_1_bn", "b_1_relu", "b_2_conv", "b_0_conv",
                     "b_out"}


def test_preact_block_projects_the_normalised_input_and_keeps_the_identity_clean():
    projecting = preact_model((8, 8, 16), 32, 2, shortcut="B")
    assert projecting.get_layer("b_0_conv").input is projecting.get_layer("b_preact_relu").output
    padding = preact_model((8, 8, 16), 32, 2)
    assert padding.get_layer("b_0_pad").input is padding.input
    # With the branch's last convolution at zero, an identity block returns its input unchanged: no ReLU after.
    identity = preact_model((4, 4, 8), 8, 1)
    identity.get_layer("b_2_conv").set_weights([np.zeros((3, 3, 8, 8), "float32")])
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 8)).astype("float32")
    np.testing.assert_allclose(identity(x, training=False), x, atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    ({"shortcut": "D"}, "unknown shortcut option"),
    ({"filters": 0}, "positive integer"),
    ({"strides": 1.0}, "positive integer"),
])
def test_bad_preact_block_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        preact_model((8, 8, 16), **{"filters": 16, "strides": 1, **kwargs})


def test_bn_relu_names():
    inputs = keras.Input((4, 4, 2))
    model = keras.Model(inputs, blocks.bn_relu(inputs, "post"))
    assert [layer.name for layer in model.layers[1:]] == ["post_bn", "post_relu"]


def test_shortcut_called_directly_names_a_bad_option_and_accepts_lower_case():
    inputs = keras.Input((8, 8, 16))
    with pytest.raises(ValueError, match="unknown shortcut option 'D'"):
        blocks.shortcut_path(inputs, 32, 2, "D", name="s")
    assert blocks.shortcut_path(inputs, 32, 2, "b", name="s").shape[1:] == (4, 4, 32)
