"""Timing a network honestly: the blog's ``time_tensorflow_run`` in TensorFlow 2, done properly (chapter 6).

The blog post this book starts from ends with a benchmark: run ResNet-50 on a batch of 16 images of 224x224 for 10
untimed *burn-in* steps, then time 100 steps, and print the mean and standard deviation of the time per batch, for
the forward pass alone and for forward plus backward. This module keeps that recipe and adds what a benchmark needs
to be trusted and compared:

- the *median* next to mean and spread (one step slowed by another program moves the mean, not the median);
- results *read back to the host* before the clock stops: TensorFlow may return from a call before the device has
  finished (always on a GPU, on a CPU in asynchronous mode), and a timer stopped then measures the dispatch;
- three modes (``forward``, ``forward-backward``, ``train-step``), three ways of running (``eager``, ``function``
  for ``tf.function``, ``xla`` for ``tf.function(jit_compile=True)``) and mixed precision where the device has it;
- throughput (images/s) and achieved GFLOP/s from :func:`resnet_lessons.complexity.count_multiply_adds`, as a
  fraction of the machine's own ceiling, a large matrix multiplication timed the same way
  (:func:`measure_matmul_ceiling`);
- several models measured *interleaved*, one step each in turn, so a change in the machine's load (another program,
  a warming CPU) falls on all of them alike and their ratio stays fair;
- a JSON report with the machine and the command, so a number quoted later says where and how it was measured.

Command line (``python -m resnet_lessons.bench --help``): without arguments it runs the blog's benchmark on our
ResNet-50 and ``keras.applications.ResNet50`` side by side, forward and forward-backward (about 15 minutes on two
CPU cores).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import itertools
import json
import logging
import shlex
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from resnet_lessons import complexity, hardware, models

MODES = ("forward", "forward-backward", "train-step")
EXECUTIONS = ("eager", "function", "xla")
PRECISIONS = hardware.PRECISIONS
# A backward pass costs about twice the forward pass's multiply-adds: for every layer one product for the gradient
# with respect to its input and one for the gradient with respect to its weights, each as large as the forward
# product. So a forward-backward (or training) step is counted as three forward passes.
BACKWARD_FACTOR = 3
# The blog's settings: batch 16 of 224x224 images, 100 timed steps after 10 burn-in steps.
BLOG_BATCH_SIZE = 16
BLOG_IMAGE_SIZE = 224
BLOG_STEPS = 100
BLOG_BURN_IN = 10
REPORT_VERSION = 1
PROGRESS_SECONDS = 60  # longest silence between progress lines of a long run


# ------------------------------------------------------------------------------------------------ the models

@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """How to build one benchmarkable model for a given input shape."""

    build: Callable[[tuple[int, int, int]], keras.Model]  # input_shape -> model returning logits
    description: str  # one line for listings and reports
    min_image_size: int  # smallest height/width the model accepts


def _keras_resnet50(input_shape):
    # Logits like ours (the softmax of keras' default is left out of both), random weights (no download).
    return keras.applications.ResNet50(weights=None, input_shape=input_shape, classifier_activation=None)


MODELS = {
    "ours": ModelEntry(lambda shape: models.resnet50(input_shape=shape),
                       "our ResNet-50 (chapter 5): as in the paper, convolutions without biases", 32),
    "ours-bias": ModelEntry(lambda shape: models.resnet50(input_shape=shape, use_bias=True),
                            "our ResNet-50 with convolution biases, layer for layer keras.applications' network", 32),
    "keras": ModelEntry(_keras_resnet50, "keras.applications.ResNet50(weights=None): convolutions with biases", 32),
    "resnet20": ModelEntry(lambda shape: models.resnet20(input_shape=shape),
                           "ResNet-20 for CIFAR-10 (chapter 4): a small stand-in", 4),
    "resnet56": ModelEntry(lambda shape: models.resnet56(input_shape=shape),
                           "ResNet-56 for CIFAR-10 (chapter 4)", 4),
}


def build_model(name: str, image_size: int, precision: str = "float32") -> keras.Model:
    """Build the model registered as ``name`` (see :data:`MODELS`) for ``image_size`` x ``image_size`` RGB images.

    ``precision`` is the Keras dtype policy the layers are created under (``"mixed_bfloat16"``: bfloat16 arithmetic,
    float32 weights); the global policy is restored afterwards.
    """
    spec = BenchmarkSpec(model=name, image_size=image_size, precision=precision)
    with _dtype_policy(spec.precision):
        return MODELS[spec.model].build((spec.image_size, spec.image_size, 3))


@contextlib.contextmanager
def _dtype_policy(precision):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


# ------------------------------------------------------------------------------------------ what to measure

def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_count(name: str, value, least: int) -> int:
    if not _is_int(value) or value < least:
        raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
    return int(value)


def _check_choice(name: str, value, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}: expected one of {', '.join(choices)}")
    return value


@dataclasses.dataclass(frozen=True)
class BenchmarkSpec:
    """One configuration to time: which model, which work, how it is run, at which size."""

    model: str = "ours"  # a key of MODELS
    mode: str = "forward"  # "forward" (inference), "forward-backward" (gradients) or "train-step" (+ SGD update)
    execution: str = "function"  # "eager", "function" (tf.function) or "xla" (tf.function(jit_compile=True))
    precision: str = "float32"  # "float32", "mixed_bfloat16" or "mixed_float16"
    batch_size: int = BLOG_BATCH_SIZE  # images per step
    image_size: int = BLOG_IMAGE_SIZE  # height and width of the (square, RGB) images

    def __post_init__(self):
        _check_choice("model", self.model, tuple(MODELS))
        _check_choice("mode", self.mode, MODES)
        _check_choice("execution", self.execution, EXECUTIONS)
        _check_choice("precision", self.precision, PRECISIONS)
        _check_count("batch_size", self.batch_size, 1)
        least = MODELS[self.model].min_image_size
        if not _is_int(self.image_size) or self.image_size < least:
            raise ValueError(f"image_size must be an integer >= {least} for model {self.model!r}, "
                             f"got {self.image_size!r}")

    @property
    def label(self) -> str:
        """A short name for tables and logs, e.g. ``"keras forward function float32 16x224"``."""
        return (f"{self.model} {self.mode} {self.execution} {self.precision} "
                f"{self.batch_size}x{self.image_size}")

    def group(self) -> tuple:
        """Everything but the model: results in one group are comparable model against model."""
        return (self.mode, self.execution, self.precision, self.batch_size, self.image_size)


# ---------------------------------------------------------------------------------------------- the timing

def read_back(result):
    """Copy every tensor in ``result`` (a tensor or a nest of them) to the host as NumPy; return the copies.

    TensorFlow may hand back a tensor before it has been computed: a GPU queues the work and returns at once, and
    so does a CPU in asynchronous mode (``tf.config.experimental.set_synchronous_execution(False)``). The copy to
    the host waits for the value, so a timer stopped after ``read_back`` has timed the computation.
    """
    return tf.nest.map_structure(lambda value: value.numpy() if hasattr(value, "numpy") else value, result)


@dataclasses.dataclass(frozen=True)
class StepTimes:
    """Seconds per step of one timed run: the untimed-in-spirit burn-in steps and the measured ones."""

    burn_in_seconds: tuple[float, ...]
    step_seconds: tuple[float, ...]


def time_steps(step: Callable[[], object], *, steps: int = BLOG_STEPS, burn_in: int = BLOG_BURN_IN,
               log: Callable[[str], None] | None = None, label: str = "", progress_every: int = 10) -> StepTimes:
    """Call ``step()`` ``burn_in + steps`` times and time each call, reading its result back before the clock stops.

    This is the blog's ``time_tensorflow_run`` for TensorFlow 2: no session, the same burn-in and a progress line
    every ``progress_every`` measured steps; the burn-in times are kept (not thrown away) so they can be looked at.

    Args:
        step: a function with no arguments that runs one step and returns its result (tensors).
        steps: measured steps, at least 1.
        burn_in: steps run first and reported separately, at least 0: the first call of a ``tf.function`` traces
            the Python code into a graph, XLA compiles it, and memory is allocated for the first time.
        log: where progress lines go (``print``), or ``None`` for none.
        label: names the run in the progress lines.
        progress_every: measured steps between progress lines.
    """
    steps = _check_count("steps", steps, 1)
    burn_in = _check_count("burn_in", burn_in, 0)
    progress_every = _check_count("progress_every", progress_every, 1)
    times = []
    for index in range(burn_in + steps):
        start = time.perf_counter()
        read_back(step())
        times.append(time.perf_counter() - start)
        measured = index + 1 - burn_in
        if log is not None and measured > 0 and measured % progress_every == 0:
            log(f"[{_clock()}] {label} step {measured}/{steps}: {times[-1]:.3f} s")
    return StepTimes(tuple(times[:burn_in]), tuple(times[burn_in:]))


def _clock() -> str:
    return datetime.datetime.now().strftime("%H:%M:%S")


# ---------------------------------------------------------------------------------------------- the results

@dataclasses.dataclass(frozen=True)
class BenchmarkResult:
    """The measured step times of one :class:`BenchmarkSpec` and everything derived from them."""

    spec: BenchmarkSpec
    step_seconds: tuple[float, ...]  # measured steps, in order
    burn_in_seconds: tuple[float, ...]  # burn-in steps, in order (the first one includes tracing/compiling)
    multiply_adds_per_image: int  # forward pass, from complexity.count_multiply_adds
    device: str  # "cpu" or "gpu"

    @property
    def mean_seconds(self) -> float:
        return float(np.mean(self.step_seconds))

    @property
    def std_seconds(self) -> float:
        """Sample standard deviation of the step times (0 for a single step)."""
        return float(np.std(self.step_seconds, ddof=1)) if len(self.step_seconds) > 1 else 0.0

    @property
    def median_seconds(self) -> float:
        return float(np.median(self.step_seconds))

    @property
    def images_per_second(self) -> float:
        """Throughput of a typical step: batch size over the median step time."""
        return self.spec.batch_size / self.median_seconds

    @property
    def flops_per_step(self) -> int:
        """Floating-point operations of one step: 2 per multiply-add, times 3 with the backward pass."""
        factor = 1 if self.spec.mode == "forward" else BACKWARD_FACTOR
        return 2 * self.multiply_adds_per_image * self.spec.batch_size * factor

    @property
    def gflops_per_second(self) -> float:
        """Achieved 10^9 floating-point operations per second over the median step."""
        return self.flops_per_step / self.median_seconds / 1e9

    def describe(self, ceiling: "MatmulCeiling | None" = None) -> str:
        """One line in the blog's style, plus median, throughput and (given a ceiling) its achieved fraction."""
        line = (f"{self.spec.label}: {self.mean_seconds:.3f} +/- {self.std_seconds:.3f} s/batch over "
                f"{len(self.step_seconds)} steps, median {self.median_seconds:.3f} s, "
                f"{self.images_per_second:.1f} images/s, {self.gflops_per_second:.1f} GFLOP/s")
        if ceiling is not None:
            line += f" ({self.gflops_per_second / ceiling.gflops_per_second:.0%} of the {ceiling.dtype} matmul)"
        return line

    def to_dict(self) -> dict:
        return {"spec": dataclasses.asdict(self.spec), "device": self.device,
                "multiply_adds_per_image": self.multiply_adds_per_image,
                "mean_seconds": self.mean_seconds, "std_seconds": self.std_seconds,
                "median_seconds": self.median_seconds, "images_per_second": self.images_per_second,
                "gflops_per_second": self.gflops_per_second,
                "step_seconds": list(self.step_seconds), "burn_in_seconds": list(self.burn_in_seconds)}

    @classmethod
    def from_dict(cls, values: dict) -> "BenchmarkResult":
        return cls(spec=BenchmarkSpec(**values["spec"]), step_seconds=tuple(values["step_seconds"]),
                   burn_in_seconds=tuple(values["burn_in_seconds"]),
                   multiply_adds_per_image=int(values["multiply_adds_per_image"]), device=values["device"])


