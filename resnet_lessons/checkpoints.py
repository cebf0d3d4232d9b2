"""Checkpoints: a training run saved after every epoch, so that an interruption loses at most the epoch in progress.

:func:`resnet_lessons.train.train` hands its ``checkpoint_dir`` to a :class:`Checkpoint`, which restores the last
finished epoch at the start of a run and saves each epoch as it ends (chapter 0 resumes a run). The folder::

    checkpoint_dir/
        run.json            {"model", "parameters", "config" (no epochs), "seed", "data", "latest", "epochs_done"}
        epoch-0010/
            model.weights.h5  (the optimiser's state included)
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

    Each epoch is written to a fresh folder, and only then does ``run.json`` (replaced atomically) point to it; the
    previous folder goes afterwards. An interruption at any moment leaves ``run.json`` pointing to a complete epoch.

    Args:
        model: the model being trained, compiled by :func:`~resnet_lessons.train.compile_for_training` (which builds
            its optimizer: Keras restores the optimizer's state saved with the weights only into a built one).
        history: the run's empty :class:`~resnet_lessons.train.TrainingHistory`; a restored run continues the saved
            one, read back with its class's ``load``.
    """

    def __init__(self, directory, model: keras.Model, config, seed: int, history):
        super().__init__()
        self.directory = pathlib.Path(directory)
        self.model_ = model
        # What makes two runs the same run, as JSON stores it. Not the number of epochs: epoch e's batches and
        # learning rates do not depend on it, so a finished run can be extended.
        config = {key: value for key, value in dataclasses.asdict(config).items() if key != "epochs"}
        self.identity = json.loads(json.dumps({"model": model.name, "parameters": model.count_params(),
                                               "config": config, "seed": seed, "data": history.data_description}))
        self.history_ = history

    def _saved(self) -> dict | None:
        run_file = self.directory / RUN_FILE
        return json.loads(run_file.read_text()) if run_file.exists() else None

    def restore(self):
        """The history of the run so far, with the model and optimiser set to its last saved epoch; the empty history
        (and a new folder) if nothing is saved yet. A ``ValueError`` if the folder holds another run, or is damaged."""
        saved = self._saved()
        if saved is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            return self.history_
        differences = [key for key in self.identity if saved.get(key) != self.identity[key]]
        if differences:
            raise ValueError(f"checkpoint {self.directory} belongs to another run (its {', '.join(differences)} differ "
                             "from this one's); use another checkpoint_dir, or delete this one to start again")
        epoch_folder = self.directory / saved["latest"]
        self.model_.load_weights(epoch_folder / "model.weights.h5")
        expected = saved["epochs_done"] * self.history_.steps_per_epoch
        if (iterations := int(self.model_.optimizer.iterations)) != expected:
            raise ValueError(f"checkpoint {epoch_folder} restored the optimizer at step {iterations}, expected "
                             f"{expected}: the checkpoint is damaged; delete it to start again")
        self.history_ = type(self.history_).load(epoch_folder / "history.json")
        return self.history_

    def save_history(self) -> None:
        """Rewrite the latest epoch's history (after the run's final test measurement was added to it)."""
        self.history_.save(self.directory / self._saved()["latest"] / "history.json")

    def on_epoch_end(self, epoch, logs=None):
        folder_name = f"epoch-{epoch + 1:04d}"
        staging = self.directory / f".{folder_name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        self.model_.save_weights(staging / "model.weights.h5")
        self.history_.save(staging / "history.json")
        shutil.rmtree(self.directory / folder_name, ignore_errors=True)
        os.replace(staging, self.directory / folder_name)
        previous = (self._saved() or {}).get("latest")
        write_json_atomically(self.directory / RUN_FILE, {**self.identity, "latest": folder_name,
                                                          "epochs_done": epoch + 1})
        if previous and previous != folder_name:
            shutil.rmtree(self.directory / previous, ignore_errors=True)


def write_json_atomically(path, values: dict) -> None:
    """Write ``values`` as JSON to ``path`` through a temporary file, so that a crash never leaves half a file."""
    path = pathlib.Path(path)
    temporary = path.with_name(f".{path.name}.partial")
    temporary.write_text(json.dumps(values, indent=1))
    os.replace(temporary, path)
