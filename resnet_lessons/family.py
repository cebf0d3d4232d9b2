"""The paper's 6n+2 CIFAR-10 family in numbers, from closed-form counts (chapter 4).

Counting on a built model (:func:`resnet_lessons.models.count_parameters`) is the reference, but the 1202-layer net
is impractical to build: Keras' graph walk recurses once per layer, past Python's default recursion limit. These
formulas count the same, layer by layer, without building anything (the tests check them against the built nets of
depth 8 to 110). As in the paper: a 3x3 convolution has ``9 * C_in * C_out`` weights and no bias, a batch norm a
trained scale and shift per channel, the dense layer ``64 * classes`` weights and ``classes`` biases; option A
shortcuts have none, so plain and residual nets count the same. Multiply-adds are the convolutions' and the dense
layer's for one image.
"""

from __future__ import annotations

import math

from resnet_lessons import arguments, models


def _stage_convolutions(depth: int, image_size: int):
    """Yield ``(c_in, c_out, output_size)`` for every 3x3 convolution of the net, the stem first."""
    stages = models.cifar_stages(depth)
    channels, size = models.CIFAR_STAGE_FILTERS[0], image_size
    yield 3, channels, size  # the stem
    for stage in stages:
        size = math.ceil(size / stage.strides)  # a strided "same" convolution opens the stage
        for _ in range(stage.blocks):
            yield channels, stage.filters, size  # the block's first convolution
            yield stage.filters, stage.filters, size  # and its second
            channels = stage.filters


def parameter_count(depth: int, *, num_classes: int = 10) -> int:
    """Trainable parameters of the CIFAR net of ``depth = 6n + 2`` layers (plain, or residual with option A):
    ``parameter_count(20)`` is 269,722, the paper's "0.27M"; ``parameter_count(1202)`` is 19,421,274."""
    num_classes = arguments.positive_int(num_classes, "num_classes")
    # each convolution's kernel, then its batch norm's scale and shift
    total = sum(3 * 3 * c_in * c_out + 2 * c_out for c_in, c_out, _ in _stage_convolutions(depth, image_size=32))
    return total + models.CIFAR_STAGE_FILTERS[-1] * num_classes + num_classes


def multiply_add_count(depth: int, *, image_size: int = 32, num_classes: int = 10) -> int:
    """Multiply-adds of one ``image_size`` x ``image_size`` image through the net of ``depth`` layers:
    ``multiply_add_count(20)`` is 40,551,040, about 41 million."""
    num_classes = arguments.positive_int(num_classes, "num_classes")
    image_size = arguments.positive_int(image_size, "image_size")
    total = sum(3 * 3 * c_in * c_out * size * size for c_in, c_out, size in _stage_convolutions(depth, image_size))
    return total + models.CIFAR_STAGE_FILTERS[-1] * num_classes
