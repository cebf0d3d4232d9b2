"""Checkers of chapters 2, 3 and 8: the identity kernel, the block with a projection shortcut, the pre-activation
block."""

import functools

import numpy as np
import pytest
from keras import layers

from resnet_lessons import blocks, checks, identity


def test_identity_kernel_checker():
    assert checks.check_identity_kernel(...) is checks.NO_ANSWER
    right = checks.check_identity_kernel(identity.dirac_kernel(3, 16))
    assert right and str(right).startswith("Correct")
    wrong = checks.check_identity_kernel(np.ones((3, 3, 16, 16)))
    assert not wrong and "taps other than the centre" in wrong.message
    with pytest.raises(ValueError, match="array of numbers"):
        checks.check_identity_kernel({"kernel": 1})


def _option_b_block(x, filters, strides, name, *, projection_size=1, projection_norm=True, always_project=False,
                    relu_before_add=False):
    """A residual block with option B written out in full, with switches for the usual slips."""
    y = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_1_conv")(x)
    y = layers.BatchNormalization(epsilon=1.001e-5, name=f"{name}_1_bn")(y)
    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    y = layers.BatchNormalization(epsilon=1.001e-5, name=f"{name}_2_bn")(y)
    if relu_before_add:
        y = layers.ReLU()(y)
    shortcut = x
    if always_project or strides != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, projection_size, strides=strides, padding="same", use_bias=False,
                                 name=f"{name}_0_conv")(x)
        if projection_norm:
            shortcut = layers.BatchNormalization(epsilon=1.001e-5, name=f"{name}_0_bn")(shortcut)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return y if relu_before_add else layers.Activation("relu", name=f"{name}_out")(y)


def test_projection_block_checker_passes_right_answers():
    assert checks.check_projection_block(...) is checks.NO_ANSWER
    result = checks.check_projection_block(_option_b_block)
    assert result and "same outputs" in result.message

    def package_block(x, filters, strides, name):
        return blocks.basic_block(x, filters, strides, name=name, shortcut="B")

    assert checks.check_projection_block(package_block)


@pytest.mark.parametrize("slip, hint", [
    ({"projection_size": 3}, "1x1 convolution, not a 3x3"),
    ({"projection_norm": False}, "needs its batch norm"),
    ({"always_project": True}, "option C"),
    ({"relu_before_add": True}, "ReLU after the addition"),
])
def test_projection_block_checker_names_the_slip(slip, hint):
    def block(x, filters, strides, name):
        return _option_b_block(x, filters, strides, name, **slip)

    result = checks.check_projection_block(block)
    assert not result and hint in result.message, result.message


def test_projection_block_checker_explains_a_missing_projection_and_a_wrong_stride():
    missing = checks.check_projection_block(blocks.basic_block)  # option A: zero padding, no projection
    assert not missing and "no projection" in missing.message

    def identity_only(x, filters, strides, name):
        y = blocks.conv_bn(x, filters, 3, strides, f"{name}_1")
        return layers.Add()([x, y])

    crashed = checks.check_projection_block(identity_only)
    assert not crashed and "raised" in crashed.message and "1x1 convolution" in crashed.message

    def stride_on_second(x, filters, strides, name):
        y = layers.ReLU()(blocks.conv_bn(x, filters, 3, 1, f"{name}_1"))
        y = blocks.conv_bn(y, filters, 3, 1, f"{name}_2")
        return layers.ReLU()(layers.Add()([blocks.shortcut_path(x, filters, 1, "B", name), y]))

    unstrided = checks.check_projection_block(stride_on_second)
    assert not unstrided and "the stride goes on" in unstrided.message


def test_projection_block_checker_refuses_non_functions():
    with pytest.raises(ValueError, match="block function"):
        checks.check_projection_block(42)


def _preact_block(x, filters, strides, name, *, relu_after_add=False, final_bn=False, no_preact=False,
                  keras_epsilon=False):
    """A full pre-activation block written out as a student would, with one optional slip."""
    def bn_relu(tensor, prefix):
        if keras_epsilon:  # Keras' default epsilon, 1e-3
            return layers.Activation("relu")(layers.BatchNormalization(name=f"{prefix}_bn")(tensor))
        return blocks.bn_relu(tensor, prefix)

    y = x if no_preact else bn_relu(x, f"{name}_preact")
    shortcut = blocks.shortcut_path(x, filters, strides, "A", name)
    y = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_1_conv")(y)
    y = bn_relu(y, f"{name}_1")
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    if final_bn:
        y = layers.BatchNormalization(name=f"{name}_2_bn")(y)
    y = layers.Add()([shortcut, y])
    return layers.Activation("relu")(y) if relu_after_add else y


def test_preact_block_checker_passes_a_right_answer_and_names_slips():
    assert checks.check_preact_block(_preact_block)
    assert "no answer" in str(checks.check_preact_block(...))
    assert "pre-activation" in str(checks.check_preact_block(functools.partial(_preact_block, no_preact=True)))
    assert "nothing follows the second convolution" in str(
        checks.check_preact_block(functools.partial(_preact_block, final_bn=True)))
    assert "nothing may follow the addition" in str(
        checks.check_preact_block(functools.partial(_preact_block, relu_after_add=True)))
    assert "epsilon" in str(checks.check_preact_block(functools.partial(_preact_block, keras_epsilon=True)))
    with pytest.raises(ValueError, match="block function"):
        checks.check_preact_block("preact")
