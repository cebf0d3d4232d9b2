"""Training a network under a profile (:func:`train`, the book's one training function), with progress, a history
and checkpoints (:mod:`resnet_lessons.checkpoints`). Each epoch's batches depend on ``(seed, epoch)`` alone, so a run
resumed or extended gives what one uninterrupted run would have given; with a validation split the test split is
measured once, after the last epoch, so no decision looks at it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
import textwrap
import time

import keras
import numpy as np
import tensorflow as tf

from resnet_lessons import arguments, checkpoints, data, models, pipeline, profiles, progress


@keras.saving.register_keras_serializable(package="resnet_lessons")
class SGDWithL2(keras.optimizers.SGD):
    """SGD with momentum and *coupled* L2 weight decay ``l2`` on conv and dense kernels, as in the paper's Caffe setup.

    The paper's "weight decay of 0.0001" adds ``l2 * w`` to the gradient *before* momentum; Keras' ``weight_decay`` is
    the decoupled (AdamW) form, which shrinks weights 1 / (1 - momentum) = 10 times less at momentum 0.9.
    """

    def __init__(self, l2: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        arguments.require(arguments.is_number(l2) and l2 >= 0, "l2", l2, "a number >= 0")
        self.l2 = float(l2)

    def update_step(self, gradient, variable, learning_rate):
        # Only conv and dense kernels decay; the TensorFlow backend names them like "conv1_conv/kernel:0".
        if self.l2 and variable.name.split(":")[0].rsplit("/", 1)[-1] == "kernel":
            gradient = keras.ops.add(gradient, keras.ops.multiply(self.l2, variable))
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "l2": self.l2}


@keras.saving.register_keras_serializable(package="resnet_lessons")
class WarmupStepDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The optimizer's side of :func:`resnet_lessons.profiles.step_decay`: warm-up, then a division by 10 at each
    boundary (in iterations)."""

    def __init__(self, learning_rate: float, boundaries: tuple[int, ...], warmup_iterations: int = 0,
                 warmup_learning_rate: float = 0.01):
        self.learning_rate = float(learning_rate)
        self.boundaries = tuple(int(boundary) for boundary in boundaries)
        self.warmup_iterations = int(warmup_iterations)
        self.warmup_learning_rate = float(warmup_learning_rate)

    def __call__(self, step):
        return profiles.step_decay(keras.ops.cast(step, "float32"), learning_rate=self.learning_rate,
                                   decay_iterations=self.boundaries, warmup_iterations=self.warmup_iterations,
                                   warmup_learning_rate=self.warmup_learning_rate,
                                   as_number=lambda condition: keras.ops.cast(condition, "float32"))

    def get_config(self):
        return {"learning_rate": self.learning_rate, "boundaries": self.boundaries,
                "warmup_iterations": self.warmup_iterations, "warmup_learning_rate": self.warmup_learning_rate}


