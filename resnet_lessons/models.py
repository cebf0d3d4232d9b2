"""Plain and residual networks, all made by one builder (chapters 1, 3, 4, 5, 7 and 8).

:func:`build_network` takes a stem, a list of :class:`Stage` sizes, a block function and what comes after the last
stage; every named network is a recipe naming those four, as ``keras.applications``' ``ResNet(stack_fn, preact,
...)`` and torchvision's ``ResNet(block, layers)`` do. A new kind of block is a block function in
:mod:`resnet_lessons.blocks` and a recipe here, as :func:`cifar_preact_resnet` shows.

The CIFAR-10 family (Sec. 4.2) has ``6n + 2`` weighted layers: a 3x3 stem with 16 filters, three stages of ``n``
basic blocks with 16, 32 and 64 filters on 32x32, 16x16 and 8x8 maps, pooling and a dense layer. The ImageNet
family (Table 1, chapter 5) has a 7x7 stride-2 stem and a max pool, then four stages on 56x56 to 7x7 maps: basic
blocks of 64 to 512 filters for ResNet-18/34, bottlenecks of those inner widths for ResNet-50/101/152, with
``keras.applications.ResNet50``'s layer names so weights copy across by name.

Models output *logits* unless ``classifier_activation="softmax"``: the loss applies the softmax more stably.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence

import keras
from keras import layers

from resnet_lessons import arguments, blocks

CIFAR_STAGE_FILTERS = (16, 32, 64)

# The paper's Table 1: blocks per stage (conv2_x .. conv5_x) of each ImageNet ResNet, and the stages' filters.
IMAGENET_BLOCKS_PER_STAGE = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3),
                             152: (3, 8, 36, 3)}
IMAGENET_STAGE_FILTERS = (64, 128, 256, 512)
FIRST_BOTTLENECK_DEPTH = 50  # from here on bottleneck blocks; shallower nets use basic blocks


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage of a network: ``blocks`` blocks with ``filters`` channels, the first one with ``strides``."""

    blocks: int  # number of blocks in the stage
    filters: int  # output channels of the stage's blocks (a bottleneck's inner width in the ImageNet family)
    strides: int  # stride of the stage's first block; 2 halves the feature map

    def __post_init__(self):
        for field in ("blocks", "filters", "strides"):
            arguments.positive_int(getattr(self, field), f"Stage.{field}")


def build_network(*, input_shape: Sequence[int], stem: Callable, stages: Sequence[Stage], block: Callable,
                  num_classes: int, name: str, classifier_activation: str | None = None,
                  include_top: bool = True, after_stages: Callable | None = None) -> keras.Model:
    """Build ``stem -> stages of blocks -> (after_stages) -> global average pooling -> dense`` as a Keras model.

    Stages are numbered from 2 (the stem is ``conv1``), as in Table 1 and ``keras.applications``: the first block is
    ``conv2_block1``. Returns the uncompiled ``keras.Model``.

    Args:
        stem: ``stem(inputs) -> tensor``, the layers before the first stage.
        block: ``block(x, filters, strides, name=...) -> tensor``, e.g. a ``functools.partial`` of
            :func:`resnet_lessons.blocks.basic_block`; any function of that signature will do.
        classifier_activation: activation of the final layer (``predictions``); ``None`` returns logits.
        include_top: ``False`` leaves out ``avg_pool`` and ``predictions`` (a feature extractor; ``num_classes`` is
            then ignored).
        after_stages: ``after_stages(x) -> tensor``, layers between the last stage and the top (kept without the
            top too), e.g. a pre-activation net's final batch norm and ReLU.
    """
    input_shape = validate_input_shape(input_shape)
    arguments.positive_int(num_classes, "num_classes")
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


def _recipe(builder: Callable[..., keras.Model], depth: int, name: str, doc: str) -> Callable[..., keras.Model]:
    """A one-line recipe ``name(**kwargs) = builder(depth, **kwargs)``, with its own name and docstring."""

    def recipe(**kwargs) -> keras.Model:
        return builder(depth, **kwargs)

    recipe.__name__ = recipe.__qualname__ = name
    recipe.__doc__ = doc
    return recipe


def cifar_stem(inputs, *, use_bias: bool = False, batch_norm: bool = True):
    """The CIFAR nets' first layer: a 3x3 convolution with 16 filters, batch norm (unless ``batch_norm=False``,
    chapter 7) and ReLU, ``conv1_*``; the convolution keeps He initialisation always."""
    x = blocks.conv_bn(inputs, CIFAR_STAGE_FILTERS[0], 3, 1, "conv1", use_bias=use_bias,
                       batch_norm=batch_norm)  # (batch, H, W, 16)
    return layers.Activation("relu", name="conv1_relu")(x)


