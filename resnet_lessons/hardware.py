"""What the machine is and which number formats it computes fast (chapter 6, measuring speed).

:func:`describe_environment` records the versions, processor and device stored beside every benchmark result.
:func:`precision_support` decides which precisions a benchmark may ask for: without native 16-bit instructions
TensorFlow emulates mixed precision by converting to float32 and back, and a timing would measure the conversions,
so the benchmark refuses such a request with the reason.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import platform

import keras
import numpy as np
import tensorflow as tf

from resnet_lessons import arguments

DEVICES = ("auto", "cpu", "gpu")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")

# CPU feature flags (Linux /proc/cpuinfo) that mean native 16-bit arithmetic: x86 (AVX-512 and AMX) and Arm.
BFLOAT16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})
FLOAT16_CPU_FLAGS = frozenset({"avx512_fp16", "amx_fp16", "fphp", "asimdhp"})
# NVIDIA compute capabilities from which the tensor cores take the format (Volta: float16; Ampere: bfloat16).
FLOAT16_GPU_CAPABILITY = (7, 0)
BFLOAT16_GPU_CAPABILITY = (8, 0)

CPUINFO_PATH = "/proc/cpuinfo"
# The highest clock the kernel's frequency driver allows, in kHz; absent in most virtual machines.
MAX_CLOCK_PATH = "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq"
# x86 vector extensions by width, widest first: a float32 lane is 32 bits.
VECTOR_FLAGS = (("avx512f", 512), ("avx2", 256), ("avx", 256), ("sse2", 128))
# Vector FMA instructions an x86 core starts per cycle, at most (two ports on Intel since Haswell and on AMD's Zen).
FMA_UNITS = 2


@dataclasses.dataclass(frozen=True)
class PrecisionSupport:
    """Whether one precision can be benchmarked on a device, and why (or why not)."""
    precision: str  # "float32", "mixed_bfloat16" or "mixed_float16"
    supported: bool  # True: the device has native arithmetic for the format
    reason: str  # one sentence a reader can act on


def resolve_device(device: str = "auto") -> str:
    """``"cpu"`` or ``"gpu"``, the device a benchmark runs on, for ``device`` ``"auto"`` (the first GPU if TensorFlow
    sees one, else the CPU), ``"cpu"`` or ``"gpu"`` (a ``ValueError`` if TensorFlow sees none)."""
    arguments.require(device in DEVICES, "device", device, f"one of {', '.join(DEVICES)}")
    has_gpu = bool(tf.config.list_physical_devices("GPU"))
    if device == "gpu" and not has_gpu:
        raise ValueError("device 'gpu' was asked for, but TensorFlow sees no GPU on this machine; use 'cpu'")
    if device == "auto":
        return "gpu" if has_gpu else "cpu"
    return device


def tensorflow_device_name(device: str) -> str:
    """The TensorFlow device string (``"/CPU:0"`` or ``"/GPU:0"``) of ``"cpu"``, ``"gpu"`` or ``"auto"``."""
    return f"/{resolve_device(device).upper()}:0"


def cpu_flags(path: str = CPUINFO_PATH) -> frozenset[str]:
    """The CPU's feature flags as Linux lists them (``avx2``, ``avx512_bf16``, ...); empty where unreadable."""
    value = _cpuinfo_field(path, ("flags", "features"))
    return frozenset(value.split()) if value is not None else frozenset()


def cpu_model(path: str = CPUINFO_PATH) -> str:
    """The processor's name (``"Intel(R) Xeon(R) ..."``), or what ``platform`` knows where Linux's file is absent."""
    value = _cpuinfo_field(path, ("model name",))
    return value.strip() if value is not None else platform.processor() or platform.machine() or "unknown"


