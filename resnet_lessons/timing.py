"""Timing a step honestly, and the machine's ceiling to judge the times by (chapter 6).

:func:`time_steps` is the blog's ``time_tensorflow_run`` (untimed *burn-in* steps, then timed ones) and
:func:`time_interleaved` the same loop over several steps, one call of each in turn. Both read every result back to
the host before the clock stops: a timer stopped when TensorFlow returns measures the dispatch, not the work.
:func:`measure_ceiling` times large kernels the same way: the best rate the machine reaches, against which a
network's GFLOP/s is read, beside the processor's arithmetic peak where it can be computed.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from resnet_lessons import arguments, hardware

# The blog's settings: 100 timed steps after 10 burn-in steps.
BLOG_STEPS = 100
BLOG_BURN_IN = 10
# The number format of the ceiling's matrices for each precision a benchmark runs in.
CEILING_DTYPES = {"float32": "float32", "mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}


def check_count(name: str, value, least: int, context: str = "") -> int:
    """``value`` as an ``int`` if it is an integer >= ``least``, else a ``ValueError`` (``context`` ends the bound)."""
    arguments.require(arguments.is_int(value) and value >= least, name, value, f"an integer >= {least}{context}")
    return int(value)


def check_choice(name: str, value, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError`` naming it and the choices."""
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}: expected one of {', '.join(choices)}")
    return value


def read_back(result):
    """Copy every tensor in ``result`` (a nest) to the host as NumPy: the copy waits for a value a GPU (or an
    asynchronous CPU) returned before computing it, so a timer stopped after it has timed the computation."""
    return tf.nest.map_structure(lambda value: value.numpy() if hasattr(value, "numpy") else value, result)


@dataclasses.dataclass(frozen=True)
class StepTimes:
    """Seconds per step of one timed run: the burn-in steps and the measured ones."""

    burn_in_seconds: tuple[float, ...]
    step_seconds: tuple[float, ...]


