"""Timing a step honestly, and the machine's ceiling to judge the times by (chapter 6).

The blog post this book starts from times a network with ``time_tensorflow_run``: a few untimed *burn-in* steps,
then a hundred timed ones. :func:`time_steps` is that loop for TensorFlow 2, and :func:`time_interleaved` the same
loop over several steps at once, one call of each in turn, which :mod:`resnet_lessons.bench` uses to compare
networks under the same conditions. Both read every result back to the host before the clock stops
(:func:`read_back`): TensorFlow may return from a call before the device has finished, and a timer stopped then
measures the dispatch, not the work.

:func:`measure_matmul_ceiling` times a large matrix product the same way: the best rate the machine reaches in
TensorFlow, against which a network's achieved GFLOP/s is read. :func:`measure_ceiling` takes the best of several
large kernels instead (TensorFlow's matrix product and a convolution, NumPy's BLAS), because on some machines a
network's convolutions outrun TensorFlow's matrix product.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from resnet_lessons import hardware

# The blog's settings: 100 timed steps after 10 burn-in steps.
BLOG_STEPS = 100
BLOG_BURN_IN = 10
# The number format of the ceiling's matrices for each precision a benchmark runs in.
CEILING_DTYPES = {"float32": "float32", "mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}


def check_count(name: str, value, least: int, context: str = "") -> int:
    """Return ``value`` as an ``int`` if it is an integer (not a bool) of at least ``least``, else raise ``ValueError``
    naming it (``context`` is added to the bound, e.g. ``" for model 'keras'"``)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise ValueError(f"{name} must be an integer >= {least}{context}, got {value!r}")
    return int(value)


