"""Timing a network honestly: the blog's ``time_tensorflow_run`` in TensorFlow 2, done properly (chapter 6).

The blog times ResNet-50 on 16 images of 224x224: 10 untimed *burn-in* steps, then the mean and spread of 100 timed
ones. This module adds the median, results read back before the clock stops (:mod:`resnet_lessons.timing`), three
modes, three executions and mixed precision, images/s and GFLOP/s against the machine's ceiling, models timed
*interleaved* so a change in the machine's load falls on all alike, and a JSON report with the machine and the
command. Specs are in :mod:`resnet_lessons.bench_specs`, results and reports in :mod:`resnet_lessons.bench_report`;
chapter 6 imports their names from here. ``python -m resnet_lessons.bench`` runs the blog's benchmark.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import shlex
import sys
import time
from collections.abc import Callable, Sequence

import keras
import tensorflow as tf

from resnet_lessons import complexity, hardware, timing
from resnet_lessons.bench_report import (  # noqa: F401
    BACKWARD_FACTOR, REPORT_VERSION, RESULT_STATISTICS, BenchmarkResult, Comparison, Report, compare, find, load_report)
from resnet_lessons.bench_specs import (  # noqa: F401
    BENCHMARK_SIZES, BLOG_BATCH_SIZE, BLOG_IMAGE_SIZE, EXECUTIONS, MODELS, MODES, PRECISIONS, BenchmarkSizes,
    BenchmarkSpec, ModelEntry, benchmark_sizes)
from resnet_lessons.timing import BLOG_BURN_IN, BLOG_STEPS, read_back, time_steps  # noqa: F401

PROGRESS_SECONDS = 60  # longest silence between progress lines of a long run


def build_model(name: str, image_size: int, precision: str = "float32") -> keras.Model:
    """Build the model ``name`` of :data:`MODELS` for square RGB images, its layers under the dtype policy
    ``precision`` (the global policy is restored afterwards)."""
    spec = BenchmarkSpec(model=name, image_size=image_size, precision=precision)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(spec.precision)
    try:
        return MODELS[spec.model].build((spec.image_size, spec.image_size, 3))
    finally:
        keras.config.set_dtype_policy(previous)


def make_step(model: keras.Model, mode: str, execution: str, precision: str = "float32"):
    """Return ``step(images, labels)`` doing one ``mode`` step of ``model``, run as ``execution`` says.

    ``forward`` is inference; ``forward-backward`` the training-mode loss against the labels and its gradients, as the
    blog's ``tf.gradients``; ``train-step`` adds an SGD-with-momentum update (loss-scaled under ``mixed_float16``,
    whose small gradients would underflow). Each returns a small result that depends on all of its work (the logits,
    the sum of the gradients or of the updated weights), so reading it back waits for all of it.
    """
    timing.check_choice("mode", mode, MODES)
    timing.check_choice("execution", execution, EXECUTIONS)
    timing.check_choice("precision", precision, PRECISIONS)
    weights = model.trainable_variables
    scale_loss = mode == "train-step" and precision == "mixed_float16"
    if mode == "train-step":
        optimizer = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer) if scale_loss else optimizer
        optimizer.build(weights)

    def step(images, labels):
        if mode == "forward":
            return model(images, training=False)
        with tf.GradientTape() as tape:
            logits = tf.cast(model(images, training=True), tf.float32)
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))
            scaled = optimizer.scale_loss(loss) if scale_loss else loss
        gradients = tape.gradient(scaled, weights)
        if mode == "forward-backward":
            return _sum_of(gradients)
        optimizer.apply(gradients, weights)
        return _sum_of(weights)

    return step if execution == "eager" else tf.function(step, jit_compile=execution == "xla")


def _sum_of(tensors):
    return tf.add_n([tf.reduce_sum(tf.cast(tensor, tf.float32)) for tensor in tensors])


class _Benchmark:
    """One spec ready to run: its model (or one shared with specs of the same model and size), its step, and random
    inputs made once on the device, as the blog's ``tf.Variable``: the benchmark times the network, not a pipeline."""

    def __init__(self, spec: BenchmarkSpec, device: str, seed: int, model: keras.Model | None):
        self.spec = spec
        self._device_name = hardware.tensorflow_device_name(device)
        with tf.device(self._device_name):
            self.model = model if model is not None else build_model(spec.model, spec.image_size, spec.precision)
            shape = (spec.batch_size, spec.image_size, spec.image_size, 3)
            self.images = tf.random.stateless_normal(shape, seed=(seed, 0))
            self.labels = tf.random.stateless_uniform((spec.batch_size,), seed=(seed, 1), minval=0,
                                                      maxval=self.model.output_shape[-1], dtype=tf.int32)
            self.multiply_adds_per_image = complexity.count_multiply_adds(self.model)
            self._step = make_step(self.model, spec.mode, spec.execution, spec.precision)

    def step(self):
        with tf.device(self._device_name):
            return self._step(self.images, self.labels)


