"""Figures the chapters share: training curves of several runs on one set of axes, image grids, throughput bars.

Each draws on the ``ax`` given (else a new figure) and returns the figure; no global matplotlib setting changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from resnet_lessons import arguments
from resnet_lessons.gradients import LayerGradient
from resnet_lessons.train import TrainingHistory

# The width of the book's text column in inches (about 700 px at 100 dpi): a wider figure is scaled down on the page.
PAGE_WIDTH = 7.0
_X_AXES = {"iterations": "iterations (SGD steps)", "epochs": "epochs"}
_METRICS = {"error": ("error (%)", 100.0), "loss": ("cross-entropy loss", 1.0)}
_SPLITS = ("train", "test", "validation")


def plot_training_curves(histories: Sequence[TrainingHistory], *, metric: str = "error", x: str = "iterations",
                         splits: Sequence[str] | None = None, title: str | None = None, ax=None):
    """Plot training and held-out curves of several runs on shared axes, one colour per run.

    As in the paper's Fig. 1 and 6 the training curve is thin and dashed, the held-out one bold, so a reader sees
    whether a deeper net is worse on the *training* set too (degradation, not overfitting). ``metric``: ``"error"``
    (%) or ``"loss"``; ``x``: ``"iterations"`` or ``"epochs"``; ``splits`` (from train, test, validation) defaults to
    the training curve and the split each run measured after every epoch.
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
        for split in splits or ("train", history.held_out):
            values = scale * np.asarray(getattr(history, f"{split}_{metric}"))
            ax.plot(getattr(history, x), values, color=f"C{index}", label=f"{history.label} ({split})", **styles[split])
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

    Chapter 1 tests the vanishing-gradient explanation with it: vanishing gradients would fall steeply towards the
    input. ``runs`` is ``{label: gradients.layer_gradient_norms(...)}``; ``relative`` plots gradient norm / weight
    norm; ``from_output`` counts layers back from the output, so nets of different depths line up at their outputs.
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
                *, columns: int = 8, title: str | None = None, ax_size: float | None = None):
    """Show images ``(N, H, W, 3)`` (uint8, or floats in [0, 1]) in a grid, titled with their class names or indices.

    ``ax_size``: inches per image; by default the grid is as wide as the book's text column (7 inches), at most 1.2
    inches an image.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or len(images) == 0:
        raise ValueError(f"images must have shape (N, height, width, 3) with N >= 1, got {images.shape}")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"got {len(labels)} labels for {len(images)} images")
    columns = min(arguments.positive_int(columns, "columns"), len(images))
    rows = -(-len(images) // columns)
    ax_size = min(1.2, PAGE_WIDTH / columns) if ax_size is None else ax_size
    figure, axes = plt.subplots(rows, columns, figsize=(columns * ax_size, rows * (ax_size + 0.35)), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= len(images):
            continue
        ax.imshow(images[index], interpolation="nearest")
        if labels is not None:
            label = int(labels[index])
            ax.set_title(class_names[label] if class_names is not None else str(label), fontsize=10)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def plot_throughput(results, *, groups: tuple[str, Sequence], bars: tuple[str, Sequence], title: str | None = None,
                    ax=None):
    """Bars of images per second: one group of bars per value of one spec field, one bar per value of another.

    Chapter 6 compares executions this way. ``groups`` and ``bars`` are ``(spec field, values in order)``, e.g.
    ``("mode", ("forward", "train-step"))`` and ``("execution", ("eager", "function", "xla"))``; exactly one of the
    :class:`resnet_lessons.bench.BenchmarkResult` ``results`` must match each (group, bar) pair.
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
    return plt.subplots(figsize=(PAGE_WIDTH, 4.5)) if ax is None else (ax.figure, ax)
