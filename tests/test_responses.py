"""Fig. 7's layer responses: which layers are measured, the measurement itself, its report, checks and figure;
and reading the trained networks of a stored benchmark back from their checkpoints (benchmarks/figure7.py)."""

import dataclasses
import importlib.util
import pathlib
import sys

import keras
import numpy as np
import pytest

from resnet_lessons import data, models, profiles, responses, run_report, seeding, train

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "figure7.py"


def test_every_3x3_layer_of_a_cifar_network_is_measured_in_order():
    names = responses.response_layer_names(models.cifar_network(20, residual=True, input_shape=(8, 8, 3)))
    assert len(names) == 19  # the stem and the two layers of each of the 9 blocks
    assert names[:3] == ["conv1_bn", "conv2_block1_1_bn", "conv2_block1_2_bn"]
    assert names[-1] == "conv4_block3_2_bn"


def tiny_network():
    """input -> 1x1 conv -> BN -> 3x3 conv -> BN: only the second batch norm follows a 3x3 layer."""
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(2, 1, use_bias=False, name="pointwise")(inputs)
    x = keras.layers.BatchNormalization(name="pointwise_bn")(x)
    x = keras.layers.Conv2D(2, 3, padding="same", use_bias=False, name="spatial")(x)
    x = keras.layers.BatchNormalization(epsilon=1e-3, name="spatial_bn")(x)
    return keras.Model(inputs, x, name="tiny")


def test_only_batch_norms_after_3x3_convolutions_count():
    assert responses.response_layer_names(tiny_network()) == ["spatial_bn"]
    inputs = keras.Input((4,))
    dense_only = keras.Model(inputs, keras.layers.BatchNormalization()(keras.layers.Dense(3)(inputs)), name="dense")
    with pytest.raises(ValueError, match="'dense' has no 3x3 convolution"):
        responses.response_layer_names(dense_only)
    with pytest.raises(ValueError, match="must be a Keras model, got str"):
        responses.response_layer_names("resnet-20")


def test_the_std_is_pooled_over_all_images_positions_and_channels():
    model = tiny_network()
    identity = np.zeros((1, 1, 2, 2), dtype="float32")
    identity[0, 0] = np.eye(2)
    model.get_layer("pointwise").set_weights([identity])
    centre = np.zeros((3, 3, 2, 2), dtype="float32")
    centre[1, 1] = np.eye(2)
    model.get_layer("spatial").set_weights([centre])
    # inference mode: (x - moving mean) / sqrt(moving variance + eps) * gamma + beta, with gamma 2 and 3
    model.get_layer("spatial_bn").set_weights([np.array([2.0, 3.0]), np.zeros(2), np.zeros(2), np.ones(2)])
    images = np.random.default_rng(0).uniform(0, 255, (10, 6, 6, 2)).astype("float32")
    mean, std = [100.0, 120.0, 0.0], [50.0, 60.0, 1.0]
    with pytest.raises(ValueError, match=r"shape \(N, 6, 6, 2\) for model 'tiny', got shape \(10, 6, 6\)"):
        responses.response_stds(model, images[..., 0], mean=mean, std=std)
    # the pipeline normalises three channels; this network takes two, so normalise by hand and pass unit statistics
    normalised = (images - np.array(mean[:2])) / np.array(std[:2])
    # both batch norms are at their initial moving statistics (mean 0, variance 1), each dividing by sqrt(1 + eps)
    expected = (normalised * np.array([2.0, 3.0]) / (1 + 1e-3)).std()

    def two_channel_pipeline(images, labels, *, batch_size, mean, std):
        for start in range(0, len(images), batch_size):
            yield (images[start:start + batch_size] - np.array(mean[:2])) / np.array(std[:2]), None

    measured = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(responses.pipeline, "eval_pipeline", two_channel_pipeline)
        for batch_size in (3, 10):  # a remainder batch of 1, and one batch
            measured.append(responses.response_stds(model, images, mean=mean, std=std, batch_size=batch_size))
    assert measured[0] == pytest.approx([expected], rel=1e-5)
    assert measured[1] == pytest.approx(measured[0], rel=1e-6)


def responses_of(values):
    """A report of networks whose layers respond with the given stds: {name: stds}."""
    networks = [responses.NetworkResponses(name=name, depth=int(name.split("-")[1]), residual=name.startswith("res"),
                                           seed=0, layers=[f"layer{i}" for i in range(len(stds))], stds=list(stds))
                for name, stds in values.items()]
    return responses.ResponseReport(command="python benchmarks/figure7.py", source="test networks",
                                    environment={"cpu": "test CPU"}, networks=networks)


PAPER_READING = {"plain-20": [1.0, 1.2, 0.9], "plain-56": [1.1, 1.3, 1.0],
                 "resnet-20": [0.8, 0.7, 0.9], "resnet-56": [0.5, 0.6, 0.4]}


def test_the_papers_readings_hold_for_the_papers_shape_and_each_can_fail():
    assert [finding.holds for finding in responses.findings(responses_of(PAPER_READING))] == [True, True]
    louder_resnet = {**PAPER_READING, "resnet-20": [1.3, 1.4, 0.8]}
    readings = responses.findings(responses_of(louder_resnet))
    assert not readings[0].holds and "20 layers: median 1.30 against 1.00, smaller at 1 of 3" in readings[0].evidence
    assert readings[1].holds
    deeper_louder = {**PAPER_READING, "resnet-56": [0.9, 0.95, 0.85]}
    assert [finding.holds for finding in responses.findings(responses_of(deeper_louder))] == [True, False]
    assert responses.findings(responses_of({"plain-20": [1.0]})) == []


