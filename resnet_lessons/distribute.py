"""Training on several devices with ``tf.distribute``, and checking that it computes what one device computes.

Chapter 4: the paper trained its CIFAR-10 nets "with a mini-batch size of 128 on two GPUs". With ``tf.distribute``
the book's one training function, :func:`resnet_lessons.train.train`, does the same: build the model inside the
scope of a strategy and pass the strategy::

    strategy = distribute.choose_strategy()
    with strategy.scope():
        model = models.resnet20()
    history = train.train(model, dataset, config, strategy=strategy)

Under a ``MirroredStrategy`` every replica holds a copy of the weights, takes ``batch_size / replicas`` images of
each global batch, and the replicas' gradients are summed (Keras divides each replica's mean loss by the number of
replicas) before one identical update everywhere. The one thing that differs from one device is batch norm: each
replica normalises its slice with the slice's own mean and variance, as the paper's two GPUs did. So the losses and
updates are those of one device whose batch norm sees ``batch_size / replicas`` images at a time, not the whole
batch. :func:`synchronize_batch_norm` makes the replicas share their statistics (Keras' ``synchronized=True``);
then a step equals one device's step up to float rounding. :func:`compare_with_one_device` measures all of this.

A machine with one CPU has one device; :func:`split_cpu` cuts it into logical devices (before TensorFlow starts
using it), so the multi-device code path can be run and tested anywhere, and :func:`compare_in_subprocess` does so
in a fresh Python process, leaving the caller's TensorFlow untouched.

TPUs are not supported: a TPU needs ``TPUStrategy`` and a TensorFlow build with TPU support matching the runtime,
and the book could not test either, so :func:`choose_strategy` never picks one.
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

from resnet_lessons import data, models, pipeline, profiles, seeding, train


def split_cpu(num_devices: int) -> list[str]:
    """Cut the CPU into ``num_devices`` logical devices, so a ``MirroredStrategy`` can run on it.

    Must be called before TensorFlow initialises its devices (before any tensor is made or any model built), so
    in practice at the top of a script. The logical devices share the same cores: this is for running and testing
    the multi-device code path, not for speed.

    Args:
        num_devices: how many logical CPU devices, at least 1.

    Returns:
        The logical CPU devices' names, e.g. ``["/device:CPU:0", "/device:CPU:1"]``.

    Raises:
        ValueError: for a ``num_devices`` that is not a positive integer.
        RuntimeError: if TensorFlow has already initialised its devices with another number of CPU devices.
    """
    if not isinstance(num_devices, int) or isinstance(num_devices, bool) or num_devices < 1:
        raise ValueError(f"num_devices must be a positive integer, got {num_devices!r}")
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
    """The strategy the book trains with on this machine.

    - two or more GPUs: a ``MirroredStrategy`` over all of them;
    - no GPU but two or more logical CPU devices (see :func:`split_cpu`): a ``MirroredStrategy`` over those;
    - otherwise (one GPU, or a plain CPU): TensorFlow's default strategy, which runs on the one device.

    Never a TPU (see the module's docstring).
    """
    gpus = [device.name for device in tf.config.list_logical_devices("GPU")]
    cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy(gpus)
    if not gpus and len(cpus) > 1:
        return tf.distribute.MirroredStrategy(cpus)
    return tf.distribute.get_strategy()


def split_cpu_strategy(num_devices: int) -> tf.distribute.Strategy:
    """A ``MirroredStrategy`` over the CPU split into ``num_devices`` devices, even where there is a GPU.

    This is the strategy :func:`compare_in_subprocess`'s fresh process compares with one device. It does not ask
    :func:`choose_strategy`: on a machine with one GPU (Colab's GPU runtime, say) that returns the one-device default
    strategy, and the comparison would compare one replica with one replica. So any GPU is hidden first (the one
    device of the comparison is then the CPU too), and the replicas are the CPU's logical devices. Like
    :func:`split_cpu`, it must be called before TensorFlow initialises its devices.
    """
    if tf.config.list_physical_devices("GPU"):
        tf.config.set_visible_devices([], "GPU")
    return tf.distribute.MirroredStrategy(split_cpu(num_devices))


def synchronize_batch_norm(model: keras.Model) -> keras.Model:
    """A copy of ``model`` whose batch-norm layers share their batch statistics across replicas.

    With Keras' ``BatchNormalization(synchronized=True)`` the replicas all-reduce the sums behind the batch mean and
    variance, so every replica normalises with the statistics of the whole global batch, as one device would. It
    costs one more all-reduce per batch-norm layer and step. The copy has the same weights; build ``model`` and
    call this inside the strategy's scope, so the copy's weights are mirrored.

    Args:
        model: a functional or sequential Keras model.

    Returns:
        The copy (same architecture, names and weights).
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


# --------------------------------------------------------------------------------------------- the comparison

@dataclasses.dataclass(frozen=True)
class ReplicaComparison:
    """A few training steps on one device and under a strategy, from the same weights and the same batches.

    Losses are those of the first batch, before any update; update differences compare the trainable weights
    after ``steps`` steps: ``|w_strategy - w_one| / |w_one - w_start|`` (0 means identical updates).
    """

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

    All three runs go through :func:`resnet_lessons.train.train` with ``config``'s optimiser and schedule, start
    from the same weights and see the same batches; the config is cut to ``steps`` steps of one epoch (and one test
    batch). Call it outside any ``strategy.scope()``.

    Args:
        build_model: makes the network, e.g. ``lambda: models.resnet20(input_shape=config.input_shape)``; it is
            called once outside the strategy's scope and twice inside it.
        dataset: the data set (the config picks its subset and image size).
        config: a ``TrainConfig`` or profile name.
        strategy: the strategy to compare with one device, e.g. from :func:`choose_strategy`.
        steps: SGD steps per run, at least 1.
        seed: order of the batches and the weights (through :func:`resnet_lessons.seeding.set_seed`).

    Returns:
        The :class:`ReplicaComparison`.
    """
    config = profiles.get_profile(config)
    if isinstance(build_model, keras.Model) or not callable(build_model):
        raise ValueError(f"build_model must be a function returning a keras.Model, got {type(build_model).__name__}")
    if not isinstance(strategy, tf.distribute.Strategy):
        raise ValueError(f"strategy must be a tf.distribute.Strategy, got {type(strategy).__name__}")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
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
            model = build_model()
            if synchronized:
                model = synchronize_batch_norm(model)
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
    """The first training batch train.train will see: the same preparation, pipeline and seed."""
    prepared = train.prepare_data(dataset, config, seed=seed)
    batches = pipeline.train_pipeline(prepared.dataset.x_train, prepared.dataset.y_train,
                                      batch_size=config.batch_size, mean=prepared.mean, std=prepared.std,
                                      seed=seed, augment=config.augment)
    return next(iter(batches))


def _slice_mean_loss(model, batch, replicas):
    """The mean loss over ``replicas`` equal slices of the batch, each a forward pass of its own in training mode."""
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


# --------------------------------------------------------------------------------------------- in a fresh process

def compare_in_subprocess(*, cpu_devices: int = 2, steps: int = 1, depth: int = 20, image_size: int = 16,
                          source: str = "synthetic", seed: int = 0, timeout: float = 600) -> ReplicaComparison:
    """Run :func:`compare_with_one_device` on a CPU split into ``cpu_devices`` devices, in a fresh process.

    TensorFlow fixes its devices when it starts, so a notebook or test process that already uses it cannot split
    its CPU any more; a fresh Python process can. It trains a ResNet of ``depth`` layers under the quick profile at
    ``image_size`` on ``source`` data (``"synthetic"``, ``"cifar10"`` or ``"auto"``), and returns the comparison.

    Raises:
        ValueError: for bad arguments (checked here, before starting the process).
        RuntimeError: if the process fails, with its error output.
    """
    for name, value, least in (("cpu_devices", cpu_devices, 2), ("steps", steps, 1), ("image_size", image_size, 8)):
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
    if source not in data.SOURCES:
        raise ValueError(f"source must be one of {', '.join(data.SOURCES)}, got {source!r}")
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
    parser.add_argument("--cpu-devices", type=int, default=2)
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--source", choices=data.SOURCES, default="synthetic")
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args(argv)
    strategy = split_cpu_strategy(arguments.cpu_devices)  # first: before TensorFlow initialises its devices
    config = dataclasses.replace(profiles.QUICK, image_size=arguments.image_size)
    dataset = data.load_dataset(arguments.source, num_train=arguments.steps * config.batch_size,
                                num_test=config.batch_size, seed=arguments.seed, verbose=False)
    comparison = compare_with_one_device(
        lambda: models.cifar_resnet(arguments.depth, input_shape=config.input_shape), dataset, config,
        strategy, steps=arguments.steps, seed=arguments.seed)
    print(json.dumps(comparison.to_dict()))


if __name__ == "__main__":
    main()