def measure(specs: BenchmarkSpec | Sequence[BenchmarkSpec], *, steps: int = BLOG_STEPS, burn_in: int = BLOG_BURN_IN,
            device: str = "auto", seed: int = 0, log: Callable[[str], None] | None = print,
            progress_every: int = 10) -> list[BenchmarkResult]:
    """Time every spec (one or a list) for ``burn_in + steps`` steps, interleaved as
    :func:`resnet_lessons.timing.time_interleaved` does; return one result per spec, in order.

    Specs that differ only in mode, execution or batch size share one model, built once (a ``train-step`` changes its
    weights' values, not any step's time). ``seed`` seeds the random inputs. A progress line goes to ``log`` every
    ``progress_every`` rounds, after the last, and whenever a minute has passed without one.
    """
    specs, device = _check_arguments(specs, steps, burn_in, device, seed)
    progress_every = timing.check_count("progress_every", progress_every, 1)
    return _measure(specs, steps, burn_in, device, seed, log, progress_every)


def _check_arguments(specs, steps, burn_in, device, seed):
    specs = [specs] if isinstance(specs, BenchmarkSpec) else list(specs)
    if not specs or not all(isinstance(spec, BenchmarkSpec) for spec in specs):
        raise ValueError(f"specs must be a BenchmarkSpec or a non-empty list of them, got {specs!r}")
    timing.check_count("steps", steps, 1)
    timing.check_count("burn_in", burn_in, 0)
    timing.check_count("seed", seed, 0)
    device = hardware.resolve_device(device)
    for spec in specs:  # before anything is built or timed
        hardware.check_precision(spec.precision, device)
    return specs, device


def _measure(specs, steps, burn_in, device, seed, log, progress_every):
    say = log if log is not None else (lambda message: None)
    tensorflow_logger = tf.get_logger()
    tensorflow_logger.addFilter(_drop_retracing_warning)
    try:
        benchmarks, built = [], {}
        for spec in specs:
            key = (spec.model, spec.image_size, spec.precision)
            say(f"[{timing.clock()}] {'preparing' if key in built else 'building'} {spec.label}")
            benchmarks.append(_Benchmark(spec, device, seed, built.get(key)))
            built[key] = benchmarks[-1].model
        times = timing.time_interleaved([benchmark.step for benchmark in benchmarks], steps=steps, burn_in=burn_in,
                                        after_round=_progress_lines(specs, steps, burn_in, progress_every, say))
    finally:
        tensorflow_logger.removeFilter(_drop_retracing_warning)
    return [BenchmarkResult(benchmark.spec, measured.step_seconds, measured.burn_in_seconds,
                            benchmark.multiply_adds_per_image, device)
            for benchmark, measured in zip(benchmarks, times)]


def _drop_retracing_warning(record: logging.LogRecord) -> bool:
    # TensorFlow warns when many functions are traced from one piece of Python code: each benchmark traces its own.
    return "triggered tf.function retracing" not in record.getMessage()