def test_a_response_report_round_trips_and_bad_files_are_refused(tmp_path):
    original = responses_of(PAPER_READING)
    original.save(tmp_path / "figure7.json")
    loaded = responses.ResponseReport.load(tmp_path / "figure7.json")
    assert loaded == original and loaded.network("resnet-56").stds == [0.5, 0.6, 0.4]
    with pytest.raises(ValueError, match="no network 'resnet-32' in the report; it has plain-20, plain-56, resnet-20, resnet-56"):
        loaded.network("resnet-32")
    with pytest.raises(ValueError, match="no response report at .*missing.json"):
        responses.ResponseReport.load(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ValueError, match="not a response report \\(invalid JSON"):
        responses.ResponseReport.load(tmp_path / "broken.json")
    (tmp_path / "other.json").write_text('{"runs": []}')
    with pytest.raises(ValueError, match="has no 'networks'"):
        responses.ResponseReport.load(tmp_path / "other.json")


def test_the_figure_has_the_papers_layout():
    figure = responses.plot(responses_of(PAPER_READING))
    top, bottom = figure.axes[:2]
    assert len(top.lines) == len(bottom.lines) == 4
    by_label = {line.get_label(): line for line in bottom.lines}
    assert list(by_label["plain-20"].get_ydata()) == [1.2, 1.0, 0.9]  # sorted, largest first
    assert by_label["plain-20"].get_linestyle() == "--" and by_label["resnet-20"].get_linestyle() == "-"
    assert "original order" in top.get_xlabel() and "sorted" in bottom.get_xlabel()


TINY = dataclasses.replace(profiles.MEDIUM, name="tiny", epochs=2, decay_epochs=(1,), batch_size=32,
                           train_examples=96, test_examples=64, validation_examples=32, image_size=8)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """plain-20 and ResNet-20 trained under a tiny profile into a checkpoint folder, with their run report."""
    folder = tmp_path_factory.mktemp("runs")
    dataset = data.load_dataset("synthetic", num_train=128, num_test=64, seed=0, verbose=False)
    plan = [run_report.PlannedRun(depth=20, residual=residual, seed=0) for residual in (False, True)]
    report_path = folder / "figure6.json"
    run_report.run_plan(plan, dataset, TINY, command="python benchmarks/figure6.py", report_path=report_path,
                        checkpoints=folder / "checkpoints")
    return dataset, folder, report_path


def test_a_finished_run_is_read_back_with_its_trained_weights(trained):
    dataset, folder, _ = trained
    planned = run_report.PlannedRun(depth=20, residual=True, seed=0)
    model = run_report.trained_network(planned, folder / "checkpoints", TINY)
    seeding.set_seed(0)
    fresh = models.cifar_network(20, residual=True, input_shape=TINY.input_shape)
    # the same initial weights as the run started from, moved by two epochs of training
    assert not np.allclose(model.get_layer("conv1_conv").kernel.numpy(), fresh.get_layer("conv1_conv").kernel.numpy())
    trainer = models.cifar_network(20, residual=True, input_shape=TINY.input_shape)
    train.train(trainer, dataset, TINY, seed=0, checkpoint_dir=folder / "checkpoints" / "resnet-20-seed0",
                verbose=False)  # restores the finished run: nothing to train
    for mine, theirs in zip(model.weights, trainer.weights):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def test_reading_back_refuses_missing_foreign_and_unfinished_runs(trained):
    _, folder, _ = trained
    checkpoints = folder / "checkpoints"
    with pytest.raises(ValueError, match="no checkpoint of resnet-56 seed 0 in .*resnet-56-seed0"):
        run_report.trained_network(run_report.PlannedRun(depth=56, residual=True, seed=0), checkpoints, TINY)
    planned = run_report.PlannedRun(depth=20, residual=False, seed=0)
    with pytest.raises(ValueError, match="holds 'plain20' of profile 'tiny', seed 0; expected 'plain20' of profile "
                                         "'medium'"):
        run_report.trained_network(planned, checkpoints, profiles.MEDIUM)
    with pytest.raises(ValueError, match="holds 2 of 3 epochs: finish the run first"):
        run_report.trained_network(planned, checkpoints, dataclasses.replace(TINY, epochs=3))


@pytest.fixture(scope="module")
def benchmark():
    spec = importlib.util.spec_from_file_location("figure7_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_the_benchmark_measures_every_network_of_the_report(benchmark, trained, monkeypatch, capsys):
    dataset, folder, report_path = trained
    monkeypatch.setattr(benchmark.data, "load_dataset", lambda **kwargs: dataset)
    output = folder / "figure7.json"
    status = benchmark.main(["--report", str(report_path), "--checkpoints", str(folder / "checkpoints"),
                             "--json", str(output)])
    stored = responses.ResponseReport.load(output)
    assert [network.name for network in stored.networks] == ["plain-20", "resnet-20"]
    assert all(len(network.stds) == 19 and min(network.stds) > 0 for network in stored.networks)
    assert "profile 'tiny'" in stored.source and "64 test images at 8x8" in stored.source
    assert stored.command.startswith("python benchmarks/figure7.py --report")
    readings = responses.findings(stored)
    assert status == (0 if all(finding.holds for finding in readings) else 1)
    printed = capsys.readouterr().out
    assert "resnet-20 seed 0: 19 layers" in printed and "Fig. 7's readings" in printed
