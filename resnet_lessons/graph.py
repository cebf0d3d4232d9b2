"""The layer graph of a built Keras model: which layer feeds which (chapter 3's diagram and equivalence checks).

``model.layers`` lists a functional model's operations but not the edges; this module reads them from the model, so
a block's diagram (:mod:`resnet_lessons.diagram`) or a pairing of two implementations' layers
(:func:`resnet_lessons.equivalence.copy_weights`) comes from the code that built the network and cannot drift.
"""

from __future__ import annotations

import keras


def layer_parents(model: keras.Model) -> dict[str, list[str]]:
    """Return ``{operation name: names of the operations whose outputs it takes}``, in topological order.

    A merge's parents (``Add``) are in the order it takes its inputs; inputs have none; a ``Sequential`` model is a
    chain. ``ValueError`` for a subclassed model (no static graph) or a shared layer (no single place in a diagram).
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"expected a keras.Model, got {type(model).__name__}")
    if isinstance(model, keras.Sequential):
        names = [layer.name for layer in model.layers]
        return {name: ([names[index - 1]] if index else []) for index, name in enumerate(names)}
    nodes_by_depth = getattr(model, "_nodes_by_depth", None)  # what keras.utils.plot_model reads, too
    if nodes_by_depth is None:
        raise ValueError(f"model {model.name!r} ({type(model).__name__}) has no layer graph: build it with the "
                         "functional API (keras.Input ... keras.Model) or as a keras.Sequential")
    parents: dict[str, list[str]] = {}
    # Deeper nodes are nearer the inputs (depth 0 is the output), so reading depths downwards is topological.
    for depth in sorted(nodes_by_depth, reverse=True):
        for node in nodes_by_depth[depth]:
            name = node.operation.name
            if name in parents:
                raise ValueError(f"model {model.name!r} uses the layer {name!r} more than once; shared layers are "
                                 "not supported")
            parents[name] = [parent.operation.name for parent in node.parent_nodes]
    order = {operation.name: index for index, operation in enumerate(model.operations)}
    return dict(sorted(parents.items(), key=lambda item: order.get(item[0], len(order))))


def layer_children(parents: dict[str, list[str]]) -> dict[str, list[str]]:
    """Invert :func:`layer_parents`: ``{name: names of the operations that take its output}``."""
    children: dict[str, list[str]] = {name: [] for name in parents}
    for name, its_parents in parents.items():
        for parent in its_parents:
            children[parent].append(name)
    return children


def longest_path_depths(parents: dict[str, list[str]]) -> dict[str, int]:
    """The number of edges on the longest path from an input to each operation (inputs are at 0); ``parents``
    must be in topological order, as :func:`layer_parents` returns it."""
    depths: dict[str, int] = {}
    for name, its_parents in parents.items():
        missing = [parent for parent in its_parents if parent not in depths]
        if missing:
            raise ValueError(f"parents must be in topological order: {name!r} comes before its parent {missing[0]!r}")
        depths[name] = 1 + max((depths[parent] for parent in its_parents), default=-1)
    return depths
