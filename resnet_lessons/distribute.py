"""Training on several devices with ``tf.distribute``, and checking that it computes what one device computes.

The appendix "Training for real": the paper trained its CIFAR-10 networks "with a mini-batch size of 128 on two
GPUs". Build the model inside the scope of :func:`choose_strategy`'s strategy and pass it to
``train.train(model, dataset, config, strategy=strategy)``. Each replica of a ``MirroredStrategy`` takes a slice of
every batch and the gradients are summed before one update; only batch norm differs from one device, normalising
each slice by its own statistics (Keras' default; the paper does not say how its GPUs computed them) unless
:func:`synchronize_batch_norm` shares them. :func:`compare_with_one_device` measures this; :func:`split_cpu`
cuts a CPU into logical devices so that it runs anywhere, in a fresh process with :func:`compare_in_subprocess`.
TPUs are not supported (the book could not test one), so :func:`choose_strategy` never picks one.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from resnet_lessons import arguments, data, models, pipeline, profiles, seeding, train


def split_cpu(num_devices: int) -> list[str]:
    """Cut the CPU into ``num_devices`` logical devices, so a ``MirroredStrategy`` can run on it; return their names.

    They share the same cores: this runs and tests the multi-device code path, it is not for speed. Call it before
    TensorFlow initialises its devices (before any tensor or model), else a ``RuntimeError`` unless the CPU is
    already split so.
    """
    num_devices = arguments.positive_int(num_devices, "num_devices")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * num_devices)
    except RuntimeError:
        existing = tf.config.list_logical_devices("CPU")
        if len(existing) != num_devices:
            raise RuntimeError(
                f"cannot split the CPU into {num_devices} devices: TensorFlow has already initialised "
                f"{len(existing)}; call split_cpu before anything else uses TensorFlow (or in a fresh process, "
                "see compare_in_subprocess)") from None
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def choose_strategy() -> tf.distribute.Strategy:
    """The strategy the book trains with here: a ``MirroredStrategy`` over two or more GPUs, or (without a GPU) over
    two or more logical CPU devices (:func:`split_cpu`); else TensorFlow's one-device default strategy."""
    gpus = [device.name for device in tf.config.list_logical_devices("GPU")]
    cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
    devices = gpus or cpus
    return tf.distribute.MirroredStrategy(devices) if len(devices) > 1 else tf.distribute.get_strategy()


def split_cpu_strategy(num_devices: int) -> tf.distribute.Strategy:
    """A ``MirroredStrategy`` over the CPU split into ``num_devices`` devices, any GPU hidden first: what
    :func:`compare_in_subprocess` compares with one device. (On one GPU :func:`choose_strategy` gives the one-device
    strategy, and the comparison would be one replica against one.) Call it before TensorFlow initialises devices."""
    if tf.config.list_physical_devices("GPU"):
        tf.config.set_visible_devices([], "GPU")
    return tf.distribute.MirroredStrategy(split_cpu(num_devices))


def synchronize_batch_norm(model: keras.Model) -> keras.Model:
    """A copy of ``model`` (same layers, names and weights) whose batch norms share their statistics across replicas.

    With ``BatchNormalization(synchronized=True)`` the replicas all-reduce the sums behind the batch mean and
    variance (one more all-reduce per layer and step), so each normalises by the whole batch, as one device would.
    Build ``model`` and call this inside the strategy's scope, so the copy's weights are mirrored.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model, got {type(model).__name__}")

    def clone(layer):
        config = layer.get_config()
        if isinstance(layer, keras.layers.BatchNormalization):
            config["synchronized"] = True
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


@dataclasses.dataclass(frozen=True)
class ReplicaComparison:
    """A few training steps on one device and under a strategy, from the same weights and batches: the first batch's
    losses, and the trainable weights' ``|w_strategy - w_one| / |w_one - w_start|`` after ``steps`` (0: identical)."""

    strategy: str  # the strategy and its devices, in words
    replicas: int
    steps: int
    batch_size: int  # the global batch
    one_device_loss: float  # the whole batch on one device
    slice_mean_loss: float  # the mean of the losses of the batch's per-replica slices, each normalised by itself
    replicated_loss: float  # under the strategy, batch norm per replica (Keras' default)
    synchronized_loss: float  # under the strategy, synchronized batch norm
    replicated_update_difference: float
    synchronized_update_difference: float

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def compare_with_one_device(build_model: Callable[[], keras.Model], dataset: data.ImageDataset,
                            config: profiles.TrainConfig | str | None, strategy: tf.distribute.Strategy, *,
                            steps: int = 1, seed: int = 0) -> ReplicaComparison:
    """Train ``steps`` steps on one device and under ``strategy`` (both batch-norm variants), and compare.

    The three runs go through :func:`resnet_lessons.train.train` with ``config`` (a ``TrainConfig`` or profile name)
    cut to ``steps`` steps of one epoch, from the same weights (``seed``) and batches. ``build_model`` makes the
    network, e.g. ``lambda: models.resnet20(input_shape=config.input_shape)``; it is called once outside the
    strategy's scope and twice inside. Call this outside any ``strategy.scope()``.
    """
    config = profiles.get_profile(config)
    if isinstance(build_model, keras.Model) or not callable(build_model):
        raise ValueError(f"build_model must be a function returning a keras.Model, got {type(build_model).__name__}")
    if not isinstance(strategy, tf.distribute.Strategy):
        raise ValueError(f"strategy must be a tf.distribute.Strategy, got {type(strategy).__name__}")
    steps = arguments.positive_int(steps, "steps")
    if tf.distribute.has_strategy():
        raise ValueError("compare_with_one_device must be called outside any strategy.scope()")
    run_config = dataclasses.replace(config, name=f"{config.name}-compare", epochs=1, decay_epochs=(),
                                     train_examples=steps * config.batch_size, test_examples=config.batch_size)

    seeding.set_seed(seed)
    one_device = build_model()
    start = one_device.get_weights()
    first_batch = _first_batch(dataset, run_config, seed)
    slice_mean = _slice_mean_loss(one_device, first_batch, strategy.num_replicas_in_sync)
    one_device.set_weights(start)  # the forward passes in training mode moved batch norm's moving statistics
    one_device_loss = _train_and_record(one_device, dataset, run_config, seed, tf.distribute.get_strategy())

    runs = {}
    for synchronized in (False, True):
        with strategy.scope():
            model = synchronize_batch_norm(build_model()) if synchronized else build_model()
            model.set_weights(start)
        runs[synchronized] = (_train_and_record(model, dataset, run_config, seed, strategy), model)

    def update_difference(model):
        trained = [weight.numpy() for weight in model.trainable_weights]
        reference = [weight.numpy() for weight in one_device.trainable_weights]
        initial = [start[index] for index, weight in enumerate(one_device.weights) if weight.trainable]
        difference = np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(trained, reference)))
        update = np.sqrt(sum(np.sum((b - c) ** 2) for b, c in zip(reference, initial)))
        return float(difference / update)

    return ReplicaComparison(
        strategy=train.describe_strategy(strategy), replicas=strategy.num_replicas_in_sync, steps=steps,
        batch_size=config.batch_size, one_device_loss=one_device_loss, slice_mean_loss=slice_mean,
        replicated_loss=runs[False][0], synchronized_loss=runs[True][0],
        replicated_update_difference=update_difference(runs[False][1]),
        synchronized_update_difference=update_difference(runs[True][1]))


