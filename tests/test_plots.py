"""Figures: curves of several runs share one axes, errors in percent; image grids; bad input."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from resnet_lessons import plots  # noqa: E402
from resnet_lessons.gradients import LayerGradient  # noqa: E402
from resnet_lessons.train import TrainingHistory  # noqa: E402


def history(label, errors, validation=False):
    run = TrainingHistory(label=label, profile="quick", data_description="test", seed=0, steps_per_epoch=10)
    for epoch, error in enumerate(errors, start=1):
        run.append(epoch=epoch, train_loss=1.0, train_error=error, held_out_loss=1.2, held_out_error=error + 0.1,
                   learning_rate=0.1, seconds=1.0, validation=validation)
    return run


def test_curves_of_several_runs_share_one_axes():
    runs = [history("plain-20", [0.5, 0.4]), history("plain-56", [0.7, 0.6])]
    figure = plots.plot_training_curves(runs, title="Deeper is worse")
    (ax,) = figure.axes
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["plain-20 (train)", "plain-20 (test)", "plain-56 (train)",
                                                    "plain-56 (test)"]
    np.testing.assert_array_equal(lines[0].get_xdata(), [10, 20])  # iterations
    np.testing.assert_allclose(lines[3].get_ydata(), [80.0, 70.0])  # percent
    assert lines[0].get_color() == lines[1].get_color() != lines[2].get_color()
    assert ax.get_title() == "Deeper is worse" and ax.get_ylabel() == "error (%)"
    plt.close(figure)


def test_curves_against_epochs_on_given_axes():
    figure, ax = plt.subplots()
    returned = plots.plot_training_curves([history("a", [0.5, 0.4, 0.3])], x="epochs", metric="loss",
                                          splits=("test",), ax=ax)
    assert returned is figure
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(line.get_ydata(), [1.2, 1.2, 1.2])
    plt.close(figure)


def test_a_validated_run_is_drawn_with_its_validation_curve_and_says_so():
    figure = plots.plot_training_curves([history("paper-20", [0.5, 0.4], validation=True), history("quick-20", [0.6])])
    labels = [line.get_label() for line in figure.axes[0].get_lines()]
    assert labels == ["paper-20 (train)", "paper-20 (validation)", "quick-20 (train)", "quick-20 (test)"]
    plt.close(figure)
    with pytest.raises(ValueError, match="no per-epoch test error: it measured the validation split"):
        plots.plot_training_curves([history("paper-20", [0.5], validation=True)], splits=("test",))


@pytest.mark.parametrize("kwargs, message", [
    ({"metric": "accuracy"}, "unknown metric"), ({"x": "time"}, "unknown x axis"),
    ({"splits": ("held-out",)}, "splits"), ({"splits": ()}, "splits"),
    ({"splits": ("validation",)}, "no per-epoch validation error"),
])
def test_bad_plot_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        plots.plot_training_curves([history("a", [0.5])], **kwargs)


def test_histories_must_be_histories():
    with pytest.raises(ValueError, match="TrainingHistory"):
        plots.plot_training_curves([])
    with pytest.raises(ValueError, match="TrainingHistory"):
        plots.plot_training_curves([{"epochs": [1]}])


def test_show_images_titles_each_image_with_its_class():
    images = np.zeros((5, 8, 8, 3), "uint8")
    figure = plots.show_images(images, [0, 1, 2, 1, 0], ["cat", "dog", "ship"], columns=3)
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == ["cat", "dog", "ship", "dog", "cat", ""]
    plt.close(figure)


@pytest.mark.parametrize("images, labels, message", [
    (np.zeros((2, 8, 8)), None, "shape"), (np.zeros((0, 8, 8, 3)), None, "shape"),
    (np.zeros((2, 8, 8, 3)), [1], "2 images"),
])
def test_show_images_rejects_bad_input(images, labels, message):
    with pytest.raises(ValueError, match=message):
        plots.show_images(images, labels)


def test_gradient_norm_plot_has_one_line_per_run_on_a_log_scale():
    run = [LayerGradient(name=f"layer{depth}", depth=depth, gradient_norm=10.0 ** -depth, weight_norm=2.0)
           for depth in range(1, 4)]
    figure = plots.plot_gradient_norms({"a": run, "b": run[:2]}, relative=True, title="finding")
    ax = figure.axes[0]
    assert ax.get_yscale() == "log" and ax.get_title() == "finding"
    assert [len(line.get_xdata()) for line in ax.get_lines()] == [3, 2]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [0.05, 0.005, 0.0005])
    plt.close(figure)


def test_gradient_norm_plot_can_count_layers_back_from_the_output():
    shallow = [LayerGradient(name=f"s{depth}", depth=depth, gradient_norm=1.0, weight_norm=1.0) for depth in (1, 2, 3)]
    deep = [LayerGradient(name=f"d{depth}", depth=depth, gradient_norm=1.0, weight_norm=1.0) for depth in range(1, 7)]
    figure = plots.plot_gradient_norms({"shallow": shallow, "deep": deep}, from_output=True)
    ax = figure.axes[0]
    assert list(ax.get_lines()[0].get_xdata()) == [2, 1, 0] and list(ax.get_lines()[1].get_xdata()) == [5, 4, 3, 2, 1, 0]
    assert "back from the output" in ax.get_xlabel()
    plt.close(figure)


def test_gradient_norm_plot_rejects_bad_runs():
    with pytest.raises(ValueError, match="non-empty dict"):
        plots.plot_gradient_norms({})
    with pytest.raises(ValueError, match="LayerGradient"):
        plots.plot_gradient_norms({"a": [1.0, 2.0]})


class _Spec:
    def __init__(self, mode, execution):
        self.mode, self.execution = mode, execution


class _Result:
    def __init__(self, mode, execution, images_per_second):
        self.spec, self.images_per_second = _Spec(mode, execution), images_per_second


def test_throughput_bars_one_per_group_and_bar_value():
    results = [_Result(mode, execution, rate) for (mode, execution), rate in {
        ("forward", "eager"): 10.0, ("forward", "function"): 30.0,
        ("train-step", "eager"): 4.0, ("train-step", "function"): 12.0}.items()]
    figure = plots.plot_throughput(results, groups=("mode", ("forward", "train-step")),
                                   bars=("execution", ("eager", "function")), title="faster as a function")
    ax = figure.axes[0]
    heights = [patch.get_height() for patch in ax.patches]
    assert heights == [10.0, 4.0, 30.0, 12.0]  # the eager bars of both groups, then the function bars
    assert [label.get_text() for label in ax.get_xticklabels()] == ["forward", "train-step"]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["eager", "function"]
    assert ax.get_title() == "faster as a function"
    plt.close(figure)
    with pytest.raises(ValueError, match="0 results have mode='forward' and execution='xla'"):
        plots.plot_throughput(results, groups=("mode", ("forward",)), bars=("execution", ("xla",)))
    with pytest.raises(ValueError, match="at least one value"):
        plots.plot_throughput(results, groups=("mode", ()), bars=("execution", ("eager",)))