def _progress_lines(specs, steps, burn_in, progress_every, say):
    """What :func:`measure` says after each round: the burn-in (or first step) done, with the time to go; then the
    latest times (so that a long run on a slow machine does not look hung)."""
    started = last_line = time.perf_counter()

    def after_round(measured, times):
        nonlocal last_line
        if measured == (0 if burn_in else 1):
            to_go = sum(seconds[-1] for seconds in times) * (steps - max(measured, 0)) / 60
            say(f"[{timing.clock()}] {'burn-in' if burn_in else 'first step'} done after "
                f"{time.perf_counter() - started:.0f} s; about {to_go:.1f} min to go")
        now = time.perf_counter()
        due = measured % progress_every == 0 or measured == steps or now - last_line >= PROGRESS_SECONDS
        if measured > 0 and due:
            latest = ", ".join(f"{spec.model} {spec.mode} {seconds[-1]:.3f} s" for spec, seconds in zip(specs, times))
            say(f"[{timing.clock()}] step {measured}/{steps}: {latest}")
            last_line = now

    return after_round


def run(specs: Sequence[BenchmarkSpec], *, steps: int = BLOG_STEPS, burn_in: int = BLOG_BURN_IN,
        device: str = "auto", seed: int = 0, ceiling_size: int | None = 4096, baseline: str = "keras",
        command: str = "", log: Callable[[str], None] | None = print) -> Report:
    """Measure all ``specs`` in one interleaved run (:func:`measure`), and the ceiling of every precision used
    (:func:`timing.measure_ceiling`: the fastest of several large kernels, and the CPU's peak); return a
    :class:`Report`.

    The ceiling is measured before and after and the faster kept: one measured in a busy spell would flatter every
    network. ``ceiling_size=None`` skips it.
    """
    specs, device = _check_arguments(specs, steps, burn_in, device, seed)
    environment = hardware.describe_environment(device)
    started = time.perf_counter()
    say = log if log is not None else (lambda message: None)
    dtypes = list(dict.fromkeys(timing.CEILING_DTYPES[spec.precision] for spec in specs)) if ceiling_size else []

    def measure_ceilings(when):
        measured = [timing.measure_ceiling(ceiling_size, dtype, device=device, seed=seed) for dtype in dtypes]
        for ceiling in measured:
            say(f"[{timing.clock()}] {when}: {ceiling.describe()}")
        return measured

    before = measure_ceilings("ceiling before")
    results = _measure(specs, steps, burn_in, device, seed, log, progress_every=10)
    after = measure_ceilings("ceiling after")
    ceilings = [max(pair, key=lambda ceiling: ceiling.gflops_per_second) for pair in zip(before, after)]
    return Report(command=command, environment=environment,
                  settings={"steps": steps, "burn_in": burn_in, "seed": seed, "device": device},
                  results=tuple(results), ceilings=tuple(ceilings), comparisons=tuple(compare(results, baseline)),
                  seconds=time.perf_counter() - started, load_average_after=hardware.load_average())


