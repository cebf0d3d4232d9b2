"""Building blocks of plain and residual networks (chapters 2, 3, 5, 7 and 8).

A *block* is a function ``block(x, filters, strides, name) -> y`` adding layers to a functional Keras graph; the
builder in :mod:`resnet_lessons.models` knows only that signature, so every net shares one builder.

Layer names follow ``keras.applications.ResNet50``, so weights line up with it: ``{name}_1_conv``/``_1_bn``/
``_1_relu``, ``{name}_2_...`` (and a bottleneck's ``_3_...``) on the branch, ``{name}_0_conv``/``_0_bn``
(projection) or ``{name}_0_pad`` (option A) on the shortcut, ``{name}_add`` and ``{name}_out`` for the sum F(x) + x
and the ReLU after it. The pre-activation blocks (He et al. 2016, basic and bottleneck) follow ``ResNet50V2``:
``{name}_preact_bn``/``_preact_relu`` first, a projection without batch norm, and ``{name}_out`` for the sum (no ReLU
after it).

Shortcut options (He et al. 2015, Sec. 3.3): ``"A"`` identity, subsampled and zero-padded where the shape changes (no
parameters: a residual net has as many as the plain net of its depth); ``"B"`` a 1x1 projection where the shape
changes; ``"C"`` a projection on every block. The blocks take it as ``shortcut=``, as the models do; a block checks
it, and :func:`shortcut_path` (the layers it stands for) re-checks it only because a reader may call it directly.

Chapter 7's options, off by default (names and parameter counts above unchanged): ``gated=True`` adds a :class:`Gate`
on a basic block's branch and shortcut, to delete a block at test time or let the gradient through one side
(:mod:`resnet_lessons.lesions`); a gated *plain* block gets a closed option A shortcut, so deleting a block means
the same in both nets. ``kernel_initializer`` sets the 3x3 convolutions' initialiser, ``batch_norm=False`` leaves batch
norm out (biases instead), ``skip_init=True`` scales the branch by a :class:`SkipInit` scalar that starts at 0.
"""

from __future__ import annotations

import keras
from keras import layers

from resnet_lessons import arguments

SHORTCUT_OPTIONS = ("A", "B", "C")
# Where a downsampling bottleneck puts its stride: on the first 1x1 convolution (the paper), or on the 3x3 one
# ("ResNet v1.5", torchvision's: no 1x1 convolution skips three of every four pixels, for a few % more multiply-adds).
STRIDE_PLACEMENTS = ("1x1", "3x3")
BOTTLENECK_EXPANSION = 4  # a bottleneck's last 1x1 convolution widens four-fold (Fig. 5: 64 -> 256)

# epsilon as in keras.applications; momentum 0.9 (PyTorch's 0.1) lets the moving statistics follow the weights within
# a quick-profile epoch's few dozen steps, where Keras' 0.99 would still mostly remember the initial statistics.
BATCH_NORM_MOMENTUM = 0.9
BATCH_NORM_EPSILON = 1.001e-5


