"""The degradation benchmark's verdict: the deep net must end worse than the shallow one, yet clearly learn."""

import importlib.util
import pathlib
import sys

import pytest

from resnet_lessons import data, run_report, train

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "degradation_seeds.py"


@pytest.fixture(scope="module")
def benchmark():
    spec = importlib.util.spec_from_file_location("degradation_seeds_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def fake_training(final_train_error):
    """Replace train.train by a history whose final training error is given per (seed, depth)."""

    def fake_train(model, dataset, config, *, seed, label, **ignored):
        depth = int(model.name.replace("plain", ""))
        history = train.TrainingHistory(label=label, profile=config.name, data_description="fake", seed=seed,
                                        steps_per_epoch=1)
        history.append(epoch=1, train_loss=1.0, train_error=final_train_error[seed, depth], held_out_loss=1.0,
                       held_out_error=0.5, learning_rate=0.1, seconds=1.0)
        return history

    return fake_train


@pytest.mark.parametrize("errors, status, verdict", [
    ({(0, 20): 0.50, (0, 56): 0.80}, 0, "degradation"),          # learns (10 points below chance), 30 points worse
    ({(0, 20): 0.50, (0, 56): 0.89}, 1, "barely learns"),        # worse, but within 5 points of chance
    ({(0, 20): 0.50, (0, 56): 0.52}, 1, "gap below 5 points"),   # learns, but no degradation
])
def test_the_verdict_needs_a_gap_and_learning(benchmark, monkeypatch, capsys, errors, status, verdict):
    monkeypatch.setattr(run_report.train, "train", fake_training(errors))
    load_dataset = data.load_dataset  # the real one, before it is replaced
    monkeypatch.setattr(benchmark.data, "load_dataset",
                        lambda **kwargs: load_dataset("synthetic", num_train=8, num_test=8, seed=0, verbose=False))
    assert benchmark.main(["--seeds", "0"]) == status
    summary = capsys.readouterr().out.split("chance is 90 %")[1]
    assert verdict in summary


@pytest.mark.parametrize("arguments, message", [
    (["--depths", "20"], "at least two depths"), (["--depths", "21", "56"], "6n"),
    (["--seeds", "-1"], "non-negative"), (["--learning-rate", "0"], "positive"), (["--epochs", "0"], "positive"),
])
def test_bad_arguments_are_refused(benchmark, capsys, arguments, message):
    with pytest.raises(SystemExit):
        benchmark.parse_arguments(arguments)
    assert message in capsys.readouterr().err


def test_the_report_is_written_after_each_run_and_marked_complete_at_the_end(benchmark, monkeypatch, tmp_path):
    errors = {(0, 20): 0.50, (0, 56): 0.80, (1, 20): 0.52, (1, 56): 0.82}
    trained = []
    fake = fake_training(errors)

    def interrupted_after_two_runs(model, dataset, config, **kwargs):
        if len(trained) == 2:
            raise KeyboardInterrupt
        trained.append(kwargs["checkpoint_dir"])
        return fake(model, dataset, config, **kwargs)

    monkeypatch.setattr(run_report.train, "train", interrupted_after_two_runs)
    load_dataset = data.load_dataset  # the real one, before it is replaced
    monkeypatch.setattr(benchmark.data, "load_dataset",
                        lambda **kwargs: load_dataset("synthetic", num_train=8, num_test=8, seed=0, verbose=False))
    path = tmp_path / "report.json"
    arguments = ["--seeds", "0", "1", "--checkpoints", str(tmp_path / "runs"), "--json", str(path)]
    with pytest.raises(KeyboardInterrupt):
        benchmark.main(arguments)
    partial = run_report.RunReport.load(path)
    assert not partial.complete and [(run.name, run.seed) for run in partial.runs] == [("plain-20", 0), ("plain-56", 0)]
    assert trained == [tmp_path / "runs" / "plain-20-seed0", tmp_path / "runs" / "plain-56-seed0"]
    assert partial.command == "python benchmarks/degradation_seeds.py " + " ".join(arguments)

    monkeypatch.setattr(run_report.train, "train", fake)
    assert benchmark.main(arguments) == 0
    finished = run_report.RunReport.load(path)
    assert finished.complete and len(finished.runs) == 4
    assert finished.run("plain-56", 1).history.final("train_error") == 0.82
    assert finished.environment["cpu_cores"] >= 1 and finished.config.name == "quick"