def _integer_at_least(least: int, expected: str) -> Callable[[str], int]:
    """An argparse ``type`` reading an integer of at least ``least``; its error says ``expected <expected>``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = text
        if isinstance(value, str) or value < least:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value!r}")
        return value

    return parse


_positive_int = _integer_at_least(1, "a positive integer")
_non_negative_int = _integer_at_least(0, "an integer >= 0")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m resnet_lessons.bench",
        description="Time networks as the blog's time_tensorflow_run did (burn-in, then mean and spread per batch), "
                    "with median, images/s, achieved GFLOP/s and the machine's ceiling (the fastest of several "
                    "large kernels, beside the CPU's arithmetic peak). Every combination of the listed models, modes, "
                    "executions, precisions and batch sizes is measured, all of them "
                    "interleaved step by step in one run.",
        epilog="The default is the blog's benchmark, our ResNet-50 against keras.applications.ResNet50: 15 to 41 "
               "minutes on 2 CPU cores. A quick check: --batch-sizes 2 --image-size 64 --steps 3 --burn-in 1.")
    for option, choices, default, help_start, help_end in (
            ("models", tuple(MODELS), ["ours", "keras"], "models to time: ", ""),
            ("modes", MODES, ["forward", "forward-backward"], "", ""),
            ("executions", EXECUTIONS, ["function"], "", ""),
            ("precisions", PRECISIONS, ["float32"], "", "; mixed ones only where the device has the format "
                                                        "(see --list)")):
        parser.add_argument(f"--{option}", nargs="+", choices=choices, default=default, metavar=option[:-1].upper(),
                            help=f"{help_start}{', '.join(choices)} (default: {' '.join(default)}){help_end}")
    parser.add_argument("--batch-sizes", nargs="+", type=_positive_int, default=[BLOG_BATCH_SIZE], metavar="N",
                        help=f"images per step (default: {BLOG_BATCH_SIZE})")
    parser.add_argument("--image-size", type=_positive_int, default=BLOG_IMAGE_SIZE,
                        help=f"height and width of the images (default: {BLOG_IMAGE_SIZE})")
    parser.add_argument("--steps", type=_positive_int, default=BLOG_STEPS,
                        help=f"measured steps (default: {BLOG_STEPS})")
    parser.add_argument("--burn-in", type=_non_negative_int, default=BLOG_BURN_IN,
                        help=f"steps run first and left out of the statistics (default: {BLOG_BURN_IN})")
    parser.add_argument("--device", choices=hardware.DEVICES, default="auto", help="default: auto (GPU if any)")
    parser.add_argument("--ceiling-size", type=_non_negative_int, default=4096,
                        help="side of the matrices of the ceiling's matmuls (its convolution does about as many "
                             "multiply-adds); 0 skips it (default: 4096)")
    parser.add_argument("--baseline", choices=tuple(MODELS), default="keras",
                        help="model the others' median times are divided by (default: keras)")
    parser.add_argument("--seed", type=_non_negative_int, default=0, help="seeds the random inputs (default: 0)")
    parser.add_argument("--no-tf32", action="store_true",
                        help="forbid TensorFloat-32, so float32 means float32 on Ampere and later GPUs "
                             "(TensorFlow allows TF32 by default there; the report records which)")
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON to PATH")
    parser.add_argument("--list", action="store_true",
                        help="list the models and the precisions this machine supports, and exit")
    parser.add_argument("--quiet", action="store_true", help="no progress lines, only the results")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit status (argparse exits with status 2 on bad arguments)."""
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        device = hardware.resolve_device(arguments.device)
        support = hardware.precision_support(device)
    except ValueError as error:
        parser.error(str(error))
    if arguments.list:
        for name, entry in MODELS.items():
            print(f"{name:10} {entry.description}")
        for name, entry in support.items():
            print(f"{name:15} {'' if entry.supported else 'not '}supported on this {device.upper()}: {entry.reason}")
        return 0
    for precision in arguments.precisions:
        if not support[precision].supported:
            parser.error(f"precision {precision!r} is not supported on this {device.upper()}: "
                         f"{support[precision].reason}")
    try:
        specs = [BenchmarkSpec(model=model, mode=mode, execution=execution, precision=precision,
                               batch_size=batch_size, image_size=arguments.image_size)
                 for mode, execution, precision, batch_size, model in itertools.product(
                     arguments.modes, arguments.executions, arguments.precisions, arguments.batch_sizes,
                     dict.fromkeys(arguments.models))]
    except ValueError as error:
        parser.error(str(error))
    if arguments.no_tf32:
        hardware.set_tf32(False)
    command = shlex.join(["python", "-m", "resnet_lessons.bench", *(sys.argv[1:] if argv is None else argv)])
    log = None if arguments.quiet else (lambda message: print(message, flush=True))
    report = run(specs, steps=arguments.steps, burn_in=arguments.burn_in, device=device, seed=arguments.seed,
                 ceiling_size=arguments.ceiling_size or None, baseline=arguments.baseline, command=command, log=log)
    print(report.summary())
    if arguments.json:
        report.save(arguments.json)
        print(f"report written to {arguments.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
