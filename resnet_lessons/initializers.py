"""Starting a plain network at the identity: the Dirac initialiser of a convolution (chapter 7).

A residual block starts near the identity because its shortcut carries the input past the branch. A plain network
can start there too if every convolution passes its input through: a Dirac kernel, 1 at the centre tap from channel
``c`` to channel ``c`` and 0 elsewhere (DiracNets, Zagoruyko and Komodakis 2017; ``torch.nn.init.dirac_``).
:func:`block_output_scales` measures what an initialisation does to the signal, block by block.
"""

from __future__ import annotations

import keras
import numpy as np

from resnet_lessons import arguments


@keras.saving.register_keras_serializable(package="resnet_lessons")
class Dirac(keras.initializers.Initializer):
    """The identity kernel of a convolution (odd height and width), plus ``noise`` times a He-normal draw.

    Only ``min(in_channels, out_channels)`` channels can be copied; where a convolution widens the others start at
    zero, as in ``dirac_``. With stride 2 it copies one pixel of every 2x2 square: on an even-sized map TensorFlow's
    ``"same"`` pads at the bottom and right only, so the odd rows and columns (the option A shortcut takes the even).

    Args:
        noise: the noise's scale relative to He initialisation (``sqrt(2 / fan_in)``); 0 gives the exact identity.
        seed: seed of the noise; ``None`` draws from Keras' global seed (:func:`resnet_lessons.seeding.set_seed`),
            so every layer gets different noise.
    """

    def __init__(self, noise: float = 0.0, seed: int | None = None):
        arguments.require(arguments.is_number(noise) and noise >= 0, "noise", noise, "a finite number >= 0")
        arguments.require(seed is None or arguments.is_int(seed), "seed", seed, "an int or None")
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
    """``(block name, root mean square of its output)`` for every block (layer ``{block}_out``) on a batch.

    A residual block adds its branch to its input, so unless something scales the branch down the signal grows from
    block to block (at He initialisation without batch norm the second moment roughly doubles per block).
    ``training=True`` runs batch norm on the batch's own statistics, as in an SGD step; its moving statistics are
    restored afterwards, so the model is unchanged.
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