def cifar_preact_stem(inputs):
    """A pre-activation CIFAR net's first layer: the 3x3 convolution with 16 filters alone (``conv1_conv``); the
    first block's ``preact_bn`` and ``preact_relu`` normalise and activate it."""
    return blocks.conv_bn(inputs, CIFAR_STAGE_FILTERS[0], 3, 1, "conv1", batch_norm=False)  # (batch, H, W, 16)


def blocks_per_stage(depth: int) -> int:
    """Return ``n`` for a CIFAR net of ``depth = 6n + 2`` layers (three stages of ``n`` two-convolution blocks, the
    stem and the dense layer), or raise ``ValueError`` for any other depth."""
    arguments.require(arguments.is_int(depth) and depth >= 8 and (depth - 2) % 6 == 0, "depth", depth,
                      "of the form 6n + 2 with n >= 1 (8, 14, 20, 32, 56, 110, ...)")
    return (int(depth) - 2) // 6


def cifar_stages(depth: int) -> list[Stage]:
    """The three stages of the CIFAR net of ``depth = 6n + 2`` layers: ``n`` blocks each, 16, 32 and 64 filters."""
    n = blocks_per_stage(depth)
    return [Stage(n, filters, 1 if index == 0 else 2) for index, filters in enumerate(CIFAR_STAGE_FILTERS)]


def cifar_network(depth: int, *, residual: bool, shortcut: str = "A", num_classes: int = 10,
                  input_shape: Sequence[int] = (32, 32, 3), zero_init_residual: bool = False,
                  classifier_activation: str | None = None, kernel_initializer="he_normal",
                  batch_norm: bool = True, skip_init: bool = False, gated: bool = False) -> keras.Model:
    """A plain or residual CIFAR-10 network of ``depth = 6n + 2`` layers (Sec. 4.2), ``resnet{depth}``/``plain{depth}``.

    Option A shortcuts have no parameters, so plain and residual nets of one depth have the same count (269,722
    trainable at depth 20). ``shortcut`` is ``"A"`` (the paper's CIFAR nets), ``"B"`` or ``"C"`` (ignored when plain);
    the other options go to every :func:`resnet_lessons.blocks.basic_block`: ``kernel_initializer`` (the stem keeps
    He's), ``batch_norm=False`` (none anywhere, biases instead; chapter 7), ``zero_init_residual`` and ``skip_init``
    (residual nets only), ``gated`` (for :mod:`resnet_lessons.lesions`; no trainable parameters added). The quick
    profile's ``input_shape`` is smaller than CIFAR's 32x32.
    """
    stages = cifar_stages(depth)
    if zero_init_residual and not residual:
        raise ValueError("zero_init_residual=True needs residual=True: a plain block has no residual branch")
    # basic_block checks the shortcut option and the flags, plain or residual.
    use_bias = not batch_norm  # without batch norm nothing else gives a convolution's output a shift
    block = functools.partial(blocks.basic_block, residual=residual, shortcut=shortcut, use_bias=use_bias,
                              zero_init_residual=zero_init_residual, kernel_initializer=kernel_initializer,
                              batch_norm=batch_norm, skip_init=skip_init, gated=gated)
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


resnet20 = _recipe(cifar_resnet, 20, "resnet20", "ResNet-20 (n = 3), the smallest net of the paper's Table 6.")
resnet32 = _recipe(cifar_resnet, 32, "resnet32", "ResNet-32 (n = 5).")
resnet44 = _recipe(cifar_resnet, 44, "resnet44", "ResNet-44 (n = 7).")
resnet56 = _recipe(cifar_resnet, 56, "resnet56", "ResNet-56 (n = 9), the deep net of the paper's Fig. 1 and 6.")
resnet110 = _recipe(cifar_resnet, 110, "resnet110",
                    "ResNet-110 (n = 18); the paper warms it up at learning rate 0.01.")
plain20 = _recipe(cifar_plain, 20, "plain20", "Plain-20: ResNet-20's layers without shortcuts.")
plain56 = _recipe(cifar_plain, 56, "plain56",
                  "Plain-56: ResNet-56's layers, no shortcuts; trains worse than plain-20 (the degradation problem).")


