"""The shortcuts of He et al. 2016 ("Identity Mappings in Deep Residual Networks"), Table 1, as blocks (chapter 8).

The 2016 paper keeps the original block, ``x' = ReLU(h(x) + F(x))`` with ``F`` = conv-BN-ReLU-conv-BN, and changes
only what the shortcut ``h`` does to ``x`` (and, for two variants, what multiplies ``F``). Its argument: over a
stack of blocks the shortcuts' factors multiply, so anything but the identity scales the signal that skips the
weight layers by a product that vanishes or explodes with depth. Every variant here is a block function for
:func:`resnet_lessons.models.build_network`, so :func:`variant_resnet` is a recipe and the builder is unchanged.

Where a block changes the shape, the shortcut first subsamples and zero-pads as option A does (the paper's CIFAR
nets), then applies the variant; the ``"conv"`` variant projects on every block (option C).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import keras
from keras import layers

from resnet_lessons import arguments, blocks, models


@dataclasses.dataclass(frozen=True)
class Variant:
    """One row of the 2016 paper's Table 1 (ResNet-110 on CIFAR-10)."""

    shortcut: str  # what multiplies (or replaces) x on the shortcut
    branch: str  # what multiplies F(x)
    paper_error: str  # the paper's test error in %, or "fail" (above 20 %)
    setting: str = ""  # the variant's parameter in the paper's run


# The paper's Table 1, in its order; the keys name the variants for variant_block.
TABLE_1 = {
    "identity": Variant("1", "1", "6.61"),
    "zero": Variant("0", "1", "fail", "a plain net"),
    "scaled": Variant("0.5", "1", "fail"),
    "scaled_both": Variant("0.5", "0.5", "12.35", "frozen gating"),
    "exclusive_gating": Variant("1 - g(x)", "g(x)", "8.70", "b_g = -6 (fail for 0 to -5, 9.81 for -7)"),
    "shortcut_gating": Variant("1 - g(x)", "1", "6.91", "b_g = -6 (12.86 for b_g = 0)"),
    "conv": Variant("1x1 conv", "1", "12.22"),
    "dropout": Variant("dropout 0.5", "1", "fail"),
}


def variant_block(x, filters: int, strides: int = 1, *, name: str, variant: str = "identity", scale: float = 0.5,
                  gate_bias: float = -6.0, dropout_rate: float = 0.5, zero_init_residual: bool = False):
    """The original basic block with the shortcut ``variant`` of :data:`TABLE_1`.

    Args:
        scale: the constant of ``"scaled"`` and ``"scaled_both"`` (the branch of the latter gets ``1 - scale``).
        gate_bias: the initial bias ``b_g`` of the gates ``g(x) = sigmoid(conv1x1(x) + b_g)``, one per channel,
            layer ``{name}_gate_conv``. At -6, ``1 - g`` starts near 1: the shortcut starts close to the identity.
        dropout_rate: ``"dropout"`` drops this fraction of the shortcut's units in training and does *not* scale the
            rest up (Keras' ``Dropout`` would), so the shortcut is scaled by 1 - rate in expectation, as the paper
            describes it, in training and (exactly) in inference.
        zero_init_residual: start the branch's last batch-norm scale at zero, so that every block starts as its
            shortcut and a stack of blocks as the product of their shortcuts (chapter 8's exercise).
    """
    _check_variant(variant)
    scale = _fraction(scale, "scale")
    dropout_rate = _fraction(dropout_rate, "dropout_rate")
    arguments.require(arguments.is_number(gate_bias), "gate_bias", gate_bias, "a number")
    arguments.require(isinstance(zero_init_residual, bool), "zero_init_residual", zero_init_residual, "True or False")
    filters = arguments.positive_int(filters, "filters")
    strides = arguments.positive_int(strides, "strides")
    y = blocks.conv_bn(x, filters, 3, strides, f"{name}_1")
    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
    y = blocks.conv_bn(y, filters, 3, 1, f"{name}_2", gamma_zero=zero_init_residual)  # F(x), before the addition
    side = blocks.shortcut_path(x, filters, strides, "C" if variant == "conv" else "A", name)
    if variant in ("zero", "scaled", "scaled_both"):
        side = layers.Rescaling(0.0 if variant == "zero" else scale, name=f"{name}_shortcut_scale")(side)
    if variant == "scaled_both":
        y = layers.Rescaling(1.0 - scale, name=f"{name}_branch_scale")(y)
    if variant in ("exclusive_gating", "shortcut_gating"):
        gate = layers.Conv2D(filters, 1, strides=strides, activation="sigmoid", kernel_initializer="he_normal",
                             bias_initializer=keras.initializers.Constant(float(gate_bias)),
                             name=f"{name}_gate_conv")(x)  # g(x), in (0, 1) per pixel and channel
        carry = layers.Rescaling(-1.0, offset=1.0, name=f"{name}_carry")(gate)  # 1 - g(x)
        side = layers.Multiply(name=f"{name}_shortcut_gate")([side, carry])
        if variant == "exclusive_gating":
            y = layers.Multiply(name=f"{name}_branch_gate")([y, gate])
    if variant == "dropout":
        side = layers.Dropout(dropout_rate, name=f"{name}_shortcut_dropout")(side)
        side = layers.Rescaling(1.0 - dropout_rate, name=f"{name}_shortcut_scale")(side)  # undo Dropout's 1 / keep
    y = layers.Add(name=f"{name}_add")([side, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def variant_resnet(depth: int, variant: str, *, num_classes: int = 10, input_shape: Sequence[int] = (32, 32, 3),
                   **options) -> keras.Model:
    """A CIFAR ResNet of ``depth = 6n + 2`` layers whose blocks all have the shortcut ``variant``, named
    ``resnet{depth}_{variant}``; ``options`` go to :func:`variant_block`. ``"identity"`` is
    :func:`resnet_lessons.models.cifar_resnet`'s network, layer for layer."""
    _check_variant(variant)
    block = functools.partial(variant_block, variant=variant, **options)
    return models.build_network(input_shape=input_shape, stem=models.cifar_stem, stages=models.cifar_stages(depth),
                                block=block, num_classes=num_classes, name=f"resnet{depth}_{variant}")


def _check_variant(variant) -> None:
    arguments.require(isinstance(variant, str) and variant in TABLE_1, "variant", variant,
                      f"one of {', '.join(map(repr, TABLE_1))}")


def _fraction(value, name: str) -> float:
    arguments.require(arguments.is_number(value) and 0 <= value < 1, name, value, "a number in [0, 1)")
    return float(value)
