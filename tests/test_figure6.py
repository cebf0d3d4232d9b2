"""Fig. 6's checks: each can fail, and each is judged on the mean over seeds; the benchmark's plan and verdict."""

import importlib.util
import pathlib
import sys

import matplotlib.pyplot as plt
import pytest

from resnet_lessons import data, figure6, profiles, run_report, train

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "figure6.py"


def history(name, seed, train_error, test_error):
    result = train.TrainingHistory(label=name, profile="medium", data_description="d", seed=seed, steps_per_epoch=1)
    result.append(epoch=1, train_loss=1.0, train_error=train_error, held_out_loss=1.0, held_out_error=test_error,
                  learning_rate=0.1, seconds=2.0, validation=True, test_loss=1.0, test_error=test_error)
    result.final_test_loss, result.final_test_error = 1.0, test_error
    return result


def report_of(errors):
    """errors: {(name, seed): (train, test)} as fractions."""
    runs = [run_report.Run(name=name, depth=int(name.split("-")[1]), residual=name.startswith("resnet"), seed=seed,
                           history=history(name, seed, *values)) for (name, seed), values in errors.items()]
    return run_report.RunReport(command="c", config=profiles.MEDIUM, environment={}, runs=runs, complete=True,
                                seconds=1.0)


PAPER_SHAPE = {("plain-20", 0): (0.30, 0.35), ("plain-32", 0): (0.35, 0.38), ("plain-56", 0): (0.50, 0.52),
               ("resnet-20", 0): (0.25, 0.33), ("resnet-32", 0): (0.255, 0.32), ("resnet-56", 0): (0.24, 0.31)}


def test_the_papers_shape_passes_every_check():
    found = figure6.findings(report_of(PAPER_SHAPE))
    assert len(found) == 4 and all(finding.holds for finding in found)
    assert "plain-20 30.0 %, plain-32 35.0 %, plain-56 50.0 %" == found[0].evidence


@pytest.mark.parametrize("change, failing", [
    ({("plain-32", 0): (0.29, 0.3)}, 0),        # plain error does not rise from 20 to 32
    ({("resnet-32", 0): (0.27, 0.3)}, 1),       # a deeper ResNet 2 points above a shallower one
    ({("resnet-56", 0): (0.24, 0.34)}, 2),      # ResNet-56 not below ResNet-20 in test error
    ({("plain-56", 0): (0.43, 0.5)}, 3),        # ResNet-56 only 19 points below plain-56
])
def test_each_check_can_fail(change, failing):
    found = figure6.findings(report_of({**PAPER_SHAPE, **change}))
    assert [finding.holds for finding in found] == [index != failing for index in range(4)]


def test_seeds_are_averaged_before_judging():
    # seed 1 of ResNet-56 is worse on its own, but the mean over both seeds is still below ResNet-20
    errors = {**PAPER_SHAPE, ("resnet-56", 1): (0.245, 0.34), ("resnet-20", 1): (0.25, 0.33)}
    assert all(finding.holds for finding in figure6.findings(report_of(errors)))
    errors[("resnet-56", 1)] = (0.245, 0.37)  # now the mean test error is 34 % > 33 %
    assert not figure6.findings(report_of(errors))[2].holds


def test_only_the_checks_the_runs_allow():
    assert figure6.findings(report_of({("plain-20", 0): (0.3, 0.3)})) == []
    only_plain = figure6.findings(report_of({("plain-20", 0): (0.3, 0.3), ("plain-56", 0): (0.5, 0.5)}))
    assert [finding.statement.split(":")[0] for finding in only_plain] == ["plain nets"]


