"""Checkpoints: a training run saved after every epoch, so that an interruption loses at most the epoch in progress.

:func:`resnet_lessons.train.train` takes a ``checkpoint_dir`` and hands it to a :class:`Checkpoint`, which restores
the last finished epoch at the start of a run and saves each epoch as it ends (chapter 0 shows a run resumed). The
folder holds ``run.json``, which says what the run is and which epoch is the latest, and one ``epoch-NNNN`` folder
with that epoch's weights (the optimiser's state included) and history::

    checkpoint_dir/
        run.json            {"model", "parameters", "config" (no epochs), "seed", "data", "latest", "epochs_done"}
        epoch-0010/
            model.weights.h5
            history.json
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shutil

import keras

RUN_FILE = "run.json"


class Checkpoint(keras.callbacks.Callback):
    """Saves weights (with the optimiser's state) and history after every epoch; restores them at a run's start.

    Each epoch is written to a fresh folder ``epoch-NNNN``, and only then does ``run.json`` (replaced atomically)
    point to it; the previous folder is removed afterwards. An interruption at any moment leaves ``run.json``
    pointing to a complete epoch.

    Args:
        directory: the run's folder (created if missing).
        model: the compiled model being trained.
        config: its :class:`~resnet_lessons.profiles.TrainConfig`.
        seed: the run's seed.
        history: the run's empty :class:`~resnet_lessons.train.TrainingHistory`; a restored run continues the saved
            one, read back with the same class's ``load``.
    """

    def __init__(self, directory, model: keras.Model, config, seed: int, history):
        super().__init__()
        self.directory = pathlib.Path(directory)
        self.model_ = model
        # What makes two runs the same run, as JSON would store it (tuples become lists). Not the number of epochs:
        # epoch e's batches and learning rates do not depend on it, so a finished run can be extended.
        self.identity = json.loads(json.dumps({"model": model.name, "parameters": model.count_params(),
                                               "config": _without_epochs(dataclasses.asdict(config)), "seed": seed,
                                               "data": history.data_description}))
        self.history_ = history

    def restore(self):
        """The history of the run so far, with the model's weights and optimiser set to its last saved epoch.

        Returns the empty history given at construction (and creates the folder) if nothing is saved yet.

        Raises:
            ValueError: if the folder holds another run (naming what differs), or a damaged one.
        """
        run_file = self.directory / RUN_FILE
        if not run_file.exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            return self.history_
        saved = json.loads(run_file.read_text())
        differences = [key for key in self.identity if saved.get(key) != self.identity[key]]
        if differences:
            raise ValueError(
                f"checkpoint {self.directory} belongs to another run (its {', '.join(differences)} differ from this "
                f"one's); use another checkpoint_dir, or delete this one to start again")
        epoch_folder = self.directory / saved["latest"]
        # Keras saves a compiled model's optimizer state with its weights; it restores it only into a built optimizer.
        optimizer = self.model_.optimizer
        if not optimizer.built:
            optimizer.build(self.model_.trainable_variables)
        self.model_.load_weights(epoch_folder / "model.weights.h5")
        expected_iterations = saved["epochs_done"] * self.history_.steps_per_epoch
        if int(optimizer.iterations) != expected_iterations:
            raise ValueError(f"checkpoint {epoch_folder} restored the optimizer at step {int(optimizer.iterations)}, "
                             f"expected {expected_iterations}: the checkpoint is damaged; delete it to start again")
        self.history_ = type(self.history_).load(epoch_folder / "history.json")
        return self.history_

    def save_history(self) -> None:
        """Rewrite the latest epoch's history (after the run's final test measurement was added to it)."""
        latest = json.loads((self.directory / RUN_FILE).read_text())["latest"]
        self.history_.save(self.directory / latest / "history.json")

    def on_epoch_end(self, epoch, logs=None):
        folder_name = f"epoch-{epoch + 1:04d}"
        folder = self.directory / folder_name
        staging = self.directory / f".{folder_name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        self.model_.save_weights(staging / "model.weights.h5")  # the optimizer's state included
        self.history_.save(staging / "history.json")
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(staging, folder)
        run_file = self.directory / RUN_FILE
        previous = json.loads(run_file.read_text())["latest"] if run_file.exists() else None
        write_json_atomically(run_file, {**self.identity, "latest": folder_name, "epochs_done": epoch + 1})
        if previous and previous != folder_name:
            shutil.rmtree(self.directory / previous, ignore_errors=True)


def _without_epochs(config: dict) -> dict:
    return {key: value for key, value in config.items() if key != "epochs"}


def write_json_atomically(path, values: dict) -> None:
    """Write ``values`` as JSON to ``path`` through a temporary file, so that a crash never leaves half a file."""
    path = pathlib.Path(path)
    temporary = path.with_name(f".{path.name}.partial")
    temporary.write_text(json.dumps(values, indent=1))
    os.replace(temporary, path)
