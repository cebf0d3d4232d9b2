"""Plain and residual networks, all made by one builder (chapters 1, 3, 4, 5 and 7).

:func:`build_network` takes a stem, a list of :class:`Stage` sizes, a block function and what comes after the last
stage, and returns a functional Keras model; every named network is a short recipe that names those four, as
``keras.applications``' ``resnet.py`` (``ResNet(stack_fn, preact, ...)``) and torchvision's ``ResNet(block,
layers)`` do. Adding a kind of block is adding a block function to :mod:`resnet_lessons.blocks` and a recipe here,
as :func:`cifar_preact_resnet` does for the pre-activation block (He et al. 2016).

The CIFAR-10 family of the paper (Sec. 4.2) has ``6n + 2`` weighted layers: a 3x3 stem convolution with 16 filters,
three stages of ``n`` two-layer blocks with 16, 32 and 64 filters on 32x32, 16x16 and 8x8 maps, global average
pooling and a 10-way dense layer.

The ImageNet family (Table 1, chapter 5) has a 7x7 stride-2 stem convolution with 64 filters and a 3x3 stride-2 max
pool, then four stages on 56x56, 28x28, 14x14 and 7x7 maps: basic blocks with 64, 128, 256 and 512 filters for
ResNet-18/34, bottleneck blocks with those inner widths (and four times as many output channels) for
ResNet-50/101/152. Its layer names are those of ``keras.applications.ResNet50``, so weights copy across by name.

Models output *logits* (no softmax) unless asked otherwise: the loss applies the softmax in a numerically stable
way, and a chapter that wants probabilities passes ``classifier_activation="softmax"``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence

import keras
from keras import layers

from resnet_lessons import blocks

CIFAR_STAGE_FILTERS = (16, 32, 64)

# The paper's Table 1: blocks per stage (conv2_x .. conv5_x) of each ImageNet ResNet, and the stages' filters.
IMAGENET_BLOCKS_PER_STAGE = {
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}
IMAGENET_STAGE_FILTERS = (64, 128, 256, 512)
# Depths from here on use bottleneck blocks; shallower ones use basic blocks.
FIRST_BOTTLENECK_DEPTH = 50


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage of a network: ``blocks`` blocks with ``filters`` channels, the first one with ``strides``."""

    blocks: int  # number of blocks in the stage
    filters: int  # output channels of the stage's blocks (a bottleneck's inner width in the ImageNet family)
    strides: int  # stride of the stage's first block; 2 halves the feature map

    def __post_init__(self):
        for field in ("blocks", "filters", "strides"):
            value = getattr(self, field)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Stage.{field} must be a positive integer, got {value!r}")