def compile_for_training(model: keras.Model, config: profiles.TrainConfig, steps_per_epoch: int) -> None:
    """Compile ``model`` with the profile's optimiser, schedule, loss (on logits) and accuracy metric."""
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model, got {type(model).__name__}")
    if not isinstance(config, profiles.TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
    schedule = WarmupStepDecay(config.learning_rate, config.decay_iterations(steps_per_epoch),
                               config.warmup_iterations, config.warmup_learning_rate)
    model.compile(optimizer=SGDWithL2(l2=config.weight_decay, learning_rate=schedule, momentum=config.momentum),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")], jit_compile=config.jit_compile)
    # Built now, not in the first step: a step that creates variables is traced twice (seconds, for a 56-layer net).
    model.optimizer.build(model.trainable_variables)


@dataclasses.dataclass
class TrainingHistory:
    """Per-epoch results of one training run; errors are fractions in [0, 1] (plots show percent). Training loss and
    error are averages over the epoch's batches while the weights change (the paper's thin curves); the held-out split
    is measured after the epoch, in inference mode."""

    label: str  # the run's name on plots, e.g. "plain-20"
    profile: str  # the TrainConfig's name
    data_description: str  # which data produced the numbers
    seed: int
    steps_per_epoch: int
    epochs: list[int] = dataclasses.field(default_factory=list)  # 1-based epoch numbers
    train_loss: list[float] = dataclasses.field(default_factory=list)
    train_error: list[float] = dataclasses.field(default_factory=list)
    test_loss: list[float] = dataclasses.field(default_factory=list)  # per epoch, when there is no validation split
    test_error: list[float] = dataclasses.field(default_factory=list)
    learning_rate: list[float] = dataclasses.field(default_factory=list)  # at the epoch's last step
    seconds: list[float] = dataclasses.field(default_factory=list)  # wall time of each epoch, evaluation included
    validation_loss: list[float] = dataclasses.field(default_factory=list)  # per epoch, with a validation split
    validation_error: list[float] = dataclasses.field(default_factory=list)
    final_test_loss: float | None = None  # with a validation split: the test split, once, after the last epoch
    final_test_error: float | None = None

    @property
    def held_out(self) -> str:
        """The split measured after every epoch: ``"validation"`` or ``"test"``."""
        return "validation" if self.validation_error else "test"

    @property
    def iterations(self) -> list[int]:
        """SGD steps done at the end of each epoch: the paper's x axis."""
        return [epoch * self.steps_per_epoch for epoch in self.epochs]

    @property
    def total_seconds(self) -> float:
        return float(sum(self.seconds))

    def append(self, *, epoch, train_loss, train_error, held_out_loss, held_out_error, learning_rate, seconds,
               validation: bool = False, test_loss: float | None = None, test_error: float | None = None) -> None:
        """Record one finished epoch; ``validation``: the held-out split was the validation split, and ``test_loss``
        and ``test_error`` are the test split's, measured too (``TrainConfig.test_every_epoch``)."""
        if (test_loss is None) != (test_error is None) or (test_error is not None and not validation):
            raise ValueError("test_loss and test_error come together, and only for a run with a validation split")
        self.epochs.append(int(epoch))
        self.train_loss.append(float(train_loss))
        self.train_error.append(float(train_error))
        (self.validation_loss if validation else self.test_loss).append(float(held_out_loss))
        (self.validation_error if validation else self.test_error).append(float(held_out_error))
        if test_error is not None:
            self.test_loss.append(float(test_loss))
            self.test_error.append(float(test_error))
        self.learning_rate.append(float(learning_rate))
        self.seconds.append(float(seconds))

    def final(self, metric: str) -> float:
        """The value of ``metric`` (``"train_error"``, ``"test_loss"``, ...) at the end of the run: for the test split
        in a run with a validation split, its one measurement after the last epoch."""
        if metric not in _METRICS:
            raise ValueError(f"unknown metric {metric!r}: expected one of {', '.join(_METRICS)}")
        if not self.epochs:
            raise ValueError(f"history {self.label!r} has no finished epoch yet")
        if values := getattr(self, metric):
            return values[-1]
        if metric.startswith("test_") and self.validation_error:
            final = getattr(self, f"final_{metric}")
            if final is None:
                raise ValueError(f"history {self.label!r} watched a validation split; its test split is measured once,"
                                 " after the last epoch, and this run has not finished")
            return final
        raise ValueError(f"history {self.label!r} has no {metric}: it measured the {self.held_out} split after "
                         "every epoch")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def save(self, path) -> None:
        """Write the history as JSON (atomically: a crash never leaves half a file)."""
        checkpoints.write_json_atomically(path, self.to_dict())

    @classmethod
    def load(cls, path) -> "TrainingHistory":
        return cls(**json.loads(pathlib.Path(path).read_text()))


_METRICS = ("train_loss", "train_error", "test_loss", "test_error", "validation_loss", "validation_error",
            "learning_rate", "seconds")


@dataclasses.dataclass(frozen=True)
class PreparedData:
    """The arrays a run trains and tests on after a profile has been applied, with their normalisation."""

    dataset: data.ImageDataset  # the training images (less any validation split) and the test split, subset, resized
    validation: tuple[np.ndarray, np.ndarray] | None  # (images, labels) held out of the training split, or None
    mean: np.ndarray  # per-channel mean of the training images, shape (3,)
    std: np.ndarray  # per-channel standard deviation, shape (3,)
    description: str  # one line saying which data this is

    @property
    def held_out(self) -> tuple[np.ndarray, np.ndarray]:
        """The (images, labels) measured after every epoch: the validation split if there is one, else the test one."""
        return self.validation if self.validation is not None else (self.dataset.x_test, self.dataset.y_test)


def prepare_data(dataset: data.ImageDataset, config: profiles.TrainConfig, *, seed: int = 0) -> PreparedData:
    """Apply a profile's data settings (validation split, a random choice given ``seed``; subset; image size), then
    take the channel statistics."""
    if not isinstance(dataset, data.ImageDataset):
        raise ValueError(f"dataset must be a resnet_lessons.data.ImageDataset, got {type(dataset).__name__}")
    config = profiles.get_profile(config)
    description = dataset.description
    validation = None
    if config.validation_examples:
        dataset, held_out = data.split_validation(dataset, config.validation_examples, seed=seed)
        validation = (data.downsample_images(held_out.x_test, config.image_size), held_out.y_test)
        description += f"; {config.validation_examples:,} training images held out for validation"
    dataset = data.subset(dataset, _at_most(config.train_examples, dataset.num_train),
                          _at_most(config.test_examples, dataset.num_test))
    dataset = data.resize(dataset, config.image_size)
    mean, std = data.channel_statistics(dataset.x_train)
    description += (f"; using {dataset.num_train:,} training / {dataset.num_test:,} test images "
                    f"at {config.image_size}x{config.image_size}")
    return PreparedData(dataset=dataset, validation=validation, mean=mean, std=std, description=description)


def _at_most(limit, available):
    return None if limit is None else min(limit, available)


def train(model: keras.Model, dataset: data.ImageDataset, config: profiles.TrainConfig | str | None = None, *,
          seed: int = 0, checkpoint_dir=None, label: str | None = None, verbose: int = 1,
          callbacks: list | None = None, strategy: tf.distribute.Strategy | None = None) -> TrainingHistory:
    """Train ``model`` (it is (re)compiled; it takes ``config.input_shape`` images, returns logits) on ``dataset``
    under ``config`` and return the history of all epochs, resumed ones included.

    Args:
        config: a ``TrainConfig`` or a profile name; ``None``: :func:`resnet_lessons.profiles.get_profile`'s default.
        seed: decides the order and augmentation of every epoch; the weights are decided when the model is built.
        checkpoint_dir: a folder to save each finished epoch in; a later call with the same folder, model, config and
            seed resumes after the last one (or returns at once), and a larger ``epochs`` extends the run.
        verbose: ``1`` (or ``True``): one line when the run ends (:func:`summary_line`), and meanwhile the time left
            in a :class:`~resnet_lessons.progress.LiveStatus` that leaves nothing behind; ``2``: also a header and a
            line per epoch (about ``EPOCH_LINES`` for longer runs); ``0`` (or ``False``): nothing. Every epoch is
            in the returned history either way.
        callbacks: more Keras callbacks, run after the checkpoint is saved.
        strategy: the ``tf.distribute`` strategy the model was built under (``None``: the one it records, chapter 4);
            ``config.batch_size`` (the global batch) must split evenly over its replicas.
    """
    seed = arguments.non_negative_int(seed, "seed")
    if verbose not in (0, 1, 2):  # True and False are 1 and 0
        raise ValueError(f"verbose must be 0, 1 or 2 (or True/False), got {verbose!r}")
    verbose = int(verbose)
    config, strategy, prepared, steps = _prepare_run(model, dataset, config, strategy, seed)
    train_set = prepared.dataset
    history = TrainingHistory(label=label or model.name, profile=config.name, data_description=prepared.description,
                              seed=seed, steps_per_epoch=steps)
    checkpoint = checkpoints.Checkpoint(checkpoint_dir, model, config, seed, history) if checkpoint_dir else None
    # The optimizer's variables (momentum, step count) are created in the scope, mirrored like the weights.
    with strategy.scope():
        compile_for_training(model, config, steps)
        if checkpoint is not None:
            history = checkpoint.restore()
    first_epoch = len(history.epochs)
    status = None
    if verbose:
        status = progress.LiveStatus(textwrap.fill(
            f"Training {history.label} ({models.count_parameters(model).trainable:,} trainable parameters) under "
            f"{config.describe()}", width=88, subsequent_indent="  ", break_on_hyphens=False))
        if strategy.num_replicas_in_sync > 1:
            print(f"Devices: {describe_strategy(strategy)}")
        if first_epoch:
            print(f"Resuming from {checkpoint.directory} after epoch {first_epoch} of {config.epochs}")
    test_batches = pipeline.eval_pipeline(train_set.x_test, train_set.y_test, batch_size=config.batch_size,
                                          mean=prepared.mean, std=prepared.std)
    try:
        if first_epoch < config.epochs:
            history.final_test_loss = history.final_test_error = None  # an extended run is tested at its new end
            train_batches = pipeline.train_pipeline(
                train_set.x_train, train_set.y_train, batch_size=config.batch_size, mean=prepared.mean,
                std=prepared.std, seed=seed, first_epoch=first_epoch, epochs=config.epochs, augment=config.augment)
            held_out_batches = pipeline.eval_pipeline(*prepared.held_out, batch_size=config.batch_size,
                                                      mean=prepared.mean, std=prepared.std)
            validates = prepared.validation is not None
            log = _EpochLog(history, config, validates, test_batches if validates and config.test_every_epoch else None,
                            status, epoch_lines=verbose >= 2)
            model.fit(train_batches, validation_data=held_out_batches, epochs=config.epochs, initial_epoch=first_epoch,
                      steps_per_epoch=steps, callbacks=[log, *([checkpoint] if checkpoint else []), *(callbacks or [])],
                      shuffle=False, verbose=0)
        elif verbose >= 2:
            print(f"All {config.epochs} epochs were already done (the checkpoint holds {first_epoch}): "
                  "nothing to train.")
        if prepared.validation is not None and history.final_test_error is None:
            # The one look at the test split (also for a run restored complete without it).
            if history.test_error:
                history.final_test_loss, history.final_test_error = history.test_loss[-1], history.test_error[-1]
            else:
                history.final_test_loss, history.final_test_error = _evaluate(model, test_batches)
                if verbose >= 2:
                    print(f"test split, once after the last epoch: loss {history.final_test_loss:.3f} "
                          f"error {100 * history.final_test_error:.1f} %")
            if checkpoint is not None:
                checkpoint.save_history()
    except BaseException:
        if status is not None:
            status.finish()
        raise
    if status is not None:
        if verbose >= 2:
            status.finish()
            print(summary_line(history), flush=True)
        else:
            status.finish(summary_line(history))
    return history


def summary_line(history: TrainingHistory, *, note: str = "", width: int = 88) -> str:
    """The one line a finished run prints: network, epochs, time, and its final training, held-out and test error,
    wrapped at ``width`` characters; ``note`` follows the network's name (e.g. where the run was read from)."""
    errors = [f"training error {100 * history.final('train_error'):.1f} %"]
    if history.held_out == "validation":
        errors.append(f"validation error {100 * history.final('validation_error'):.1f} %")
    if history.final_test_error is not None or history.test_error:
        errors.append(f"test error {100 * history.final('test_error'):.1f} %")
    epochs = len(history.epochs)
    text = (f"{history.label}{note}: {epochs} epoch{'s' * (epochs != 1)} in {_duration(history.total_seconds)}; "
            + ", ".join(errors))
    return textwrap.fill(text, width=width, subsequent_indent="  ", break_on_hyphens=False)


def describe_strategy(strategy: tf.distribute.Strategy) -> str:
    """One line naming a ``tf.distribute`` strategy and its devices, e.g. ``"MirroredStrategy: 2 replicas on ..."``."""
    if not isinstance(strategy, tf.distribute.Strategy):
        raise ValueError(f"strategy must be a tf.distribute.Strategy, got {type(strategy).__name__}")
    replicas = strategy.num_replicas_in_sync
    try:
        devices = [device.rsplit("/", 1)[-1] for device in strategy.extended.worker_devices]  # "device:GPU:0"
    except RuntimeError:  # only the default strategy has no device list: it runs where TensorFlow places ops
        return "the default strategy: 1 replica on TensorFlow's default device"
    return f"{type(strategy).__name__}: {replicas} replica{'s' if replicas > 1 else ''} on {', '.join(devices)}"


def _check_strategy(model, strategy, config) -> tf.distribute.Strategy:
    """The strategy to train ``model`` under, checked: built in its scope, and the batch splits evenly."""
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model, got {type(model).__name__}")
    if strategy is None:
        strategy = model.distribute_strategy  # Keras records the strategy whose scope the model was built in
    if not isinstance(strategy, tf.distribute.Strategy):
        raise ValueError(f"strategy must be a tf.distribute.Strategy or None, got {type(strategy).__name__}")
    if model.weights and not strategy.extended.variable_created_in_scope(model.weights[0].value):
        raise ValueError(
            f"model {model.name!r} was not built inside the scope of the strategy given ({describe_strategy(strategy)}"
            "): build it inside `with strategy.scope():`, or leave strategy=None to use the one it was built under")
    replicas = strategy.num_replicas_in_sync
    if config.batch_size % replicas:
        raise ValueError(f"batch_size {config.batch_size} of profile {config.name!r} does not split evenly over "
                         f"{replicas} replicas: choose a multiple of {replicas}")
    return strategy


def _prepare_run(model, dataset, config, strategy, seed):
    """The profile, strategy, prepared data (checked to fit the model) and steps per epoch that a run starts from."""
    config = profiles.get_profile(config)
    strategy = _check_strategy(model, strategy, config)
    prepared = prepare_data(dataset, config, seed=seed)
    expected = (prepared.dataset.image_size, prepared.dataset.image_size, 3)
    if tuple(model.input_shape[1:]) != expected:
        raise ValueError(f"model {model.name!r} takes inputs of shape {tuple(model.input_shape[1:])}, but profile "
                         f"{config.name!r} trains on {expected} images: build it with input_shape=config.input_shape")
    if model.output_shape[-1] != prepared.dataset.num_classes:
        raise ValueError(f"model {model.name!r} has {model.output_shape[-1]} outputs, but the data set has "
                         f"{prepared.dataset.num_classes} classes")
    return config, strategy, prepared, pipeline.steps_per_epoch(prepared.dataset.num_train, config.batch_size)


def _evaluate(model, batches) -> tuple[float, float]:
    """The loss and error of ``model`` on ``batches``, in inference mode."""
    results = model.evaluate(batches, return_dict=True, verbose=0)
    return float(results["loss"]), 1.0 - float(results["accuracy"])


class _EpochLog(keras.callbacks.Callback):
    """Appends each finished epoch to the history (before the checkpoint saves it); given a live status, shows the
    time left there (every epoch, and every few seconds inside one) and, with ``epoch_lines``, prints the epoch lines
    (the run's log)."""

    def __init__(self, history: TrainingHistory, config: profiles.TrainConfig, validation: bool, test_batches=None,
                 status: progress.LiveStatus | None = None, interval: float = 5.0, epoch_lines: bool = True):
        super().__init__()
        self.epoch_lines = epoch_lines
        self.history_, self.config, self.validation, self.status, self.interval = (history, config, validation,
                                                                                   status, interval)
        self.test_batches = test_batches  # measured after every epoch as well, if given (a run that validates)
        self.last_report = self.epoch_started = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.last_report = self.epoch_started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self.status is not None and now - self.last_report >= self.interval:
            self.last_report = now
            h, steps = self.history_, self.history_.steps_per_epoch
            done = len(h.epochs) + (batch + 1) / steps  # epochs, counting the current one's fraction
            # After the first epoch, which also traces the step function, trust finished epochs.
            seconds_per_epoch = (float(np.median(h.seconds[-3:])) if h.seconds
                                 else (now - self.epoch_started) * steps / (batch + 1))
            self.status.update(f"{h.label}: epoch {len(h.epochs) + 1} of {self.config.epochs}, step {batch + 1} of "
                               f"{steps}, loss {logs['loss']:.3f}; about "
                               f"{_duration((self.config.epochs - done) * seconds_per_epoch)} left")

    def on_epoch_end(self, epoch, logs=None):
        logs, h, steps = logs or {}, self.history_, self.history_.steps_per_epoch
        test = {} if self.test_batches is None else dict(zip(("test_loss", "test_error"),
                                                             _evaluate(self.model, self.test_batches)))
        h.append(epoch=epoch + 1, train_loss=logs["loss"], train_error=1.0 - logs["accuracy"],
                 held_out_loss=logs["val_loss"], held_out_error=1.0 - logs["val_accuracy"],
                 learning_rate=self.config.learning_rate_at((epoch + 1) * steps - 1, steps),
                 seconds=time.perf_counter() - self.epoch_started, validation=self.validation, **test)
        if self.status is None:
            return
        if self.epoch_lines and shows_epoch_line(h.epochs[-1], self.config.epochs, h.learning_rate):
            held_out = "val" if h.held_out == "validation" else "test"
            held_out_loss, held_out_error = getattr(h, f"{h.held_out}_loss"), getattr(h, f"{h.held_out}_error")
            print(f"epoch {h.epochs[-1]:>{len(str(self.config.epochs))}}/{self.config.epochs}  "
                  f"train loss {h.train_loss[-1]:.3f} error {100 * h.train_error[-1]:5.1f} %  "
                  f"{held_out} loss {held_out_loss[-1]:.3f} error {100 * held_out_error[-1]:5.1f} %  "
                  + (f"test error {100 * h.test_error[-1]:5.1f} %  " if held_out == "val" and h.test_error else "") +
                  f"lr {h.learning_rate[-1]:<6.3g} {h.seconds[-1]:5.1f} s", flush=True)
        if remaining := self.config.epochs - h.epochs[-1]:  # the median of the last three: the first also traces
            left = _duration(remaining * float(np.median(h.seconds[-3:])))
            self.status.update(f"{h.label}: {h.epochs[-1]} of {self.config.epochs} epochs done, about {left} left")


class StepLosses(keras.callbacks.Callback):
    """Records the training loss of every step in ``losses`` (chapters 4 and 8 plot it).

    Keras reports the mean over the epoch so far after each step; this undoes the mean: step k's loss is
    ``k * mean_k - (k - 1) * mean_(k-1)``.
    """

    def on_train_begin(self, logs=None):
        self.losses = []

    def on_epoch_begin(self, epoch, logs=None):
        self.mean, self.steps = 0.0, 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        self.losses.append(self.steps * logs["loss"] - (self.steps - 1) * self.mean)
        self.mean = logs["loss"]


# A run of more epochs prints a line for about this many of them (all epochs stay in the history).
EPOCH_LINES = 20


def shows_epoch_line(epoch: int, epochs: int, learning_rates: list[float]) -> bool:
    """Whether epoch ``epoch`` (from 1) of a run of ``epochs`` gets a line in the log: every epoch of a short run; of a
    longer one (the paper's 182) every k-th (about ``EPOCH_LINES``), the first, the last, and each change of rate."""
    return (epochs <= EPOCH_LINES or epoch in (1, epochs) or epoch % -(-epochs // EPOCH_LINES) == 0
            or (len(learning_rates) >= 2 and learning_rates[-1] != learning_rates[-2]))


def _duration(seconds: float) -> str:
    """A rough, readable duration: ``"40 s"``, ``"12 min"``, ``"2.6 h"``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclasses.dataclass(frozen=True)
class TimeEstimate:
    """How long a training run will take here, from a few measured steps."""

    seconds_per_step: float  # one SGD step of ``batch_size`` images
    seconds_per_evaluation: float  # one pass over the split measured after every epoch (validation or test)
    steps_per_epoch: int
    epochs: int
    batch_size: int

    @property
    def images_per_second(self) -> float:
        return self.batch_size / self.seconds_per_step

    @property
    def total_seconds(self) -> float:
        return self.epochs * (self.steps_per_epoch * self.seconds_per_step + self.seconds_per_evaluation)

    def describe(self) -> str:
        return (f"{self.seconds_per_step * 1000:.0f} ms per step ({self.images_per_second:,.0f} images/s); "
                f"{self.epochs} epochs of {self.steps_per_epoch} steps: about {self.total_seconds / 60:.1f} "
                f"minutes here")


def estimate_training_time(model: keras.Model, dataset: data.ImageDataset,
                           config: profiles.TrainConfig | str | None = None, *, burn_in_steps: int = 2,
                           measured_steps: int = 5, strategy: tf.distribute.Strategy | None = None) -> TimeEstimate:
    """Time a few training steps on a copy of ``model`` (so it is left untouched) and extrapolate to the run.

    The first ``burn_in_steps`` are not timed: they trace and compile the step function. ``strategy``: as for
    :func:`train`.
    """
    burn_in_steps = arguments.non_negative_int(burn_in_steps, "burn_in_steps")
    measured_steps = arguments.positive_int(measured_steps, "measured_steps")
    config, strategy, prepared, steps = _prepare_run(model, dataset, config, strategy, seed=0)
    with strategy.scope():
        copy = keras.models.clone_model(model)
        compile_for_training(copy, config, steps)
    batches = pipeline.train_pipeline(prepared.dataset.x_train, prepared.dataset.y_train, batch_size=config.batch_size,
                                      mean=prepared.mean, std=prepared.std, seed=0, augment=config.augment).repeat()
    times = []  # when training started, then when each step ended
    timer = keras.callbacks.LambdaCallback(on_train_begin=lambda logs: times.append(time.perf_counter()),
                                           on_train_batch_end=lambda batch, logs: times.append(time.perf_counter()))
    copy.fit(batches, epochs=1, steps_per_epoch=burn_in_steps + measured_steps, callbacks=[timer], shuffle=False,
             verbose=0)
    step_times = np.diff(times)[burn_in_steps:]
    held_out_batches = pipeline.eval_pipeline(*prepared.held_out, batch_size=config.batch_size, mean=prepared.mean,
                                              std=prepared.std)
    # Evaluation after every epoch: trace on one batch, time a few, extrapolate to the whole held-out split.
    copy.evaluate(held_out_batches.take(1), verbose=0)
    num_held_out = len(prepared.held_out[1])
    timed_batches = min(measured_steps, math.ceil(num_held_out / config.batch_size))
    started = time.perf_counter()
    copy.evaluate(held_out_batches.take(timed_batches), verbose=0)
    seconds_per_evaluation = (time.perf_counter() - started) * num_held_out / min(
        num_held_out, timed_batches * config.batch_size)
    return TimeEstimate(seconds_per_step=float(np.median(step_times)), seconds_per_evaluation=seconds_per_evaluation,
                        steps_per_epoch=steps, epochs=config.epochs, batch_size=config.batch_size)