@dataclasses.dataclass(frozen=True)
class Comparison:
    """The median step time of one model over a baseline model's, measured in the same run."""

    spec: BenchmarkSpec  # the model compared
    baseline: str  # the model it is compared with (same mode, execution, precision, batch and image size)
    median_ratio: float  # spec's median seconds / baseline's median seconds: < 1 is faster

    def to_dict(self) -> dict:
        return {"spec": dataclasses.asdict(self.spec), "baseline": self.baseline, "median_ratio": self.median_ratio}

    @classmethod
    def from_dict(cls, values: dict) -> "Comparison":
        return cls(BenchmarkSpec(**values["spec"]), values["baseline"], float(values["median_ratio"]))


def compare(results: Sequence[BenchmarkResult], baseline: str = "keras") -> list[Comparison]:
    """Ratios of median step times against ``baseline`` within each group of comparable results.

    Results are comparable when everything but the model is the same (:meth:`BenchmarkSpec.group`); groups without
    the baseline model are left out.
    """
    by_group = {}
    for result in results:
        by_group.setdefault(result.spec.group(), {})[result.spec.model] = result
    comparisons = []
    for group in by_group.values():
        if baseline not in group:
            continue
        for name, result in group.items():
            if name != baseline:
                comparisons.append(Comparison(result.spec, baseline,
                                              result.median_seconds / group[baseline].median_seconds))
    return comparisons


