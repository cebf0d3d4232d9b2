"""Building blocks of plain and residual networks (chapters 2, 3 and 5).

A *block* is a function ``block(x, filters, strides, name) -> y`` that adds a few layers to a functional Keras graph.
The network builder in :mod:`resnet_lessons.models` only knows that signature, so the CIFAR nets and the ImageNet
family share one builder and differ only in the block they pass in.

Layer names follow ``keras.applications.ResNet50`` (``conv2_block1_1_conv``, ``conv2_block1_1_bn``, ...), so that
weights line up with it and ``model.summary()`` reads the same in both:

- ``{name}_1_conv``/``_1_bn``/``_1_relu``: the first convolution of the residual branch,
- ``{name}_2_conv``/``_2_bn``: the second one (and ``{name}_3_conv``/``_3_bn``, a bottleneck's third),
- ``{name}_0_conv``/``_0_bn`` (projection) or ``{name}_0_pad`` (option A): the shortcut,
- ``{name}_add`` and ``{name}_out``: the sum F(x) + x and the ReLU after it.

The shortcut option (below) is checked once, by the block that takes it; :func:`shortcut` expects it checked.

Shortcut options of the paper (He et al. 2015, Sec. 3.3 and 4.1):

- ``"A"``: identity; where the shape changes, subsample by the stride and append zero channels. No parameters, so a
  residual net has exactly as many parameters as the plain net of the same depth.
- ``"B"``: identity where shapes match, a 1x1 projection (conv + batch norm) where they change.
- ``"C"``: a projection on every block.

The *bottleneck* block of ResNet-50/101/152 (Sec. 4.1, Fig. 5, chapter 5) replaces the two 3x3 convolutions by a
1x1 convolution that reduces the channels four-fold, a 3x3 convolution on the reduced channels and a 1x1
convolution that expands them again. The paper puts a downsampling block's stride on the first 1x1 convolution;
the later "ResNet v1.5" (torchvision's and NVIDIA's reference models) moves it to the 3x3 convolution, so that no
1x1 convolution skips three of every four pixels; it costs a few percent more multiply-adds (chapter 5 counts them).

The *pre-activation* block (He et al. 2016, "Identity Mappings in Deep Residual Networks") moves batch norm and ReLU
in front of each convolution, BN-ReLU-conv-BN-ReLU-conv, and adds the shortcut with no ReLU after it, so the
identity path runs from block to block untouched. Its names follow ``keras.applications.ResNet50V2``:
``{name}_preact_bn``/``_preact_relu``, ``{name}_1_conv``/``_1_bn``/``_1_relu``, ``{name}_2_conv``, ``{name}_0_conv``
(a projection, a convolution alone) or ``{name}_0_pad``, and ``{name}_out`` for the sum.

Options for chapter 7, all off by default (the layers, names and parameter counts above do not change):

- ``gated=True`` puts a :class:`Gate` on a basic block's residual branch (``{name}_branch_gate``) and on its shortcut
  (``{name}_shortcut_gate``), so a block can be deleted at test time and the gradient let through one side only
  (:mod:`resnet_lessons.lesions`). A gated *plain* block gets the parameter-free option A shortcut too, closed
  (gate 0), so that deleting it means the same in both nets: the block is replaced by its option A shortcut.
- ``kernel_initializer`` sets the 3x3 convolutions' initialiser (e.g. :class:`resnet_lessons.initializers.Dirac`).
- ``batch_norm=False`` leaves batch norm out (the convolutions get biases instead), and ``skip_init=True`` scales
  the residual branch by a trainable scalar :class:`SkipInit` that starts at zero (De and Smith 2020).
"""

from __future__ import annotations

import keras
from keras import layers

SHORTCUT_OPTIONS = ("A", "B", "C")
# Where a downsampling bottleneck puts its stride: "1x1" as in the paper (and keras.applications), "3x3" as "v1.5".
STRIDE_PLACEMENTS = ("1x1", "3x3")
# A bottleneck's last 1x1 convolution has this many times the channels of its first two (Fig. 5: 64 -> 256).
BOTTLENECK_EXPANSION = 4

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


