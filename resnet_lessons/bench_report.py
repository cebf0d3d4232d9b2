"""What a benchmark run measured, and its report file (chapter 6).

:class:`BenchmarkResult` holds one spec's step times and what follows from them; :func:`compare` and :func:`find`
read a run's results; a :class:`Report` is a whole run with the machine and the command, written as JSON through
``dataclasses.asdict`` and read back by :func:`load_report`, so that a number quoted later says where it was measured.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
import urllib.request
from collections.abc import Sequence

import numpy as np

from resnet_lessons import bench_specs, timing

# A backward pass costs about twice the forward pass's multiply-adds (per layer one product for the gradient of the
# input, one for the weights', each as large as the forward one): a forward-backward step counts as three forwards.
BACKWARD_FACTOR = 3
REPORT_VERSION = 2  # 2: ceilings are timing.KernelCeiling (several kernels and the peak)


@dataclasses.dataclass(frozen=True)
class BenchmarkResult:
    """The measured step times of one :class:`bench_specs.BenchmarkSpec` and everything derived from them."""

    spec: bench_specs.BenchmarkSpec
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

    def describe(self, ceiling: timing.KernelCeiling | None = None) -> str:
        """One line in the blog's style, plus median, throughput and (given a ceiling) its achieved fraction."""
        line = (f"{self.spec.label}: {self.mean_seconds:.3f} +/- {self.std_seconds:.3f} s/batch over "
                f"{len(self.step_seconds)} steps, median {self.median_seconds:.3f} s, "
                f"{self.images_per_second:.1f} images/s, {self.gflops_per_second:.1f} GFLOP/s")
        if ceiling is not None:
            line += f" ({ceiling.fraction(self.gflops_per_second)})"
        return line


# The statistics a report file holds beside each result's times, for its readers (reading it back recomputes them).
RESULT_STATISTICS = ("mean_seconds", "std_seconds", "median_seconds", "images_per_second", "gflops_per_second")


@dataclasses.dataclass(frozen=True)
class Comparison:
    """The median step time of one model over a baseline model's, measured in the same run."""

    spec: bench_specs.BenchmarkSpec  # the model compared
    baseline: str  # the model it is compared with (same mode, execution, precision, batch and image size)
    median_ratio: float  # spec's median seconds / baseline's median seconds: < 1 is faster


def compare(results: Sequence[BenchmarkResult], baseline: str = "keras") -> list[Comparison]:
    """Ratios of median step times against ``baseline`` within each group of results that differ only in the model
    (:meth:`bench_specs.BenchmarkSpec.group`); groups without the baseline are left out."""
    by_group = {}
    for result in results:
        by_group.setdefault(result.spec.group(), {})[result.spec.model] = result
    return [Comparison(result.spec, baseline, result.median_seconds / group[baseline].median_seconds)
            for group in by_group.values() if baseline in group for name, result in group.items() if name != baseline]


def find(results: Sequence[BenchmarkResult], **fields) -> BenchmarkResult:
    """The one result whose spec has these field values, e.g. ``find(results, model="ours", mode="forward")``; a
    ``ValueError`` if none or several match, or a field does not exist."""
    known = {field.name for field in dataclasses.fields(bench_specs.BenchmarkSpec)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ValueError(f"unknown spec field(s) {', '.join(unknown)}: expected some of {', '.join(sorted(known))}")
    matches = [result for result in results
               if all(getattr(result.spec, name) == value for name, value in fields.items())]
    if len(matches) != 1:
        wanted = ", ".join(f"{name}={value!r}" for name, value in fields.items())
        raise ValueError(f"{len(matches)} results have {wanted}; expected exactly one")
    return matches[0]


@dataclasses.dataclass(frozen=True)
class Report:
    """A whole benchmark run: what ran, where, when, and what it measured (what the command line writes as JSON)."""

    command: str  # the command line that produced it
    environment: dict  # hardware.describe_environment() at the start
    settings: dict  # steps, burn_in, seed, device
    results: tuple[BenchmarkResult, ...]
    ceilings: tuple[timing.KernelCeiling, ...] = ()
    comparisons: tuple[Comparison, ...] = ()
    seconds: float = 0.0  # wall time of the whole run
    load_average_after: list[float] | None = None  # the machine's load when the run ended

    def ceiling_for(self, precision: str) -> timing.KernelCeiling | None:
        """The ceiling measured in ``precision``'s arithmetic, if the run measured one."""
        wanted = timing.CEILING_DTYPES[precision]
        return next((ceiling for ceiling in self.ceilings if ceiling.dtype == wanted), None)

    def to_dict(self) -> dict:
        """The report as JSON values (``dataclasses.asdict``), with :data:`RESULT_STATISTICS` and each ceiling's rate
        beside the times they come from."""
        values = {"report_version": REPORT_VERSION, **dataclasses.asdict(self)}
        for record, result in zip(values["results"], self.results):
            record.update({name: getattr(result, name) for name in RESULT_STATISTICS})
        for record, ceiling in zip(values["ceilings"], self.ceilings):
            record["gflops_per_second"] = ceiling.gflops_per_second
            for kernel_record, kernel in zip(record["kernels"], ceiling.kernels):
                kernel_record["gflops_per_second"] = kernel.gflops_per_second
            if ceiling.peak is not None:
                record["peak"]["gflops_per_second"] = ceiling.peak.gflops_per_second
        return values

    @classmethod
    def from_dict(cls, values: dict) -> "Report":
        if values.get("report_version") != REPORT_VERSION:
            raise ValueError(f"expected a benchmark report of version {REPORT_VERSION}, got version "
                             f"{values.get('report_version')!r}")
        return _from_record(cls, values)

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


def _from_record(cls, values: dict):
    """The dataclass ``cls`` from its ``dataclasses.asdict`` record read back from JSON: nested records and tuples as
    the field types say; keys that are no field (statistics, version) are left out, absent fields take defaults."""
    hints = typing.get_type_hints(cls)
    return cls(**{field.name: _from_value(hints[field.name], values[field.name])
                  for field in dataclasses.fields(cls) if field.name in values})


def _from_value(kind, value):
    if typing.get_origin(kind) in (typing.Union, types.UnionType) and value is not None:  # X | None
        [kind] = [option for option in typing.get_args(kind) if option is not type(None)]
    if dataclasses.is_dataclass(kind):
        return _from_record(kind, value)
    if typing.get_origin(kind) is tuple:  # tuple[X, ...]
        return tuple(_from_value(typing.get_args(kind)[0], item) for item in value)
    return value


def load_report(source: str, *, timeout: float = 10.0) -> Report:
    """Read a report written by the command line's ``--json``, from a file or an ``https://`` address; a
    ``ValueError`` naming the source if it cannot be read or is not JSON, so that a chapter can say so and go on."""
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
