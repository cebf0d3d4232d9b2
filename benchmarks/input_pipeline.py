"""What does the input pipeline cost? Training throughput fed by it against the same model fed from memory.

Chapter 4 trains every network through :func:`resnet_lessons.pipeline.train_pipeline` (shuffle, the paper's
pad-crop-flip augmentation, normalisation, prefetching). That work runs on the CPU beside the training step, so it
can slow training down: on a CPU by taking cores from the model, on a GPU by not keeping up with it. This script
measures it: for ResNet-20 and ResNet-56 it times training steps fed by the pipeline and fed from memory (batches
made by the same pipeline beforehand and replayed from a tensor, so the step does the same work but no input work
is left), and prints both throughputs and the relative cost ``1 - pipeline / memory``. The book's requirement is a
cost of at most 10 %; with ``--max-cost 0.10`` the script exits with status 1 when a model exceeds it. Measured on
2 CPU cores (nearly idle), 32x32: ResNet-20 469 images/s from memory, 466 with the pipeline (0.5 %); ResNet-56 162
and 159 (1.6 %); the pipeline alone takes 0.6 % of a ResNet-20 step's CPU time.

The two feeds are measured alternately, ``--repeats`` times each, so a machine that gets busier during the run slows
both alike, and the median of each is reported. The first ``--warmup-steps`` steps of every measurement (tracing,
the prefetch buffer filling) are not timed. On a machine that other work keeps busy, wall-clock throughput is noisy,
so the script also reports the process's CPU time per image with each feed (all its threads: the model's and the
pipeline's), and the CPU time of the pipeline alone, which bounds what it can cost on a CPU where it shares the
cores with the model.

Usage::

    python benchmarks/input_pipeline.py                      # the paper's 32x32 images, batch 128
    python benchmarks/input_pipeline.py --image-size 16      # the quick profile's size
    python benchmarks/input_pipeline.py --max-cost 0.10      # fail if the pipeline costs more than 10 %
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from resnet_lessons import data, models, pipeline, profiles, seeding, train

MODELS = {"ResNet-20": models.resnet20, "ResNet-56": models.resnet56}


@dataclasses.dataclass(frozen=True)
class Measurement:
    images_per_second: float  # wall clock
    cpu_ms_per_image: float  # CPU time of the whole process (every thread) per image


@dataclasses.dataclass(frozen=True)
class Result:
    model: str
    memory: list[Measurement]  # one per repeat
    pipeline: list[Measurement]
    pipeline_alone_cpu_ms_per_image: float  # producing batches without training

    @property
    def memory_images_per_second(self) -> float:
        return statistics.median(measurement.images_per_second for measurement in self.memory)

    @property
    def pipeline_images_per_second(self) -> float:
        return statistics.median(measurement.images_per_second for measurement in self.pipeline)

    @property
    def cost(self) -> float:
        """The fraction of throughput the pipeline costs (negative: within noise, the pipeline was faster)."""
        return 1.0 - self.pipeline_images_per_second / self.memory_images_per_second

    @property
    def cpu_cost(self) -> float:
        """The fraction of CPU time per image that the pipeline adds (medians of the repeats)."""
        memory = statistics.median(measurement.cpu_ms_per_image for measurement in self.memory)
        pipeline = statistics.median(measurement.cpu_ms_per_image for measurement in self.pipeline)
        return 1.0 - memory / pipeline

    @property
    def cpu_bound(self) -> float:
        """The pipeline's own CPU time as a fraction of a training step's: at most this on a CPU-bound machine."""
        memory = statistics.median(measurement.cpu_ms_per_image for measurement in self.memory)
        return self.pipeline_alone_cpu_ms_per_image / (memory + self.pipeline_alone_cpu_ms_per_image)


class _Timer(keras.callbacks.Callback):
    """Times the steps after the first ``warmup`` ones; reading the loss waits for the step to finish (GPUs)."""

    def __init__(self, warmup: int, steps: int):
        super().__init__()
        self.warmup, self.steps = warmup, steps
        self.started = self.finished = None

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 == self.warmup:
            float(logs["loss"])
            self.started = (time.perf_counter(), time.process_time())
        elif batch + 1 == self.warmup + self.steps:
            float(logs["loss"])
            self.finished = (time.perf_counter(), time.process_time())


def measure_training(model, batches, *, batch_size, warmup_steps, steps) -> Measurement:
    """Train ``model`` for ``warmup_steps + steps`` steps on ``batches`` and time the last ``steps``."""
    timer = _Timer(warmup_steps, steps)
    model.fit(batches, epochs=1, steps_per_epoch=warmup_steps + steps, callbacks=[timer], shuffle=False, verbose=0)
    wall, cpu = (end - start for start, end in zip(timer.started, timer.finished))
    images = batch_size * steps
    return Measurement(images_per_second=images / wall, cpu_ms_per_image=1000 * cpu / images)


def pipeline_alone_cpu_ms_per_image(batches, *, batch_size, warmup_steps, steps) -> float:
    """CPU time per image of producing batches with no model to feed."""
    iterator = iter(batches)
    for _ in range(warmup_steps):
        next(iterator)
    started = time.process_time()
    for _ in range(steps):
        next(iterator)
    return 1000 * (time.process_time() - started) / (batch_size * steps)


def in_memory(batches: tf.data.Dataset, count: int) -> tf.data.Dataset:
    """``count`` batches of ``batches``, made now and replayed from one tensor: a feed with no input work left."""
    images, labels = zip(*((x.numpy(), y.numpy()) for x, y in batches.take(count)))
    return tf.data.Dataset.from_tensor_slices((np.stack(images), np.stack(labels))).repeat()


def measure(name, dataset, config, arguments) -> Result:
    prepared = train.prepare_data(dataset, config)
    x, y = prepared.dataset.x_train, prepared.dataset.y_train
    steps_per_measurement = arguments.warmup_steps + arguments.steps
    # enough epochs that no measurement runs out of batches
    epochs = 1 + arguments.repeats * steps_per_measurement // pipeline.steps_per_epoch(len(x), config.batch_size)

    def fed_by_pipeline():
        return pipeline.train_pipeline(x, y, batch_size=config.batch_size, mean=prepared.mean, std=prepared.std,
                                       seed=0, epochs=epochs, augment=config.augment)

    from_memory = in_memory(fed_by_pipeline(), count=8)
    seeding.set_seed(0)
    model = MODELS[name](input_shape=config.input_shape)
    train.compile_for_training(model, config, pipeline.steps_per_epoch(len(x), config.batch_size))
    timing = {"batch_size": config.batch_size, "warmup_steps": arguments.warmup_steps, "steps": arguments.steps}
    results = {"memory": [], "pipeline": []}
    for repeat in range(arguments.repeats):
        order = ("memory", "pipeline") if repeat % 2 == 0 else ("pipeline", "memory")  # cancel drift
        for feed in order:
            batches = from_memory if feed == "memory" else fed_by_pipeline()
            results[feed].append(measure_training(model, batches, **timing))
            print(f"  {name:9} repeat {repeat + 1}/{arguments.repeats} {feed:8} "
                  f"{results[feed][-1].images_per_second:9,.0f} images/s "
                  f"{results[feed][-1].cpu_ms_per_image:7.2f} CPU ms/image", flush=True)
    alone = pipeline_alone_cpu_ms_per_image(fed_by_pipeline(), **timing)
    return Result(name, results["memory"], results["pipeline"], alone)


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-size", type=int, default=32, help="image side in pixels (default: 32, the paper's)")
    parser.add_argument("--batch-size", type=int, default=128, help="images per step (default: 128)")
    parser.add_argument("--num-images", type=int, default=10_000, help="training images the pipeline draws from")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per measurement")
    parser.add_argument("--warmup-steps", type=int, default=3, help="untimed steps before each measurement")
    parser.add_argument("--repeats", type=int, default=5, help="measurements per model and feed")
    parser.add_argument("--no-augment", action="store_true", help="leave out the pad-crop-flip augmentation")
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=sorted(MODELS))
    parser.add_argument("--max-cost", type=float, default=None,
                        help="exit with status 1 if the pipeline costs more than this fraction (e.g. 0.10)")
    arguments = parser.parse_args(argv)
    for name in ("image_size", "batch_size", "num_images", "steps", "warmup_steps", "repeats"):
        if getattr(arguments, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if arguments.batch_size > arguments.num_images:
        parser.error("--batch-size must be at most --num-images")
    return arguments


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    config = dataclasses.replace(profiles.PAPER, name="benchmark", batch_size=arguments.batch_size,
                                 image_size=arguments.image_size, validation_examples=0,
                                 augment=not arguments.no_augment)
    dataset = data.load_dataset("synthetic", num_train=arguments.num_images, num_test=arguments.batch_size,
                                verbose=False)
    gpus = tf.config.list_physical_devices("GPU")
    print(f"TensorFlow {tf.__version__}; {os.cpu_count()} CPU cores; "
          f"{len(gpus)} GPU{'s' if len(gpus) != 1 else ''}; load average {os.getloadavg()[0]:.1f}")
    print(f"{arguments.image_size}x{arguments.image_size} images, batch {arguments.batch_size}, augmentation "
          f"{'on' if config.augment else 'off'}; {arguments.repeats} measurements of {arguments.steps} steps "
          "per model and feed")
    results = [measure(name, dataset, config, arguments) for name in arguments.models]
    print(f"\nThroughput (images/s) and CPU time (ms per image), medians; "
          f"load average now {os.getloadavg()[0]:.1f}")
    print(f"{'model':10}{'from memory':>12}{'pipeline':>10}{'cost':>8}   {'CPU: memory':>11}{'pipeline':>10}"
          f"{'cost':>8}{'pipeline alone':>16}")
    for result in results:
        memory_cpu = statistics.median(m.cpu_ms_per_image for m in result.memory)
        pipeline_cpu = statistics.median(m.cpu_ms_per_image for m in result.pipeline)
        print(f"{result.model:10}{result.memory_images_per_second:12,.0f}{result.pipeline_images_per_second:10,.0f}"
              f"{100 * result.cost:7.1f} %   {memory_cpu:11.2f}{pipeline_cpu:10.2f}{100 * result.cpu_cost:7.1f} %"
              f"{result.pipeline_alone_cpu_ms_per_image:12.3f} = {100 * result.cpu_bound:.1f} % of a step")
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        print("The machine is busier than it has cores: wall-clock numbers are noisy, CPU times less so.")
    if arguments.max_cost is not None:
        over = [result.model for result in results if result.cost > arguments.max_cost]
        if over:
            print(f"The input pipeline costs more than {100 * arguments.max_cost:.0f} % for {', '.join(over)}.")
            return 1
        print(f"The input pipeline costs at most {100 * arguments.max_cost:.0f} % for every model.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