def build_network(*, input_shape: Sequence[int], stem: Callable, stages: Sequence[Stage], block: Callable,
                  num_classes: int, name: str, classifier_activation: str | None = None,
                  include_top: bool = True, after_stages: Callable | None = None) -> keras.Model:
    """Build ``stem -> stages of blocks -> (after_stages) -> global average pooling -> dense`` as a Keras model.

    Stages are numbered from 2 (the stem is ``conv1``), as in the paper's Table 1 and ``keras.applications``, so the
    first block is named ``conv2_block1``.

    Args:
        input_shape: ``(height, width, channels)`` of one image.
        stem: ``stem(inputs) -> tensor``, the layers before the first stage.
        stages: the stages, in order.
        block: ``block(x, filters, strides, name=...) -> tensor``, e.g. a ``functools.partial`` of
            :func:`resnet_lessons.blocks.basic_block`; any function of that signature will do.
        num_classes: outputs of the final dense layer.
        name: the model's name.
        classifier_activation: activation of the final layer; ``None`` returns logits.
        include_top: end with pooling and the dense layer (``avg_pool``, ``predictions``); ``False`` ends with the
            last stage's feature map, for use as a feature extractor (``num_classes`` is then ignored).
        after_stages: ``after_stages(x) -> tensor``, layers between the last stage and the top (kept without the
            top too), e.g. a pre-activation net's final batch norm and ReLU; ``None`` adds none.

    Returns:
        The (unbuilt-optimizer, uncompiled) ``keras.Model``.
    """
    input_shape = validate_input_shape(input_shape)
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    if not stages:
        raise ValueError("stages must name at least one Stage")
    inputs = keras.Input(shape=input_shape, name="images")
    x = stem(inputs)
    for stage_number, stage in enumerate(stages, start=2):
        for block_number in range(1, stage.blocks + 1):
            strides = stage.strides if block_number == 1 else 1
            x = block(x, stage.filters, strides, name=f"conv{stage_number}_block{block_number}")
    if after_stages is not None:
        x = after_stages(x)
    if not include_top:
        return keras.Model(inputs, x, name=name)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)  # (batch, channels)
    outputs = layers.Dense(num_classes, activation=classifier_activation, name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def cifar_stem(inputs, *, use_bias: bool = False, batch_norm: bool = True):
    """The CIFAR nets' first layer: a 3x3 convolution with 16 filters, batch norm and ReLU (``conv1_*``).

    ``batch_norm=False`` leaves the batch norm out (chapter 7); the convolution keeps He initialisation always.
    """
    x = blocks.conv_bn(inputs, CIFAR_STAGE_FILTERS[0], 3, 1, "conv1", use_bias=use_bias,
                       batch_norm=batch_norm)  # (batch, H, W, 16)
    return layers.Activation("relu", name="conv1_relu")(x)


def cifar_preact_stem(inputs):
    """A pre-activation CIFAR net's first layer: the 3x3 convolution with 16 filters alone (``conv1_conv``).

    The first block's ``preact_bn`` and ``preact_relu`` normalise and activate it, so the stem has neither.
    """
    return blocks.conv_bn(inputs, CIFAR_STAGE_FILTERS[0], 3, 1, "conv1", batch_norm=False)  # (batch, H, W, 16)


def blocks_per_stage(depth: int) -> int:
    """Return ``n`` for a CIFAR net of ``depth = 6n + 2`` layers, or raise ``ValueError`` for any other depth.

    Each of the three stages holds ``n`` blocks of two convolutions (``6n``), plus the stem and the dense layer.
    """
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"depth must be of the form 6n + 2 with n >= 1 (8, 14, 20, 32, 56, 110, ...), got {depth!r}")
    return (depth - 2) // 6


def cifar_stages(depth: int) -> list[Stage]:
    """The three stages of the CIFAR net of ``depth = 6n + 2`` layers: ``n`` blocks each, 16, 32 and 64 filters."""
    n = blocks_per_stage(depth)
    return [Stage(n, filters, 1 if index == 0 else 2) for index, filters in enumerate(CIFAR_STAGE_FILTERS)]


