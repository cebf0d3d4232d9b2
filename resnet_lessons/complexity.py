"""Counting multiply-adds, the paper's measure of a network's cost (chapters 3, 4, 5 and 6).

The paper's "FLOPs" (Table 1: 3.6 x 10^9 for ResNet-34, 3.8 x 10^9 for ResNet-50) are *multiply-adds* of the
convolutional and fully connected layers for one image; batch norm, ReLU, pooling and the shortcut additions are left
out, because they cost a few operations per activation while a convolution costs ``k * k * C_in`` per output value.
This module counts the same thing from a built Keras model, layer by layer, so every figure in the book comes from
the code that builds the network rather than from a hand calculation that could drift from it.

One multiply-add is two floating-point operations; :mod:`resnet_lessons.bench` doubles the count when it reports
achieved GFLOP/s.
"""

from __future__ import annotations

import math

import keras

_CONVOLUTIONS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)


def multiply_adds_by_layer(model: keras.Model) -> dict[str, int]:
    """Return the multiply-adds of one image through each convolution and dense layer of ``model``.

    A convolution costs ``k_h * k_w * C_in / groups`` multiply-adds per output value and a dense layer ``features``
    per output value, so both are ``prod(kernel.shape[:-1]) * prod(output.shape[1:])``. A depthwise convolution
    costs ``k_h * k_w`` per output value. Layers without a kernel count zero and are left out of the dict.

    Args:
        model: a built functional or sequential ``keras.Model`` with fixed input height and width; nested models are
            counted layer by layer under ``"outer/inner"`` names.

    Returns:
        ``{layer name: multiply-adds}`` in the model's layer order.
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
    """Return the multiply-adds of one forward pass of one image through ``model`` (the paper's "FLOPs").

    Example: ``count_multiply_adds(resnet50())`` is about 3.9 x 10^9; the paper's Table 1 rounds it to 3.8.
    """
    return sum(multiply_adds_by_layer(model).values())


def _layer_multiply_adds(layer) -> int | None:
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kernel_height, kernel_width = layer.kernel_size
        return kernel_height * kernel_width * _output_values(layer)
    if isinstance(layer, _CONVOLUTIONS) or isinstance(layer, keras.layers.Dense):
        return math.prod(layer.kernel.shape[:-1]) * _output_values(layer)
    return None


def _output_values(layer) -> int:
    """Number of values ``layer`` outputs for one example; needs every dimension but the batch to be known."""
    shape = tuple(layer.output.shape[1:])
    if any(size is None for size in shape):
        raise ValueError(
            f"layer {layer.name!r} has output shape {layer.output.shape}; multiply-adds need a fixed input size, "
            "so build the model with input_shape=(height, width, channels)"
        )
    return math.prod(shape)
