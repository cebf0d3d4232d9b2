"""Diagrams of blocks drawn from the built Keras model, not by hand (chapter 3).

A hand-made picture can drift from the code; this one cannot: :func:`layout` walks the layer graph of the built
model and places one box per layer, :func:`draw` draws boxes and data flow with matplotlib (no graphviz). The longest
path (the residual branch) runs down the middle, layers off it (a projection) stand to its right, and an edge that
jumps over layers (the identity shortcut) runs down the right-hand side, labelled "identity". E.g.
``draw(resnet20, layer_range=("conv2_block3_out", "conv3_block1_out"))``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import keras
import matplotlib.pyplot as plt
from matplotlib import patches
from matplotlib.path import Path

from resnet_lessons import blocks, graph

# Box colours by kind of layer, as in the paper's Fig. 2: weights in colour, the wiring in white.
COLOURS = {"input": "#dddddd", "conv": "#aec7e8", "norm": "#ffe8a3", "activation": "#b9e4b0",
           "merge": "#ffffff", "shortcut": "#f7b6b2", "other": "#e0d4f0"}
_BOX_WIDTH, _BOX_HEIGHT = 3.4, 0.72  # in data units; rows are 1 apart
_COLUMN_SPACING = 4.2  # centre to centre; leaves a lane for routed edges between the columns
_LANE = _BOX_WIDTH / 2 + 0.4  # x of the lane that carries edges jumping down the main column


@dataclasses.dataclass(frozen=True)
class Box:
    """One layer's box in a diagram."""

    name: str  # the layer's name, e.g. "conv3_block1_1_conv"
    label: str  # what it does, e.g. "3x3 conv, 32, /2"
    kind: str  # a key of COLOURS
    output_shape: tuple | None  # one example's output shape, e.g. (8, 8, 32)
    row: int  # 0 at the top
    column: int  # 0: the main path; 1, 2, ...: layers beside it


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where every box goes and which boxes are connected: everything :func:`draw` needs."""

    boxes: tuple[Box, ...]  # in topological order
    edges: tuple[tuple[str, str], ...]  # (from, to) layer names, the data flow

    def box(self, name: str) -> Box:
        """The box of the layer called ``name``."""
        for box in self.boxes:
            if box.name == name:
                return box
        raise ValueError(f"no box named {name!r}; the boxes are {[box.name for box in self.boxes]}")

    @property
    def main_path(self) -> list[str]:
        """The names on the main path (column 0), top to bottom."""
        return [box.name for box in sorted(self.boxes, key=lambda box: box.row) if box.column == 0]

    @property
    def skip_edges(self) -> list[tuple[str, str]]:
        """Edges between main-path boxes that jump over at least one row: the identity shortcuts."""
        rows = {box.name: (box.row, box.column) for box in self.boxes}
        return [(start, end) for start, end in self.edges
                if rows[start][1] == rows[end][1] == 0 and rows[end][0] - rows[start][0] > 1]


def layout(model: keras.Model, *, layer_range: Sequence[str] | None = None) -> Layout:
    """Place the layers of a built ``model`` in rows and columns.

    Rows follow the longest path from the input, so every arrow points down. The main path, the longest chain ending
    at the last layer, takes column 0; every other layer sits as low as its consumers allow (a projection just above
    its addition), in column 1 or further right if that row is taken. ``layer_range=(first, last)`` keeps only the
    layers on paths from ``first`` (shown as the input) to ``last``.
    """
    parents = graph.layer_parents(model)
    operations = {operation.name: operation
                  for operation in (model.layers if isinstance(model, keras.Sequential) else model.operations)}
    first, parents = (None, parents) if layer_range is None else _slice(parents, layer_range)
    depths = graph.longest_path_depths(parents)
    children = graph.layer_children(parents)
    last = next(reversed(parents))
    main = [last]
    while parents[main[-1]]:
        main.append(max(parents[main[-1]], key=lambda name: depths[name]))  # max keeps the first of equals
    beside = [name for name in parents if name not in main]  # in topological order
    rows = {name: depths[name] for name in main}
    for name in reversed(beside):  # consumers before producers
        rows[name] = min((rows[child] for child in children[name]), default=depths[name] + 1) - 1
    columns = {name: 0 for name in main}
    taken: dict[int, int] = {}
    for name in beside:
        taken[rows[name]] = taken.get(rows[name], 0) + 1
        columns[name] = taken[rows[name]]
    boxes = tuple(Box(name, *(("input", "input") if name == first else _describe(operations.get(name))),
                      _output_shape(operations.get(name)), rows[name], columns[name]) for name in parents)
    return Layout(boxes, tuple((parent, name) for name, its_parents in parents.items() for parent in its_parents))


def draw(model: keras.Model | Layout, *, layer_range: Sequence[str] | None = None, title: str | None = None,
         show_names: bool = True, show_shapes: bool = True, show_terms: bool = True, ax=None):
    """Draw a block (or any small model, or a :class:`Layout` of one) as boxes and arrows; return the figure.

    ``show_names`` prints each layer's name under its label (to match ``model.summary()``), ``show_shapes`` its output
    shape beside the box; ``show_terms`` labels each addition's terms as the paper's Fig. 2 does: x, F(x), and
    F(x) + x, + W_s x for a projection, or + shortcut(x) for option A. ``title`` defaults to the model's name; without
    ``ax`` a figure sized to the diagram is made.
    """
    if isinstance(model, Layout) and layer_range is not None:
        raise ValueError("layer_range applies to a model; a Layout is already sliced")
    diagram = model if isinstance(model, Layout) else layout(model, layer_range=layer_range)
    rows, columns = 1 + max(box.row for box in diagram.boxes), 1 + max(box.column for box in diagram.boxes)
    figure, ax = plt.subplots(figsize=(2.2 + 2.4 * columns, 0.9 + 0.62 * rows)) if ax is None else (ax.figure, ax)
    centres = {box.name: (box.column * _COLUMN_SPACING, -float(box.row)) for box in diagram.boxes}
    for box in diagram.boxes:
        x, y = centres[box.name]
        ax.add_patch(patches.FancyBboxPatch((x - _BOX_WIDTH / 2, y - _BOX_HEIGHT / 2), _BOX_WIDTH, _BOX_HEIGHT,
                                            boxstyle="round,pad=0,rounding_size=0.12", linewidth=1.0,
                                            facecolor=COLOURS[box.kind], edgecolor="#333333", zorder=2))
        fontsize = 11 if len(box.label) <= 16 else 10
        ax.text(x, y + 0.1 if show_names else y, box.label, ha="center", va="center", fontsize=fontsize, zorder=3)
        if show_names:
            ax.text(x, y - 0.18, box.name, ha="center", va="center", fontsize=10, color="#555555", zorder=3)
        if show_shapes and box.output_shape is not None:
            # Left of the main column, right of the boxes beside it, so no label covers a box.
            side = -1 if box.column == 0 else 1
            ax.text(x + side * (_BOX_WIDTH / 2 + 0.1), y, "x".join(str(size) for size in box.output_shape),
                    ha="right" if side < 0 else "left", va="center", fontsize=10, color="#555555")
    skips = set(diagram.skip_edges)
    by_name = {box.name: box for box in diagram.boxes}
    for start, end in diagram.edges:
        vertices = _route(by_name[start], by_name[end], centres, (start, end) in skips)
        ax.add_patch(patches.FancyArrowPatch(path=Path(vertices), arrowstyle="-|>", mutation_scale=11,
                                             linewidth=1.2, color="#333333", zorder=1))
        if (start, end) in skips:
            middle = (vertices[1][1] + vertices[2][1]) / 2
            ax.text(_LANE + 0.08, middle, "identity", rotation=90, ha="left", va="center", fontsize=10, color="#333333")
    if show_terms:
        for position, text in _terms(diagram, centres):
            ax.text(*position, text, ha="left", va="center", fontsize=11, color="#1f4e9c")
    left = -_BOX_WIDTH / 2 - (1.3 if show_shapes else 0.2)
    right = (columns - 1) * _COLUMN_SPACING + _BOX_WIDTH / 2 + (1.3 if show_shapes and columns > 1 else 0.2)
    ax.set_xlim(left, max(right, _LANE + 0.6))
    ax.set_ylim(-rows + 0.4, 0.6)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title or getattr(model, "name", None) or "")  # a Layout has no name
    return figure


def _terms(diagram: Layout, centres) -> list[tuple[tuple[float, float], str]]:
    """Where to write x, F(x) and the sum of every addition on the main path, and what to write."""
    by_name = {box.name: box for box in diagram.boxes}
    parents = {box.name: [start for start, end in diagram.edges if end == box.name] for box in diagram.boxes}
    labels = []  # (the box a label goes under, its text)
    for merge in diagram.boxes:
        if merge.kind != "merge" or merge.column != 0 or len(parents[merge.name]) != 2:
            continue
        branch = [name for name in parents[merge.name]
                  if by_name[name].column == 0 and by_name[name].row == merge.row - 1]
        if not branch:
            continue
        shortcut = next(name for name in parents[merge.name] if name != branch[0])
        source, path = shortcut, []
        while by_name[source].column != 0 and parents[source]:  # up the shortcut's own layers
            path.append(by_name[source])
            source = parents[source][0]
        if not path:
            term = r"$\mathbf{x}$"
        elif any(box.kind == "conv" for box in path):
            term = r"$W_s\mathbf{x}$"
        else:
            term = r"shortcut($\mathbf{x}$)"
        labels += [(branch[0], r"$\mathcal{F}(\mathbf{x})$"), (source, r"$\mathbf{x}$")]
        if any(start == merge.name for start, end in diagram.edges):  # not the slice's last layer
            labels.append((merge.name, r"$\mathcal{F}(\mathbf{x})$ + " + term))
    # Just right of the main column's arrows, halfway between two rows of boxes.
    return [((centres[name][0] + 0.12, centres[name][1] - 0.5), text) for name, text in labels]


def same_scale(axes) -> None:
    """Give diagrams drawn side by side the same limits, so their boxes are the same size (tops stay aligned)."""
    axes = list(axes)
    if not axes:
        raise ValueError("same_scale needs at least one axes")
    lows, highs = zip(*(ax.get_ylim() for ax in axes))
    lefts, rights = zip(*(ax.get_xlim() for ax in axes))
    for ax in axes:
        ax.set_xlim(min(lefts), max(rights))
        ax.set_ylim(min(lows), max(highs))


def _route(start: Box, end: Box, centres, skip: bool):
    """The corner points of the arrow from ``start`` to ``end``."""
    (x0, y0), (x1, y1) = centres[start.name], centres[end.name]
    half_width, half_height = _BOX_WIDTH / 2, _BOX_HEIGHT / 2
    if skip:  # out to the right, down the lane, back into the target's right side
        return [(x0 + half_width, y0), (_LANE, y0), (_LANE, y1), (x1 + half_width, y1)]
    if start.column == end.column:
        return [(x0, y0 - half_height), (x1, y1 + half_height)]
    if start.column < end.column:  # right, then down into the top
        return [(x0 + half_width, y0), (x1, y0), (x1, y1 + half_height)]
    return [(x0, y0 - half_height), (x0, y1), (x1 + half_width, y1)]  # down, then left into the side


def _slice(parents, layer_range):
    """Keep the operations on paths from ``first`` to ``last``; ``first`` loses its parents."""
    try:
        first, last = layer_range
    except (TypeError, ValueError):
        raise ValueError(f"layer_range must be (first, last) layer names, got {layer_range!r}") from None
    for name in (first, last):
        if name not in parents:
            raise ValueError(f"layer_range names {name!r}, which is not a layer of the model")
    kept = _reachable(first, graph.layer_children(parents)) & _reachable(last, parents)
    if last not in kept:
        raise ValueError(f"layer_range: {last!r} does not depend on {first!r}")
    sliced = {name: [parent for parent in its_parents if parent in kept]
              for name, its_parents in parents.items() if name in kept}
    sliced[first] = []
    return first, sliced


def _reachable(start, neighbours):
    seen, stack = {start}, [start]
    while stack:
        for name in neighbours[stack.pop()]:
            if name not in seen:
                seen.add(name)
                stack.append(name)
    return seen


def _describe(operation) -> tuple[str, str]:
    """A short label, in the paper's Fig. 2 and Table 1 vocabulary, and the kind of box."""
    if operation is None:
        return "?", "other"
    if isinstance(operation, keras.layers.InputLayer):
        return "input", "input"
    if isinstance(operation, keras.layers.Conv2D):
        (height, width), stride = operation.kernel_size, operation.strides[0]
        return f"{height}x{width} conv, {operation.filters}" + (f", /{stride}" if stride > 1 else ""), "conv"
    if isinstance(operation, keras.layers.BatchNormalization):
        return "batch norm", "norm"
    if isinstance(operation, keras.layers.ReLU):
        return "ReLU", "activation"
    if isinstance(operation, keras.layers.Activation):
        name = getattr(operation.activation, "__name__", "activation")
        return ("ReLU" if name == "relu" else name), "activation"
    if isinstance(operation, blocks.ZeroPadShortcut):
        subsample = f", /{operation.strides}" if operation.strides > 1 else ""
        return f"zero-pad to {operation.filters}{subsample}", "shortcut"
    if isinstance(operation, keras.layers.Dense):
        return f"dense, {operation.units}", "other"
    if isinstance(operation, keras.layers.GlobalAveragePooling2D):
        return "global average pool", "other"
    kind_name = type(operation).__name__
    return ("add (+)", "merge") if kind_name in ("Add", "add") else (kind_name, "other")


def _output_shape(operation) -> tuple | None:
    try:
        return tuple(operation.output.shape[1:])
    except (AttributeError, ValueError, TypeError):
        return None
