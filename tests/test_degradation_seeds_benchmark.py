"""The degradation benchmark's verdict: the deep net must end worse than the shallow one, yet clearly learn."""

import importlib.util
import pathlib
import sys

import pytest

from resnet_lessons import synthetic, train

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

    def fake_train(model, dataset, config, *, seed, verbose):
        depth = int(model.name.replace("plain", ""))
        history = train.TrainingHistory(label=model.name, profile=config.name, data_description="fake", seed=seed,
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
    monkeypatch.setattr(benchmark.train, "train", fake_training(errors))
    monkeypatch.setattr(benchmark.data, "load_dataset",
                        lambda **kwargs: synthetic.make_synthetic_cifar(num_train=8, num_test=8, seed=0))
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