# ------------------------------------------------------------------------------------------- one benchmark

class Benchmark:
    """One :class:`BenchmarkSpec`, ready to run: model built (or ``model``, made for the spec), inputs on the
    device, step function made.

    The inputs are made once, on the device, as the blog made them once as a ``tf.Variable``: the benchmark times
    the network, not an input pipeline. Their values are random (seeded); a network's speed does not depend on them.
    """

    def __init__(self, spec: BenchmarkSpec, *, device: str = "auto", seed: int = 0, model: keras.Model | None = None):
        self.spec = spec
        self.device = hardware.resolve_device(device)
        hardware.check_precision(spec.precision, self.device)
        seed = _check_count("seed", seed, 0)
        self._device_name = hardware.tensorflow_device_name(self.device)
        with tf.device(self._device_name):
            self.model = model if model is not None else build_model(spec.model, spec.image_size, spec.precision)
            num_classes = self.model.output_shape[-1]
            shape = (spec.batch_size, spec.image_size, spec.image_size, 3)
            self.images = tf.random.stateless_normal(shape, seed=(seed, 0))
            self.labels = tf.random.stateless_uniform((spec.batch_size,), seed=(seed, 1), minval=0,
                                                      maxval=num_classes, dtype=tf.int32)
            self.multiply_adds_per_image = complexity.count_multiply_adds(self.model)
            self._step = make_step(self.model, spec.mode, spec.execution, spec.precision)

    def step(self):
        """Run one step on the device and return its (possibly not yet computed) result."""
        with tf.device(self._device_name):
            return self._step(self.images, self.labels)

    def result(self, times: StepTimes) -> BenchmarkResult:
        return BenchmarkResult(self.spec, times.step_seconds, times.burn_in_seconds, self.multiply_adds_per_image,
                               self.device)


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
    _check_choice("mode", mode, MODES)
    _check_choice("execution", execution, EXECUTIONS)
    _check_choice("precision", precision, PRECISIONS)
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

