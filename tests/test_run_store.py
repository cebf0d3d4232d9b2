"""Tests of resnet_lessons.run_store: a finished run is trained once and read back after, bit for bit."""

import dataclasses
import functools
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from resnet_lessons import checkpoints, data, models, profiles, run_store, seeding, train

TINY = dataclasses.replace(profiles.QUICK, name="tiny", epochs=2, batch_size=32, train_examples=64,
                           test_examples=32, image_size=8, decay_epochs=(), warmup_iterations=0)
BUILD = functools.partial(models.plain20, input_shape=TINY.input_shape)


@pytest.fixture(scope="module")
def dataset():
    return data.load_dataset("synthetic", num_train=64, num_test=32, seed=0, verbose=False)


def weights_of(model):
    return [np.asarray(weight) for weight in model.get_weights()]


def test_a_finished_run_is_read_back_instead_of_trained_again(dataset, tmp_path, capsys, monkeypatch):
    first, first_history = run_store.trained(BUILD, dataset, TINY, seed=0, label="plain-20", store=tmp_path)
    trained_output = capsys.readouterr().out
    assert trained_output.splitlines()[-1] == train.summary_line(first_history)
    after_training = np.random.random(3)  # the global seeds are reset on return

    def no_fit(*args, **kwargs):
        raise AssertionError("a stored run must not be trained again")

    monkeypatch.setattr(keras.Model, "fit", no_fit)
    again, history = run_store.trained(BUILD, dataset, TINY, seed=0, label="the same net", store=tmp_path)
    reused_output = capsys.readouterr().out
    assert reused_output == train.summary_line(history, note=" (read back from the run store)") + "\n"
    assert reused_output.startswith("the same net (read back from the run store): 2 epochs in ")
    assert f"training error {100 * history.final('train_error'):.1f} %" in reused_output
    assert str(tmp_path) not in reused_output  # no machine path in a notebook's output
    np.testing.assert_array_equal(np.random.random(3), after_training)
    assert history.label == "the same net"  # this caller's label, not the one it was trained under
    assert dataclasses.replace(history, label="plain-20") == first_history
    for stored, fresh in zip(weights_of(again), weights_of(first)):
        np.testing.assert_array_equal(stored, fresh)
    assert [path.name.split("-")[0] for path in tmp_path.iterdir()] == ["plain20"]


def test_the_key_holds_everything_that_decides_a_run(dataset, tmp_path):
    model = BUILD()
    folder = run_store.run_folder(model, dataset, TINY, 0, tmp_path)
    assert folder.parent == tmp_path and folder.name.startswith("plain20-") and len(folder.name) == len("plain20-") + 16
    others = [run_store.run_folder(model, dataset, TINY, 1, tmp_path),
              run_store.run_folder(model, dataset, dataclasses.replace(TINY, epochs=3), 0, tmp_path),
              run_store.run_folder(model, dataset, dataclasses.replace(TINY, learning_rate=0.05), 0, tmp_path),
              run_store.run_folder(model, data.subset(dataset, 32, 32), TINY, 0, tmp_path),
              run_store.run_folder(models.resnet20(input_shape=TINY.input_shape), dataset, TINY, 0, tmp_path),
              # the same network built with other initial weights (chapter 7's Dirac plain-56)
              run_store.run_folder(models.plain20(input_shape=TINY.input_shape, kernel_initializer="zeros"), dataset,
                                   TINY, 0, tmp_path)]
    # the same name, size and initial weights, another function: a ReLU on the logits (chapter 5)
    seeding.set_seed(0)
    plain = BUILD()
    seeding.set_seed(0)
    with_relu = models.plain20(input_shape=TINY.input_shape, classifier_activation="relu")
    assert weights_of(with_relu)[0].tobytes() == weights_of(plain)[0].tobytes() and with_relu.name == plain.name
    others.append(run_store.run_folder(with_relu, dataset, TINY, 0, tmp_path))
    assert run_store.run_folder(plain, dataset, TINY, 0, tmp_path) not in others
    assert len({folder, *others}) == 8
    seeding.set_seed(0)
    first = BUILD()
    seeding.set_seed(0)
    assert run_store.run_folder(BUILD(), dataset, TINY, 0, tmp_path) == run_store.run_folder(first, dataset, TINY, 0,
                                                                                            tmp_path)
    key = run_store.run_key(model, dataset, TINY, 0)
    assert sorted(key) == ["architecture", "config", "data", "initial_weights", "keras", "network", "parameters",
                           "resnet_lessons", "seed", "source", "tensorflow"]
    assert key["source"] == run_store.source_digest() and len(key["source"]) == 64
    assert key["config"]["epochs"] == 2 and key["data"] == dataset.description


