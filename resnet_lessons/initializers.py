"""Starting a plain network at the identity: the Dirac (identity) initialiser of a convolution (chapter 7).

A residual block starts close to the identity because its shortcut carries the input past the branch. A plain
network can be started there without any shortcut, by initialising every convolution to pass its input through:
the kernel is a Dirac delta, 1 at the centre tap from channel ``c`` to channel ``c`` and 0 elsewhere. DiracNets
(Zagoruyko and Komodakis 2017) build deep plain networks on that idea (they parametrise each kernel as the identity
plus a learned kernel); ``torch.nn.init.dirac_`` is the same initialiser in PyTorch. Where a convolution widens
(16 to 32 channels at a stage's start), only as many channels as the input has can be copied; the others start at
zero, as in ``dirac_``, or, with ``noise > 0``, at small He-initialised values (see :class:`Dirac`).

:func:`block_output_scales` measures what an initialisation does to the signal: the scale of every block's output
on a batch (without batch norm, a He-initialised ResNet's signal grows block by block; with SkipInit it does not).
"""

from __future__ import annotations

import math

import keras
import numpy as np


@keras.saving.register_keras_serializable(package="resnet_lessons")
class Dirac(keras.initializers.Initializer):
    """The identity kernel of a convolution, optionally plus a little He-normal noise.

    For a kernel of shape ``(height, width, in_channels, out_channels)`` (odd height and width), the value is 1 at
    the centre tap from input channel ``c`` to output channel ``c`` for ``c < min(in_channels, out_channels)``, and
    0 elsewhere: with ``"same"`` padding and stride 1 the convolution copies its first channels; with stride 2 it
    copies one pixel of every 2x2 square of them (on an even-sized map, TensorFlow's ``"same"`` pads at the bottom
    and right only, so these are the odd rows and columns; the option A shortcut takes the even ones). Then ``noise`` times a He-normal draw (standard deviation
    ``sqrt(2 / fan_in)``) is added to every entry.

    Args:
        noise: the noise's scale relative to He initialisation; 0 (default) gives the exact identity, as
            ``torch.nn.init.dirac_`` does.
        seed: seed of the noise (an int); ``None`` draws from Keras' global seed (set by
            :func:`resnet_lessons.seeding.set_seed`), so every layer gets different noise.
    """

    def __init__(self, noise: float = 0.0, seed: int | None = None):
        if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not math.isfinite(noise) or noise < 0:
            raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"seed must be an int or None, got {seed!r}")
        self.noise = float(noise)
        self.seed = seed
        self._he = keras.initializers.HeNormal(seed=seed)

    def __call__(self, shape, dtype=None):
        shape = tuple(int(size) for size in shape)
        if len(shape) != 4 or shape[0] % 2 == 0 or shape[1] % 2 == 0:
            raise ValueError(f"Dirac initialises convolution kernels (height, width, in, out) with odd height and "
                             f"width, got shape {shape}")
        height, width, in_channels, out_channels = shape
        kernel = np.zeros(shape, dtype="float32")
        copied = np.arange(min(in_channels, out_channels))
        kernel[height // 2, width // 2, copied, copied] = 1.0
        kernel = keras.ops.convert_to_tensor(kernel, dtype=dtype or "float32")
        if self.noise:
            kernel = kernel + self.noise * self._he(shape, dtype=dtype or "float32")
        return kernel

    def get_config(self):
        return {"noise": self.noise, "seed": self.seed}


def block_output_scales(model: keras.Model, images, *, training: bool = True) -> list[tuple[str, float]]:
    """The root mean square of every block's output on a batch: how the signal's scale grows through the blocks.

    A residual block adds its branch to its input, so without anything that scales the branch down the scale grows
    from block to block; at He initialisation and without batch norm it roughly doubles the second moment per block.
    The blocks are the layers named ``{block}_out`` (the package's networks), from the input on.

    Args:
        model: a network of the package (its blocks end in ``..._out`` layers).
        images: a batch of normalised images.
        training: run batch norm in training mode (the batch's own statistics, as in an SGD step and as it
            normalises at initialisation); its moving statistics are restored afterwards, so the model is unchanged.

    Returns:
        ``(block name, root mean square of its output)`` per block.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model, got {type(model).__name__}")
    outputs = [layer for layer in model.layers if layer.name.endswith("_out") and "_block" in layer.name]
    if not outputs:
        raise ValueError(f"model {model.name!r} has no block outputs (layers named '<block>_out')")
    probe = keras.Model(model.input, [layer.output for layer in outputs])
    saved = [variable.numpy() for variable in model.non_trainable_variables]
    try:
        values = probe(np.asarray(images, dtype="float32"), training=training)
    finally:
        for variable, value in zip(model.non_trainable_variables, saved):
            variable.assign(value)
    return [(layer.name[: -len("_out")], float(np.sqrt(np.mean(np.square(keras.ops.convert_to_numpy(value))))))
            for layer, value in zip(outputs, values)]