def check_choice(name: str, value, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError`` naming it and the choices."""
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}: expected one of {', '.join(choices)}")
    return value


def read_back(result):
    """Copy every tensor in ``result`` (a tensor or a nest of them) to the host as NumPy; return the copies.

    TensorFlow may hand back a tensor before it has been computed: a GPU queues the work and returns at once, and
    so does a CPU in asynchronous mode (``tf.config.experimental.set_synchronous_execution(False)``). The copy to
    the host waits for the value, so a timer stopped after ``read_back`` has timed the computation.
    """
    return tf.nest.map_structure(lambda value: value.numpy() if hasattr(value, "numpy") else value, result)


@dataclasses.dataclass(frozen=True)
class StepTimes:
    """Seconds per step of one timed run: the burn-in steps and the measured ones."""

    burn_in_seconds: tuple[float, ...]
    step_seconds: tuple[float, ...]


def time_interleaved(steps_to_time: Sequence[Callable[[], object]], *, steps: int = BLOG_STEPS,
                     burn_in: int = BLOG_BURN_IN,
                     after_round: Callable[[int, list[list[float]]], None] | None = None) -> list[StepTimes]:
    """Call every function of ``steps_to_time`` once per round for ``burn_in + steps`` rounds, timing each call up to
    reading its result back; return one :class:`StepTimes` per function, in order.

    The order is reversed every round (A B, B A, A B, ...), so a slow spell of the machine costs every step alike and
    none always runs right after the same other one.

    Args:
        steps_to_time: functions with no arguments that each run one step and return its result (tensors).
        steps: measured rounds, at least 1.
        burn_in: rounds run first and reported separately, at least 0: the first call of a ``tf.function`` traces
            the Python code into a graph, XLA compiles it, and memory is allocated for the first time.
        after_round: called after every round with the number of measured rounds so far (0 or less during the
            burn-in) and every function's seconds so far, for progress lines.
    """
    steps = check_count("steps", steps, 1)
    burn_in = check_count("burn_in", burn_in, 0)
    times = [[] for _ in steps_to_time]
    for round_number in range(burn_in + steps):
        order = range(len(times)) if round_number % 2 == 0 else reversed(range(len(times)))
        for index in order:
            start = time.perf_counter()
            read_back(steps_to_time[index]())
            times[index].append(time.perf_counter() - start)
        if after_round is not None:
            after_round(round_number + 1 - burn_in, times)
    return [StepTimes(tuple(seconds[:burn_in]), tuple(seconds[burn_in:])) for seconds in times]


def time_steps(step: Callable[[], object], *, steps: int = BLOG_STEPS, burn_in: int = BLOG_BURN_IN,
               log: Callable[[str], None] | None = None, label: str = "", progress_every: int = 10) -> StepTimes:
    """Call ``step()`` ``burn_in + steps`` times and time each call, reading its result back before the clock stops.

    This is the blog's ``time_tensorflow_run`` for TensorFlow 2: no session, the same burn-in and a progress line
    every ``progress_every`` measured steps; the burn-in times are kept (not thrown away) so they can be looked at.

    Args:
        step: a function with no arguments that runs one step and returns its result (tensors).
        steps, burn_in: as for :func:`time_interleaved`.
        log: where progress lines go (``print``), or ``None`` for none.
        label: names the run in the progress lines.
        progress_every: measured steps between progress lines.
    """
    progress_every = check_count("progress_every", progress_every, 1)

    def progress(measured, times):
        if measured > 0 and measured % progress_every == 0:
            log(f"[{clock()}] {label} step {measured}/{steps}: {times[0][-1]:.3f} s")

    [times] = time_interleaved([step], steps=steps, burn_in=burn_in, after_round=progress if log is not None else None)
    return times


def clock() -> str:
    """The time of day for progress lines, ``"14:03:59"``."""
    return datetime.datetime.now().strftime("%H:%M:%S")


# ------------------------------------------------------------------------------------------------ the ceiling

@dataclasses.dataclass(frozen=True)
class MatmulCeiling:
    """How fast the machine multiplies two large square matrices: what a network's layers could at best reach."""

    size: int  # the matrices are size x size
    dtype: str  # "float32", "bfloat16" or "float16"
    step_seconds: tuple[float, ...]  # measured multiplications
    device: str  # "cpu" or "gpu"

    @property
    def gflops_per_second(self) -> float:
        """``2 * size**3`` operations (a multiply and an add per term) over the *fastest* product, in 10^9 per second.

        A ceiling is what the machine can do, so the best time is the right statistic (a network's time is a median:
        what it typically does); it also needs only one undisturbed product on a busy machine.
        """
        return 2 * self.size**3 / float(np.min(self.step_seconds)) / 1e9

    def describe(self) -> str:
        return (f"{self.dtype} matmul {self.size}x{self.size} on the {self.device.upper()}: "
                f"{self.gflops_per_second:.1f} GFLOP/s (best of {len(self.step_seconds)})")


def measure_matmul_ceiling(size: int = 4096, dtype: str = "float32", *, steps: int = 10, burn_in: int = 2,
                           device: str = "auto", seed: int = 0) -> MatmulCeiling:
    """Time ``size x size`` matrix products in TensorFlow (a ``tf.function``): the machine's practical ceiling.

    A large matrix product is the best case for the hardware (every loaded number is reused ``size`` times), and
    convolutions run as matrix products, so its rate bounds what a network's layers can reach in the same framework
    and precision. The result is read back as the sum of the product (``size**2`` additions, negligible).
    """
    size = check_count("size", size, 1)
    check_choice("dtype", dtype, tuple(CEILING_DTYPES.values()))
    device = hardware.resolve_device(device)
    precision = {value: key for key, value in CEILING_DTYPES.items()}[dtype]
    hardware.check_precision(precision, device)
    with tf.device(hardware.tensorflow_device_name(device)):
        first = tf.cast(tf.random.stateless_normal((size, size), seed=(seed, 2)), dtype)
        second = tf.cast(tf.random.stateless_normal((size, size), seed=(seed, 3)), dtype)
        product = tf.function(lambda: tf.reduce_sum(tf.cast(tf.matmul(first, second), tf.float32)))
        times = time_steps(product, steps=steps, burn_in=burn_in)
    return MatmulCeiling(size, dtype, times.step_seconds, device)


# A large convolution for the ceiling: 3x3, 256 channels to 256 on 56x56 maps (ResNet-50's conv3 sizes at 224x224
# are 28x28x128; these are larger, so that every number is reused as in a large matrix product).
_CONVOLUTION_MAP = 56
_CONVOLUTION_CHANNELS = 256


@dataclasses.dataclass(frozen=True)
class KernelRate:
    """One kernel of :func:`measure_ceiling`: what it computes and how long each call took."""

    name: str  # e.g. "TensorFlow matmul 2048x2048"
    multiply_adds: int  # per call
    step_seconds: tuple[float, ...]

    @property
    def gflops_per_second(self) -> float:
        """Two operations per multiply-add over the *fastest* call, in 10^9 per second (see MatmulCeiling)."""
        return 2 * self.multiply_adds / float(np.min(self.step_seconds)) / 1e9


@dataclasses.dataclass(frozen=True)
class KernelCeiling:
    """The fastest of several large kernels: a bound a network's layers should not exceed on any machine.

    One kernel is not enough. On one machine TensorFlow's matrix product is the fastest thing it runs; on another
    (an AMD EPYC with 2 cores, AVX-512 and no AMX) ResNet-50's forward pass reached 120 GFLOP/s against its 88, so
    the matrix product bounded nothing there. The best of a matrix product, a large convolution and NumPy's BLAS is
    a bound on more machines, though still a measured one, not the hardware's peak; :attr:`best` says which kernel
    set it, and :meth:`fraction` says so when a network is above it.
    """

    dtype: str
    device: str  # "cpu" or "gpu"
    kernels: tuple[KernelRate, ...]

    @property
    def best(self) -> KernelRate:
        return max(self.kernels, key=lambda kernel: kernel.gflops_per_second)

    @property
    def gflops_per_second(self) -> float:
        return self.best.gflops_per_second

    def rate(self, name_start: str) -> float:
        """GFLOP/s of the kernel whose name starts with ``name_start``, e.g. ``"TensorFlow matmul"``."""
        matches = [kernel for kernel in self.kernels if kernel.name.startswith(name_start)]
        if len(matches) != 1:
            raise ValueError(f"no single kernel named {name_start!r}...: have {[k.name for k in self.kernels]}")
        return matches[0].gflops_per_second

    def fraction(self, gflops_per_second: float) -> str:
        """``gflops_per_second`` as a percentage of the ceiling, with the reason when it is above 100 %."""
        share = gflops_per_second / self.gflops_per_second
        if share <= 1:
            return f"{share:.0%} of the ceiling"
        return (f"{share:.0%} of the ceiling: above it, so the ceiling was measured in a busier moment or misses a "
                f"faster path of this machine")

    def describe(self) -> str:
        rates = "; ".join(f"{kernel.name} {kernel.gflops_per_second:.1f}" for kernel in self.kernels)
        return (f"{self.dtype} ceiling on the {self.device.upper()}: {self.gflops_per_second:.1f} GFLOP/s, set by "
                f"{self.best.name} (best of {len(self.best.step_seconds)} calls each, interleaved; GFLOP/s: {rates})")


def measure_ceiling(size: int = 4096, dtype: str = "float32", *, steps: int = 10, burn_in: int = 2,
                    device: str = "auto", seed: int = 0) -> KernelCeiling:
    """Time three large kernels in turn and keep the fastest as the machine's ceiling for ``dtype``.

    The kernels: TensorFlow's ``size x size`` matrix product (as :func:`measure_matmul_ceiling`), a 3x3 convolution
    from 256 channels to 256 on 56x56 maps over a batch sized to about as many multiply-adds, and, for float32 on the
    CPU, NumPy's matrix product (its BLAS library, not TensorFlow's). They run interleaved, one call of each per
    round, so a busy spell of the machine costs all of them alike.
    """
    size = check_count("size", size, 1)
    check_choice("dtype", dtype, tuple(CEILING_DTYPES.values()))
    device = hardware.resolve_device(device)
    precision = {value: key for key, value in CEILING_DTYPES.items()}[dtype]
    hardware.check_precision(precision, device)
    per_image = _CONVOLUTION_MAP**2 * _CONVOLUTION_CHANNELS**2 * 9
    batch = max(1, round(size**3 / per_image))
    names, multiply_adds, steps_to_time = [], [], []
    with tf.device(hardware.tensorflow_device_name(device)):
        first = tf.cast(tf.random.stateless_normal((size, size), seed=(seed, 2)), dtype)
        second = tf.cast(tf.random.stateless_normal((size, size), seed=(seed, 3)), dtype)
        names.append(f"TensorFlow matmul {size}x{size}")
        multiply_adds.append(size**3)
        steps_to_time.append(tf.function(lambda: tf.reduce_sum(tf.cast(tf.matmul(first, second), tf.float32))))
        maps = tf.cast(tf.random.stateless_normal(
            (batch, _CONVOLUTION_MAP, _CONVOLUTION_MAP, _CONVOLUTION_CHANNELS), seed=(seed, 4)), dtype)
        kernel = tf.cast(tf.random.stateless_normal(
            (3, 3, _CONVOLUTION_CHANNELS, _CONVOLUTION_CHANNELS), seed=(seed, 5)), dtype)
        names.append(f"TensorFlow 3x3 convolution {_CONVOLUTION_CHANNELS} channels, {batch}x{_CONVOLUTION_MAP}x"
                     f"{_CONVOLUTION_MAP}")
        multiply_adds.append(batch * per_image)
        steps_to_time.append(tf.function(lambda: tf.reduce_sum(tf.cast(
            tf.nn.conv2d(maps, kernel, strides=1, padding="SAME"), tf.float32))))
        if device == "cpu" and dtype == "float32":
            first_array, second_array = first.numpy(), second.numpy()
            names.append(f"NumPy matmul {size}x{size}")
            multiply_adds.append(size**3)
            steps_to_time.append(lambda: np.matmul(first_array, second_array))
        times = time_interleaved(steps_to_time, steps=steps, burn_in=burn_in)
    kernels = tuple(KernelRate(name, count, measured.step_seconds)
                    for name, count, measured in zip(names, multiply_adds, times))
    return KernelCeiling(dtype, device, kernels)
