"""Per-layer gradient norms: the data behind the "vanishing gradients" explanation (chapter 1).

A common explanation of why deep plain networks train badly is that the gradient shrinks layer by layer on its way
back to the input, so the early layers do not learn. Batch normalisation was designed to keep signals at a healthy
scale, and the paper argues that with it the gradients do not vanish (He et al. 2015, Sec. 4.1). Rather than take
either side on trust, chapter 1 measures the gradient of the loss with respect to every layer's kernel, at
initialisation and after training, for plain-20 and plain-56.

:func:`layer_gradient_norms` computes one gradient on one batch in training mode (batch norm normalises with the
batch's own statistics, exactly as in an SGD step) and leaves the model unchanged: batch norm's moving statistics,
which a training-mode call would update, are restored afterwards.
"""

from __future__ import annotations

import dataclasses
import math

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
    """Return the gradient norm of the mean cross-entropy loss for every convolution and dense kernel of ``model``.

    Args:
        model: a model that maps a batch of images to logits (the package's networks do).
        images: a batch of normalised images, ``(batch, height, width, channels)``, as the model is trained on.
        labels: the batch's integer class labels, ``(batch,)``.

    Returns:
        One :class:`LayerGradient` per convolution or dense layer, from the input to the output.
    """
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
    layers = [layer for layer in model.layers if isinstance(layer, _WEIGHTED_LAYERS)]
    if not layers:
        raise ValueError(f"model {model.name!r} has no convolution or dense layer")
    kernels = [layer.kernel for layer in layers]
    moving_statistics = [variable.numpy() for variable in model.non_trainable_variables]
    try:
        with tf.GradientTape() as tape:
            logits = model(images, training=True)
            loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))
        gradients = tape.gradient(loss, [kernel.value for kernel in kernels])
    finally:
        for variable, value in zip(model.non_trainable_variables, moving_statistics):
            variable.assign(value)
    return [LayerGradient(name=layer.name, depth=depth, gradient_norm=float(tf.norm(gradient)),
                          weight_norm=float(np.linalg.norm(layer.kernel.numpy())))
            for depth, (layer, gradient) in enumerate(zip(layers, gradients), start=1)]
