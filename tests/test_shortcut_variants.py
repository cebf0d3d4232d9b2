"""The 2016 paper's shortcut variants (Table 1) as blocks for the builder (chapter 8)."""

import keras
import numpy as np
import pytest

from resnet_lessons import gradients, models, seeding, shortcut_variants

IMAGES = np.random.default_rng(0).normal(size=(8, 8, 8, 3)).astype("float32")
LABELS = np.arange(8) % 10


def block_model(variant, *, input_channels=16, filters=16, strides=1, **options):
    inputs = keras.Input((8, 8, input_channels))
    outputs = shortcut_variants.variant_block(inputs, filters, strides, name="b", variant=variant, **options)
    return keras.Model(inputs, outputs)


def branch_parameters(input_channels, filters):
    return 3 * 3 * input_channels * filters + 2 * filters + 3 * 3 * filters * filters + 2 * filters


@pytest.mark.parametrize("variant, extra", [
    ("identity", 0), ("zero", 0), ("scaled", 0), ("scaled_both", 0), ("dropout", 0),
    ("exclusive_gating", 16 * 32 + 32),  # the gate's 1x1 convolution and its bias
    ("shortcut_gating", 16 * 32 + 32),
    ("conv", 16 * 32 + 2 * 32),  # a projection with batch norm on every block (option C)
])
def test_parameters_by_hand(variant, extra):
    model = block_model(variant, filters=32, strides=2)
    assert models.count_parameters(model).trainable == branch_parameters(16, 32) + extra
    assert model.output.shape[1:] == (4, 4, 32)


def test_identity_is_the_original_resnet_layer_for_layer():
    seeding.set_seed(0)
    ours = shortcut_variants.variant_resnet(20, "identity", input_shape=(8, 8, 3))
    seeding.set_seed(0)
    reference = models.resnet20(input_shape=(8, 8, 3))
    assert [layer.name for layer in ours.layers] == [layer.name for layer in reference.layers]
    assert ours.name == "resnet20_identity"
    np.testing.assert_array_equal(ours(IMAGES, training=False), reference(IMAGES, training=False))


def shortcut_and_output(variant, x, **options):
    """The block's output for input ``x`` with its branch switched off (last batch-norm scale and shift at 0)."""
    model = block_model(variant, zero_init_residual=True, **options)
    return model(x, training=False).numpy()


@pytest.mark.parametrize("variant, factor", [("identity", 1.0), ("zero", 0.0), ("scaled", 0.5),
                                             ("scaled_both", 0.5), ("dropout", 0.5)])
def test_with_the_branch_at_zero_a_block_is_its_shortcut(variant, factor):
    x = np.abs(np.random.default_rng(2).normal(size=(2, 8, 8, 16))).astype("float32")  # >= 0, as after a ReLU
    np.testing.assert_allclose(shortcut_and_output(variant, x), factor * x, rtol=1e-6)


def test_gates_start_near_the_identity_with_a_negative_bias():
    x = np.abs(np.random.default_rng(3).normal(size=(2, 8, 8, 16))).astype("float32") * 0.1
    near = shortcut_and_output("shortcut_gating", x, gate_bias=-6.0)
    half = shortcut_and_output("shortcut_gating", x, gate_bias=0.0)
    assert np.all(near > 0.95 * x) and np.all(near <= x)
    assert np.all(half < 0.75 * x + 1e-7)  # 1 - sigmoid(about 0) is about a half


def test_dropout_drops_half_of_the_shortcut_without_rescaling_in_training():
    model = block_model("dropout", zero_init_residual=True)
    x = np.ones((4, 8, 8, 16), "float32")
    seeding.set_seed(0)
    trained = model(x, training=True).numpy()
    assert set(np.unique(trained)) <= {0.0, 1.0}
    assert 0.4 < trained.mean() < 0.6


def test_a_stack_of_scaled_shortcuts_multiplies_the_gradient():
    """With every branch at zero, the gradient reaching the first block is about the last one's times scale^blocks."""
    ratios = {}
    for variant in ("identity", "scaled"):
        seeding.set_seed(0)
        model = shortcut_variants.variant_resnet(20, variant, input_shape=(8, 8, 3), scale=0.9,
                                                 zero_init_residual=True)
        norms = gradients.activation_gradient_norms(model, IMAGES, LABELS, ["conv2_block1_out", "conv4_block3_out"])
        ratios[variant] = norms[0] / norms[1]
    # 8 blocks lie between conv2_block1's output and conv4_block3's. Not exactly 0.9^8: the two nets' gradients at the
    # last block differ in direction (their logits differ), and the ReLUs' zeros and option A's dropped channels
    # keep a different share of each.
    assert ratios["scaled"] / ratios["identity"] == pytest.approx(0.9**8, rel=1e-2)


@pytest.mark.parametrize("kwargs, message", [
    ({"variant": "gated"}, "variant"), ({"variant": ["identity"]}, "variant"), ({"scale": 1.0}, "scale"),
    ({"dropout_rate": -0.1}, "dropout_rate"), ({"gate_bias": "low"}, "gate_bias"),
    ({"zero_init_residual": 1}, "zero_init_residual"), ({"filters": 0}, "filters"),
])
def test_bad_arguments_are_named(kwargs, message):
    options = {"variant": "identity", "filters": 16, **kwargs}
    inputs = keras.Input((8, 8, 16))
    with pytest.raises(ValueError, match=message):
        shortcut_variants.variant_block(inputs, options.pop("filters"), 1, name="b", **options)


def test_the_table_names_every_variant_the_recipe_builds():
    for variant in shortcut_variants.TABLE_1:
        model = shortcut_variants.variant_resnet(8, variant, input_shape=(8, 8, 3))
        assert model.name == f"resnet8_{variant}"
    with pytest.raises(ValueError, match="variant"):
        shortcut_variants.variant_resnet(8, "highway")