def measure(specs: BenchmarkSpec | Sequence[BenchmarkSpec], *, steps: int = BLOG_STEPS, burn_in: int = BLOG_BURN_IN,
            device: str = "auto", seed: int = 0, log: Callable[[str], None] | None = print,
            progress_every: int = 10) -> list[BenchmarkResult]:
    """Time every spec for ``burn_in + steps`` steps, interleaved, and return one result per spec, in order.

    Interleaved: round by round, every benchmark takes one step, in an order reversed each round (A B, B A, A B, ...),
    so a slow spell of the machine costs every benchmark alike and none always runs right after the same other one.
    Specs that differ only in mode, execution or batch size share one model, built once (a ``train-step`` changes
    its weights' values, which does not change the time of any step); each gets its own step function.

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
    specs = [specs] if isinstance(specs, BenchmarkSpec) else list(specs)
    if not specs or not all(isinstance(spec, BenchmarkSpec) for spec in specs):
        raise ValueError(f"specs must be a BenchmarkSpec or a non-empty list of them, got {specs!r}")
    steps = _check_count("steps", steps, 1)
    burn_in = _check_count("burn_in", burn_in, 0)
    progress_every = _check_count("progress_every", progress_every, 1)
    device = hardware.resolve_device(device)
    for spec in specs:  # refuse an unsupported precision before building anything
        hardware.check_precision(spec.precision, device)
    say = log if log is not None else (lambda message: None)
    tensorflow_logger = tf.get_logger()
    tensorflow_logger.addFilter(_drop_retracing_warning)
    try:
        return _measure_interleaved(specs, steps, burn_in, device, seed, say, progress_every)
    finally:
        tensorflow_logger.removeFilter(_drop_retracing_warning)


def _drop_retracing_warning(record: logging.LogRecord) -> bool:
    # TensorFlow warns when functions made from one piece of Python code are traced often; here every benchmark
    # traces its own step function once, on purpose.
    return "triggered tf.function retracing" not in record.getMessage()


def _measure_interleaved(specs, steps, burn_in, device, seed, say, progress_every):
    benchmarks, built = [], {}
    for spec in specs:
        key = (spec.model, spec.image_size, spec.precision)
        say(f"[{_clock()}] {'preparing' if key in built else 'building'} {spec.label}")
        benchmarks.append(Benchmark(spec, device=device, seed=seed, model=built.get(key)))
        built[key] = benchmarks[-1].model
    times = [[] for _ in benchmarks]
    started = last_line = time.perf_counter()
    for round_number in range(burn_in + steps):
        order = range(len(benchmarks)) if round_number % 2 == 0 else reversed(range(len(benchmarks)))
        for index in order:
            start = time.perf_counter()
            read_back(benchmarks[index].step())
            times[index].append(time.perf_counter() - start)
        measured = round_number + 1 - burn_in
        if measured == 0 or (burn_in == 0 and round_number == 0):
            per_round = sum(spec_times[-1] for spec_times in times)
            say(f"[{_clock()}] {'burn-in' if burn_in else 'first step'} done after "
                f"{time.perf_counter() - started:.0f} s; "
                f"about {per_round * (steps - max(measured, 0)) / 60:.1f} min to go")
        now = time.perf_counter()
        if measured > 0 and (measured % progress_every == 0 or measured == steps
                             or now - last_line >= PROGRESS_SECONDS):
            latest = ", ".join(f"{spec.model} {spec.mode} {spec_times[-1]:.3f} s"
                               for spec, spec_times in zip(specs, times))
            say(f"[{_clock()}] step {measured}/{steps}: {latest}")
            last_line = now
    return [benchmark.result(StepTimes(tuple(spec_times[:burn_in]), tuple(spec_times[burn_in:])))
            for benchmark, spec_times in zip(benchmarks, times)]


# ------------------------------------------------------------------------------------------ the ceiling

CEILING_DTYPES = {"float32": "float32", "mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}


@dataclasses.dataclass(frozen=True)
class MatmulCeiling:
    """How fast the machine multiplies two large square matrices: what a network's layers could at best reach."""

    size: int  # the matrices are size x size
    dtype: str  # "float32", "bfloat16" or "float16"
    step_seconds: tuple[float, ...]  # measured multiplications
    device: str  # "cpu" or "gpu"

    @property
    def best_seconds(self) -> float:
        return float(np.min(self.step_seconds))

    @property
    def gflops_per_second(self) -> float:
        """``2 * size**3`` operations (a multiply and an add per term) over the *fastest* product, in 10^9 per second.

        A ceiling is what the machine can do, so the best time is the right statistic (a network's time is a median:
        what it typically does); it also needs only one undisturbed product on a busy machine.
        """
        return 2 * self.size**3 / self.best_seconds / 1e9

    def describe(self) -> str:
        return (f"{self.dtype} matmul {self.size}x{self.size} on the {self.device.upper()}: "
                f"{self.gflops_per_second:.1f} GFLOP/s (best of {len(self.step_seconds)})")

    def to_dict(self) -> dict:
        return {"size": self.size, "dtype": self.dtype, "device": self.device,
                "gflops_per_second": self.gflops_per_second, "step_seconds": list(self.step_seconds)}

    @classmethod
    def from_dict(cls, values: dict) -> "MatmulCeiling":
        return cls(int(values["size"]), values["dtype"], tuple(values["step_seconds"]), values["device"])


