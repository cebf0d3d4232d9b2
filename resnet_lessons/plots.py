"""Figures the chapters share: training curves of several runs on one set of axes, image grids, throughput bars.

Functions draw on a given ``matplotlib`` axes (or a new figure) and return the figure, so a notebook can place
them side by side; nothing here changes matplotlib's global settings.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from resnet_lessons.gradients import LayerGradient
from resnet_lessons.train import TrainingHistory

_X_AXES = {"iterations": "iterations (SGD steps)", "epochs": "epochs"}
_METRICS = {"error": ("error (%)", 100.0), "loss": ("cross-entropy loss", 1.0)}
_SPLITS = ("train", "test", "validation")


def plot_training_curves(histories: Sequence[TrainingHistory], *, metric: str = "error", x: str = "iterations",
                         splits: Sequence[str] | None = None, title: str | None = None, ax=None):
    """Plot training and held-out curves of several runs on shared axes, one colour per run.

    As in the paper's Fig. 1 and 6, the training curve is thin and dashed and the held-out curve bold, so a reader
    sees at a glance whether a deeper net is worse on the *training* set too (degradation, not overfitting).

    Args:
        histories: the runs, each a :class:`~resnet_lessons.train.TrainingHistory`.
        metric: ``"error"`` (in percent) or ``"loss"``.
        x: ``"iterations"`` (the paper's axis) or ``"epochs"``.
        splits: which curves to draw per run, from ``"train"``, ``"test"`` and ``"validation"``; None draws the
            training curve and the split each run measured after every epoch (test, or validation for a run with
            a validation split: the legend says which).
        title: the figure's title; state the finding, e.g. "Plain-56 trains worse than plain-20".
        ax: axes to draw on; a new figure is made when ``None``.

    Returns:
        The ``matplotlib`` figure.
    """
    histories = list(histories) if not isinstance(histories, TrainingHistory) else [histories]
    if not histories or not all(isinstance(history, TrainingHistory) for history in histories):
        raise ValueError("histories must be a non-empty sequence of TrainingHistory objects")
    if metric not in _METRICS:
        raise ValueError(f"unknown metric {metric!r}: expected one of {', '.join(_METRICS)}")
    if x not in _X_AXES:
        raise ValueError(f"unknown x axis {x!r}: expected one of {', '.join(_X_AXES)}")
    if splits is not None:
        splits = tuple(splits)
        unknown = [split for split in splits if split not in _SPLITS]
        if unknown or not splits:
            raise ValueError(f"splits must be a non-empty selection of {', '.join(map(repr, _SPLITS))}, got {splits!r}")
        for history in histories:
            missing = [split for split in splits if not getattr(history, f"{split}_{metric}")]
            if missing:
                raise ValueError(f"history {history.label!r} has no per-epoch {missing[0]} {metric}: it measured the "
                                 f"{history.held_out} split after every epoch")

    figure, ax = _figure_and_axes(ax)
    label, scale = _METRICS[metric]
    held_out_style = {"linestyle": "-", "linewidth": 2.4}
    styles = {"train": {"linestyle": "--", "linewidth": 1.2}, "test": held_out_style, "validation": held_out_style}
    for index, history in enumerate(histories):
        color = f"C{index}"
        x_values = getattr(history, x)
        for split in splits or ("train", history.held_out):
            values = scale * np.asarray(getattr(history, f"{split}_{metric}"))
            ax.plot(x_values, values, color=color, label=f"{history.label} ({split})", **styles[split])
    ax.set_xlabel(_X_AXES[x])
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)
    ax.legend()
    profiles = sorted({history.profile for history in histories})
    ax.set_title(title or f"{label} under profile {', '.join(profiles)}")
    return figure


def plot_gradient_norms(runs: dict[str, Sequence[LayerGradient]], *, relative: bool = False, title: str | None = None,
                        from_output: bool = False, ax=None):
    """Plot the gradient norm of every weighted layer against its depth, one line per run, on a log scale.

    Chapter 1 uses it to test the vanishing-gradient explanation: if gradients vanished, the curves would fall
    steeply towards the input (depth 1) on the log scale. With ``from_output=True`` the x axis counts layers back
    from the output, the way the gradient travels, so nets of different depths line up at their outputs.

    Args:
        runs: ``{label: layer gradients}``, e.g. ``{"plain-56 at initialisation": gradients.layer_gradient_norms(...)}``.
        relative: plot ``gradient norm / weight norm`` instead of the gradient norm.
        title: the figure's title; state the finding.
        from_output: x is the number of weighted layers between a layer and the output (0: the output layer)
            instead of the layer's depth from the input.
        ax: axes to draw on; a new figure is made when ``None``.

    Returns:
        The ``matplotlib`` figure.
    """
    if not isinstance(runs, dict) or not runs:
        raise ValueError("runs must be a non-empty dict {label: list of LayerGradient}")
    for label, layer_gradients in runs.items():
        if not layer_gradients or not all(isinstance(item, LayerGradient) for item in layer_gradients):
            raise ValueError(f"runs[{label!r}] must be a non-empty list of LayerGradient, as returned by "
                             "gradients.layer_gradient_norms")
    figure, ax = _figure_and_axes(ax)
    for label, layer_gradients in runs.items():
        values = [item.relative_norm if relative else item.gradient_norm for item in layer_gradients]
        depths = [item.depth for item in layer_gradients]
        positions = [max(depths) - depth for depth in depths] if from_output else depths
        ax.plot(positions, values, marker=".", label=label)
    ax.set_yscale("log")
    ax.set_xlabel("layers back from the output (0 = the output layer)" if from_output
                  else "layer (1 = next to the input)")
    ax.set_ylabel("|gradient| / |weights|" if relative else "gradient norm |d loss / d kernel|")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    ax.set_title(title or ("relative gradient norm per layer" if relative else "gradient norm per layer"))
    return figure


def show_images(images: np.ndarray, labels: Sequence[int] | None = None, class_names: Sequence[str] | None = None,
                *, columns: int = 8, title: str | None = None, ax_size: float = 1.2):
    """Show images (uint8 or floats in [0, 1]) in a grid, each titled with its class name.

    Args:
        images: ``(N, H, W, 3)``.
        labels: ``N`` class indices, or ``None`` for no titles.
        class_names: names for the class indices; the index itself is shown when ``None``.
        columns: images per row.
        title: the figure's title.
        ax_size: inches per image.

    Returns:
        The ``matplotlib`` figure.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or len(images) == 0:
        raise ValueError(f"images must have shape (N, height, width, 3) with N >= 1, got {images.shape}")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"got {len(labels)} labels for {len(images)} images")
    if not isinstance(columns, int) or columns < 1:
        raise ValueError(f"columns must be a positive integer, got {columns!r}")
    columns = min(columns, len(images))
    rows = -(-len(images) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(columns * ax_size, rows * (ax_size + 0.25)), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= len(images):
            continue
        ax.imshow(images[index], interpolation="nearest")
        if labels is not None:
            label = int(labels[index])
            ax.set_title(class_names[label] if class_names is not None else str(label), fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure



def plot_throughput(results, *, groups: tuple[str, Sequence], bars: tuple[str, Sequence], title: str | None = None,
                    ax=None):
    """Bars of images per second: one group of bars per value of one spec field, one bar per value of another.

    Chapter 6 compares executions (eager, ``tf.function``, XLA) for the forward pass and the training step this
    way. ``results`` are benchmark results (:class:`resnet_lessons.bench.BenchmarkResult`: a ``spec`` and
    ``images_per_second``); exactly one must match each (group, bar) pair.

    Args:
        results: the measured results.
        groups: ``(field, values)``: the spec field that makes the groups, and its values in order along the x axis,
            e.g. ``("mode", ("forward", "train-step"))``.
        bars: ``(field, values)``: the spec field that makes the bars within a group, e.g.
            ``("execution", ("eager", "function", "xla"))``; the legend shows the values.
        title: the figure's title; state the finding.
        ax: axes to draw on; a new figure is made when ``None``.

    Returns:
        The ``matplotlib`` figure.
    """
    (group_field, group_values), (bar_field, bar_values) = groups, bars
    group_values, bar_values = list(group_values), list(bar_values)
    if not group_values or not bar_values:
        raise ValueError(f"groups and bars need at least one value each, got {group_values!r} and {bar_values!r}")
    figure, ax = _figure_and_axes(ax)
    width = 0.8 / len(bar_values)
    positions = np.arange(len(group_values))
    for index, bar_value in enumerate(bar_values):
        heights = []
        for group_value in group_values:
            matches = [result.images_per_second for result in results
                       if getattr(result.spec, group_field) == group_value
                       and getattr(result.spec, bar_field) == bar_value]
            if len(matches) != 1:
                raise ValueError(f"{len(matches)} results have {group_field}={group_value!r} and "
                                 f"{bar_field}={bar_value!r}; expected exactly one")
            heights.append(matches[0])
        ax.bar(positions + index * width, heights, width, label=str(bar_value))
    ax.set_xticks(positions + width * (len(bar_values) - 1) / 2, [str(value) for value in group_values])
    ax.set_ylabel("images per second")
    ax.set_title(title or f"images per second by {group_field} and {bar_field}")
    ax.legend()
    return figure

def _figure_and_axes(ax):
    if ax is None:
        figure, ax = plt.subplots(figsize=(7, 4.5))
        return figure, ax
    return ax.figure, ax