@pytest.fixture(scope="module")
def benchmark():
    spec = importlib.util.spec_from_file_location("figure6_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_the_plan_trains_the_extremes_for_every_seed_first(benchmark):
    plan = benchmark.plan_runs([56, 20, 32, 44], [0, 1], resnet110=True)
    assert [(run.name, run.seed) for run in plan] == [
        ("plain-20", 0), ("resnet-20", 0), ("plain-56", 0), ("resnet-56", 0),
        ("plain-20", 1), ("resnet-20", 1), ("plain-56", 1), ("resnet-56", 1),
        ("plain-32", 0), ("resnet-32", 0), ("plain-44", 0), ("resnet-44", 0), ("resnet-110", 0)]


def test_the_benchmark_exits_1_when_a_check_fails(benchmark, monkeypatch, tmp_path, capsys):
    errors = {key: value for key, value in PAPER_SHAPE.items()}

    def fake_train(model, dataset, config, *, seed, label, **ignored):
        return history(label, seed, *errors[label, seed])

    monkeypatch.setattr(run_report.train, "train", fake_train)
    load_dataset = data.load_dataset  # the real one, before it is replaced
    monkeypatch.setattr(benchmark.data, "load_dataset",
                        lambda **kwargs: load_dataset("synthetic", num_train=8, num_test=8, seed=0, verbose=False))
    path = tmp_path / "figure6.json"
    assert benchmark.main(["--depths", "20", "32", "56", "--seeds", "0", "--json", str(path)]) == 0
    assert "holds: plain nets" in capsys.readouterr().out
    assert run_report.RunReport.load(path).complete
    errors[("resnet-56", 0)] = (0.24, 0.40)
    assert benchmark.main(["--depths", "20", "32", "56", "--seeds", "0"]) == 1
    assert "FAILS: ResNets: resnet-56 ends below resnet-20 in test error" in capsys.readouterr().out


@pytest.mark.parametrize("arguments, message", [
    (["--depths", "21"], "6n"), (["--seeds", "0", "0"], "distinct"), (["--seeds", "-1"], "non-negative"),
])
def test_bad_arguments_are_refused(benchmark, capsys, arguments, message):
    with pytest.raises(SystemExit):
        benchmark.parse_arguments(arguments)
    assert message in capsys.readouterr().err


def test_curves_are_averaged_over_seeds_and_cut_to_the_epochs_all_seeds_finished():
    first = history("resnet-56", 0, 0.30, 0.40)
    first.append(epoch=2, train_loss=1.0, train_error=0.20, held_out_loss=1.0, held_out_error=0.3,
                 learning_rate=0.1, seconds=2.0, validation=True, test_loss=1.0, test_error=0.30)
    second = history("resnet-56", 1, 0.40, 0.50)  # still at epoch 1
    runs = [run_report.Run(name="resnet-56", depth=56, residual=True, seed=seed, history=h)
            for seed, h in ((0, first), (1, second))]
    report = run_report.RunReport(command="c", config=profiles.MEDIUM, environment={}, runs=runs, complete=False,
                                  seconds=1.0)
    iterations, errors = figure6.mean_curve(report, "resnet-56", "train")
    assert list(iterations) == [1] and errors == pytest.approx([35.0])
    with pytest.raises(ValueError, match="no run of 'plain-56'"):
        figure6.mean_curve(report, "plain-56")
    with pytest.raises(ValueError, match="split must be 'train', 'validation' or 'test', got 'val'"):
        figure6.mean_curve(report, "resnet-56", "val")


def test_the_figure_has_the_papers_layout():
    errors = {**PAPER_SHAPE, ("resnet-56", 1): (0.26, 0.33)}
    figure = figure6.plot(report_of(errors))
    plain, residual = figure.axes
    assert plain.get_title() == "plain networks" and residual.get_title() == "ResNets"
    assert [line.get_label() for line in residual.lines if not line.get_label().startswith("_")] == [
        "resnet-20", "resnet-32", "resnet-56 (2 seeds)"]
    styles = [(line.get_linestyle(), line.get_linewidth()) for line in plain.lines]
    assert styles[:2] == [("--", 1.2), ("-", 2.4)]  # training thin and dashed, test bold
    # one colour per depth, the same in both panels
    assert plain.lines[0].get_color() == residual.lines[0].get_color() != plain.lines[2].get_color()
    test_56 = residual.lines[5]
    assert list(test_56.get_ydata()) == pytest.approx([32.0])  # the mean of 31 % and 33 %
    plt.close(figure)


def test_the_paper_profile_measures_the_test_split_every_epoch_for_the_curves(benchmark, monkeypatch):
    configs = []

    def fake_train(model, dataset, config, *, seed, label, **ignored):
        configs.append(config)
        return history(label, seed, *PAPER_SHAPE[label, seed])

    monkeypatch.setattr(run_report.train, "train", fake_train)
    load_dataset = data.load_dataset  # the real one, before it is replaced
    monkeypatch.setattr(benchmark.data, "load_dataset",
                        lambda **kwargs: load_dataset("synthetic", num_train=8, num_test=8, seed=0, verbose=False))
    benchmark.main(["--depths", "20", "56", "--seeds", "0", "--profile", "paper"])
    assert configs and all(config.test_every_epoch and config.epochs == profiles.PAPER.epochs for config in configs)
    assert not profiles.PAPER.test_every_epoch  # the profile itself is unchanged