def cifar_network(depth: int, *, residual: bool, shortcut: str = "A", num_classes: int = 10,
                  input_shape: Sequence[int] = (32, 32, 3), zero_init_residual: bool = False,
                  classifier_activation: str | None = None, kernel_initializer="he_normal",
                  batch_norm: bool = True, skip_init: bool = False, gated: bool = False) -> keras.Model:
    """A plain or residual CIFAR-10 network of ``depth = 6n + 2`` layers (the paper's Sec. 4.2).

    Plain and residual nets of one depth have the same layers; the residual one adds shortcuts, which under option
    A have no parameters, so both have exactly the same parameter count (269,722 trainable at depth 20).

    Args:
        depth: number of weighted layers, ``6n + 2``.
        residual: residual blocks (a ResNet) or plain blocks (the paper's "plain" baseline).
        shortcut: ``"A"`` (default, as in the paper's CIFAR experiments), ``"B"`` or ``"C"``; ignored when plain.
        num_classes: number of classes.
        input_shape: ``(height, width, 3)``; the quick profile uses smaller images than CIFAR's 32x32.
        zero_init_residual: start every block's last batch-norm scale at zero (residual nets only).
        classifier_activation: activation of the last layer; ``None`` gives logits.
        kernel_initializer: initialiser of the blocks' 3x3 convolutions (the stem keeps He's); chapter 7 starts a
            plain net at the identity with :class:`resnet_lessons.initializers.Dirac`.
        batch_norm: batch norm after every convolution; ``False`` leaves it out everywhere and gives the
            convolutions biases instead (chapter 7).
        skip_init: scale every residual branch by a trainable scalar that starts at 0 (SkipInit; residual only).
        gated: add a forward and backward gate to every block's branch and shortcut, for lesions and path
            gradients (:mod:`resnet_lessons.lesions`); the trainable parameters do not change.

    Returns:
        A ``keras.Model`` named ``resnet{depth}`` or ``plain{depth}``.
    """
    stages = cifar_stages(depth)
    if zero_init_residual and not residual:
        raise ValueError("zero_init_residual=True needs residual=True: a plain block has no residual branch")
    # basic_block checks the shortcut option and the flags, plain or residual; this does not check them again.
    use_bias = not batch_norm  # without batch norm nothing else gives a convolution's output a shift
    block = functools.partial(blocks.basic_block, residual=residual, shortcut_option=shortcut,
                              zero_init_residual=zero_init_residual, use_bias=use_bias,
                              kernel_initializer=kernel_initializer, batch_norm=batch_norm, skip_init=skip_init,
                              gated=gated)
    stem = functools.partial(cifar_stem, use_bias=use_bias, batch_norm=batch_norm)
    return build_network(input_shape=input_shape, stem=stem, stages=stages, block=block,
                         num_classes=num_classes, name=f"{'resnet' if residual else 'plain'}{depth}",
                         classifier_activation=classifier_activation)


def cifar_resnet(depth: int, **kwargs) -> keras.Model:
    """A residual CIFAR net of ``depth`` layers; keyword arguments as in :func:`cifar_network`."""
    return cifar_network(depth, residual=True, **kwargs)


def cifar_plain(depth: int, **kwargs) -> keras.Model:
    """A plain CIFAR net of ``depth`` layers (no shortcuts); keyword arguments as in :func:`cifar_network`."""
    return cifar_network(depth, residual=False, **kwargs)


def resnet20(**kwargs) -> keras.Model:
    """ResNet-20 (n = 3), the smallest net of the paper's Table 6."""
    return cifar_resnet(20, **kwargs)


def resnet32(**kwargs) -> keras.Model:
    """ResNet-32 (n = 5)."""
    return cifar_resnet(32, **kwargs)


def resnet44(**kwargs) -> keras.Model:
    """ResNet-44 (n = 7)."""
    return cifar_resnet(44, **kwargs)


def resnet56(**kwargs) -> keras.Model:
    """ResNet-56 (n = 9), the deep net of the paper's Fig. 1 and 6."""
    return cifar_resnet(56, **kwargs)


def resnet110(**kwargs) -> keras.Model:
    """ResNet-110 (n = 18); the paper warms it up at learning rate 0.01."""
    return cifar_resnet(110, **kwargs)


def plain20(**kwargs) -> keras.Model:
    """Plain-20: ResNet-20's layers without shortcuts."""
    return cifar_plain(20, **kwargs)


def plain56(**kwargs) -> keras.Model:
    """Plain-56: ResNet-56's layers without shortcuts; trains worse than plain-20 (the degradation problem)."""
    return cifar_plain(56, **kwargs)


