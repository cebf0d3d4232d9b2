"""The budget experiment's readings: final errors per budget, the depth gap, and its figure."""

import dataclasses

import matplotlib.pyplot as plt
import pytest

from resnet_lessons import profiles, run_report, train, training_budget


def report_of(epochs, errors):
    """errors: {(name, seed): (train, test)} as fractions, all runs trained for ``epochs``."""
    runs = []
    for (name, seed), (train_error, test_error) in errors.items():
        history = train.TrainingHistory(label=name, profile="medium", data_description="d", seed=seed,
                                        steps_per_epoch=1)
        history.append(epoch=1, train_loss=1.0, train_error=train_error, held_out_loss=1.0,
                       held_out_error=test_error, learning_rate=0.1, seconds=2.0, validation=True, test_loss=1.0,
                       test_error=test_error)
        runs.append(run_report.Run(name=name, depth=int(name.split("-")[1]), residual=name.startswith("resnet"),
                                   seed=seed, history=history))
    config = dataclasses.replace(profiles.MEDIUM, epochs=epochs, decay_epochs=(epochs // 2, 3 * epochs // 4))
    return run_report.RunReport(command="c", config=config, environment={}, runs=runs, complete=True, seconds=1.0)


REPORTS = [
    report_of(40, {("resnet-20", 0): (0.10, 0.14), ("resnet-56", 0): (0.08, 0.12), ("resnet-20", 1): (0.12, 0.16),
                   ("resnet-56", 1): (0.06, 0.10), ("plain-56", 0): (0.3, 0.3)}),
    report_of(10, {("resnet-20", 0): (0.28, 0.27), ("resnet-56", 0): (0.35, 0.33)}),
    report_of(20, {("resnet-20", 0): (0.20, 0.21)}),  # ResNet-56 of this budget still training
]


def test_final_errors_are_per_budget_in_order_and_averaged_over_seeds():
    assert training_budget.final_errors(REPORTS, "resnet-20") == pytest.approx({10: 27.0, 20: 21.0, 40: 15.0})
    assert training_budget.final_errors(REPORTS, "resnet-56", "train_error") == pytest.approx({10: 35.0, 40: 7.0})


def test_the_gap_is_deep_minus_shallow_where_both_finished():
    assert training_budget.depth_gaps(REPORTS) == pytest.approx({10: 6.0, 40: -4.0})


def test_the_figure_has_both_errors_on_a_log_axis_with_the_paper_marked():
    figure = training_budget.plot(REPORTS)
    top, bottom = figure.axes
    assert top.get_xscale() == bottom.get_xscale() == "log"
    labels = [text.get_text() for text in bottom.get_legend().get_texts()]
    assert "resnet-56, the paper (Table 6)" in labels and "resnet-20, our runs" in labels
    assert [tick.get_text() for tick in bottom.get_xticklabels()] == ["10", "20", "40", "182"]
    plt.close(figure)