@keras.saving.register_keras_serializable(package="resnet_lessons")
class Gate(layers.Layer):
    """Scale a tensor by a *forward* gate, and its gradient by a *backward* gate as well (chapter 7).

    The output is ``forward * x``; the gradient that flows back through the layer is multiplied by
    ``forward * backward``. A forward gate of 0 on a residual branch deletes the block at test time (Veit et al.
    2016); a backward gate of 0 on the branch or on the shortcut lets the gradient through the other side only,
    without changing the forward value, which is how the gradient of one path through the network is measured.

    The gates are non-trainable scalar variables, so that assigning new values (:mod:`resnet_lessons.lesions` does)
    changes what a compiled ``tf.function`` computes without tracing it again. The backward gate is applied as
    ``stop_gradient(z) + backward * (z - stop_gradient(z))`` with ``z = forward * x``: ``z - stop_gradient(z)`` is
    exactly 0, so the forward value is ``z`` to the last bit whatever the backward gate.

    Args:
        forward: the forward gate's initial (and default) value.
        backward: the backward gate's initial value.
    """

    def __init__(self, forward: float = 1.0, backward: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        for argument, value in (("forward", forward), ("backward", backward)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                raise ValueError(f"{argument} must be a number, got {value!r}")
        self.default_forward = float(forward)
        self.default_backward = float(backward)

    def build(self, input_shape):
        self.forward_gate = self.add_weight(name="forward", shape=(), trainable=False,
                                            initializer=keras.initializers.Constant(self.default_forward))
        self.backward_gate = self.add_weight(name="backward", shape=(), trainable=False,
                                             initializer=keras.initializers.Constant(self.default_backward))

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
    """Multiply a residual branch by one trainable scalar that starts at ``initial_value`` (0: SkipInit).

    De and Smith (2020) trace batch norm's benefit in residual networks to its effect at initialisation: it scales
    each residual branch down against the shortcut, so the deep network starts close to the identity. SkipInit gets
    that without normalisation: a scalar ``alpha`` on every branch, initialised to zero, so every block starts as
    its shortcut (chapter 7). ``alpha`` is named ``scale``, not ``kernel``, so the book's weight decay leaves it alone.

    Args:
        initial_value: the scalar's initial value.
    """

    def __init__(self, initial_value: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(initial_value, bool) or not isinstance(initial_value, (int, float)) or \
                initial_value != initial_value:
            raise ValueError(f"initial_value must be a number, got {initial_value!r}")
        self.initial_value = float(initial_value)

    def build(self, input_shape):
        self.scale = self.add_weight(name="scale", shape=(), trainable=True,
                                     initializer=keras.initializers.Constant(self.initial_value))

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
    """Batch norm then ReLU, named ``{name}_bn`` and ``{name}_relu`` (a pre-activation block's first two layers).

    A pre-activation net ends with one more pair, ``post_bn`` and ``post_relu`` (as ``keras.applications``'
    ResNet50V2), since its last block's sum is neither normalised nor activated.
    """
    x = _batch_norm(f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def conv_bn(x, filters: int, kernel_size: int, strides: int, name: str, *, use_bias: bool = False,
            gamma_zero: bool = False, padding: str = "same", kernel_initializer="he_normal",
            batch_norm: bool = True):
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
        padding: ``"same"`` (default) or ``"valid"``, for a convolution whose input was padded explicitly.
            TensorFlow's ``"same"`` pads a stride-2 convolution only at the bottom and right; explicit symmetric
            padding (as in ``keras.applications`` and PyTorch) is needed where weights must line up with theirs.
        kernel_initializer: the convolution's initialiser; He's by default.
        batch_norm: add the batch norm; ``False`` returns the convolution's output (chapter 7's nets without it).

    Returns:
        The normalised tensor (or the convolution's output without batch norm), before any activation.
    """
    if gamma_zero and not batch_norm:
        raise ValueError("gamma_zero=True needs batch_norm=True: it sets the batch norm's initial scale")
    x = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=use_bias,
        kernel_initializer=kernel_initializer,
        name=f"{name}_conv",
    )(x)
    return _batch_norm(f"{name}_bn", gamma_zero=gamma_zero)(x) if batch_norm else x


def _projects(x, filters: int, strides: int, option: str) -> bool:
    """Whether option ``"A"``, ``"B"`` or ``"C"`` gives a block from ``x`` to ``filters`` channels a projection."""
    shape_changes = strides != 1 or x.shape[-1] != filters
    return {"A": False, "B": shape_changes, "C": True}[option]


def shortcut(x, filters: int, strides: int, option: str, name: str, *, use_bias: bool = False,
             batch_norm: bool = True):
    """The shortcut branch of a residual block under the paper's option A, B or C.

    Args:
        x: the block's input ``(batch, H, W, C_in)``.
        filters: channels of the block's output.
        strides: the block's stride.
        option: ``"A"``, ``"B"`` or ``"C"`` (see the module docstring), in either case.
        name: the block's name prefix; the shortcut's layers are ``{name}_0_...``.
        use_bias: give a projection's convolution a bias (``keras.applications`` style).
        batch_norm: follow a projection by batch norm; a pre-activation block's projection is a convolution alone.

    Returns:
        A tensor of shape ``(batch, H / strides, W / strides, filters)`` to add to the residual branch.
    """
    option = validate_shortcut(option)  # a reader may call this directly, not only through a block
    if _projects(x, filters, strides, option):
        return conv_bn(x, filters, 1, strides, f"{name}_0", use_bias=use_bias, batch_norm=batch_norm)
    if strides == 1 and x.shape[-1] == filters:
        return x
    return ZeroPadShortcut(filters, strides, name=f"{name}_0_pad")(x)


def basic_block(x, filters: int, strides: int = 1, *, name: str, residual: bool = True, shortcut_option: str = "A",
                zero_init_residual: bool = False, use_bias: bool = False, kernel_initializer="he_normal",
                batch_norm: bool = True, skip_init: bool = False, gated: bool = False):
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
        kernel_initializer: initialiser of both 3x3 convolutions (chapter 7 starts a plain net at the identity with
            :class:`resnet_lessons.initializers.Dirac`).
        batch_norm: follow each convolution by batch norm (``False``: chapter 7's nets without normalisation).
        skip_init: multiply the residual branch by a :class:`SkipInit` scalar ``{name}_skip_init`` that starts at
            0 (residual blocks only).
        gated: add the :class:`Gate` layers ``{name}_branch_gate`` and ``{name}_shortcut_gate`` (see the module
            docstring); a plain block gets a closed option A shortcut to delete it into.

    Returns:
        The block's output ``(batch, H / strides, W / strides, filters)``.
    """
    _validate_block_arguments(filters, strides)
    shortcut_option = validate_shortcut(shortcut_option)
    for flag, value in (("batch_norm", batch_norm), ("skip_init", skip_init), ("gated", gated)):
        if not isinstance(value, bool):
            raise ValueError(f"{flag} must be True or False, got {value!r}")
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
        side = shortcut(x, filters, strides, shortcut_option if residual else "A", name, use_bias=use_bias)
        if gated:
            side = Gate(forward=1.0 if residual else 0.0, name=f"{name}_shortcut_gate")(side)
            y = Gate(name=f"{name}_branch_gate")(y)
        y = layers.Add(name=f"{name}_add")([side, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def bottleneck_block(x, filters: int, strides: int = 1, *, name: str, stride_on: str = "1x1",
                     shortcut_option: str = "B", zero_init_residual: bool = False, use_bias: bool = False):
    """The bottleneck block of ResNet-50/101/152 (Fig. 5, right): 1x1 reduce, 3x3, 1x1 expand, (+ shortcut), ReLU.

    Each convolution is followed by batch norm, and the first two by a ReLU; the third is added to the shortcut
    *before* the last ReLU, so the residual branch can output negative values that cancel part of its input. With
    256 input channels and ``filters=64`` it costs about 70,000 weights, against about 1.2 million for two 3x3
    convolutions at 256 channels (chapter 5 computes both).

    Args:
        x: input tensor ``(batch, H, W, C)``.
        filters: channels of the first two convolutions; the block outputs ``4 * filters``.
        strides: the block's stride (2 halves the feature map at a stage's first block).
        name: layer-name prefix, e.g. ``"conv3_block1"``; layers are named as in ``keras.applications.ResNet50``.
        stride_on: ``"1x1"`` puts the stride on the first 1x1 convolution, as the paper and
            ``keras.applications`` do; ``"3x3"`` puts it on the 3x3 convolution ("ResNet v1.5"), padded
            symmetrically by an explicit ``{name}_2_pad`` layer as in PyTorch. The projection shortcut is strided
            either way.
        shortcut_option: ``"B"`` (default, as in the paper's ImageNet models: a projection where the shape
            changes), ``"A"`` or ``"C"``.
        zero_init_residual: start the last batch-norm scale at zero, so the block starts as ``relu(shortcut)``.
        use_bias: give the convolutions a bias (``keras.applications`` style).

    Returns:
        The block's output ``(batch, H / strides, W / strides, 4 * filters)``.
    """
    _validate_block_arguments(filters, strides)
    shortcut_option = validate_shortcut(shortcut_option)
    stride_on = validate_stride_placement(stride_on)
    reduce_strides, middle_strides = (strides, 1) if stride_on == "1x1" else (1, strides)
    y = conv_bn(x, filters, 1, reduce_strides, f"{name}_1", use_bias=use_bias)  # (batch, H', W', filters)
    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
    middle_padding = "same"
    if middle_strides > 1:
        y = layers.ZeroPadding2D(1, name=f"{name}_2_pad")(y)
        middle_padding = "valid"
    y = conv_bn(y, filters, 3, middle_strides, f"{name}_2", use_bias=use_bias, padding=middle_padding)
    y = layers.Activation("relu", name=f"{name}_2_relu")(y)
    output_filters = BOTTLENECK_EXPANSION * filters
    y = conv_bn(y, output_filters, 1, 1, f"{name}_3", use_bias=use_bias, gamma_zero=zero_init_residual)
    residual = shortcut(x, output_filters, strides, shortcut_option, name, use_bias=use_bias)
    y = layers.Add(name=f"{name}_add")([residual, y])  # (batch, H / strides, W / strides, 4 * filters)
    return layers.Activation("relu", name=f"{name}_out")(y)


def preact_basic_block(x, filters: int, strides: int = 1, *, name: str, shortcut_option: str = "A"):
    """The full pre-activation basic block (He et al. 2016, Fig. 4e): BN-ReLU-conv-BN-ReLU-conv, + shortcut.

    Nothing follows the addition: the next block normalises and activates its own input, and a net of these
    blocks ends with one more batch norm and ReLU before pooling (:func:`bn_relu` named ``post``). A projection
    (options B and C) starts from the normalised input, as in ``keras.applications.ResNet50V2``; an identity or
    option A shortcut from the block's input itself, so the path from block to block stays a clean identity.

    Args:
        x: input tensor ``(batch, H, W, C)``.
        filters: output channels of both convolutions.
        strides: stride of the first convolution.
        name: layer-name prefix, e.g. ``"conv2_block1"``.
        shortcut_option: ``"A"`` (default, parameter-free as in the CIFAR nets), ``"B"`` or ``"C"``.

    Returns:
        The sum ``F(x) + shortcut(x)``, ``(batch, H / strides, W / strides, filters)``, named ``{name}_out``.
    """
    _validate_block_arguments(filters, strides)
    shortcut_option = validate_shortcut(shortcut_option)
    activated = bn_relu(x, f"{name}_preact")  # (batch, H, W, C)
    y = conv_bn(activated, filters, 3, strides, f"{name}_1", batch_norm=False)
    y = bn_relu(y, f"{name}_1")
    y = conv_bn(y, filters, 3, 1, f"{name}_2", batch_norm=False)
    side = activated if _projects(x, filters, strides, shortcut_option) else x
    side = shortcut(side, filters, strides, shortcut_option, name, batch_norm=False)
    return layers.Add(name=f"{name}_out")([side, y])  # (batch, H / strides, W / strides, filters)


def validate_stride_placement(stride_on: str) -> str:
    """Return ``stride_on`` if it is ``"1x1"`` or ``"3x3"``, else raise ``ValueError`` naming both."""
    if stride_on not in STRIDE_PLACEMENTS:
        raise ValueError(
            f"stride_on must be one of {', '.join(repr(p) for p in STRIDE_PLACEMENTS)} (the paper's placement and "
            f"'v1.5'), got {stride_on!r}"
        )
    return stride_on


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
