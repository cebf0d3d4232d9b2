"""Timing a network honestly: the blog's ``time_tensorflow_run`` in TensorFlow 2, done properly (chapter 6).

The blog post this book starts from ends with a benchmark: run ResNet-50 on a batch of 16 images of 224x224 for 10
untimed *burn-in* steps, then time 100 steps, and print the mean and standard deviation of the time per batch, for
the forward pass alone and for forward plus backward. This module keeps that recipe and adds what a benchmark needs
to be trusted and compared:

- the *median* next to mean and spread (one step slowed by another program moves the mean, not the median);
- results *read back to the host* before the clock stops (:mod:`resnet_lessons.timing`, where the timing loop is);
- three modes (``forward``, ``forward-backward``, ``train-step``), three ways of running (``eager``, ``function``
  for ``tf.function``, ``xla`` for ``tf.function(jit_compile=True)``) and mixed precision where the device has it;
- throughput (images/s) and achieved GFLOP/s from :func:`resnet_lessons.complexity.count_multiply_adds`, as a
  fraction of the machine's own ceiling, a large matrix multiplication timed the same way
  (:func:`resnet_lessons.timing.measure_matmul_ceiling`);
- several models measured *interleaved*, one step each in turn, so a change in the machine's load (another program,
  a warming CPU) falls on all of them alike and their ratio stays fair;
- a JSON report with the machine and the command, so a number quoted later says where and how it was measured.

This module builds and times; what can be measured (the models, :class:`BenchmarkSpec`, the sizes per profile) is
in :mod:`resnet_lessons.bench_specs`, and what was measured (:class:`BenchmarkResult`, :class:`Report` and its JSON
file) in :mod:`resnet_lessons.bench_report`. Their names are importable from here, as chapter 6 uses them.

Command line (``python -m resnet_lessons.bench --help``): without arguments it runs the blog's benchmark on our
ResNet-50 and ``keras.applications.ResNet50`` side by side, forward and forward-backward.
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
# Chapter 6 and the tests use these names from bench: the specs and sizes (bench_specs), the results and report files
# (bench_report) and the timing (``bench.time_steps``, ``bench.read_back``, ...).
from resnet_lessons.bench_report import (  # noqa: F401
    BACKWARD_FACTOR, REPORT_VERSION, RESULT_STATISTICS, BenchmarkResult, Comparison, Report, compare, find, load_report)
from resnet_lessons.bench_specs import (  # noqa: F401
    BENCHMARK_SIZES, BLOG_BATCH_SIZE, BLOG_IMAGE_SIZE, EXECUTIONS, MODELS, MODES, PRECISIONS, BenchmarkSizes,
    BenchmarkSpec, ModelEntry, benchmark_sizes)
from resnet_lessons.timing import BLOG_BURN_IN, BLOG_STEPS, measure_matmul_ceiling, read_back, time_steps  # noqa: F401

PROGRESS_SECONDS = 60  # longest silence between progress lines of a long run


# ------------------------------------------------------------------------------------------------- one step

def build_model(name: str, image_size: int, precision: str = "float32") -> keras.Model:
    """Build the model registered as ``name`` (see :data:`MODELS`) for ``image_size`` x ``image_size`` RGB images.

    ``precision`` is the Keras dtype policy the layers are created under (``"mixed_bfloat16"``: bfloat16 arithmetic,
    float32 weights); the global policy is restored afterwards.
    """
    spec = BenchmarkSpec(model=name, image_size=image_size, precision=precision)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(spec.precision)
    try:
        return MODELS[spec.model].build((spec.image_size, spec.image_size, 3))
    finally:
        keras.config.set_dtype_policy(previous)


def make_step(model: keras.Model, mode: str, execution: str, precision: str = "float32"):
    """Return ``step(images, labels)`` doing one ``mode`` step of ``model``, run as ``execution`` says.

    Every step returns a small result that depends on all of its work, so reading it back waits for all of it:
    ``forward`` the logits; ``forward-backward`` the sum of all gradients (its extra cost, one addition per weight,
    is about 1/30,000 of ResNet-50's forward-backward); ``train-step`` the sum of all weights after the update.

    - ``forward``: inference, ``model(images, training=False)``.
    - ``forward-backward``: the loss (cross-entropy against random labels) in training mode and its gradient with
      respect to every trainable weight, as the blog's ``tf.gradients``; no update.
    - ``train-step``: the same plus an SGD-with-momentum update (with loss scaling under ``mixed_float16``, whose
      small gradients would otherwise underflow).
    """
    timing.check_choice("mode", mode, MODES)
    timing.check_choice("execution", execution, EXECUTIONS)
    timing.check_choice("precision", precision, PRECISIONS)
    weights = model.trainable_variables

    def loss_of(images, labels):
        logits = tf.cast(model(images, training=True), tf.float32)
        return tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))

    if mode == "forward":
        def step(images, labels):
            return model(images, training=False)
    elif mode == "forward-backward":
        def step(images, labels):
            with tf.GradientTape() as tape:
                loss = loss_of(images, labels)
            return _sum_of(tape.gradient(loss, weights))
    else:
        optimizer = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
        if precision == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(weights)

        def step(images, labels):
            with tf.GradientTape() as tape:
                loss = loss_of(images, labels)
                scaled = optimizer.scale_loss(loss) if precision == "mixed_float16" else loss
            optimizer.apply(tape.gradient(scaled, weights), weights)
            return _sum_of(weights)

    if execution == "eager":
        return step
    return tf.function(step, jit_compile=execution == "xla")


def _sum_of(tensors):
    return tf.add_n([tf.reduce_sum(tf.cast(tensor, tf.float32)) for tensor in tensors])


# ----------------------------------------------------------------------------------------- many benchmarks

class _Benchmark:
    """One spec ready to run: its model (built, or shared with specs of the same model and size), inputs on the
    device, step function made.

    The inputs are made once, on the device, as the blog made them once as a ``tf.Variable``: the benchmark times
    the network, not an input pipeline. Their values are random (seeded); a network's speed does not depend on them.
    """

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
        """Run one step on the device and return its (possibly not yet computed) result."""
        with tf.device(self._device_name):
            return self._step(self.images, self.labels)


def measure(specs: BenchmarkSpec | Sequence[BenchmarkSpec], *, steps: int = BLOG_STEPS, burn_in: int = BLOG_BURN_IN,
            device: str = "auto", seed: int = 0, log: Callable[[str], None] | None = print,
            progress_every: int = 10) -> list[BenchmarkResult]:
    """Time every spec for ``burn_in + steps`` steps, interleaved, and return one result per spec, in order.

    Interleaved (:func:`resnet_lessons.timing.time_interleaved`): round by round, every benchmark takes one step, in
    an order reversed each round, so a slow spell of the machine costs every benchmark alike. Specs that differ only
    in mode, execution or batch size share one model, built once (a ``train-step`` changes its weights' values,
    which does not change the time of any step); each gets its own step function.

    Args:
        specs: one :class:`BenchmarkSpec` or several.
        steps: measured steps per spec (the blog: 100).
        burn_in: steps per spec before the measured ones (the blog: 10); their times are kept in the results.
        device: ``"auto"``, ``"cpu"`` or ``"gpu"``.
        seed: seeds the random inputs.
        log: where progress lines go (``print``), or ``None``.
        progress_every: rounds between progress lines; there is also one after the last round, and one whenever
            a minute has passed without.
    """
    specs, device = _check_arguments(specs, steps, burn_in, device, seed)
    progress_every = timing.check_count("progress_every", progress_every, 1)
    return _measure(specs, steps, burn_in, device, seed, log, progress_every)


def _check_arguments(specs, steps, burn_in, device, seed):
    """The arguments :func:`measure` and :func:`run` share, checked before anything is built or timed."""
    specs = [specs] if isinstance(specs, BenchmarkSpec) else list(specs)
    if not specs or not all(isinstance(spec, BenchmarkSpec) for spec in specs):
        raise ValueError(f"specs must be a BenchmarkSpec or a non-empty list of them, got {specs!r}")
    timing.check_count("steps", steps, 1)
    timing.check_count("burn_in", burn_in, 0)
    timing.check_count("seed", seed, 0)
    device = hardware.resolve_device(device)
    for spec in specs:  # refuse an unsupported precision before building anything
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
    return [BenchmarkResult(benchmark.spec, spec_times.step_seconds, spec_times.burn_in_seconds,
                            benchmark.multiply_adds_per_image, device)
            for benchmark, spec_times in zip(benchmarks, times)]


def _drop_retracing_warning(record: logging.LogRecord) -> bool:
    # TensorFlow warns when functions made from one piece of Python code are traced often; here every benchmark
    # traces its own step function once, on purpose.
    return "triggered tf.function retracing" not in record.getMessage()


def _progress_lines(specs, steps, burn_in, progress_every, say):
    """What :func:`measure` says after each round: when the burn-in (or the first step) is done, with an estimate of
    the time to go; then the latest times every ``progress_every`` rounds, after the last, and whenever
    ``PROGRESS_SECONDS`` passed without a line (a long run on a slow machine should not look hung)."""
    started = last_line = time.perf_counter()

    def after_round(measured, times):
        nonlocal last_line
        if measured == (0 if burn_in else 1):
            per_round = sum(spec_times[-1] for spec_times in times)
            say(f"[{timing.clock()}] {'burn-in' if burn_in else 'first step'} done after "
                f"{time.perf_counter() - started:.0f} s; "
                f"about {per_round * (steps - max(measured, 0)) / 60:.1f} min to go")
        now = time.perf_counter()
        if measured > 0 and (measured % progress_every == 0 or measured == steps
                             or now - last_line >= PROGRESS_SECONDS):
            latest = ", ".join(f"{spec.model} {spec.mode} {spec_times[-1]:.3f} s"
                               for spec, spec_times in zip(specs, times))
            say(f"[{timing.clock()}] step {measured}/{steps}: {latest}")
            last_line = now

    return after_round


def run(specs: Sequence[BenchmarkSpec], *, steps: int = BLOG_STEPS, burn_in: int = BLOG_BURN_IN,
        device: str = "auto", seed: int = 0, ceiling_size: int | None = 4096, baseline: str = "keras",
        command: str = "", log: Callable[[str], None] | None = print) -> Report:
    """Measure all ``specs`` interleaved, and the matmul ceiling of every precision used; return a :class:`Report`.

    All specs are measured in one interleaved run (see :func:`measure`), so any two of them, our model and keras' or
    forward and forward-backward, are compared under the same conditions. The ceiling is measured before and after
    them and the faster of the two kept: it is the best the machine showed, and a ceiling measured during a busy
    spell would flatter every network. ``ceiling_size=None`` skips the ceiling. Progress goes to ``log``.
    """
    specs, device = _check_arguments(specs, steps, burn_in, device, seed)
    environment = hardware.describe_environment(device)
    started = time.perf_counter()
    say = log if log is not None else (lambda message: None)
    dtypes = list(dict.fromkeys(timing.CEILING_DTYPES[spec.precision] for spec in specs)) if ceiling_size else []

    def measure_ceilings(when):
        measured = [timing.measure_matmul_ceiling(ceiling_size, dtype, device=device, seed=seed) for dtype in dtypes]
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


# ---------------------------------------------------------------------------------------------- command line

def _integer_at_least(least: int, expected: str) -> Callable[[str], int]:
    """An argparse ``type`` reading an integer of at least ``least``; its error says ``expected <expected>``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
        return value

    return parse


_positive_int = _integer_at_least(1, "a positive integer")
_non_negative_int = _integer_at_least(0, "an integer >= 0")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m resnet_lessons.bench",
        description="Time networks as the blog's time_tensorflow_run did (burn-in, then mean and spread per batch), "
                    "with median, images/s, achieved GFLOP/s and the machine's matmul ceiling. Every combination of "
                    "the listed models, modes, executions, precisions and batch sizes is measured, all of them "
                    "interleaved step by step in one run.",
        epilog="The default is the blog's benchmark, our ResNet-50 against keras.applications.ResNet50: about 15 "
               "minutes on 2 CPU cores. A quick check: --batch-sizes 2 --image-size 64 --steps 3 --burn-in 1.")
    parser.add_argument("--models", nargs="+", choices=tuple(MODELS), default=["ours", "keras"], metavar="MODEL",
                        help=f"models to time: {', '.join(MODELS)} (default: ours keras)")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=["forward", "forward-backward"],
                        metavar="MODE", help=f"{', '.join(MODES)} (default: forward forward-backward)")
    parser.add_argument("--executions", nargs="+", choices=EXECUTIONS, default=["function"], metavar="EXECUTION",
                        help=f"{', '.join(EXECUTIONS)} (default: function)")
    parser.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=["float32"], metavar="PRECISION",
                        help=f"{', '.join(PRECISIONS)} (default: float32); mixed ones only where the device has "
                             "the format (see --list)")
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
                        help="side of the matrices of the ceiling measurement; 0 skips it (default: 4096)")
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
            print(f"{name:15} {'supported' if entry.supported else 'not supported'} on this "
                  f"{device.upper()}: {entry.reason}")
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
