"""Building blocks of plain and residual networks (chapters 2, 3 and 5).

A *block* is a function ``block(x, filters, strides, name) -> y`` that adds a few layers to a functional Keras graph.
The network builder in :mod:`resnet_lessons.models` only knows that signature, so the CIFAR nets and the ImageNet
family share one builder and differ only in the block they pass in.

Layer names follow ``keras.applications.ResNet50`` (``conv2_block1_1_conv``, ``conv2_block1_1_bn``, ...), so that
weights line up with it and ``model.summary()`` reads the same in both:

- ``{name}_1_conv``/``_1_bn``/``_1_relu``: the first convolution of the residual branch,
- ``{name}_2_conv``/``_2_bn``: the second one,
- ``{name}_0_conv``/``_0_bn`` (projection) or ``{name}_0_pad`` (option A): the shortcut,
- ``{name}_add`` and ``{name}_out``: the sum F(x) + x and the ReLU after it.

Shortcut options of the paper (He et al. 2015, Sec. 3.3 and 4.1):

- ``"A"``: identity; where the shape changes, subsample by the stride and append zero channels. No parameters, so a
  residual net has exactly as many parameters as the plain net of the same depth.
- ``"B"``: identity where shapes match, a 1x1 projection (conv + batch norm) where they change.
- ``"C"``: a projection on every block.
"""

from __future__ import annotations

import keras
from keras import layers

SHORTCUT_OPTIONS = ("A", "B", "C")

# Batch-norm settings shared by every block. epsilon matches keras.applications' ResNets; momentum 0.9 (PyTorch's
# 0.1) lets the moving statistics follow the weights within the few dozen steps of a quick-profile epoch, where
# Keras' default 0.99 would still mostly remember the initial statistics when the test set is evaluated.
BATCH_NORM_MOMENTUM = 0.9
BATCH_NORM_EPSILON = 1.001e-5


@keras.saving.register_keras_serializable(package="resnet_lessons")
class ZeroPadShortcut(layers.Layer):
    """Option A shortcut: subsample by ``strides`` and append zero channels up to ``filters``.

    This is the parameter-free identity shortcut of the paper's CIFAR-10 experiments. Keeping it a named layer (not a
    ``Lambda``) makes the model serialisable and shows the shortcut in ``model.summary()``.

    Args:
        filters: number of output channels; must be at least the number of input channels.
        strides: spatial subsampling factor (1 keeps the size, 2 halves it by taking every other pixel).
    """

    def __init__(self, filters: int, strides: int = 1, **kwargs):
        super().__init__(**kwargs)
        if int(filters) < 1:
            raise ValueError(f"filters must be a positive integer, got {filters!r}")
        if int(strides) < 1:
            raise ValueError(f"strides must be a positive integer, got {strides!r}")
        self.filters = int(filters)
        self.strides = int(strides)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels > self.filters:
            raise ValueError(
                f"ZeroPadShortcut can only add channels: input has {channels}, filters={self.filters}"
            )

    def call(self, inputs):
        x = inputs[:, :: self.strides, :: self.strides, :]  # (batch, H / s, W / s, C)
        extra_channels = self.filters - inputs.shape[-1]
        if extra_channels == 0:
            return x
        return keras.ops.pad(x, [[0, 0], [0, 0], [0, 0], [0, extra_channels]])

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape

        def subsampled(size):
            return None if size is None else -(-size // self.strides)

        return (batch, subsampled(height), subsampled(width), self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides}


def conv_bn(x, filters: int, kernel_size: int, strides: int, name: str, *, use_bias: bool = False,
            gamma_zero: bool = False):
    """A convolution followed by batch norm, named ``{name}_conv`` and ``{name}_bn``.

    The convolution has no bias by default: the batch norm right after it subtracts the mean anyway, and the paper's
    parameter counts assume none. ``use_bias=True`` reproduces ``keras.applications``, whose convolutions keep one.
    He initialisation (He et al. 2015b) keeps the signal's variance constant through ReLU layers.

    Args:
        x: input tensor ``(batch, H, W, C)``.
        filters: output channels.
        kernel_size: side of the square kernel.
        strides: stride of the convolution.
        name: prefix of the two layer names.
        use_bias: give the convolution a bias.
        gamma_zero: start the batch-norm scale at zero, so the pair outputs zeros (see :func:`basic_block`).

    Returns:
        The normalised tensor, before any activation.
    """
    x = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=use_bias,
        kernel_initializer="he_normal",
        name=f"{name}_conv",
    )(x)
    return layers.BatchNormalization(
        momentum=BATCH_NORM_MOMENTUM,
        epsilon=BATCH_NORM_EPSILON,
        gamma_initializer="zeros" if gamma_zero else "ones",
        name=f"{name}_bn",
    )(x)