def cifar_preact_resnet(depth: int, *, shortcut: str = "A", num_classes: int = 10,
                        input_shape: Sequence[int] = (32, 32, 3),
                        classifier_activation: str | None = None) -> keras.Model:
    """A pre-activation residual CIFAR net of ``depth = 6n + 2`` layers (He et al. 2016), ``resnet{depth}_preact``.

    The recipe names the four parts: the bare-convolution stem (:func:`cifar_preact_stem`), the blocks
    :func:`resnet_lessons.blocks.preact_basic_block`, :func:`cifar_stages`, and a final batch norm and ReLU
    (``post_bn``, ``post_relu``) before pooling. With option A it has ResNet-20's 269,722 trainable parameters at
    depth 20: the batch norms move (onto each block's input and middle, from the stem to after the last block) and
    their channels add up the same. A projection (``shortcut="B"`` or ``"C"``) is a 1x1 convolution without batch norm.
    """
    return build_network(input_shape=input_shape, stem=cifar_preact_stem, stages=cifar_stages(depth),
                         block=functools.partial(blocks.preact_basic_block, shortcut=shortcut),
                         after_stages=functools.partial(blocks.bn_relu, name="post"), num_classes=num_classes,
                         name=f"resnet{depth}_preact", classifier_activation=classifier_activation)


resnet20_preact = _recipe(cifar_preact_resnet, 20, "resnet20_preact",
                          "Pre-activation ResNet-20; keyword arguments as in :func:`cifar_preact_resnet`.")
resnet110_preact = _recipe(cifar_preact_resnet, 110, "resnet110_preact",
                           "Pre-activation ResNet-110, the 2016 paper's CIFAR net of Tables 1 and 2 (chapter 8).")


def imagenet_stem(inputs, *, use_bias: bool = False):
    """The ImageNet nets' first layers (Table 1's conv1 and the max pool): 224x224 in, 56x56x64 out.

    A 7x7 stride-2 convolution with 64 filters, batch norm and ReLU, then a 3x3 stride-2 max pool, both padded
    explicitly and symmetrically (``conv1_pad`` by 3, ``pool1_pad`` by 1) as in ``keras.applications`` and PyTorch:
    TensorFlow's ``"same"`` would pad at the bottom and right only and shift every feature map by one pixel.
    """
    x = layers.ZeroPadding2D(3, name="conv1_pad")(inputs)  # (batch, 230, 230, 3)
    x = blocks.conv_bn(x, IMAGENET_STAGE_FILTERS[0], 7, 2, "conv1", use_bias=use_bias, padding="valid")
    x = layers.Activation("relu", name="conv1_relu")(x)  # (batch, 112, 112, 64)
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)  # (batch, 56, 56, 64)


def imagenet_stages(depth: int) -> list[Stage]:
    """The four stages of the ImageNet ResNet of ``depth`` layers (Table 1), or ``ValueError`` for another depth."""
    arguments.require(arguments.is_int(depth) and depth in IMAGENET_BLOCKS_PER_STAGE, "depth", depth,
                      f"one of {', '.join(map(str, IMAGENET_BLOCKS_PER_STAGE))} (the paper's Table 1)")
    return [Stage(count, filters, 1 if index == 0 else 2)
            for index, (count, filters) in enumerate(zip(IMAGENET_BLOCKS_PER_STAGE[depth], IMAGENET_STAGE_FILTERS))]


def imagenet_resnet(depth: int, *, input_shape: Sequence[int] = (224, 224, 3), num_classes: int = 1000,
                    use_bias: bool = False, stride_on: str = "1x1", include_top: bool = True,
                    classifier_activation: str | None = None) -> keras.Model:
    """ResNet-18, 34, 50, 101 or 152 of the paper's Table 1, named ``resnet{depth}``.

    Basic blocks up to 34 layers, bottlenecks from 50, option B shortcuts, and ``keras.applications``' layer names
    (``conv1_pad`` .. ``pool1_pool``, ``conv2_block1_0_conv`` (the projection) .. ``conv5_block3_out``, ``avg_pool``,
    ``predictions``). Any ``input_shape`` works (global average pooling); Table 1's numbers are for 224x224.

    Args:
        use_bias: give every convolution a bias. The paper's nets have none; ``keras.applications.ResNet50`` has,
            so ``use_bias=True`` matches its 25,636,712 parameters and takes its weights unchanged.
        stride_on: ``"1x1"`` (the paper) or ``"3x3"`` ("v1.5") for a downsampling bottleneck's stride; basic
            blocks carry it on their first 3x3 convolution either way.
        include_top: end with ``avg_pool`` and ``predictions``; ``False`` ends with ``conv5_block*_out``.
        classifier_activation: ``None`` gives logits, ``"softmax"`` probabilities as ``keras.applications`` does.
    """
    stages = imagenet_stages(depth)
    for flag, value in (("use_bias", use_bias), ("include_top", include_top)):
        arguments.require(isinstance(value, bool), flag, value, "True or False")
    if depth >= FIRST_BOTTLENECK_DEPTH:  # the bottleneck block checks stride_on
        block = functools.partial(blocks.bottleneck_block, stride_on=stride_on, use_bias=use_bias)
    else:  # a basic block has no 1x1 convolution to move the stride from; a wrong value is refused all the same
        blocks.validate_stride_placement(stride_on)
        block = functools.partial(blocks.basic_block, shortcut="B", use_bias=use_bias)
    return build_network(input_shape=input_shape, stem=functools.partial(imagenet_stem, use_bias=use_bias),
                         stages=stages, block=block, num_classes=num_classes, name=f"resnet{depth}",
                         classifier_activation=classifier_activation, include_top=include_top)