def cifar_preact_resnet(depth: int, *, shortcut: str = "A", num_classes: int = 10,
                        input_shape: Sequence[int] = (32, 32, 3),
                        classifier_activation: str | None = None) -> keras.Model:
    """A pre-activation residual CIFAR net of ``depth = 6n + 2`` layers (He et al. 2016).

    The recipe names the four parts: the stem is the bare convolution (:func:`cifar_preact_stem`), the blocks
    :func:`resnet_lessons.blocks.preact_basic_block`, the stages those of :func:`cifar_stages`, and a final batch
    norm and ReLU (``post_bn``, ``post_relu``) come before pooling. With option A it has exactly ResNet-20's
    269,722 trainable parameters at depth 20: the batch norms move (onto each block's input and middle, and from
    the stem to after the last block) and their channels add up the same.

    Args:
        depth: number of weighted layers, ``6n + 2``.
        shortcut: ``"A"`` (default), ``"B"`` or ``"C"``; a projection here is a 1x1 convolution without batch norm.
        num_classes: number of classes.
        input_shape: ``(height, width, 3)``.
        classifier_activation: activation of the last layer; ``None`` gives logits.

    Returns:
        A ``keras.Model`` named ``resnet{depth}_preact``.
    """
    return build_network(input_shape=input_shape, stem=cifar_preact_stem, stages=cifar_stages(depth),
                         block=functools.partial(blocks.preact_basic_block, shortcut_option=shortcut),
                         after_stages=functools.partial(blocks.bn_relu, name="post"), num_classes=num_classes,
                         name=f"resnet{depth}_preact", classifier_activation=classifier_activation)


def resnet20_preact(**kwargs) -> keras.Model:
    """Pre-activation ResNet-20; keyword arguments as in :func:`cifar_preact_resnet`."""
    return cifar_preact_resnet(20, **kwargs)


def imagenet_stem(inputs, *, use_bias: bool = False):
    """The ImageNet nets' first layers (Table 1's conv1 and the max pool): 224x224 in, 56x56x64 out.

    A 7x7 convolution with 64 filters and stride 2, batch norm and ReLU, then a 3x3 max pool with stride 2. Both are
    padded explicitly and symmetrically (``conv1_pad`` by 3, ``pool1_pad`` by 1), as in ``keras.applications`` and
    PyTorch; TensorFlow's ``"same"`` would pad a stride-2 layer at the bottom and right only, and shift every
    feature map by one pixel against theirs.
    """
    x = layers.ZeroPadding2D(3, name="conv1_pad")(inputs)  # (batch, 230, 230, 3)
    x = blocks.conv_bn(x, IMAGENET_STAGE_FILTERS[0], 7, 2, "conv1", use_bias=use_bias, padding="valid")
    x = layers.Activation("relu", name="conv1_relu")(x)  # (batch, 112, 112, 64)
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)  # (batch, 56, 56, 64)


def imagenet_stages(depth: int) -> list[Stage]:
    """The four stages of the ImageNet ResNet of ``depth`` layers (Table 1), or ``ValueError`` for another depth."""
    if not isinstance(depth, int) or isinstance(depth, bool) or depth not in IMAGENET_BLOCKS_PER_STAGE:
        raise ValueError(
            f"depth must be one of {', '.join(map(str, IMAGENET_BLOCKS_PER_STAGE))} (the paper's Table 1), "
            f"got {depth!r}"
        )
    return [Stage(count, filters, 1 if index == 0 else 2)
            for index, (count, filters) in enumerate(zip(IMAGENET_BLOCKS_PER_STAGE[depth], IMAGENET_STAGE_FILTERS))]