def shortcut(x, filters: int, strides: int, option: str, name: str, *, use_bias: bool = False):
    """The shortcut branch of a residual block under the paper's option A, B or C.

    Args:
        x: the block's input ``(batch, H, W, C_in)``.
        filters: channels of the block's output.
        strides: the block's stride.
        option: ``"A"``, ``"B"`` or ``"C"`` (see the module docstring).
        name: the block's name prefix; the shortcut's layers are ``{name}_0_...``.
        use_bias: give a projection's convolution a bias (``keras.applications`` style).

    Returns:
        A tensor of shape ``(batch, H / strides, W / strides, filters)`` to add to the residual branch.
    """
    option = validate_shortcut(option)
    shape_changes = strides != 1 or x.shape[-1] != filters
    if option == "C" or (option == "B" and shape_changes):
        return conv_bn(x, filters, 1, strides, f"{name}_0", use_bias=use_bias)
    if not shape_changes:
        return x
    return ZeroPadShortcut(filters, strides, name=f"{name}_0_pad")(x)


def basic_block(x, filters: int, strides: int = 1, *, name: str, residual: bool = True, shortcut_option: str = "A",
                zero_init_residual: bool = False, use_bias: bool = False):
    """The two-layer block of ResNet-18/34 and the CIFAR nets: 3x3 conv-BN-ReLU, 3x3 conv-BN, (+ shortcut), ReLU.

    With ``residual=False`` it is the matching *plain* block: the same two layers without the shortcut, which is
    what the paper compares against in Fig. 1, 4 and 6.

    Args:
        x: input tensor ``(batch, H, W, C)``.
        filters: output channels of both convolutions.
        strides: stride of the first convolution (2 halves the feature map at a stage's first block).
        name: layer-name prefix, e.g. ``"conv2_block1"``.
        residual: add the shortcut (a residual block) or not (a plain block).
        shortcut_option: ``"A"``, ``"B"`` or ``"C"``; ignored for plain blocks.
        zero_init_residual: start the last batch-norm scale at zero, so the residual branch outputs zero and the
            block computes ``relu(x)``, the identity on the non-negative outputs of a previous block (Goyal et al.
            2017; chapter 2).
        use_bias: give the convolutions a bias.

    Returns:
        The block's output ``(batch, H / strides, W / strides, filters)``.
    """
    _validate_block_arguments(filters, strides)
    shortcut_option = validate_shortcut(shortcut_option)
    y = conv_bn(x, filters, 3, strides, f"{name}_1", use_bias=use_bias)
    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
    y = conv_bn(y, filters, 3, 1, f"{name}_2", use_bias=use_bias, gamma_zero=residual and zero_init_residual)
    if residual:
        y = layers.Add(name=f"{name}_add")([shortcut(x, filters, strides, shortcut_option, name, use_bias=use_bias),
                                            y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def validate_shortcut(option: str) -> str:
    """Return the shortcut option in upper case, or raise ``ValueError`` naming the allowed ones."""
    normalised = option.upper() if isinstance(option, str) else option
    if normalised not in SHORTCUT_OPTIONS:
        raise ValueError(f"unknown shortcut option {option!r}: expected one of {', '.join(SHORTCUT_OPTIONS)}")
    return normalised


def _validate_block_arguments(filters, strides):
    if not isinstance(filters, int) or filters < 1:
        raise ValueError(f"filters must be a positive integer, got {filters!r}")
    if not isinstance(strides, int) or strides < 1:
        raise ValueError(f"strides must be a positive integer, got {strides!r}")
