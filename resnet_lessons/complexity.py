"""Counting multiply-adds, the paper's measure of a network's cost (chapters 3, 4, 5 and 6).

The paper's "FLOPs" (Table 1: 3.6 x 10^9 for ResNet-34, 3.8 x 10^9 for ResNet-50) are *multiply-adds* of the
convolutional and dense layers for one image; batch norm, ReLU, pooling and the additions cost a few operations per
activation against a convolution's ``k * k * C_in`` per output value, and are left out. Counted here from a built
model, so every figure comes from the code that builds the network. One multiply-add is two FLOPs
(:mod:`resnet_lessons.bench` doubles the count for GFLOP/s).
"""

from __future__ import annotations

import math

import keras

_CONVOLUTIONS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)


def multiply_adds_by_layer(model: keras.Model) -> dict[str, int]:
    """``{layer name: multiply-adds of one image}`` for each convolution and dense layer of ``model``, in order.

    A convolution costs ``k_h * k_w * C_in / groups`` per output value, a dense layer ``features``: both are
    ``prod(kernel.shape[:-1]) * prod(output.shape[1:])``; a depthwise convolution ``k_h * k_w``. The input size must
    be fixed; nested models are counted layer by layer under ``"outer/inner"`` names.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"expected a keras.Model, got {type(model).__name__}")
    counts = {}
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            for name, count in multiply_adds_by_layer(layer).items():
                counts[f"{layer.name}/{name}"] = count
            continue
        count = _layer_multiply_adds(layer)
        if count is not None:
            counts[layer.name] = count
    return counts


def count_multiply_adds(model: keras.Model) -> int:
    """The multiply-adds of one image through ``model`` (the paper's "FLOPs"): ``count_multiply_adds(resnet50())``
    is about 3.9 x 10^9, which the paper's Table 1 rounds to 3.8."""
    return sum(multiply_adds_by_layer(model).values())


def _layer_multiply_adds(layer) -> int | None:
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kernel_height, kernel_width = layer.kernel_size
        return kernel_height * kernel_width * _output_values(layer)
    if isinstance(layer, (*_CONVOLUTIONS, keras.layers.Dense)):
        return math.prod(layer.kernel.shape[:-1]) * _output_values(layer)
    return None


def _output_values(layer) -> int:
    """Number of values ``layer`` outputs for one example; needs every dimension but the batch to be known."""
    shape = tuple(layer.output.shape[1:])
    if any(size is None for size in shape):
        raise ValueError(f"layer {layer.name!r} has output shape {layer.output.shape}; multiply-adds need a fixed "
                         "input size, so build the model with input_shape=(height, width, channels)")
    return math.prod(shape)
