"""Run reports: the stored results of long benchmarks round-trip, and bad files give clear errors."""

import dataclasses
import json

import pytest

from resnet_lessons import profiles, run_report, train


def history(label, seed, errors):
    result = train.TrainingHistory(label=label, profile="medium", data_description="CIFAR-10, test data", seed=seed,
                                   steps_per_epoch=351)
    for epoch, error in enumerate(errors, start=1):
        result.append(epoch=epoch, train_loss=2.0, train_error=error, held_out_loss=2.1, held_out_error=error + 0.05,
                      learning_rate=0.1, seconds=30.0, validation=True)
    result.final_test_loss, result.final_test_error = 2.2, errors[-1] + 0.06
    return result


def report(**changes):
    runs = [run_report.Run(name="plain-20", depth=20, residual=False, seed=0, history=history("plain-20", 0, [0.7, 0.5])),
            run_report.Run(name="plain-56", depth=56, residual=False, seed=0, history=history("plain-56", 0, [0.86, 0.8]))]
    values = dict(command="python benchmarks/x.py --seeds 0", config=dataclasses.replace(profiles.MEDIUM, epochs=2),
                  environment={"cpu": "test CPU", "cpu_cores": 2}, runs=runs, complete=True, seconds=120.0,
                  load_average_after=[1.0, 1.5, 2.0])
    return run_report.RunReport(**{**values, **changes})


def test_a_report_round_trips_through_its_file(tmp_path):
    path = tmp_path / "report.json"
    original = report()
    original.save(path)
    loaded = run_report.RunReport.load(path)
    assert loaded == original
    assert loaded.config.decay_epochs == (5, 8)  # a tuple again, so the config is the profile's type
    assert loaded.run("plain-56", 0).history.final("train_error") == 0.8
    assert loaded.run("plain-56", 0).history.final("test_error") == pytest.approx(0.86)
    assert not list(tmp_path.glob(".*partial"))  # written atomically


def test_an_unknown_run_names_the_runs_there_are():
    with pytest.raises(ValueError, match=r"no run of 'plain-32' with seed 0 .*plain-20 \(seed 0\), plain-56 \(seed 0\)"):
        report().run("plain-32", 0)
    with pytest.raises(ValueError, match="seed 1"):
        report().run("plain-20", 1)
    with pytest.raises(ValueError, match="no run of 'resnet-20' in this report; runs: plain-20, plain-56"):
        report().mean_final("resnet-20", "train_error")


def test_the_mean_over_seeds_of_a_final_value():
    runs = report().runs + [run_report.Run(name="plain-56", depth=56, residual=False, seed=1,
                                           history=history("plain-56", 1, [0.9, 0.7]))]
    assert report(runs=runs).mean_final("plain-56", "train_error") == pytest.approx(0.75)
    assert report(runs=runs).mean_final("plain-20", "test_error") == pytest.approx(0.56)


def test_bad_files_are_refused_clearly(tmp_path):
    with pytest.raises(ValueError, match="no run report at .*missing.json"):
        run_report.RunReport.load(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="broken.json' is not a run report \\(invalid JSON"):
        run_report.RunReport.load(broken)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"results": []}))
    with pytest.raises(ValueError, match="has no 'runs'"):
        run_report.RunReport.load(other)
    future = tmp_path / "future.json"
    future.write_text(json.dumps({**report().to_dict(), "report_version": 99}))
    with pytest.raises(ValueError, match="version 99 is not supported: expected 1"):
        run_report.RunReport.load(future)


def test_a_plan_reuses_the_runs_another_benchmark_finished(tmp_path, capsys):
    from resnet_lessons import data
    dataset = data.load_dataset("synthetic", num_train=128, num_test=64, seed=0, verbose=False)
    config = dataclasses.replace(profiles.MEDIUM, name="tiny", epochs=2, decay_epochs=(1,), batch_size=32,
                                 train_examples=96, test_examples=64, validation_examples=32, image_size=8)
    first = run_report.run_plan([run_report.PlannedRun(depth=20, residual=False, seed=0)], dataset, config,
                                command="first", checkpoints=tmp_path / "runs")
    path = tmp_path / "report.json"
    plan = [run_report.PlannedRun(depth=20, residual=False, seed=0), run_report.PlannedRun(depth=20, residual=True,
                                                                                         seed=0)]
    second = run_report.run_plan(plan, dataset, config, command="second", report_path=path,
                                 checkpoints=tmp_path / "runs")
    # read back, not trained again: the same history, to the second of every epoch
    assert second.run("plain-20", 0).history.to_dict() == first.runs[0].history.to_dict()
    resnet = second.run("resnet-20", 0)
    assert resnet.residual and resnet.history.epochs == [1, 2] and len(resnet.history.test_error) == 2
    assert (tmp_path / "runs" / "resnet-20-seed0" / "run.json").is_file()
    stored = run_report.RunReport.load(path)
    assert stored.complete and stored.command == "second" and stored.config == config
    assert stored.seconds == pytest.approx(sum(run.history.total_seconds for run in stored.runs))
    printed = capsys.readouterr().out
    assert "plain-20 seed 0: final training error" in printed and "1 run left, about" in printed


def test_an_empty_plan_is_refused():
    with pytest.raises(ValueError, match="no runs"):
        run_report.run_plan([], None, profiles.MEDIUM, command="x")


def test_a_report_says_where_it_came_from():
    described = report(environment={"cpu": "test CPU", "cpu_cores": 2, "date_utc": "2026-12-01T10:00:00",
                                    "tensorflow": "2.21.0", "keras": "3.15.1", "load_average": [0.5, 0.4, 0.3]})
    lines = described.describe().splitlines()
    assert lines[0] == "Data of the stored run: CIFAR-10, test data"
    assert lines[1].startswith("Recipe: profile 'medium': 2 epochs")
    assert lines[2] == "Made by: python benchmarks/x.py --seeds 0"
    assert lines[3] == ("On a 2-core CPU (test CPU), 2026-12-01, TensorFlow 2.21.0, Keras 3.15.1; load average "
                        "[0.5, 0.4, 0.3] at the start, [1.0, 1.5, 2.0] at the end")
    assert lines[4] == "2 runs, 2 minutes of training"
    assert report(complete=False).describe().endswith("so far: the benchmark has not finished")