def _cpuinfo_field(path: str, keys: tuple[str, ...]) -> str | None:
    """The value of the first line of Linux's cpuinfo whose key is one of ``keys``; ``None`` if absent or unreadable."""
    try:
        with open(path, encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip().lower() in keys:
                    return value
    except OSError:
        pass
    return None


@dataclasses.dataclass(frozen=True)
class CpuPeak:
    """The float32 arithmetic a CPU could at most do: cores x clock x operations per core and cycle. ``per_cycle``
    assumes :data:`FMA_UNITS` (each ``vector_bits / 32`` lanes, 2 operations per lane) and can only overstate a core;
    the clock is a bound only when it is the driver's maximum, not the current clock Linux reports."""

    cores: int
    clock_ghz: float
    clock_is_maximum: bool  # False: /proc/cpuinfo's current clock, which a boosting core exceeds
    vector_flag: str  # the widest vector extension found, e.g. "avx2"
    per_cycle: int  # float32 operations per core and cycle

    @property
    def gflops_per_second(self) -> float:
        return self.cores * self.clock_ghz * self.per_cycle

    def describe(self) -> str:
        clock = ("the maximum clock" if self.clock_is_maximum else
                 "the clock Linux reports, not a bound if the cores boost above it")
        return (f"float32 peak {self.gflops_per_second:.1f} GFLOP/s = {self.cores} cores x {self.clock_ghz:.2f} GHz "
                f"({clock}) x {self.per_cycle} operations per cycle ({self.vector_flag}, at most {FMA_UNITS} FMA "
                f"units)")


def cpu_peak(*, path: str = CPUINFO_PATH, max_clock_path: str = MAX_CLOCK_PATH,
             cores: int | None = None) -> CpuPeak | None:
    """The :class:`CpuPeak` of this x86 CPU from Linux's files, for the cores this process may use (or ``cores``);
    ``None`` where the vector width or the clock cannot be read (other processors, other systems)."""
    flags = cpu_flags(path)
    vector = next(((flag, bits) for flag, bits in VECTOR_FLAGS if flag in flags), None)
    clock_ghz, is_maximum = _read_number(max_clock_path, 1e-6), True
    if clock_ghz is None:
        reported = _cpuinfo_field(path, ("cpu mhz",))
        clock_ghz, is_maximum = (float(reported) / 1000 if reported else None), False
    if vector is None or not clock_ghz:
        return None
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    # Without FMA: one multiply and one add unit, each a vector of lanes per cycle.
    per_cycle = (vector[1] // 32) * 2 * (FMA_UNITS if "fma" in flags else 1)
    return CpuPeak(arguments.positive_int(cores, "cores"), clock_ghz, is_maximum, vector[0], per_cycle)


def _read_number(path: str, scale: float) -> float | None:
    """The number in the file at ``path`` times ``scale``; ``None`` if it is absent or holds no number."""
    try:
        with open(path, encoding="utf-8") as file:
            return float(file.read().strip()) * scale
    except (OSError, ValueError):
        return None


def gpu_compute_capability() -> tuple[int, int] | None:
    """The first GPU's CUDA compute capability, e.g. ``(8, 0)``; ``None`` without a GPU or when unknown."""
    gpus = tf.config.list_physical_devices("GPU")
    capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability") if gpus else None
    return tuple(capability) if capability else None


# TensorFloat-32: from compute capability 8.0 (Ampere) TensorFlow runs float32 matmuls and convolutions on tensor cores
# by default, inputs rounded to a 10-bit mantissa: a "float32" time there is a TF32 time unless TF32 was switched off.
TF32_COMPUTE_CAPABILITY = (8, 0)


def tf32_in_effect(device: str, compute_capability: tuple[int, int] | None, enabled: bool) -> bool:
    """Whether float32 convolutions and matmuls run as TF32: on a GPU of capability 8.0 or later, if enabled."""
    return (device == "gpu" and compute_capability is not None
            and tuple(compute_capability) >= TF32_COMPUTE_CAPABILITY and bool(enabled))


def set_tf32(enabled: bool) -> None:
    """Allow (TensorFlow's default) or forbid TF32 for float32 work; forbid it to measure true float32 on a GPU."""
    arguments.require(isinstance(enabled, bool), "enabled", enabled, "True or False")
    tf.config.experimental.enable_tensor_float_32_execution(enabled)


def precision_support(device: str = "auto", *, flags: frozenset[str] | None = None,
                      capability: tuple[int, int] | None = None) -> dict[str, PrecisionSupport]:
    """``{precision: PrecisionSupport}`` for each of :data:`PRECISIONS`: whether a benchmark on ``device`` may use it.

    Mixed precision (16-bit activations and arithmetic, float32 weights) where the hardware has the format natively:
    a CPU with the AVX-512/AMX or Arm instructions, an NVIDIA GPU from compute capability 7.0 (float16) or 8.0
    (bfloat16). Tests pass ``flags`` (by default from ``/proc/cpuinfo``) and ``capability`` (by default TensorFlow's).
    """
    device = resolve_device(device)
    if device == "cpu":
        flags = cpu_flags() if flags is None else frozenset(flags)
    else:
        capability = gpu_compute_capability() if capability is None else tuple(capability)
    support = {"float32": PrecisionSupport("float32", True, "float32 runs on every device")}
    for precision in PRECISIONS[1:]:
        name = precision.removeprefix("mixed_")
        reasons = _cpu_support(name, flags) if device == "cpu" else _gpu_support(name, capability)
        support[precision] = PrecisionSupport(precision, *reasons)
    return support


def _cpu_support(name: str, flags: frozenset[str]) -> tuple[bool, str]:
    wanted = BFLOAT16_CPU_FLAGS if name == "bfloat16" else FLOAT16_CPU_FLAGS
    found = sorted(wanted & flags)
    if found:
        return True, f"this CPU has {name} instructions ({', '.join(found)})"
    if not flags:
        return False, (f"cannot tell whether this CPU has {name} instructions ({CPUINFO_PATH} is not readable here); "
                       "benchmark float32")
    return False, (f"this CPU has no {name} instructions (none of {', '.join(sorted(wanted))}); TensorFlow would "
                   f"emulate {name} with conversions to and from float32")


def _gpu_support(name: str, capability: tuple[int, int] | None) -> tuple[bool, str]:
    least = BFLOAT16_GPU_CAPABILITY if name == "bfloat16" else FLOAT16_GPU_CAPABILITY
    needed = f"{least[0]}.{least[1]}"
    if capability is None:
        return False, f"the GPU's compute capability is unknown; {name} needs at least {needed}"
    have = f"{capability[0]}.{capability[1]}"
    if capability >= least:
        return True, f"the GPU (compute capability {have}) has {name} tensor cores"
    return False, f"the GPU has compute capability {have}; {name} tensor cores need at least {needed}"


def check_precision(precision: str, device: str = "auto", **kwargs) -> str:
    """Return ``precision`` if :func:`precision_support` (given ``kwargs``) allows it on ``device``, else a
    ``ValueError`` saying why."""
    arguments.require(precision in PRECISIONS, "precision", precision, f"one of {', '.join(PRECISIONS)}")
    support = precision_support(device, **kwargs)
    if not support[precision].supported:
        allowed = [name for name, entry in support.items() if entry.supported]
        raise ValueError(f"precision {precision!r} is not supported on this {resolve_device(device).upper()}: "
                         f"{support[precision].reason}. Supported here: {', '.join(allowed)}")
    return precision


def describe_environment(device: str = "auto") -> dict:
    """A record of where and when a measurement ran: date, versions, processor, device, cores, TF32, and the load
    average (Unix only): on 2 cores a load of 2 means something else already used them, inflating every time."""
    device = resolve_device(device)
    record = {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
        "numpy": np.__version__, "platform": platform.platform(), "cpu": cpu_model(), "cpu_cores": os.cpu_count(),
        "device": device, "gpu": None, "onednn_env": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "load_average": load_average(), "tf32_enabled": tf.config.experimental.tensor_float_32_execution_enabled(),
        "tf32_in_effect": False,  # see TF32_COMPUTE_CAPABILITY
    }
    if device == "gpu":
        record["tf32_in_effect"] = tf32_in_effect(device, gpu_compute_capability(), record["tf32_enabled"])
        details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
        record["gpu"] = details.get("device_name", "GPU")
    return record


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (programs wanting a core), rounded; ``None`` where unknown."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):
        return None