@keras.saving.register_keras_serializable(package="resnet_lessons")
class ZeroPadShortcut(layers.Layer):
    """Option A shortcut: subsample by ``strides`` and append zero channels up to ``filters`` (no parameters).

    A named layer, not a ``Lambda``, so the model serialises and ``model.summary()`` shows the shortcut.
    """

    def __init__(self, filters: int, strides: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.filters = arguments.positive_int(filters, "filters")
        self.strides = arguments.positive_int(strides, "strides")

    def build(self, input_shape):
        if input_shape[-1] > self.filters:
            raise ValueError(f"ZeroPadShortcut can only add channels: input has {input_shape[-1]}, "
                             f"filters={self.filters}")

    def call(self, inputs):
        x = inputs[:, :: self.strides, :: self.strides, :]  # (batch, H / s, W / s, C)
        extra_channels = self.filters - inputs.shape[-1]
        return x if extra_channels == 0 else keras.ops.pad(x, [[0, 0], [0, 0], [0, 0], [0, extra_channels]])

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        height, width = (None if size is None else -(-size // self.strides) for size in (height, width))
        return (batch, height, width, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides}


def _scalar(layer: layers.Layer, name: str, value: float, trainable: bool):
    return layer.add_weight(name=name, shape=(), trainable=trainable, initializer=keras.initializers.Constant(value))


def _number(value, name: str) -> float:
    arguments.require(arguments.is_number(value), name, value, "a number")
    return float(value)


@keras.saving.register_keras_serializable(package="resnet_lessons")
class Gate(layers.Layer):
    """Scale a tensor by a *forward* gate, and its gradient by ``forward * backward`` (chapter 7).

    A forward gate of 0 on a residual branch deletes the block at test time (Veit et al. 2016); a backward gate of 0
    on the branch or the shortcut lets the gradient through the other side only, without changing the forward value.
    The gates are non-trainable variables, so assigning them changes what a compiled ``tf.function`` computes without
    tracing it again. The output is ``stop_gradient(z) + backward * (z - stop_gradient(z))`` with ``z = forward * x``:
    ``z - stop_gradient(z)`` is exactly 0, so the forward value is ``z`` to the last bit whatever the backward gate.
    """

    def __init__(self, forward: float = 1.0, backward: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.default_forward = _number(forward, "forward")
        self.default_backward = _number(backward, "backward")

    def build(self, input_shape):
        self.forward_gate = _scalar(self, "forward", self.default_forward, trainable=False)
        self.backward_gate = _scalar(self, "backward", self.default_backward, trainable=False)

    def call(self, inputs):
        z = inputs * keras.ops.cast(self.forward_gate, inputs.dtype)
        frozen = keras.ops.stop_gradient(z)
        return frozen + keras.ops.cast(self.backward_gate, inputs.dtype) * (z - frozen)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "forward": self.default_forward, "backward": self.default_backward}


@keras.saving.register_keras_serializable(package="resnet_lessons")
class SkipInit(layers.Layer):
    """Multiply a residual branch by one trainable scalar that starts at ``initial_value`` (De and Smith 2020).

    Batch norm's benefit in residual nets lies at initialisation: it scales each branch down against the shortcut,
    so the net starts near the identity. SkipInit gets that without normalisation: a scalar on every branch, starting
    at 0, so every block starts as its shortcut (chapter 7). It is named ``scale``, not ``kernel``, so the book's
    weight decay leaves it alone.
    """

    def __init__(self, initial_value: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.initial_value = _number(initial_value, "initial_value")

    def build(self, input_shape):
        self.scale = _scalar(self, "scale", self.initial_value, trainable=True)

    def call(self, inputs):
        return inputs * keras.ops.cast(self.scale, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "initial_value": self.initial_value}


def _batch_norm(name: str, *, gamma_zero: bool = False):
    return layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, epsilon=BATCH_NORM_EPSILON,
                                     gamma_initializer="zeros" if gamma_zero else "ones", name=name)


def bn_relu(x, name: str):
    """Batch norm then ReLU, ``{name}_bn`` and ``{name}_relu``: a pre-activation block's first two layers, and
    (named ``post``) the last two of a pre-activation net, whose last sum is neither normalised nor activated."""
    x = _batch_norm(f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def conv_bn(x, filters: int, kernel_size: int, strides: int, name: str, *, use_bias: bool = False,
            gamma_zero: bool = False, padding: str = "same", kernel_initializer="he_normal",
            batch_norm: bool = True):
    """A convolution followed by batch norm, ``{name}_conv`` and ``{name}_bn``; returns the tensor before activation.

    No bias by default: the batch norm subtracts the mean anyway, and the paper's counts assume none (``use_bias=True``
    matches ``keras.applications``). He initialisation keeps the signal's variance through ReLU layers.
    ``gamma_zero=True`` starts the batch-norm scale at zero (the pair outputs zeros); ``batch_norm=False`` returns the
    convolution's output (chapter 7). ``padding="valid"`` is for an input padded explicitly: TensorFlow's ``"same"``
    pads a stride-2 convolution at the bottom and right only, where ``keras.applications`` and PyTorch pad evenly.
    """
    if gamma_zero and not batch_norm:
        raise ValueError("gamma_zero=True needs batch_norm=True: it sets the batch norm's initial scale")
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias,
                      kernel_initializer=kernel_initializer, name=f"{name}_conv")(x)
    return _batch_norm(f"{name}_bn", gamma_zero=gamma_zero)(x) if batch_norm else x


def _projects(x, filters: int, strides: int, option: str) -> bool:
    """Whether option ``"A"``, ``"B"`` or ``"C"`` gives a block from ``x`` to ``filters`` channels a projection."""
    shape_changes = strides != 1 or x.shape[-1] != filters
    return {"A": False, "B": shape_changes, "C": True}[option]


def shortcut_path(x, filters: int, strides: int, option: str, name: str, *, use_bias: bool = False,
                  batch_norm: bool = True):
    """A residual block's shortcut under option ``"A"``, ``"B"`` or ``"C"`` (either case), layers ``{name}_0_...``.

    ``batch_norm=False``: a projection is a convolution alone (the pre-activation block's). Returns a tensor
    ``(batch, H / strides, W / strides, filters)`` to add to the residual branch.
    """
    option = validate_shortcut(option)
    if _projects(x, filters, strides, option):
        return conv_bn(x, filters, 1, strides, f"{name}_0", use_bias=use_bias, batch_norm=batch_norm)
    if strides == 1 and x.shape[-1] == filters:
        return x
    return ZeroPadShortcut(filters, strides, name=f"{name}_0_pad")(x)


def basic_block(x, filters: int, strides: int = 1, *, name: str, residual: bool = True, shortcut: str = "A",
                zero_init_residual: bool = False, use_bias: bool = False, kernel_initializer="he_normal",
                batch_norm: bool = True, skip_init: bool = False, gated: bool = False):
    """The two-layer block of ResNet-18/34 and the CIFAR nets: 3x3 conv-BN-ReLU, 3x3 conv-BN, (+ shortcut), ReLU.

    ``residual=False`` gives the matching *plain* block, the paper's baseline (Fig. 1, 4 and 6); it ignores
    ``shortcut``. The options of chapter 7 are in the module docstring.

    Args:
        strides: stride of the first convolution (2 halves the feature map at a stage's first block).
        name: layer-name prefix, e.g. ``"conv2_block1"``.
        zero_init_residual: start the last batch-norm scale at zero, so the block starts as ``relu(x)``, the
            identity on a previous block's non-negative outputs (Goyal et al. 2017; chapter 2).
        skip_init: scale the residual branch by a :class:`SkipInit` ``{name}_skip_init`` (residual blocks only).
        gated: add the :class:`Gate` layers ``{name}_branch_gate`` and ``{name}_shortcut_gate``.
    """
    filters, strides = _check_filters_and_strides(filters, strides)
    shortcut = validate_shortcut(shortcut)
    for flag, value in (("batch_norm", batch_norm), ("skip_init", skip_init), ("gated", gated)):
        arguments.require(isinstance(value, bool), flag, value, "True or False")
    if skip_init and not residual:
        raise ValueError("skip_init=True needs residual=True: it scales the residual branch, which a plain block lacks")
    if zero_init_residual and not batch_norm:
        raise ValueError("zero_init_residual=True needs batch_norm=True: it zeroes the last batch norm's scale "
                         "(without batch norm, skip_init=True starts the branch at zero)")
    y = conv_bn(x, filters, 3, strides, f"{name}_1", use_bias=use_bias, kernel_initializer=kernel_initializer,
                batch_norm=batch_norm)
    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
    y = conv_bn(y, filters, 3, 1, f"{name}_2", use_bias=use_bias, gamma_zero=residual and zero_init_residual,
                kernel_initializer=kernel_initializer, batch_norm=batch_norm)
    if skip_init:
        y = SkipInit(0.0, name=f"{name}_skip_init")(y)
    if residual or gated:
        # A gated plain block's shortcut is option A (no parameters), closed: the block computes what it did.
        side = shortcut_path(x, filters, strides, shortcut if residual else "A", name, use_bias=use_bias)
        if gated:
            side = Gate(forward=1.0 if residual else 0.0, name=f"{name}_shortcut_gate")(side)
            y = Gate(name=f"{name}_branch_gate")(y)
        y = layers.Add(name=f"{name}_add")([side, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def bottleneck_block(x, filters: int, strides: int = 1, *, name: str, stride_on: str = "1x1",
                     shortcut: str = "B", zero_init_residual: bool = False, use_bias: bool = False):
    """The bottleneck block of ResNet-50/101/152 (Fig. 5, right): 1x1 reduce, 3x3, 1x1 expand, (+ shortcut), ReLU.

    The third convolution's batch norm is added to the shortcut *before* the last ReLU, so the branch can cancel part
    of its input. At 256 channels and ``filters=64`` it has about 70,000 weights, two 3x3 convolutions about 1.2
    million (chapter 5).

    Args:
        filters: channels of the first two convolutions; the block outputs ``4 * filters``.
        stride_on: ``"1x1"`` (the paper, ``keras.applications``) or ``"3x3"`` ("v1.5", padded symmetrically by an
            explicit ``{name}_2_pad`` as in PyTorch); the projection is strided either way.
        shortcut: ``"B"`` (the paper's ImageNet models), ``"A"`` or ``"C"``.
        zero_init_residual: start the last batch-norm scale at zero, so the block starts as ``relu(shortcut)``.
    """
    filters, strides = _check_filters_and_strides(filters, strides)
    shortcut = validate_shortcut(shortcut)
    stride_on = validate_stride_placement(stride_on)
    reduce_strides, middle_strides = (strides, 1) if stride_on == "1x1" else (1, strides)
    y = conv_bn(x, filters, 1, reduce_strides, f"{name}_1", use_bias=use_bias)  # (batch, H', W', filters)
    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
    if middle_strides > 1:
        y = layers.ZeroPadding2D(1, name=f"{name}_2_pad")(y)
    y = conv_bn(y, filters, 3, middle_strides, f"{name}_2", use_bias=use_bias,
                padding="valid" if middle_strides > 1 else "same")
    y = layers.Activation("relu", name=f"{name}_2_relu")(y)
    output_filters = BOTTLENECK_EXPANSION * filters
    y = conv_bn(y, output_filters, 1, 1, f"{name}_3", use_bias=use_bias, gamma_zero=zero_init_residual)
    residual = shortcut_path(x, output_filters, strides, shortcut, name, use_bias=use_bias)
    y = layers.Add(name=f"{name}_add")([residual, y])  # (batch, H / strides, W / strides, 4 * filters)
    return layers.Activation("relu", name=f"{name}_out")(y)


def preact_basic_block(x, filters: int, strides: int = 1, *, name: str, shortcut: str = "A"):
    """The full pre-activation basic block (He et al. 2016, Fig. 4e): BN-ReLU-conv-BN-ReLU-conv, + shortcut.

    Nothing follows the sum, ``{name}_out``: the next block normalises its own input, and the net ends with one
    more :func:`bn_relu` (``post``). A projection (B, C) starts from the normalised input, as in ``ResNet50V2``; an
    identity or option A shortcut from the block's input, so the path from block to block stays a clean identity.
    """
    filters, strides = _check_filters_and_strides(filters, strides)
    shortcut = validate_shortcut(shortcut)
    activated = bn_relu(x, f"{name}_preact")  # (batch, H, W, C)
    y = conv_bn(activated, filters, 3, strides, f"{name}_1", batch_norm=False)
    y = bn_relu(y, f"{name}_1")
    y = conv_bn(y, filters, 3, 1, f"{name}_2", batch_norm=False)
    side = activated if _projects(x, filters, strides, shortcut) else x
    side = shortcut_path(side, filters, strides, shortcut, name, batch_norm=False)
    return layers.Add(name=f"{name}_out")([side, y])  # (batch, H / strides, W / strides, filters)


def preact_bottleneck_block(x, filters: int, strides: int = 1, *, name: str, shortcut: str = "B",
                            use_bias: bool = False):
    """The full pre-activation bottleneck (He et al. 2016, Fig. 4e, the blocks of ResNet-164 and ResNet-50 v2).

    BN-ReLU first, then 1x1 conv-BN-ReLU, 3x3 conv-BN-ReLU (padded explicitly, ``{name}_2_pad``, and strided, as in
    ``ResNet50V2``), 1x1 conv to ``4 * filters``, + shortcut; nothing after the sum ``{name}_out``. A projection starts
    from the normalised input. ``use_bias=True`` gives the last convolution and the projection biases, as in
    ``keras.applications.ResNet50V2``.
    """
    filters, strides = _check_filters_and_strides(filters, strides)
    shortcut = validate_shortcut(shortcut)
    output_filters = BOTTLENECK_EXPANSION * filters
    activated = bn_relu(x, f"{name}_preact")  # (batch, H, W, C)
    y = layers.Activation("relu", name=f"{name}_1_relu")(conv_bn(activated, filters, 1, 1, f"{name}_1"))
    y = layers.ZeroPadding2D(1, name=f"{name}_2_pad")(y)
    y = layers.Activation("relu", name=f"{name}_2_relu")(conv_bn(y, filters, 3, strides, f"{name}_2",
                                                                 padding="valid"))
    y = conv_bn(y, output_filters, 1, 1, f"{name}_3", use_bias=use_bias, batch_norm=False)
    side = activated if _projects(x, output_filters, strides, shortcut) else x
    side = shortcut_path(side, output_filters, strides, shortcut, name, use_bias=use_bias, batch_norm=False)
    return layers.Add(name=f"{name}_out")([side, y])  # (batch, H / strides, W / strides, 4 * filters)


def validate_stride_placement(stride_on: str) -> str:
    """Return ``stride_on`` if it is ``"1x1"`` or ``"3x3"``, else raise ``ValueError`` naming both."""
    arguments.require(stride_on in STRIDE_PLACEMENTS, "stride_on", stride_on,
                      f"one of {', '.join(map(repr, STRIDE_PLACEMENTS))} (the paper's placement and 'v1.5')")
    return stride_on


def validate_shortcut(option: str) -> str:
    """Return the shortcut option in upper case, or raise ``ValueError`` naming the allowed ones."""
    normalised = option.upper() if isinstance(option, str) else option
    if normalised not in SHORTCUT_OPTIONS:
        raise ValueError(f"unknown shortcut option {option!r}: expected one of {', '.join(SHORTCUT_OPTIONS)}")
    return normalised


def _check_filters_and_strides(filters, strides) -> tuple[int, int]:
    return arguments.positive_int(filters, "filters"), arguments.positive_int(strides, "strides")
