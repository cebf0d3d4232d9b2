"""Checking that two implementations are the same network (chapters 2, 3 and 5).

Code the book writes inline is checked against the package's (and chapter 5's ResNet-50 against
``keras.applications``): :func:`copy_weights` (by layer name, order, or place in the layer graph when names and
creation order differ), then :func:`max_output_difference`. :func:`compare_predictions` compares two classifiers
(chapter 2: a net and the deeper one built from it); :func:`compare_blocks` a student's block with the package's.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
from collections.abc import Callable, Sequence

import keras
import numpy as np

from resnet_lessons import arguments, graph, models

MATCHES = ("name", "order", "structure")


def weighted_layers(model: keras.Model) -> list:
    """Return the layers of ``model`` that hold weights, in the order the model lists them."""
    if not isinstance(model, keras.Model):
        raise ValueError(f"expected a keras.Model, got {type(model).__name__}")
    return [layer for layer in model.layers if layer.weights]


def copy_weights(source: keras.Model, target: keras.Model, *, match: str = "name") -> int:
    """Copy every weight of ``source`` into the corresponding layer of ``target``; return the number of layers copied.

    ``match``: ``"name"``; ``"order"``, the n-th weighted layer with the n-th (other names); ``"structure"``, by place
    in the layer graph (:func:`structural_order`: other names and creation order). On a ValueError nothing is copied.
    """
    arguments.require(match in MATCHES, "match", match, f"one of {', '.join(repr(m) for m in MATCHES)}")
    layers_of = structural_order if match == "structure" else weighted_layers
    source_layers, target_layers = layers_of(source), layers_of(target)
    if match == "name":
        target_by_name = {layer.name: layer for layer in target_layers}
        source_names = {layer.name for layer in source_layers}
        missing = [layer.name for layer in source_layers if layer.name not in target_by_name]
        extra = [layer.name for layer in target_layers if layer.name not in source_names]
        if missing or extra:
            raise ValueError(f"layer names differ: in {source.name!r} only: {missing[:5]}, in {target.name!r} only: "
                             f"{extra[:5]}; use match='order' if the layers correspond but are named differently")
        pairs = [(layer, target_by_name[layer.name]) for layer in source_layers]
    else:
        if len(source_layers) != len(target_layers):
            raise ValueError(f"{source.name!r} has {len(source_layers)} layers with weights, {target.name!r} has "
                             f"{len(target_layers)}; they must correspond one to one")
        pairs = list(zip(source_layers, target_layers))
    for source_layer, target_layer in pairs:
        shapes = [[tuple(weight.shape) for weight in layer.weights] for layer in (source_layer, target_layer)]
        if shapes[0] != shapes[1]:
            raise ValueError(f"layer {source_layer.name!r} has weights of shapes {shapes[0]}, but "
                             f"{target_layer.name!r} has {shapes[1]}")
    for source_layer, target_layer in pairs:
        target_layer.set_weights(source_layer.get_weights())
    return len(pairs)


def max_output_difference(first: keras.Model, second: keras.Model, inputs, *, training: bool = False) -> float:
    """Run both models on ``inputs`` (in inference mode unless ``training``) and return the largest |difference|."""
    first_outputs, second_outputs = _outputs(first, second, inputs, training)
    return float(np.max(np.abs(first_outputs.astype(np.float64) - second_outputs)))


def structural_order(model: keras.Model) -> list:
    """The weighted layers of ``model`` in an order that depends only on the shape of its layer graph.

    The key: the weighted layers on the longest path to it, then a fingerprint of its kind, weight shapes and weighted
    ancestors. Layers without weights are transparent (``ReLU()`` and ``Activation("relu")`` give the same order).
    """
    parents = graph.layer_parents(model)
    operations = {operation.name: operation
                  for operation in (model.layers if isinstance(model, keras.Sequential) else model.operations)}
    depth: dict[str, int] = {}
    fingerprint: dict[str, str] = {}
    for name, its_parents in parents.items():
        operation = operations[name]
        parent_depth = max((depth[parent] for parent in its_parents), default=0)
        parent_prints = sorted(fingerprint[parent] for parent in its_parents)
        if getattr(operation, "weights", None):
            depth[name] = parent_depth + 1
            shapes = [tuple(weight.shape) for weight in operation.weights]
            fingerprint[name] = _digest(f"{type(operation).__name__}{shapes}{parent_prints}")
        else:
            depth[name] = parent_depth
            fingerprint[name] = parent_prints[0] if len(parent_prints) == 1 else _digest(f"merge{parent_prints}")
    weighted = [operations[name] for name in parents if getattr(operations[name], "weights", None)]
    return sorted(weighted, key=lambda layer: (depth[layer.name], fingerprint[layer.name]))


def block_model(block: Callable, *, input_shape: Sequence[int], filters: int, strides: int = 1,
                name: str = "block") -> keras.Model:
    """Wrap ``block(x, filters, strides, name=...)`` into a model named ``name``, to count, compare or draw it."""
    if not callable(block):
        raise ValueError(f"block must be a function block(x, filters, strides, name=...), got {block!r}")
    shape = models.validate_input_shape(input_shape)
    inputs = keras.Input(shape=shape, name=f"{name}_input")
    return keras.Model(inputs, block(inputs, filters, strides, name=name), name=name)


@dataclasses.dataclass(frozen=True)
class BlockComparison:
    """A candidate block against a reference block built on the same input (see :func:`compare_blocks`)."""

    candidate_parameters: int  # trainable parameters of the candidate
    reference_parameters: int
    candidate_output_shape: tuple  # one example's output shape
    reference_output_shape: tuple
    max_difference: float | None  # largest |output difference| on the reference's weights; None if not comparable
    detail: str  # why the outputs could not be compared, or "" when they were

    @property
    def same(self) -> bool:
        """Same parameter count, same output shape and the same outputs (to float32 rounding)."""
        return self.max_difference is not None and self.max_difference <= 1e-5


def compare_blocks(candidate: Callable, reference: Callable, *, input_shape: Sequence[int], filters: int,
                   strides: int = 1, seed: int = 0) -> BlockComparison:
    """Build both blocks on one input, give the candidate the reference's weights, and compare their outputs.

    The reference's batch norms get random statistics (from ``seed``), so a batch norm in the wrong place changes the
    outputs. Layers pair by name if the names agree, else by structure; the candidate's own errors are not caught.
    """
    reference_model = block_model(reference, input_shape=input_shape, filters=filters, strides=strides)
    candidate_model = block_model(candidate, input_shape=input_shape, filters=filters, strides=strides)
    counts = [sum(math.prod(weight.shape) for weight in model.trainable_weights)
              for model in (candidate_model, reference_model)]
    shapes = [tuple(model.output_shape[1:]) for model in (candidate_model, reference_model)]
    result = functools.partial(BlockComparison, counts[0], counts[1], shapes[0], shapes[1])  # (difference, detail)
    if shapes[0] != shapes[1]:
        return result(None, f"output shapes differ: {shapes[0]} against {shapes[1]}")
    if counts[0] != counts[1]:
        return result(None, f"parameter counts differ: {counts[0]:,} against {counts[1]:,}")
    rng = np.random.default_rng(seed)
    randomise_batch_norms(reference_model, rng)
    names = [{layer.name for layer in weighted_layers(model)} for model in (candidate_model, reference_model)]
    try:
        copy_weights(reference_model, candidate_model, match="name" if names[0] == names[1] else "structure")
    except ValueError as error:
        return result(None, f"the layers do not correspond one to one: {error}")
    inputs = rng.normal(size=(8, *reference_model.input_shape[1:])).astype(np.float32)
    return result(max_output_difference(candidate_model, reference_model, inputs), "")


@dataclasses.dataclass(frozen=True)
class PredictionComparison:
    """Two classifiers on the same labelled examples (see :func:`compare_predictions`)."""

    examples: int  # how many examples were compared
    max_logit_difference: float  # largest |difference| between the two models' outputs
    same_predictions: int  # examples on which both predict the same class
    first_loss: float  # mean cross-entropy of the first model (outputs taken as logits)
    second_loss: float
    first_error: float  # fraction of examples the first model gets wrong
    second_error: float
    only_first_right: int = 0  # examples the first model gets right and the second wrong
    only_second_right: int = 0  # and the other way round: with only_first_right, what a paired test compares


def compare_predictions(first: keras.Model, second: keras.Model, batches) -> PredictionComparison:
    """Run two classifiers over the same ``(images, labels)`` batches and compare outputs, predictions and losses.

    Chapter 2: a trained plain-20 and the plain-56 :func:`resnet_lessons.identity.deepen` built from it; chapter 3:
    a paired test of shortcut options on the examples only one model gets right. Inference mode; outputs are logits.
    """
    for argument, model in (("first", first), ("second", second)):
        if not isinstance(model, keras.Model):
            raise ValueError(f"{argument} must be a keras.Model, got {type(model).__name__}")
    examples, same, max_difference = 0, 0, 0.0
    losses, wrong, only_right = [0.0, 0.0], [0, 0], [0, 0]
    for images, labels in batches:
        labels = np.asarray(labels)
        outputs = _outputs(first, second, images, training=False)
        predictions = [output.argmax(axis=-1) for output in outputs]
        right = [prediction == labels for prediction in predictions]
        for index, output in enumerate(outputs):
            loss = keras.losses.sparse_categorical_crossentropy(labels, output, from_logits=True)
            losses[index] += float(np.sum(np.asarray(loss, dtype=np.float64)))
            wrong[index] += int(np.sum(~right[index]))
            only_right[index] += int(np.sum(right[index] & ~right[1 - index]))
        max_difference = max(max_difference, float(np.max(np.abs(outputs[0].astype(np.float64) - outputs[1]))))
        same += int(np.sum(predictions[0] == predictions[1]))
        examples += len(labels)
    if not examples:
        raise ValueError("batches held no examples")
    return PredictionComparison(examples=examples, max_logit_difference=max_difference, same_predictions=same,
                                first_loss=losses[0] / examples, second_loss=losses[1] / examples,
                                first_error=wrong[0] / examples, second_error=wrong[1] / examples,
                                only_first_right=only_right[0], only_second_right=only_right[1])


def randomise_batch_norms(model: keras.Model, rng=0) -> None:
    """Give every batch norm of ``model`` a random scale, shift, moving mean and variance, in place.

    Freshly built, a batch norm in inference mode is the identity, so two nets compared there cannot show a batch norm
    in the wrong place or a statistic not copied; with random ones they do. ``rng``: a seed or a NumPy ``Generator``.
    """
    arguments.require(isinstance(model, keras.Model), "model", model, "a keras.Model")
    arguments.require(isinstance(rng, np.random.Generator) or (arguments.is_int(rng) and rng >= 0), "rng", rng,
                      "a non-negative integer seed or a numpy.random.Generator")
    rng = np.random.default_rng(rng)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            shape = layer.moving_mean.shape
            if layer.scale:
                layer.gamma.assign(rng.uniform(0.5, 1.5, shape).astype(np.float32))
            if layer.center:
                layer.beta.assign(rng.normal(0.0, 0.5, shape).astype(np.float32))
            layer.moving_mean.assign(rng.normal(0.0, 0.5, shape).astype(np.float32))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, shape).astype(np.float32))


def _outputs(first, second, inputs, training):
    """Both models' outputs on ``inputs`` as arrays, which must have one shape."""
    outputs = [np.asarray(model(inputs, training=training)) for model in (first, second)]
    if outputs[0].shape != outputs[1].shape:
        raise ValueError(f"{first.name!r} outputs shape {outputs[0].shape} but {second.name!r} outputs "
                         f"{outputs[1].shape}")
    return outputs


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:16]