def measure_matmul_ceiling(size: int = 4096, dtype: str = "float32", *, steps: int = 10, burn_in: int = 2,
                           device: str = "auto", seed: int = 0) -> MatmulCeiling:
    """Time ``size x size`` matrix products in TensorFlow (a ``tf.function``): the machine's practical ceiling.

    A large matrix product is the best case for the hardware (every loaded number is reused ``size`` times), and
    convolutions run as matrix products, so its rate bounds what a network's layers can reach in the same framework
    and precision. The result is read back as the sum of the product (``size**2`` additions, negligible).
    """
    size = _check_count("size", size, 1)
    _check_choice("dtype", dtype, tuple(CEILING_DTYPES.values()))
    device = hardware.resolve_device(device)
    precision = {value: key for key, value in CEILING_DTYPES.items()}[dtype]
    hardware.check_precision(precision, device)
    with tf.device(hardware.tensorflow_device_name(device)):
        first = tf.cast(tf.random.stateless_normal((size, size), seed=(seed, 2)), dtype)
        second = tf.cast(tf.random.stateless_normal((size, size), seed=(seed, 3)), dtype)
        product = tf.function(lambda: tf.reduce_sum(tf.cast(tf.matmul(first, second), tf.float32)))
        times = time_steps(product, steps=steps, burn_in=burn_in)
    return MatmulCeiling(size, dtype, times.step_seconds, device)