def imagenet_resnet(depth: int, *, input_shape: Sequence[int] = (224, 224, 3), num_classes: int = 1000,
                    use_bias: bool = False, stride_on: str = "1x1", include_top: bool = True,
                    classifier_activation: str | None = None) -> keras.Model:
    """A ResNet of the paper's ImageNet family (Table 1): ResNet-18, 34, 50, 101 or 152.

    ResNet-18/34 stack basic blocks, ResNet-50/101/152 bottleneck blocks; both use option B shortcuts (a projection
    where the shape changes), as the paper's deeper models do. The layer names are ``keras.applications``':
    ``conv1_pad`` .. ``pool1_pool``, ``conv2_block1_0_conv`` (the projection), ``conv2_block1_1_conv`` ..
    ``conv5_block3_out``, ``avg_pool``, ``predictions``.

    Args:
        depth: 18, 34, 50, 101 or 152.
        input_shape: ``(height, width, channels)``; global average pooling makes any size work (the paper and
            ``keras.applications`` use 224x224; Table 1's sizes and multiply-adds are for it).
        num_classes: outputs of the dense layer (ImageNet has 1,000 classes).
        use_bias: give every convolution a bias. The paper's nets have none (batch norm removes a constant
            shift); ``keras.applications.ResNet50`` has them, so ``use_bias=True`` matches its 25,636,712
            parameters and takes its weights unchanged.
        stride_on: ``"1x1"`` (the paper) or ``"3x3"`` ("v1.5") for a downsampling bottleneck's stride; basic
            blocks have only 3x3 convolutions and carry the stride on the first of them either way.
        include_top: end with ``avg_pool`` and ``predictions``; ``False`` ends with ``conv5_block*_out``.
        classifier_activation: activation of ``predictions``; ``None`` gives logits, ``"softmax"`` probabilities
            as ``keras.applications`` returns them.

    Returns:
        A functional ``keras.Model`` named ``resnet{depth}``, e.g. ``"resnet50"``.
    """
    stages = imagenet_stages(depth)
    for flag, value in (("use_bias", use_bias), ("include_top", include_top)):
        if not isinstance(value, bool):
            raise ValueError(f"{flag} must be True or False, got {value!r}")
    if depth >= FIRST_BOTTLENECK_DEPTH:  # the bottleneck block checks stride_on
        block = functools.partial(blocks.bottleneck_block, stride_on=stride_on, use_bias=use_bias)
    else:  # a basic block has no 1x1 convolution to move the stride from; a wrong value is refused all the same
        blocks.validate_stride_placement(stride_on)
        block = functools.partial(blocks.basic_block, shortcut_option="B", use_bias=use_bias)
    return build_network(input_shape=input_shape, stem=functools.partial(imagenet_stem, use_bias=use_bias),
                         stages=stages, block=block, num_classes=num_classes, name=f"resnet{depth}",
                         classifier_activation=classifier_activation, include_top=include_top)


def resnet18(**kwargs) -> keras.Model:
    """ResNet-18: basic blocks, (2, 2, 2, 2) per stage; keyword arguments as in :func:`imagenet_resnet`."""
    return imagenet_resnet(18, **kwargs)


def resnet34(**kwargs) -> keras.Model:
    """ResNet-34: basic blocks, (3, 4, 6, 3) per stage, the residual net of the paper's Fig. 3."""
    return imagenet_resnet(34, **kwargs)


def resnet50(**kwargs) -> keras.Model:
    """ResNet-50: ResNet-34's stages with bottleneck blocks; ``keras.applications.ResNet50``'s layers."""
    return imagenet_resnet(50, **kwargs)


def resnet101(**kwargs) -> keras.Model:
    """ResNet-101: bottleneck blocks, (3, 4, 23, 3) per stage."""
    return imagenet_resnet(101, **kwargs)


def resnet152(**kwargs) -> keras.Model:
    """ResNet-152: bottleneck blocks, (3, 8, 36, 3) per stage, the paper's deepest ImageNet model."""
    return imagenet_resnet(152, **kwargs)


@dataclasses.dataclass(frozen=True)
class ParameterCounts:
    """A model's parameter counts, as the paper and ``model.summary()`` report them."""

    trainable: int  # weights that SGD updates (the paper's counts)
    non_trainable: int  # batch norm's moving mean and variance
    total: int


def count_parameters(model: keras.Model) -> ParameterCounts:
    """Count the trainable, non-trainable and total parameters of a built model."""
    if not isinstance(model, keras.Model):
        raise ValueError(f"expected a keras.Model, got {type(model).__name__}")
    trainable = sum(math.prod(weight.shape) for weight in model.trainable_weights)
    non_trainable = sum(math.prod(weight.shape) for weight in model.non_trainable_weights)
    return ParameterCounts(trainable=trainable, non_trainable=non_trainable, total=trainable + non_trainable)


def validate_input_shape(input_shape) -> tuple[int, int, int]:
    """Return ``input_shape`` as a tuple of three positive ints ``(height, width, channels)``, or raise ``ValueError``."""
    try:
        shape = tuple(int(size) for size in input_shape)
    except (TypeError, ValueError):
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape!r}") from None
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"input_shape must be (height, width, channels) of positive sizes, got {input_shape!r}")
    return shape
