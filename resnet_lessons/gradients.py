"""Per-layer gradient norms: the data behind the "vanishing gradients" explanation (chapter 1).

Deep plain nets are often said to train badly because the gradient shrinks layer by layer on its way back; the paper
argues that with batch norm it does not (He et al. 2015, Sec. 4.1). Chapter 1 measures it rather than take either
side on trust: the gradient of the loss for every layer's kernel, at initialisation and after training. Chapter 8
follows the gradient with respect to the blocks' outputs instead (:func:`activation_gradient_norms`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

_WEIGHTED_LAYERS = (keras.layers.Conv2D, keras.layers.Dense)


@dataclasses.dataclass(frozen=True)
class LayerGradient:
    """The gradient of the loss with respect to one layer's kernel."""

    name: str  # the layer's name, e.g. "conv3_block2_1_conv"
    depth: int  # position among the weighted layers, counting from 1 at the input
    gradient_norm: float  # Frobenius norm of d(loss)/d(kernel)
    weight_norm: float  # Frobenius norm of the kernel itself

    @property
    def relative_norm(self) -> float:
        """``gradient_norm / weight_norm``: how far one SGD step (times the learning rate) moves the kernel."""
        return self.gradient_norm / self.weight_norm if self.weight_norm else math.inf


def layer_gradient_norms(model: keras.Model, images, labels) -> list[LayerGradient]:
    """One :class:`LayerGradient` of the mean cross-entropy per convolution or dense layer, from the input on.

    ``model`` maps normalised images to logits (as the package's nets do). One gradient on one batch in training mode
    (batch norm uses the batch's statistics, as in an SGD step); its moving statistics are restored afterwards, so
    the model is unchanged.
    """
    images, labels = _check_batch(model, images, labels)
    layers = [layer for layer in model.layers if isinstance(layer, _WEIGHTED_LAYERS)]
    if not layers:
        raise ValueError(f"model {model.name!r} has no convolution or dense layer")
    with _moving_statistics_kept(model), tf.GradientTape() as tape:
        loss = _mean_cross_entropy(labels, model(images, training=True))
    gradients = tape.gradient(loss, [layer.kernel.value for layer in layers])
    return [LayerGradient(name=layer.name, depth=depth, gradient_norm=float(tf.norm(gradient)),
                          weight_norm=float(np.linalg.norm(layer.kernel.numpy())))
            for depth, (layer, gradient) in enumerate(zip(layers, gradients), start=1)]


def activation_gradient_norms(model: keras.Model, images, labels, layer_names: Sequence[str]) -> list[float]:
    """The norm of d(mean cross-entropy)/d(output) of each layer in ``layer_names``, on one batch in training mode.

    For the signal the 2016 paper follows from block to block (chapter 8): with ``"conv1_relu"`` (the first block's
    input) and a block's ``"..._out"``, the ratio of the two norms says how much of the gradient at a block's output
    reaches the input. The model's moving statistics are restored afterwards, as in :func:`layer_gradient_norms`.
    """
    images, labels = _check_batch(model, images, labels)
    names = list(layer_names)
    known = {layer.name for layer in model.layers}
    unknown = [name for name in names if not isinstance(name, str) or name not in known]
    if not names or unknown:
        raise ValueError(f"layer_names must name layers of {model.name!r}, got {unknown or names!r}")
    probe = keras.Model(model.input, [model.get_layer(name).output for name in names] + [model.output])
    with _moving_statistics_kept(model), tf.GradientTape() as tape:
        *activations, logits = probe(images, training=True)
        loss = _mean_cross_entropy(labels, logits)
    gradients = tape.gradient(loss, activations)
    if missing := [name for name, gradient in zip(names, gradients) if gradient is None]:
        raise ValueError(f"TensorFlow gives no gradient of the loss for the outputs of {missing}: name layers on the "
                         "path from the input to the logits (Keras gives none for a layer without weights directly "
                         "after the input)")
    # In float64: a gradient of 1e-20 per unit (a shortcut scaled by 0.5 over 54 blocks) has squares below float32's
    # range, and its norm would come out as 0.
    return [float(np.linalg.norm(gradient.numpy().astype(np.float64))) for gradient in gradients]


def _check_batch(model, images, labels):
    """``images`` and ``labels`` as tensors, checked to be one batch ``model`` takes, or ``ValueError``."""
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model, got {type(model).__name__}")
    images = tf.convert_to_tensor(images, dtype=tf.float32)
    labels = tf.convert_to_tensor(labels)
    if images.shape.rank != 4 or tuple(images.shape[1:]) != tuple(model.input_shape[1:]):
        raise ValueError(f"images must have shape (batch, {', '.join(map(str, model.input_shape[1:]))}) to fit "
                         f"{model.name!r}, got {tuple(images.shape)}")
    if labels.shape.rank != 1 or labels.shape[0] != images.shape[0] or not labels.dtype.is_integer:
        raise ValueError(f"labels must be {images.shape[0]} integer class labels, got shape {tuple(labels.shape)} "
                         f"of {labels.dtype.name}")
    return images, labels


def _mean_cross_entropy(labels, logits):
    return keras.ops.mean(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))


@contextlib.contextmanager
def _moving_statistics_kept(model):
    """Restore ``model``'s non-trainable variables (batch norm's moving statistics) on leaving the block."""
    saved = [variable.numpy() for variable in model.non_trainable_variables]
    try:
        yield
    finally:
        for variable, value in zip(model.non_trainable_variables, saved):
            variable.assign(value)