# ------------------------------------------------------------------------------------------------ reports

@dataclasses.dataclass(frozen=True)
class Report:
    """A whole benchmark run: what ran, where, when, and what it measured (what the command line writes as JSON)."""

    command: str  # the command line that produced it
    environment: dict  # hardware.describe_environment() at the start
    settings: dict  # steps, burn_in, seed, device
    results: tuple[BenchmarkResult, ...]
    ceilings: tuple[MatmulCeiling, ...] = ()
    comparisons: tuple[Comparison, ...] = ()
    seconds: float = 0.0  # wall time of the whole run
    load_average_after: list[float] | None = None  # the machine's load when the run ended

    def ceiling_for(self, precision: str) -> MatmulCeiling | None:
        """The ceiling measured in ``precision``'s arithmetic, if the run measured one."""
        wanted = CEILING_DTYPES[precision]
        return next((ceiling for ceiling in self.ceilings if ceiling.dtype == wanted), None)

    def find(self, **fields) -> BenchmarkResult:
        """The one result whose spec has the given field values, e.g. ``find(model="ours", mode="forward")``."""
        matches = [result for result in self.results
                   if all(getattr(result.spec, name) == value for name, value in fields.items())]
        if len(matches) != 1:
            raise ValueError(f"{len(matches)} results match {fields}; expected exactly one")
        return matches[0]

    def to_dict(self) -> dict:
        return {"report_version": REPORT_VERSION, "command": self.command, "environment": self.environment,
                "settings": self.settings, "seconds": self.seconds, "load_average_after": self.load_average_after,
                "ceilings": [ceiling.to_dict() for ceiling in self.ceilings],
                "results": [result.to_dict() for result in self.results],
                "comparisons": [comparison.to_dict() for comparison in self.comparisons]}

    @classmethod
    def from_dict(cls, values: dict) -> "Report":
        if values.get("report_version") != REPORT_VERSION:
            raise ValueError(f"expected a benchmark report of version {REPORT_VERSION}, "
                             f"got version {values.get('report_version')!r}")
        return cls(command=values["command"], environment=values["environment"], settings=values["settings"],
                   results=tuple(BenchmarkResult.from_dict(item) for item in values["results"]),
                   ceilings=tuple(MatmulCeiling.from_dict(item) for item in values["ceilings"]),
                   comparisons=tuple(Comparison.from_dict(item) for item in values["comparisons"]),
                   seconds=float(values["seconds"]), load_average_after=values["load_average_after"])

    def save(self, path) -> None:
        with open(path, "w", encoding="utf-8") as file:
            json.dump(self.to_dict(), file, indent=1)
            file.write("\n")

    def summary(self) -> str:
        """The results as lines of text: ceilings, one line per result, then the ratios."""
        lines = []
        if self.environment.get("tf32_in_effect"):
            lines.append("float32 below means TF32: on this GPU TensorFlow ran float32 convolutions and matmuls on "
                         "tensor cores with 10-bit mantissas (--no-tf32 measures true float32)")
        lines += [ceiling.describe() for ceiling in self.ceilings]
        lines += [result.describe(self.ceiling_for(result.spec.precision)) for result in self.results]
        lines += [f"{c.spec.model} / {c.baseline} median time, {c.spec.mode} {c.spec.execution} {c.spec.precision} "
                  f"{c.spec.batch_size}x{c.spec.image_size}: {c.median_ratio:.3f}" for c in self.comparisons]
        return "\n".join(lines)


