"""Result files of the runs too long for a chapter (``benchmarks/``), which the chapters read and plot.

A benchmark script (:func:`run_plan`) stores in one JSON file what a reader needs to judge its runs: the command, the
machine, date, versions and load, the recipe, the data and every epoch of every run. It rewrites the file after each
finished run, marked incomplete until the last, so an interrupted benchmark loses no finished work.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

from . import data, hardware, models, profiles, seeding, train
from .checkpoints import RUN_FILE, write_json_atomically
from .train import TrainingHistory

REPORT_VERSION = 1


@dataclasses.dataclass
class Run:
    """One trained network in a report."""

    name: str  # e.g. "plain-56", as on the figures
    depth: int  # weighted layers
    residual: bool  # a ResNet (True) or the plain net of the same depth
    seed: int  # decides the initial weights and the order of the batches
    history: TrainingHistory  # every epoch of the run


@dataclasses.dataclass
class RunReport:
    """What a long benchmark ran, where, and what every run measured."""

    command: str  # how to make the file again
    config: profiles.TrainConfig  # the recipe every run was trained under
    environment: dict  # hardware.describe_environment() when the benchmark started
    runs: list[Run]  # the finished runs, in the order they were trained
    complete: bool  # False while runs the command asked for are still missing
    seconds: float  # wall-clock time of the finished runs, over all sessions that worked on them
    load_average_after: list[float] | None = None  # the load when the file was last written

    def run(self, name: str, seed: int) -> Run:
        """The run of network ``name`` (e.g. ``"plain-56"``) with ``seed``; a ``ValueError`` naming the runs if none."""
        for run in self.runs:
            if run.name == name and run.seed == seed:
                return run
        there = ", ".join(f"{run.name} (seed {run.seed})" for run in self.runs) or "none"
        raise ValueError(f"no run of {name!r} with seed {seed} in this report; runs: {there}")

    def mean_final(self, name: str, metric: str) -> float:
        """``metric`` (e.g. ``"train_error"``) at the end of every run of ``name``, averaged over their seeds."""
        values = [run.history.final(metric) for run in self.runs if run.name == name]
        if not values:
            raise ValueError(f"no run of {name!r} in this report; runs: "
                             f"{', '.join(sorted({run.name for run in self.runs})) or 'none'}")
        return sum(values) / len(values)

    def describe(self) -> str:
        """Where the report came from, in the lines a chapter prints above its figures."""
        where = self.environment
        lines = [f"Data of the stored run: {self.runs[0].history.data_description if self.runs else 'no runs yet'}",
                 f"Recipe: {self.config.describe()}",
                 f"Made by: {self.command}",
                 f"On a {where.get('cpu_cores', '?')}-core CPU ({where.get('cpu', 'unknown')}), "
                 f"{str(where.get('date_utc', '?'))[:10]}, TensorFlow {where.get('tensorflow', '?')}, Keras "
                 f"{where.get('keras', '?')}; load average {where.get('load_average')} at the start, "
                 f"{self.load_average_after} at the end",
                 f"{len(self.runs)} runs, {self.seconds / 60:.0f} minutes of training"
                 + ("" if self.complete else " so far: the benchmark has not finished")]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"report_version": REPORT_VERSION, "command": self.command, "config": dataclasses.asdict(self.config),
                "environment": self.environment, "complete": self.complete, "seconds": self.seconds,
                "load_average_after": self.load_average_after,
                "runs": [dataclasses.asdict(run) for run in self.runs]}  # histories too, as their to_dict gives them

    @classmethod
    def from_dict(cls, values: dict) -> "RunReport":
        version = values.get("report_version")
        if version != REPORT_VERSION:
            raise ValueError(f"run report version {version!r} is not supported: expected {REPORT_VERSION}")
        runs = [Run(**{**run, "history": TrainingHistory(**run["history"])}) for run in values["runs"]]
        return cls(command=values["command"], config=profiles.TrainConfig.from_dict(values["config"]),
                   environment=values["environment"], runs=runs, complete=values["complete"],
                   seconds=values["seconds"], load_average_after=values.get("load_average_after"))

    def save(self, path) -> None:
        """Write the report as JSON, atomically: an interruption never leaves half a file."""
        write_json_atomically(path, self.to_dict())

    @classmethod
    def load(cls, path) -> "RunReport":
        """Read a report written by :meth:`save`; a ``ValueError`` if there is none or it is not one of this version."""
        return cls.from_dict(read_report_file(path, kind="run report", required="runs",
                                              remedy="make it with the command its chapter names"))


def save_reports(path, reports: list[RunReport], *, complete: bool) -> None:
    """Write several reports of one benchmark (one per recipe, e.g. per training budget) as one JSON file,
    atomically; ``complete``: whether the benchmark has finished every run it was asked for."""
    write_json_atomically(path, {"report_version": REPORT_VERSION, "complete": complete,
                                 "reports": [report.to_dict() for report in reports]})


def load_reports(path) -> list[RunReport]:
    """The reports :func:`save_reports` wrote, in their order; a ``ValueError`` if the file is not such a file."""
    values = read_report_file(path, kind="file of run reports", required="reports",
                              remedy="make it with the command its chapter names")
    return [RunReport.from_dict(report) for report in values["reports"]]


def read_report_file(path, *, kind: str, required: str, remedy: str) -> dict:
    """The JSON object stored at ``path``, checked to be a ``kind`` (it has the key ``required``); else a
    ``ValueError`` naming the file and what is wrong (missing: ``remedy`` says how to make it; not JSON; other kind)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"no {kind} at {str(path)!r}: {remedy}")
    try:
        values = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{str(path)!r} is not a {kind} (invalid JSON: {error})") from None
    if not isinstance(values, dict) or required not in values:
        raise ValueError(f"{str(path)!r} is not a {kind}: it has no {required!r}")
    return values


