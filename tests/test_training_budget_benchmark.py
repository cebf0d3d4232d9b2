"""The training-budget benchmark: its plan, its recipes and its one result file, on tiny synthetic runs."""

import importlib.util
import pathlib
import sys

import pytest

from resnet_lessons import data, profiles, run_report, shipped_weights

BENCHMARKS = pathlib.Path(__file__).resolve().parent.parent / "benchmarks"
TOOLS = BENCHMARKS.parent / "tools"


def load_script(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def benchmark():
    module = load_script(BENCHMARKS / "training_budget.py", "training_budget_benchmark")
    sys.modules[module.__name__] = module
    yield module
    del sys.modules[module.__name__]


def test_the_shipped_networks_come_first_then_the_shorter_budgets_then_other_seeds(benchmark):
    plan = [(epochs, run.name, run.seed) for epochs, run in benchmark.plan_runs([10, 20, 40], [0, 1], plain=True)]
    assert plan == [(40, "resnet-20", 0), (40, "resnet-56", 0), (40, "plain-20", 0), (40, "plain-56", 0),
                    (20, "resnet-20", 0), (20, "resnet-56", 0), (10, "resnet-20", 0), (10, "resnet-56", 0),
                    (40, "resnet-20", 1), (40, "resnet-56", 1)]


def test_each_budget_decays_after_half_and_three_quarters_of_it(benchmark):
    assert benchmark.recipe_for_budget(profiles.MEDIUM, 10) is profiles.MEDIUM  # (5, 8): the stored Fig. 6 runs'
    longer = benchmark.recipe_for_budget(profiles.MEDIUM, 40)
    assert (longer.epochs, longer.decay_epochs, longer.name) == (40, (20, 30), "medium, 40 epochs")
    assert longer.learning_rate == profiles.MEDIUM.learning_rate and longer.image_size == 16


@pytest.mark.slow  # about 30 s: six tiny networks trained for 2 to 3 epochs, two of them shipped
def test_every_run_lands_in_one_file_marked_complete_at_the_end(benchmark, monkeypatch, tmp_path, capsys):
    tiny = profiles.TrainConfig(name="tiny", epochs=2, batch_size=16, learning_rate=0.02, decay_epochs=(1,),
                                warmup_iterations=0, train_examples=None, test_examples=16,
                                validation_examples=16, image_size=8, augment=False, test_every_epoch=True)
    get_profile = profiles.get_profile  # the real one: it also passes the recipes of the budgets through
    monkeypatch.setattr(benchmark.profiles, "get_profile", lambda name=None: tiny if name == "medium" else
                        get_profile(name))
    load_dataset = data.load_dataset  # the real one, before it is replaced
    monkeypatch.setattr(benchmark.data, "load_dataset", lambda **kwargs: load_dataset(
        "synthetic", num_train=48, num_test=16, seed=0, verbose=False))
    result = tmp_path / "budget.json"
    arguments = ["--budgets", "2", "3", "--plain", "--checkpoints", str(tmp_path / "runs"), "--json", str(result)]
    assert benchmark.main(arguments) == 0
    reports = run_report.load_reports(result)
    assert [(report.config.epochs, [run.name for run in report.runs]) for report in reports] == [
        (2, ["resnet-20", "resnet-56"]), (3, ["resnet-20", "resnet-56", "plain-20", "plain-56"])]
    assert all(report.complete and report.command.startswith("python benchmarks/training_budget.py")
               for report in reports)
    assert [[len(run.history.test_error) for run in report.runs] for report in reports] == [[2, 2], [3, 3, 3, 3]]
    assert all(run.history.validation_error for report in reports for run in report.runs)
    # run again: every run is read back from its checkpoint, nothing is trained twice
    monkeypatch.setattr(run_report.train.keras.Model, "fit", lambda *a, **k: pytest.fail("trained again"))
    assert benchmark.main(arguments) == 0

    # the finished runs ship: float16 files and a manifest, reloaded and measured by the full check
    ship_tool = load_script(TOOLS / "ship_weights.py", "ship_weights_tool")
    check = load_script(BENCHMARKS / "shipped_weights.py", "shipped_weights_benchmark")
    for script in (ship_tool, check):
        monkeypatch.setattr(script.data, "load_dataset", lambda **kwargs: load_dataset(
            "synthetic", num_train=48, num_test=16, seed=0, verbose=False))
    weights = tmp_path / "weights"
    ship_tool.main(["--report", str(result), "--checkpoints", str(tmp_path / "runs"), "--epochs", "3",
                    "--folder", str(weights), "resnet-20", "plain-56"])
    assert "reloaded from float16" in capsys.readouterr().out
    manifest = shipped_weights.read_manifest(weights)
    assert sorted(manifest) == ["plain-56", "resnet-20"]
    assert manifest["plain-56"].epochs == 3 and not manifest["plain-56"].residual
    assert set(manifest["resnet-20"].errors) == {"train_error", "val_error", "test_error", "test_error_first_1000"}
    check.main(["--folder", str(weights)])
    assert "resnet-20" in capsys.readouterr().out


@pytest.mark.parametrize("arguments, message", [
    (["--budgets", "1", "10"], "at least 2"), (["--budgets", "10", "10"], "distinct"), (["--seeds", "-1"], "seeds"),
])
def test_bad_arguments_are_refused(benchmark, capsys, arguments, message):
    with pytest.raises(SystemExit):
        benchmark.parse_arguments(arguments)
    assert message in capsys.readouterr().err
