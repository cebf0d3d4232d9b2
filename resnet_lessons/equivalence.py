"""Checking that two implementations are the same network (chapters 2, 3 and 5).

Where the book writes a block inline as the lesson, it then proves the inline code equals the package's: same
parameter count, and, with the same weights, the same outputs. Chapter 5 does the same for our ResNet-50 against
``keras.applications.ResNet50``. Both steps are here: :func:`copy_weights` moves weights from one model into another
(by layer name, or by layer order when the names differ), and :func:`max_output_difference` runs both models on the
same inputs and returns the largest absolute difference of their outputs.
"""

from __future__ import annotations

import keras
import numpy as np


def weighted_layers(model: keras.Model) -> list:
    """Return the layers of ``model`` that hold weights, in the order the model lists them."""
    if not isinstance(model, keras.Model):
        raise ValueError(f"expected a keras.Model, got {type(model).__name__}")
    return [layer for layer in model.layers if layer.weights]


def copy_weights(source: keras.Model, target: keras.Model, *, match: str = "name") -> int:
    """Copy every weight of ``source`` into the corresponding layer of ``target``.

    Args:
        source: the model to copy from.
        target: the model to copy into; its weighted layers must correspond one to one with ``source``'s.
        match: ``"name"`` pairs layers by name (``conv2_block1_1_conv`` with ``conv2_block1_1_conv``);
            ``"order"`` pairs the n-th weighted layer of one with the n-th of the other, for code that names its
            layers differently.

    Returns:
        The number of layers copied.

    Raises:
        ValueError: if the layers do not correspond: a name missing in one model, different numbers of weighted
            layers, or a weight whose shape differs. Nothing is copied then.
    """
    if match not in ("name", "order"):
        raise ValueError(f"match must be 'name' or 'order', got {match!r}")
    source_layers = weighted_layers(source)
    target_layers = weighted_layers(target)
    if match == "name":
        target_by_name = {layer.name: layer for layer in target_layers}
        source_names = {layer.name for layer in source_layers}
        missing = [layer.name for layer in source_layers if layer.name not in target_by_name]
        extra = [layer.name for layer in target_layers if layer.name not in source_names]
        if missing or extra:
            raise ValueError(
                f"layer names differ: in {source.name!r} only: {missing[:5]}, in {target.name!r} only: {extra[:5]}; "
                "use match='order' if the layers correspond but are named differently"
            )
        pairs = [(layer, target_by_name[layer.name]) for layer in source_layers]
    else:
        if len(source_layers) != len(target_layers):
            raise ValueError(
                f"{source.name!r} has {len(source_layers)} layers with weights, {target.name!r} has "
                f"{len(target_layers)}; they must correspond one to one"
            )
        pairs = list(zip(source_layers, target_layers))
    for source_layer, target_layer in pairs:
        source_shapes = [tuple(weight.shape) for weight in source_layer.weights]
        target_shapes = [tuple(weight.shape) for weight in target_layer.weights]
        if source_shapes != target_shapes:
            raise ValueError(
                f"layer {source_layer.name!r} has weights of shapes {source_shapes}, but {target_layer.name!r} "
                f"has {target_shapes}"
            )
    for source_layer, target_layer in pairs:
        target_layer.set_weights(source_layer.get_weights())
    return len(pairs)


def max_output_difference(first: keras.Model, second: keras.Model, inputs, *, training: bool = False) -> float:
    """Run both models on ``inputs`` and return the largest absolute difference between their outputs.

    Args:
        first, second: models with the same input and output shapes.
        inputs: a batch the models accept, e.g. a NumPy array of images.
        training: run in training mode (batch norm uses the batch's statistics) instead of inference mode.
    """
    first_outputs = np.asarray(first(inputs, training=training))
    second_outputs = np.asarray(second(inputs, training=training))
    if first_outputs.shape != second_outputs.shape:
        raise ValueError(
            f"{first.name!r} outputs shape {first_outputs.shape} but {second.name!r} outputs {second_outputs.shape}"
        )
    return float(np.max(np.abs(first_outputs.astype(np.float64) - second_outputs.astype(np.float64))))