resnet18 = _recipe(imagenet_resnet, 18, "resnet18",
                   "ResNet-18: basic blocks, (2, 2, 2, 2) per stage; keyword arguments as in :func:`imagenet_resnet`.")
resnet34 = _recipe(imagenet_resnet, 34, "resnet34",
                   "ResNet-34: basic blocks, (3, 4, 6, 3) per stage, the residual net of the paper's Fig. 3.")
resnet50 = _recipe(imagenet_resnet, 50, "resnet50",
                   "ResNet-50: ResNet-34's stages with bottleneck blocks; ``keras.applications.ResNet50``'s layers.")
resnet101 = _recipe(imagenet_resnet, 101, "resnet101", "ResNet-101: bottleneck blocks, (3, 4, 23, 3) per stage.")
resnet152 = _recipe(imagenet_resnet, 152, "resnet152",
                    "ResNet-152: bottleneck blocks, (3, 8, 36, 3) per stage, the paper's deepest ImageNet model.")


def imagenet_preact_stem(inputs, *, use_bias: bool = True):
    """A pre-activation ImageNet net's first layers: :func:`imagenet_stem` without its batch norm and ReLU (the
    first block's ``preact_bn`` and ``preact_relu`` follow the max pool), as in ``keras.applications.ResNet50V2``,
    whose ``conv1_conv`` has a bias."""
    x = layers.ZeroPadding2D(3, name="conv1_pad")(inputs)  # (batch, 230, 230, 3)
    x = blocks.conv_bn(x, IMAGENET_STAGE_FILTERS[0], 7, 2, "conv1", use_bias=use_bias, padding="valid",
                       batch_norm=False)  # (batch, 112, 112, 64)
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)  # (batch, 56, 56, 64)


def imagenet_preact_resnet(depth: int, *, input_shape: Sequence[int] = (224, 224, 3), num_classes: int = 1000,
                           use_bias: bool = True, include_top: bool = True,
                           classifier_activation: str | None = None) -> keras.Model:
    """The pre-activation ResNet of ``depth`` layers (He et al. 2016) on Table 1's stages, ``resnet{depth}_preact``.

    Pre-activation blocks (bottlenecks from 50 layers), option B, the bare-convolution stem and a final ``post_bn``
    and ``post_relu``; ``use_bias=True`` (the default) has ``keras.applications.ResNet50V2``'s biases, layer names and
    25,613,800 parameters at depth 50. One difference from it: a stage downsamples in its *first* block, as our other
    nets do, where ``ResNet50V2`` strides the *last* block of each stage (and its shortcut subsamples by a 1x1 max
    pool); the weights are the same, the feature maps they see are not.
    """
    stages = imagenet_stages(depth)
    for flag, value in (("use_bias", use_bias), ("include_top", include_top)):
        arguments.require(isinstance(value, bool), flag, value, "True or False")
    block = (functools.partial(blocks.preact_bottleneck_block, use_bias=use_bias) if depth >= FIRST_BOTTLENECK_DEPTH
             else functools.partial(blocks.preact_basic_block, shortcut="B"))
    return build_network(input_shape=input_shape, stem=functools.partial(imagenet_preact_stem, use_bias=use_bias),
                         stages=stages, block=block, after_stages=functools.partial(blocks.bn_relu, name="post"),
                         num_classes=num_classes, name=f"resnet{depth}_preact",
                         classifier_activation=classifier_activation, include_top=include_top)


resnet50_preact = _recipe(imagenet_preact_resnet, 50, "resnet50_preact",
                          "Pre-activation ResNet-50 (``ResNet50V2``'s layers); keyword arguments as in "
                          ":func:`imagenet_preact_resnet`.")


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
    """Return ``input_shape`` as three positive ints ``(height, width, channels)``, or raise ``ValueError``."""
    try:
        shape = tuple(int(size) for size in input_shape)
    except (TypeError, ValueError):
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape!r}") from None
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"input_shape must be (height, width, channels) of positive sizes, got {input_shape!r}")
    return shape