def _first_batch(dataset, config, seed):
    """The first training batch train.train sees: the same preparation, pipeline and seed."""
    prepared = train.prepare_data(dataset, config, seed=seed)
    batches = pipeline.train_pipeline(prepared.dataset.x_train, prepared.dataset.y_train,
                                      batch_size=config.batch_size, mean=prepared.mean, std=prepared.std,
                                      seed=seed, augment=config.augment)
    return next(iter(batches))


def _slice_mean_loss(model, batch, replicas):
    """The mean loss over ``replicas`` equal slices of the batch, each its own forward pass in training mode."""
    images, labels = batch
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    slices = zip(np.split(images.numpy(), replicas), np.split(labels.numpy(), replicas))
    return float(np.mean([float(loss(y, model(x, training=True))) for x, y in slices]))


class _FirstBatchLoss(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if batch == 0:
            self.loss = float(logs["loss"])


def _train_and_record(model, dataset, config, seed, strategy):
    recorder = _FirstBatchLoss()
    train.train(model, dataset, config, seed=seed, verbose=False, callbacks=[recorder], strategy=strategy)
    return recorder.loss


def compare_in_subprocess(*, cpu_devices: int = 2, steps: int = 1, depth: int = 20, image_size: int = 16,
                          source: str = "synthetic", seed: int = 0, timeout: float = 600) -> ReplicaComparison:
    """Run :func:`compare_with_one_device` on a CPU split into ``cpu_devices`` devices, in a fresh process (one that
    already uses TensorFlow cannot split its CPU any more): a ResNet of ``depth`` layers under the quick profile at
    ``image_size`` on ``source`` data. A ``RuntimeError`` with the process's error output if it fails."""
    for name, value, least in (("cpu_devices", cpu_devices, 2), ("steps", steps, 1), ("image_size", image_size, 8)):
        arguments.require(arguments.is_int(value) and value >= least, name, value, f"an integer >= {least}")
    arguments.require(source in data.SOURCES, "source", source, f"one of {', '.join(data.SOURCES)}")
    command = [sys.executable, "-m", "resnet_lessons.distribute", "--cpu-devices", str(cpu_devices), "--steps",
               str(steps), "--depth", str(depth), "--image-size", str(image_size), "--source", source, "--seed",
               str(seed)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed with exit status {result.returncode}:\n{result.stderr[-3000:]}")
    return ReplicaComparison(**json.loads(result.stdout.strip().splitlines()[-1]))


def main(argv=None) -> None:
    """``python -m resnet_lessons.distribute``: split the CPU, compare, print the comparison as one JSON line."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    for option, default in (("--cpu-devices", 2), ("--steps", 1), ("--depth", 20), ("--image-size", 16)):
        parser.add_argument(option, type=int, default=default)
    parser.add_argument("--source", choices=data.SOURCES, default="synthetic")
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args(argv)
    strategy = split_cpu_strategy(options.cpu_devices)  # first: before TensorFlow initialises its devices
    config = dataclasses.replace(profiles.QUICK, image_size=options.image_size)
    dataset = data.load_dataset(options.source, num_train=options.steps * config.batch_size,
                                num_test=config.batch_size, seed=options.seed, verbose=False)
    comparison = compare_with_one_device(
        lambda: models.cifar_resnet(options.depth, input_shape=config.input_shape), dataset, config,
        strategy, steps=options.steps, seed=options.seed)
    print(json.dumps(comparison.to_dict()))


if __name__ == "__main__":
    main()