def time_interleaved(steps_to_time: Sequence[Callable[[], object]], *, steps: int = BLOG_STEPS,
                     burn_in: int = BLOG_BURN_IN,
                     after_round: Callable[[int, list[list[float]]], None] | None = None) -> list[StepTimes]:
    """Call every function of ``steps_to_time`` (no arguments, returning tensors) once per round for ``burn_in +
    steps`` rounds, timing each call up to reading its result back; return one :class:`StepTimes` per function.

    The order is reversed every round (A B, B A, ...), so a slow spell of the machine costs every step alike. The
    burn-in is reported apart: a ``tf.function``'s first call traces, compiles and allocates. ``after_round`` gets
    the number of measured rounds so far (0 or less in the burn-in) and every function's seconds, for progress lines.
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
    """Time ``burn_in + steps`` calls of ``step()`` as :func:`time_interleaved` does, with a progress line (to ``log``,
    naming the run ``label``) every ``progress_every`` measured steps; the burn-in times are kept to be looked at."""
    progress_every = check_count("progress_every", progress_every, 1)

    def progress(measured, times):
        if measured > 0 and measured % progress_every == 0:
            log(f"[{clock()}] {label} step {measured}/{steps}: {times[0][-1]:.3f} s")

    [times] = time_interleaved([step], steps=steps, burn_in=burn_in, after_round=progress if log is not None else None)
    return times


def clock() -> str:
    """The time of day for progress lines, ``"14:03:59"``."""
    return datetime.datetime.now().strftime("%H:%M:%S")


def _rate(multiply_adds: int, step_seconds: Sequence[float]) -> float:
    """Two operations per multiply-add over the *fastest* call, in 10^9 per second: a ceiling is what the machine can
    do (a network's time is a median, what it typically does), and needs one undisturbed call on a busy machine."""
    return 2 * multiply_adds / float(np.min(step_seconds)) / 1e9


def _check_ceiling(size, dtype, device) -> tuple[int, str]:
    """The ceiling's size and device, checked, and its precision refused where the device lacks it."""
    size = check_count("size", size, 1)
    check_choice("dtype", dtype, tuple(CEILING_DTYPES.values()))
    device = hardware.resolve_device(device)
    hardware.check_precision({value: key for key, value in CEILING_DTYPES.items()}[dtype], device)
    return size, device


def _matrices(size, dtype, seed):
    """Two random ``size x size`` matrices and a ``tf.function`` returning the sum of their product."""
    first = tf.cast(tf.random.stateless_normal((size, size), seed=(seed, 2)), dtype)
    second = tf.cast(tf.random.stateless_normal((size, size), seed=(seed, 3)), dtype)
    return first, second, tf.function(lambda: tf.reduce_sum(tf.cast(tf.matmul(first, second), tf.float32)))


# A large convolution for the ceiling: 3x3, 256 channels to 256 on 56x56 maps (larger than ResNet-50's conv3 at
# 224x224, 28x28x128, so that every number is reused as in a large matrix product).
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
        return _rate(self.multiply_adds, self.step_seconds)


@dataclasses.dataclass(frozen=True)
class KernelCeiling:
    """The fastest of several large kernels: a bound for a network's layers on more machines than one kernel (on a
    2-core AMD EPYC ResNet-50 outran TensorFlow's matmul); still measured, not the peak, as :meth:`fraction` says.
    ``peak`` is the processor's arithmetic peak where Linux tells enough to compute it (float32 on x86 CPUs)."""

    dtype: str
    device: str  # "cpu" or "gpu"
    kernels: tuple[KernelRate, ...]
    peak: hardware.CpuPeak | None = None

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
        """``gflops_per_second`` as a percentage of the ceiling (and of the peak), with the reason for any share
        above 100 %."""
        share = gflops_per_second / self.gflops_per_second
        text = f"{share:.0%} of the ceiling"
        if share > 1:
            text += (": above it, so the ceiling was measured in a busier moment or misses a faster path of this "
                     "machine")
        if self.peak is not None:
            text += f", {gflops_per_second / self.peak.gflops_per_second:.0%} of the peak"
            if gflops_per_second > self.peak.gflops_per_second:
                text += f" ({self.peak_note()})"
        return text

    def peak_note(self) -> str:
        """Why a rate above the peak is possible, or what the measured kernels say of the peak."""
        if self.peak is None:
            return "no peak: the processor's vector width or clock could not be read"
        if self.gflops_per_second <= self.peak.gflops_per_second:
            return f"the best kernel reaches {self.gflops_per_second / self.peak.gflops_per_second:.0%} of the peak"
        implied = self.gflops_per_second / (self.peak.cores * self.peak.per_cycle)
        if self.peak.clock_is_maximum:
            return f"above the peak: the peak's assumptions miss this processor (it would need {implied:.2f} GHz)"
        return (f"above the peak at the reported {self.peak.clock_ghz:.2f} GHz: the cores ran at {implied:.2f} GHz "
                f"or faster, so the reported clock is not the one they ran at")

    def describe(self) -> str:
        rates = "; ".join(f"{kernel.name} {kernel.gflops_per_second:.1f}" for kernel in self.kernels)
        text = (f"{self.dtype} ceiling on the {self.device.upper()}: {self.gflops_per_second:.1f} GFLOP/s, set by "
                f"{self.best.name} (best of {len(self.best.step_seconds)} calls each, interleaved; GFLOP/s: {rates})")
        if self.peak is not None:
            text += f"\n{self.peak.describe()}: {self.peak_note()}"
        return text


def measure_ceiling(size: int = 4096, dtype: str = "float32", *, steps: int = 10, burn_in: int = 2,
                    device: str = "auto", seed: int = 0) -> KernelCeiling:
    """Time TensorFlow's ``size x size`` matmul, a 3x3 convolution of about as many multiply-adds and (float32 on the
    CPU) NumPy's matmul, its BLAS, interleaved; the fastest is the machine's ceiling for ``dtype``, reported beside
    the CPU's float32 peak where it can be computed (:func:`hardware.cpu_peak`)."""
    size, device = _check_ceiling(size, dtype, device)
    per_image = _CONVOLUTION_MAP**2 * _CONVOLUTION_CHANNELS**2 * 9
    batch = max(1, round(size**3 / per_image))
    with tf.device(hardware.tensorflow_device_name(device)):
        first, second, product = _matrices(size, dtype, seed)
        maps = tf.cast(tf.random.stateless_normal(
            (batch, _CONVOLUTION_MAP, _CONVOLUTION_MAP, _CONVOLUTION_CHANNELS), seed=(seed, 4)), dtype)
        kernel = tf.cast(tf.random.stateless_normal(
            (3, 3, _CONVOLUTION_CHANNELS, _CONVOLUTION_CHANNELS), seed=(seed, 5)), dtype)
        kernels = [(f"TensorFlow matmul {size}x{size}", size**3, product),
                   (f"TensorFlow 3x3 convolution {_CONVOLUTION_CHANNELS} channels, {batch}x{_CONVOLUTION_MAP}x"
                    f"{_CONVOLUTION_MAP}", batch * per_image, tf.function(lambda: tf.reduce_sum(tf.cast(
                        tf.nn.conv2d(maps, kernel, strides=1, padding="SAME"), tf.float32))))]
        if device == "cpu" and dtype == "float32":
            first_array, second_array = first.numpy(), second.numpy()
            kernels.append((f"NumPy matmul {size}x{size}", size**3, lambda: np.matmul(first_array, second_array)))
        times = time_interleaved([step for _, _, step in kernels], steps=steps, burn_in=burn_in)
    peak = hardware.cpu_peak() if device == "cpu" and dtype == "float32" else None
    return KernelCeiling(dtype, device, tuple(KernelRate(name, count, measured.step_seconds)
                                              for (name, count, _), measured in zip(kernels, times)), peak)
