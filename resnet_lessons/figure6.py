"""What the paper's Fig. 6 shows, as statements a stored run can be checked against (chapter 4).

Fig. 6 of He et al. (2015) trains plain and residual nets of 20 to 110 layers on CIFAR-10: the plain nets' error
*rises* with depth, on the training set too (degradation); the ResNets' does not. :func:`findings` turns that into
checks of a :class:`~resnet_lessons.run_report.RunReport`, averaged over its seeds, so the benchmark that makes the
file and the chapter that reads it judge it by the same rules.
"""

from __future__ import annotations

import dataclasses

import matplotlib.pyplot as plt
import numpy as np

from . import arguments
from .run_report import RunReport

# How close counts as "does not rise": a deeper ResNet may end this much above a shallower one in training error.
RESNET_TOLERANCE_POINTS = 1.0
# How far below the plain net of the same depth the ResNet must end at 56 layers, in training error.
RESIDUAL_MARGIN_POINTS = 20.0


@dataclasses.dataclass(frozen=True)
class Finding:
    """One statement about the runs, and whether the stored runs bear it out."""

    statement: str
    holds: bool
    evidence: str  # the numbers behind it


def _depths(report: RunReport, residual: bool) -> list[int]:
    return sorted({run.depth for run in report.runs if run.residual == residual})


def _percent(report: RunReport, residual: bool, depth: int, metric: str) -> float:
    return 100 * report.mean_final(f"{'resnet' if residual else 'plain'}-{depth}", metric)


def findings(report: RunReport) -> list[Finding]:
    """The checks of Fig. 6's shape that the report's runs allow, on final errors averaged over each net's seeds:
    plain nets' training error rises with depth; no deeper ResNet ends more than ``RESNET_TOLERANCE_POINTS`` above
    the next shallower one in it, and the deepest ends below the shallowest in test error; at 56 layers the ResNet
    ends at least ``RESIDUAL_MARGIN_POINTS`` below the plain net in training error."""
    result = []
    plain = _depths(report, residual=False)
    if len(plain) >= 2:
        errors = [_percent(report, False, depth, "train_error") for depth in plain]
        result.append(Finding(
            statement=f"plain nets: training error rises with depth ({' < '.join(f'plain-{d}' for d in plain)})",
            holds=all(shallow < deep for shallow, deep in zip(errors, errors[1:])),
            evidence=", ".join(f"plain-{d} {e:.1f} %" for d, e in zip(plain, errors))))
    residual = _depths(report, residual=True)
    if len(residual) >= 2:
        errors = [_percent(report, True, depth, "train_error") for depth in residual]
        result.append(Finding(
            statement=f"ResNets: no deeper net ends more than {RESNET_TOLERANCE_POINTS:g} point above the next "
                      f"shallower one in training error",
            holds=all(deep <= shallow + RESNET_TOLERANCE_POINTS for shallow, deep in zip(errors, errors[1:])),
            evidence=", ".join(f"resnet-{d} {e:.1f} %" for d, e in zip(residual, errors))))
        shallowest, deepest = residual[0], residual[-1]
        tests = [_percent(report, True, depth, "test_error") for depth in (shallowest, deepest)]
        result.append(Finding(
            statement=f"ResNets: resnet-{deepest} ends below resnet-{shallowest} in test error",
            holds=tests[1] < tests[0],
            evidence=f"resnet-{shallowest} {tests[0]:.1f} %, resnet-{deepest} {tests[1]:.1f} %"))
    if 56 in plain and 56 in residual:
        errors = [_percent(report, residual, 56, "train_error") for residual in (False, True)]
        result.append(Finding(
            statement=f"56 layers: the ResNet ends at least {RESIDUAL_MARGIN_POINTS:g} points below the plain net "
                      "in training error",
            holds=errors[1] <= errors[0] - RESIDUAL_MARGIN_POINTS,
            evidence=f"plain-56 {errors[0]:.1f} %, resnet-56 {errors[1]:.1f} %"))
    return result


def report_findings(findings_to_print: list[Finding]) -> int:
    """Print each finding as ``holds`` or ``FAILS`` with its evidence; return the exit status (0: all hold)."""
    for finding in findings_to_print:
        print(f"  {'holds' if finding.holds else 'FAILS'}: {finding.statement} ({finding.evidence})")
    return 0 if all(finding.holds for finding in findings_to_print) else 1


def mean_curve(report: RunReport, name: str, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """``(iterations, error in percent)`` of network ``name`` on ``split`` after every epoch, averaged over its seeds;
    only the epochs every seed has finished, so a report written while a seed still trains gives a shorter curve."""
    arguments.require(split in ("train", "validation", "test"), "split", split, "'train', 'validation' or 'test'")
    histories = [run.history for run in report.runs if run.name == name]
    if not histories:
        report.mean_final(name, "train_error")  # raises the error that names the runs there are
    curves = [getattr(history, f"{split}_error") for history in histories]
    if not all(curves):
        raise ValueError(f"the runs of {name!r} have no per-epoch {split} error")
    epochs = min(len(curve) for curve in curves)
    errors = 100 * np.mean([curve[:epochs] for curve in curves], axis=0)
    return np.asarray(histories[0].iterations[:epochs]), errors


def plot(report: RunReport, *, title: str | None = None):
    """The paper's Fig. 6 layout as a ``matplotlib`` figure: plain nets on top, ResNets below, one colour per depth;
    thin dashed training error, bold test error, each the mean over the depth's seeds (the legend says how many)."""
    depths = sorted({run.depth for run in report.runs})
    colours = {depth: f"C{index}" for index, depth in enumerate(depths)}
    # Stacked, not side by side: each panel keeps the page's full width (about 7 inches) and readable labels.
    figure, axes = plt.subplots(2, 1, figsize=(7, 9), sharex=True, sharey=True, layout="constrained")
    for ax, residual in zip(axes, (False, True)):
        for depth in _depths(report, residual):
            name = f"{'resnet' if residual else 'plain'}-{depth}"
            seeds = sum(run.name == name for run in report.runs)
            for split, style in (("train", {"linestyle": "--", "linewidth": 1.2}),
                                 ("test", {"linestyle": "-", "linewidth": 2.4})):
                iterations, errors = mean_curve(report, name, split)
                label = f"{name}{f' ({seeds} seeds)' if seeds > 1 else ''}" if split == "test" else None
                ax.plot(iterations, errors, color=colours[depth], label=label, **style)
        ax.set_title("ResNets" if residual else "plain networks")
        ax.set_ylabel("error (%)")
        ax.grid(alpha=0.3)
        ax.legend(title="bold: test, dashed: training", ncol=2)
    axes[1].set_xlabel("iterations (SGD steps)")
    figure.suptitle(title or f"Fig. 6's layout, profile '{report.config.name}'")
    return figure