def test_several_replicas_make_another_run_and_one_device_keeps_its_key(dataset, tmp_path, capsys):
    model = BUILD()
    one_device = run_store.run_folder(model, dataset, TINY, 0, tmp_path)
    assert run_store.run_folder(model, dataset, TINY, 0, tmp_path, replicas=1) == one_device
    assert run_store.run_folder(model, dataset, TINY, 0, tmp_path, replicas=2) != one_device
    assert run_store.run_key(model, dataset, TINY, 0, replicas=2)["replicas"] == 2
    with pytest.raises(ValueError, match="replicas must be a positive integer, got 0"):
        run_store.run_key(model, dataset, TINY, 0, replicas=0)
    # Trained without a strategy, the run is found again by a chapter that passes the default strategy explicitly.
    run_store.trained(BUILD, dataset, TINY, seed=0, store=tmp_path, verbose=False)
    _, history = run_store.trained(BUILD, dataset, TINY, seed=0, store=tmp_path, label="again",
                                   strategy=tf.distribute.get_strategy())
    assert capsys.readouterr().out.startswith("again (read back from the run store)")
    assert history.epochs == [1, 2]


def test_an_interrupted_run_is_finished_from_its_last_epoch(dataset, tmp_path, capsys):
    one_epoch = dataclasses.replace(TINY, epochs=1)
    model = BUILD()
    folder = run_store.run_folder(model, dataset, TINY, 0, tmp_path)
    # What an interruption after the first epoch leaves: a checkpoint of one of TINY's two epochs.
    train.train(model, dataset, one_epoch, seed=0, checkpoint_dir=folder, verbose=False)
    run_file = folder / checkpoints.RUN_FILE
    assert json.loads(run_file.read_text())["epochs_done"] == 1
    assert not run_store.is_finished(folder, TINY)
    _, history = run_store.trained(BUILD, dataset, TINY, seed=0, store=tmp_path)
    assert "Resuming from" in capsys.readouterr().out
    assert history.epochs == [1, 2] and run_store.is_finished(folder, TINY)


def test_the_store_folder_comes_from_the_argument_the_environment_or_the_default(tmp_path, monkeypatch):
    monkeypatch.delenv(run_store.STORE_ENVIRONMENT_VARIABLE, raising=False)
    assert run_store.store_folder() == run_store.DEFAULT_STORE.expanduser()
    monkeypatch.setenv(run_store.STORE_ENVIRONMENT_VARIABLE, str(tmp_path / "env"))
    assert run_store.store_folder() == tmp_path / "env"
    assert run_store.store_folder(tmp_path / "given") == tmp_path / "given"
    (tmp_path / "env" / "plain20-0").mkdir(parents=True)
    run_store.clear()
    assert not (tmp_path / "env").exists()


def test_bad_arguments_are_named(dataset, tmp_path):
    with pytest.raises(ValueError, match="build must be a function"):
        run_store.trained(BUILD(), dataset, TINY, store=tmp_path)
    with pytest.raises(ValueError, match="build\\(\\) must return a keras.Model, got int"):
        run_store.trained(lambda: 3, dataset, TINY, store=tmp_path)
    with pytest.raises(ValueError, match="dataset must be a data.ImageDataset"):
        run_store.trained(BUILD, (np.zeros((4, 8, 8, 3)), np.zeros(4)), TINY, store=tmp_path)
    with pytest.raises(ValueError, match="unknown profile"):
        run_store.trained(BUILD, dataset, "no-such-profile", store=tmp_path)
    with pytest.raises(ValueError, match="strategy must be a tf.distribute.Strategy or None, got str"):
        run_store.trained(BUILD, dataset, TINY, store=tmp_path, strategy="mirrored")


def test_the_source_digest_changes_with_the_package_code(tmp_path, monkeypatch):
    package = tmp_path / "resnet_lessons"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text("A = 1\n")
    monkeypatch.setattr(run_store.resnet_lessons, "__file__", str(package / "__init__.py"))
    before = run_store.source_digest()
    assert run_store.source_digest() == before
    (package / "models.py").write_text("A = 2\n")
    assert run_store.source_digest() != before
