"""Checkpoints: an epoch saved completely or not at all, restored with the optimiser's state, refused for another run.

``tests/test_train.py`` checks the same through :func:`resnet_lessons.train.train` (an interrupted run resumes
without losing an epoch, a finished one is extended); here the :class:`~resnet_lessons.checkpoints.Checkpoint`
callback is used on its own, on a model small enough to train in a fraction of a second.
"""

import dataclasses
import json

import keras
import numpy as np
import pytest

from resnet_lessons import checkpoints, profiles, seeding, train

CONFIG = dataclasses.replace(profiles.QUICK, name="tiny", epochs=2, batch_size=4, warmup_iterations=0)
STEPS = 2  # 8 examples in batches of 4


def tiny_model(seed=0):
    seeding.set_seed(seed)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3, name="dense")(inputs), name="tiny")
    train.compile_for_training(model, CONFIG, STEPS)
    return model


def examples():
    rng = np.random.default_rng(0)
    return rng.normal(size=(8, 4)).astype("float32"), rng.integers(0, 3, size=8)


def new_checkpoint(directory, model, *, config=CONFIG, seed=0):
    history = train.TrainingHistory(label="tiny", profile=config.name, data_description="8 random vectors", seed=seed,
                                    steps_per_epoch=STEPS)
    return checkpoints.Checkpoint(directory, model, config, seed, history)


def train_with_checkpoint(directory, epochs=2):
    model = tiny_model()
    checkpoint = new_checkpoint(directory, model)
    assert checkpoint.restore().epochs == []  # nothing saved yet: the empty history, and the folder is made
    assert directory.is_dir()
    x, y = examples()
    model.fit(x, y, batch_size=4, epochs=epochs, callbacks=[checkpoint], shuffle=False, verbose=0)
    return model


def test_an_epoch_is_saved_and_restored_with_the_optimizers_state(tmp_path):
    trained = train_with_checkpoint(tmp_path / "run")
    # only the latest epoch is kept, next to the run file that points to it
    assert sorted(path.name for path in (tmp_path / "run").iterdir()) == ["epoch-0002", "run.json"]
    restored = tiny_model(seed=1)  # other initial weights, overwritten by the restore
    history = new_checkpoint(tmp_path / "run", restored).restore()
    assert isinstance(history, train.TrainingHistory) and history.label == "tiny"
    assert int(restored.optimizer.iterations) == 2 * STEPS
    for saved, loaded in zip(trained.weights, restored.weights):
        np.testing.assert_array_equal(saved.numpy(), loaded.numpy())


def test_the_run_file_has_the_layout_of_the_stored_benchmark_checkpoints(tmp_path):
    # The layout of the run.json files benchmarks/figure6.py writes (and resumes from): the config without its
    # number of epochs, so that a finished run can be extended, and tuples stored as lists.
    train_with_checkpoint(tmp_path / "run")
    saved = json.loads((tmp_path / "run" / checkpoints.RUN_FILE).read_text())
    assert sorted(saved) == ["config", "data", "epochs_done", "latest", "model", "parameters", "seed"]
    fields = [field.name for field in dataclasses.fields(profiles.TrainConfig)]
    assert list(saved["config"]) == [name for name in fields if name != "epochs"]
    assert saved["config"]["decay_epochs"] == list(CONFIG.decay_epochs)
    assert (saved["model"], saved["parameters"], saved["seed"]) == ("tiny", 15, 0)
    assert (saved["latest"], saved["epochs_done"]) == ("epoch-0002", 2)
    assert checkpoints.RUN_FILE == "run.json"


def test_a_checkpoint_of_another_run_is_refused_and_a_longer_config_accepted(tmp_path):
    train_with_checkpoint(tmp_path / "run")
    with pytest.raises(ValueError, match=r"belongs to another run \(its seed differ"):
        new_checkpoint(tmp_path / "run", tiny_model(), seed=3).restore()
    other = dataclasses.replace(CONFIG, learning_rate=0.5)
    with pytest.raises(ValueError, match=r"its config differ"):
        new_checkpoint(tmp_path / "run", tiny_model(), config=other).restore()
    longer = dataclasses.replace(CONFIG, epochs=5)  # the same run, to be extended
    assert new_checkpoint(tmp_path / "run", tiny_model(), config=longer).restore().steps_per_epoch == STEPS


def test_a_damaged_checkpoint_is_refused(tmp_path):
    train_with_checkpoint(tmp_path / "run")
    run_file = tmp_path / "run" / checkpoints.RUN_FILE
    checkpoints.write_json_atomically(run_file, {**json.loads(run_file.read_text()), "epochs_done": 3})
    with pytest.raises(ValueError, match="restored the optimizer at step 4, expected 6: the checkpoint is damaged"):
        new_checkpoint(tmp_path / "run", tiny_model()).restore()


def test_json_is_written_atomically(tmp_path):
    path = tmp_path / "values.json"
    checkpoints.write_json_atomically(path, {"a": [1, 2]})
    checkpoints.write_json_atomically(str(path), {"a": 3})  # replaced; a string path works too
    assert json.loads(path.read_text()) == {"a": 3}
    assert [item.name for item in tmp_path.iterdir()] == ["values.json"]  # no temporary file left behind
