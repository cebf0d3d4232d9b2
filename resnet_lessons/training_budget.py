"""How the depth advantage of a ResNet depends on the training budget: the results of the budget benchmark (chapter 4).

``benchmarks/training_budget.py`` trains ResNet-20 and ResNet-56 under one recipe for several budgets (epochs), one
:class:`~resnet_lessons.run_report.RunReport` per budget. The paper's ResNet-56 ends below ResNet-20 after 182 epochs;
whether it does after 10, 20 or 40 is what :func:`final_errors`, :func:`depth_gaps` and :func:`plot` read off them.
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from .run_report import RunReport

PAPER_EPOCHS = 182  # 64k iterations of batch 128 on 45k images
PAPER_TEST_ERRORS = {"resnet-20": 8.75, "resnet-56": 6.97}  # the paper's Table 6, percent
NETWORKS = ("resnet-20", "resnet-56")


def final_errors(reports: list[RunReport], name: str, metric: str = "test_error") -> dict[int, float]:
    """``{epochs: final error in percent}`` of network ``name`` (mean over its seeds) for every budget that has it;
    ``metric`` is ``"train_error"``, ``"validation_error"`` or ``"test_error"``."""
    return {report.config.epochs: 100 * report.mean_final(name, metric)
            for report in sorted(reports, key=lambda report: report.config.epochs)
            if any(run.name == name for run in report.runs)}


def depth_gaps(reports: list[RunReport], metric: str = "test_error", shallow: str = "resnet-20",
               deep: str = "resnet-56") -> dict[int, float]:
    """``{epochs: deep minus shallow final error, in points}`` for every budget with both: negative where the deeper
    network ends ahead."""
    shallow_errors, deep_errors = final_errors(reports, shallow, metric), final_errors(reports, deep, metric)
    return {epochs: deep_errors[epochs] - error for epochs, error in shallow_errors.items() if epochs in deep_errors}


def plot(reports: list[RunReport], *, title: str | None = None):
    """Final training (top) and test error (bottom) of ResNet-20 and ResNet-56 against the budget in epochs, on a
    log axis that reaches the paper's 182 epochs, where its Table 6 test errors are marked."""
    figure, axes = plt.subplots(2, 1, figsize=(7, 7), sharex=True, layout="constrained")
    for index, name in enumerate(NETWORKS):
        for ax, metric in zip(axes, ("train_error", "test_error")):
            errors = final_errors(reports, name, metric)
            ax.plot(list(errors), list(errors.values()), marker="o", color=f"C{index}", label=f"{name}, our runs")
        axes[1].plot([PAPER_EPOCHS], [PAPER_TEST_ERRORS[name]], marker="*", markersize=13, linestyle="none",
                     color=f"C{index}", label=f"{name}, the paper (Table 6)")
    for ax, label in zip(axes, ("final training error (%)", "final test error (%)")):
        ax.axvline(PAPER_EPOCHS, color="0.5", linestyle=":", linewidth=1.2)
        ax.set_xscale("log")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=10)
    budgets = sorted({report.config.epochs for report in reports} | {PAPER_EPOCHS})
    axes[1].set_xticks(budgets, [str(epochs) for epochs in budgets])
    axes[1].minorticks_off()
    axes[1].set_xlabel("training budget (epochs, log scale); dotted: the paper's 182")
    figure.suptitle(title or "Depth against the training budget")
    return figure