def load_report(source: str, *, timeout: float = 10.0) -> Report:
    """Read a report written by the command line's ``--json``, from a file or an ``https://`` address.

    Raises:
        ValueError: naming the source, if it cannot be read (a missing file, an address that cannot be reached
            offline) or is not JSON, so that a chapter can say so and go on.
    """
    try:
        if str(source).startswith(("https://", "http://")):
            with urllib.request.urlopen(source, timeout=timeout) as response:
                values = json.load(response)
        else:
            with open(source, encoding="utf-8") as file:
                values = json.load(file)
    except (OSError, ValueError) as error:  # URLError and HTTPError are OSErrors, JSONDecodeError a ValueError
        raise ValueError(f"cannot read the benchmark report {str(source)!r}: {error}") from None
    return Report.from_dict(values)


def run(specs: Sequence[BenchmarkSpec], *, steps: int = BLOG_STEPS, burn_in: int = BLOG_BURN_IN,
        device: str = "auto", seed: int = 0, ceiling_size: int | None = 4096, baseline: str = "keras",
        command: str = "", log: Callable[[str], None] | None = print) -> Report:
    """Measure all ``specs`` interleaved, and the matmul ceiling of every precision used; return a :class:`Report`.

    All specs are measured in one interleaved run (see :func:`measure`), so any two of them, our model and keras' or
    forward and forward-backward, are compared under the same conditions. The ceiling is measured before and after
    them and the faster of the two kept: it is the best the machine showed, and a ceiling measured during a busy
    spell would flatter every network. ``ceiling_size=None`` skips the ceiling. Progress goes to ``log``.
    """
    device = hardware.resolve_device(device)
    for spec in specs:
        hardware.check_precision(spec.precision, device)
    environment = hardware.describe_environment(device)
    started = time.perf_counter()
    say = log if log is not None else (lambda message: None)
    dtypes = list(dict.fromkeys(CEILING_DTYPES[spec.precision] for spec in specs)) if ceiling_size else []

    def measure_ceilings(when):
        measured = [measure_matmul_ceiling(ceiling_size, dtype, device=device, seed=seed) for dtype in dtypes]
        for ceiling in measured:
            say(f"[{_clock()}] {when}: {ceiling.describe()}")
        return measured

    before = measure_ceilings("ceiling before")
    results = measure(specs, steps=steps, burn_in=burn_in, device=device, seed=seed, log=log)
    after = measure_ceilings("ceiling after")
    ceilings = [max(pair, key=lambda ceiling: ceiling.gflops_per_second) for pair in zip(before, after)]
    return Report(command=command, environment=environment,
                  settings={"steps": steps, "burn_in": burn_in, "seed": seed, "device": device},
                  results=tuple(results), ceilings=tuple(ceilings), comparisons=tuple(compare(results, baseline)),
                  seconds=time.perf_counter() - started, load_average_after=hardware.load_average())


# ---------------------------------------------------------------------------------------------- command line

def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


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
