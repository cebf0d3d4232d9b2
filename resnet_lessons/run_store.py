"""Train once, reuse everywhere: finished training runs kept on this machine, keyed by everything that decides them.

:func:`trained` builds a network and returns it trained, with its history: read back from the store if the same run
(:func:`run_key`: network, layers and initial weights, config, data, seed, versions, this package's source) finished
here before, else trained and stored; one line says which. Training is seeded, so both give the same weights, bit
for bit.
The store, a folder of :mod:`resnet_lessons.checkpoints` folders (an interrupted run resumes), is
``$RESNET_LESSONS_RUN_STORE`` or ``~/.cache/resnet_lessons/runs``: :func:`clear` it to train again. CI starts empty.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import shutil
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

import resnet_lessons
from resnet_lessons import arguments, checkpoints, data, profiles, seeding, train

STORE_ENVIRONMENT_VARIABLE = "RESNET_LESSONS_RUN_STORE"
DEFAULT_STORE = pathlib.Path("~/.cache/resnet_lessons/runs")


def store_folder(store=None) -> pathlib.Path:
    """The store's folder: ``store``, else ``$RESNET_LESSONS_RUN_STORE``, else ``~/.cache/resnet_lessons/runs``."""
    store = (os.environ.get(STORE_ENVIRONMENT_VARIABLE) or DEFAULT_STORE) if store is None else store
    return pathlib.Path(store).expanduser()


def source_digest() -> str:
    """SHA-256 of this package's source files (their names and contents), in hex: changes with any edit to it."""
    digest = hashlib.sha256()
    for path in sorted(pathlib.Path(resnet_lessons.__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def run_key(model: keras.Model, dataset: data.ImageDataset, config: profiles.TrainConfig, seed: int,
            replicas: int = 1) -> dict:
    """Everything that decides a training run, as JSON would store it.

    ``model`` is the network before training. Its layers' kinds and settings (names aside, which Keras may number)
    tell apart nets of one name, size and initial weights that compute different functions (ResNet-20 with a ReLU on
    its logits, chapter 5); its initial weights tell apart nets built alike but initialised differently (plain-56
    with He and with Dirac initialisation, chapter 7). ``replicas`` enters only above one (batch norm's statistics are
    per replica), so one-device runs keep one key under the default strategy or none.
    """
    replicas = arguments.positive_int(replicas, "replicas")
    weights = hashlib.sha256()
    for value in model.get_weights():
        weights.update(np.ascontiguousarray(value).tobytes())
    layers = [(type(layer).__name__, {k: v for k, v in layer.get_config().items() if k != "name"})
              for layer in model.layers]
    architecture = hashlib.sha256(json.dumps(layers, sort_keys=True, default=str).encode()).hexdigest()
    key = {"network": model.name, "parameters": model.count_params(), "architecture": architecture,
           "initial_weights": weights.hexdigest(),
           "config": dataclasses.asdict(config), "data": dataset.description, "seed": seed,
           "resnet_lessons": resnet_lessons.__version__, "source": source_digest(), "keras": keras.__version__,
           "tensorflow": tf.__version__, **({"replicas": replicas} if replicas > 1 else {})}
    return json.loads(json.dumps(key))


def run_folder(model: keras.Model, dataset: data.ImageDataset, config: profiles.TrainConfig, seed: int,
               store=None, replicas: int = 1) -> pathlib.Path:
    """The folder of this run in the store: ``<network>-<first 16 hex digits of the key's SHA-256>``."""
    key = json.dumps(run_key(model, dataset, config, seed, replicas), sort_keys=True)
    return store_folder(store) / f"{model.name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def is_finished(folder, config: profiles.TrainConfig) -> bool:
    """Whether ``folder`` holds a checkpoint of all of ``config``'s epochs."""
    run_file = pathlib.Path(folder) / checkpoints.RUN_FILE
    return run_file.is_file() and json.loads(run_file.read_text()).get("epochs_done") == config.epochs


def trained(build: Callable[[], keras.Model], dataset: data.ImageDataset,
            config: profiles.TrainConfig | str | None = None, *, seed: int = 0, label: str | None = None,
            store=None, verbose: int = 1,
            strategy: tf.distribute.Strategy | None = None) -> tuple[keras.Model, train.TrainingHistory]:
    """``(model, history)``: the network ``build()`` makes, trained on ``dataset`` under ``config`` with ``seed``.

    ``build`` (e.g. ``functools.partial(models.resnet56, input_shape=...)``) is called right after
    ``seeding.set_seed(seed)``, as when a chapter seeds and builds a network itself. A finished run in the store is
    read back, with its one summary line saying so; otherwise :func:`resnet_lessons.train.train` trains it (resuming an
    interrupted one) into the store. Either way the seeds are set to ``seed`` again before returning, so what a
    notebook draws next does not depend on which happened. The other arguments are as for ``train``; ``store``:
    the store's folder (``None``: :func:`store_folder`'s default).
    """
    config = profiles.get_profile(config)
    if not callable(build) or isinstance(build, keras.Model):
        raise ValueError(f"build must be a function that makes the network (e.g. functools.partial(models.plain20, "
                         f"input_shape=...)), got {type(build).__name__}")
    if not isinstance(dataset, data.ImageDataset):
        raise ValueError(f"dataset must be a data.ImageDataset, got {type(dataset).__name__}")
    if strategy is None:
        strategy = tf.distribute.get_strategy()
    elif not isinstance(strategy, tf.distribute.Strategy):
        raise ValueError(f"strategy must be a tf.distribute.Strategy or None, got {type(strategy).__name__}")
    seeding.set_seed(seed)
    with strategy.scope():
        model = build()
    if not isinstance(model, keras.Model):
        raise ValueError(f"build() must return a keras.Model, got {type(model).__name__}")
    folder = run_folder(model, dataset, config, seed, store, strategy.num_replicas_in_sync)
    reused = is_finished(folder, config)
    history = train.train(model, dataset, config, seed=seed, checkpoint_dir=folder, label=label,
                          verbose=0 if reused else verbose, strategy=strategy)
    # A stored history keeps the label of the chapter that trained it; this caller's label names it on its plots.
    history = dataclasses.replace(history, label=label or model.name)
    if reused and verbose:
        print(train.summary_line(history, note=" (read back from the run store)"))
    seeding.set_seed(seed)
    return model, history


def clear(store=None) -> None:
    """Delete every stored run, so that the next :func:`trained` call trains again."""
    shutil.rmtree(store_folder(store), ignore_errors=True)