@dataclasses.dataclass(frozen=True)
class PlannedRun:
    """A network a benchmark is to train: plain or residual, its depth and its seed."""

    depth: int
    residual: bool
    seed: int

    @property
    def name(self) -> str:
        return f"{'resnet' if self.residual else 'plain'}-{self.depth}"


def _checkpoint_folder(checkpoints, planned: PlannedRun) -> pathlib.Path:
    return pathlib.Path(checkpoints) / f"{planned.name}-seed{planned.seed}"


def trained_network(planned: PlannedRun, checkpoints, config: profiles.TrainConfig, *, num_classes: int = 10):
    """The network of a run :func:`run_plan` finished, with its last epoch's weights from ``checkpoints`` (which exist
    where the benchmark ran, not in the repository): chapter 4 measures layer responses on them without training again.
    A ``ValueError`` if there is no checkpoint of the run, or one of another profile or network, or an unfinished one.
    """
    folder = _checkpoint_folder(checkpoints, planned)
    run_file = folder / RUN_FILE
    if not run_file.is_file():
        raise ValueError(f"no checkpoint of {planned.name} seed {planned.seed} in {str(folder)!r}: train it first "
                         f"with the benchmark that made the report, giving it --checkpoints {str(checkpoints)!r}")
    saved = json.loads(run_file.read_text())
    model = models.cifar_network(planned.depth, residual=planned.residual, input_shape=config.input_shape,
                                 num_classes=num_classes)
    profile = (saved.get("config") or {}).get("name")
    if saved.get("model") != model.name or profile != config.name or saved.get("seed") != planned.seed:
        raise ValueError(f"checkpoint {str(folder)!r} holds {saved.get('model')!r} of profile {profile!r}, seed "
                         f"{saved.get('seed')!r}; expected {model.name!r} of profile {config.name!r}, seed "
                         f"{planned.seed}")
    if saved.get("epochs_done", 0) < config.epochs:
        raise ValueError(f"checkpoint {str(folder)!r} holds {saved.get('epochs_done', 0)} of {config.epochs} epochs: "
                         f"finish the run first")
    model.load_weights(folder / saved["latest"] / "model.weights.h5")
    return model


def run_plan(plan: list[PlannedRun], dataset: data.ImageDataset, config: profiles.TrainConfig, *, command: str,
             report_path=None, checkpoints=None) -> RunReport:
    """Train every run of ``plan`` in order under ``config`` (with :func:`profiles.for_depth`'s warm-up) into a report.

    Each run starts from ``seeding.set_seed(seed)``, so it is the same run in every benchmark that plans it: in a shared
    ``checkpoints`` folder (``<name>-seed<seed>`` per run) a finished run is read back and an interrupted one resumes.
    After each run the report is written to ``report_path`` (if given) and a line says how long the rest should take.
    """
    if not plan:
        raise ValueError("the plan has no runs")
    report = RunReport(command=command, config=config, environment=hardware.describe_environment(), runs=[],
                       complete=False, seconds=0.0)
    for number, planned in enumerate(plan):
        seeding.set_seed(planned.seed)
        model = models.cifar_network(planned.depth, residual=planned.residual, input_shape=config.input_shape,
                                     num_classes=dataset.num_classes)
        folder = _checkpoint_folder(checkpoints, planned) if checkpoints else None
        history = train.train(model, dataset, profiles.for_depth(config, planned.depth), seed=planned.seed,
                              label=planned.name, checkpoint_dir=folder)
        report.runs.append(Run(name=planned.name, **dataclasses.asdict(planned), history=history))
        report.seconds += history.total_seconds
        print(f"{planned.name} seed {planned.seed}: final training error {100 * history.final('train_error'):5.1f} %,"
              f" test error {100 * history.final('test_error'):5.1f} % ({history.total_seconds / 60:.1f} min)"
              f"{_time_left(plan, number, report)}", flush=True)
        if report_path is not None:
            report.complete = number == len(plan) - 1
            report.load_average_after = hardware.load_average()
            report.save(report_path)
    return report


def _time_left(plan, number, report) -> str:
    """The remaining runs' time, assuming it grows with depth as it did in the runs so far."""
    left = sum(planned.depth for planned in plan[number + 1:])
    if not left:
        return ""
    done = sum(planned.depth for planned in plan[:number + 1])
    runs_left = len(plan) - number - 1
    return (f"; {runs_left} run{'s' if runs_left > 1 else ''} left, about {report.seconds / done * left / 60:.0f} min")
