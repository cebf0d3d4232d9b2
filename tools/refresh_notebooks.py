"""Re-execute the book's notebooks in place with the quick profile, so the committed outputs are current.

Usage:
    python tools/refresh_notebooks.py [NOTEBOOK ...]

Without arguments every ``book/*.ipynb`` is executed, on CIFAR-10 only: where it cannot be had (no official release
in the Keras cache or downloadable, no ``$RESNET_LESSONS_CIFAR10_FOLDER`` copy) the command refuses, since the stored
outputs must not come from the synthetic fallback. Each notebook runs top to bottom in a fresh ``python3``
kernel, with its own folder as the working directory and ``RESNET_LESSONS_PROFILE=quick`` in the environment; the
time limit is 900 s per cell. The first exception stops the command with an error naming the notebook and the cell
(the notebook file is then left unchanged). The notebooks of one call share a run store that starts empty
(``RESNET_LESSONS_RUN_STORE``, see ``resnet_lessons.run_store``): a notebook reuses only networks that an earlier
notebook of the same call trained, in the order given, as under nbval in CI; ``--store DIR`` keeps
and reuses a store instead. Volatile metadata is normalised (see
:func:`normalise`) so that refreshing twice gives no spurious diff. The book's HTML build renders these stored outputs; it does not execute.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO_ROOT = Path(__file__).resolve().parent.parent
BOOK_DIR = REPO_ROOT / "book"
KERNEL_NAME = "python3"
CELL_TIMEOUT_S = 900
PROFILE = "quick"
RUN_STORE_VARIABLE = "RESNET_LESSONS_RUN_STORE"  # resnet_lessons.run_store.STORE_ENVIRONMENT_VARIABLE

# Cell metadata written by executors and editors that changes on every run: nbclient's timing record
# ("execution": iopub.status.busy, shell.execute_reply, ...) and jupyterlab-execute-time's "ExecuteTime".
VOLATILE_CELL_METADATA = ("execution", "ExecuteTime")
# Notebook metadata of the same kind (papermill's run record).
VOLATILE_NOTEBOOK_METADATA = ("papermill",)


# TensorFlow's C++ start-up log lines (absl format: severity letter, date, time, thread, file:line]), with the
# preamble absl prints before it is initialised and the continuation line of cpu_feature_guard's message. They carry
# timestamps and thread ids, so left in the stored outputs they would change on every refresh.
TENSORFLOW_LOG_LINE = re.compile(
    r"^(?:[IWE]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] .*"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|To enable the following instructions: .*, in other operations, rebuild TensorFlow .*)$"
)


class NotebookExecutionError(RuntimeError):
    """A cell of a notebook raised an exception or timed out during a refresh."""


def normalise(notebook: nbformat.NotebookNode, nbformat_minor: int | None = None) -> nbformat.NotebookNode:
    """Remove volatile metadata from ``notebook`` in place, and return it.

    Drops the per-cell execution timing records (``metadata.execution``, ``metadata.ExecuteTime``), papermill's
    notebook metadata and TensorFlow's start-up log lines on stderr (see :func:`drop_tensorflow_log_lines`), and
    merges consecutive pieces of one stream (see :func:`merge_streams`); keeps cell ids, all other outputs and
    execution counts. When ``nbformat_minor`` is given, the notebook's minor format version is set back to it
    (executing or upgrading may raise it); cell ids are only valid from minor version 5, so they are removed when
    the version is lower.

    Args:
        notebook: a version-4 notebook.
        nbformat_minor: the minor version to keep, normally the one the file had before execution.

    Returns:
        The same notebook object.
    """
    for key in VOLATILE_NOTEBOOK_METADATA:
        notebook.metadata.pop(key, None)
    for cell in notebook.cells:
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = merge_streams(drop_tensorflow_log_lines(cell.outputs))
    if nbformat_minor is not None:
        notebook.nbformat_minor = nbformat_minor
        if nbformat_minor < 5:
            for cell in notebook.cells:
                cell.pop("id", None)
    return notebook


def drop_tensorflow_log_lines(outputs: list) -> list:
    """Remove TensorFlow's C++ start-up log lines from stderr stream outputs; drop outputs left empty.

    Only lines in absl's log format (and the two lines that belong to that start-up chatter) go; any other stderr
    text, warnings included, stays. The HTML hides stderr anyway; this keeps the ``.ipynb`` readable on GitHub and in
    Colab and free of timestamps that change on every refresh.
    """
    kept = []
    for output in outputs:
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            lines = output["text"].splitlines(keepends=True)
            text = "".join(line for line in lines if not TENSORFLOW_LOG_LINE.match(line.rstrip("\n")))
            if not text:
                continue
            output["text"] = text
        kept.append(output)
    return kept


def merge_streams(outputs: list) -> list:
    """Join consecutive stdout (or stderr) outputs into one, as Jupyter shows them.

    A kernel sends printed text in pieces, as it is flushed; stored as separate outputs, the book's HTML would show
    every piece (each epoch's line of a training run) in a box of its own.
    """
    merged = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (output.get("output_type") == "stream" and previous is not None
                and previous.get("output_type") == "stream" and previous.get("name") == output.get("name")):
            previous["text"] += output["text"]
            continue
        merged.append(output)
    return merged


def kernel_environment() -> dict[str, str]:
    """The environment of the kernel: this process's, with the quick profile and the notebook plotting backend."""
    env = dict(os.environ)
    env["RESNET_LESSONS_PROFILE"] = PROFILE
    # MPLBACKEND=Agg (as CI sets for the unit tests) would stop ipykernel from selecting the inline backend, and the
    # refreshed notebooks would lose their figures.
    env.pop("MPLBACKEND", None)
    return env


def execute_notebook(path: Path) -> float:
    """Execute the notebook at ``path`` in place and return the wall time in seconds.

    Raises:
        NotebookExecutionError: a cell raised an exception or timed out; the file is not modified.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    path = Path(path).resolve()
    notebook = nbformat.read(path, as_version=4)
    minor = notebook.nbformat_minor
    current = {"index": None}

    def on_cell_start(cell, cell_index):
        current["index"] = cell_index

    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name=KERNEL_NAME,
        resources={"metadata": {"path": str(path.parent)}},  # working directory: the notebook's folder
        record_timing=False,
        on_cell_start=on_cell_start,
    )
    start = time.perf_counter()
    try:
        client.execute(env=kernel_environment())
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
        index = current["index"]
        cell = notebook.cells[index] if index is not None else None
        where = f"cell {index}" if cell is None else f"cell {index} (id {cell.get('id', '?')})"
        first_line = "" if cell is None else cell.source.strip().split("\n")[0][:80]
        raise NotebookExecutionError(
            f"{path.name}, {where} failed: {first_line!r}\n{type(error).__name__}: {error}"
        ) from error
    seconds = time.perf_counter() - start
    normalise(notebook, nbformat_minor=minor)
    nbformat.write(notebook, path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "notebooks", nargs="*", type=Path, help="notebooks to execute (default: every book/*.ipynb)"
    )
    parser.add_argument(
        "--store",
        type=Path,
        help="keep and reuse this run store instead of an empty temporary one (faster when one chapter is "
        "refreshed again and again; the outputs then read back networks an earlier call trained)",
    )
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted(BOOK_DIR.glob("*.ipynb"))
    if not notebooks:
        parser.error(f"no notebooks given and none found in {BOOK_DIR}")
    missing = [str(path) for path in notebooks if not Path(path).is_file()]
    if missing:
        parser.error(f"not found: {', '.join(missing)}")
    # The stored outputs are made on CIFAR-10; refreshing on the synthetic fallback would commit the wrong findings.
    from resnet_lessons import cifar10

    available, explanation = cifar10.availability()
    if not available:
        print(f"error: the notebooks' outputs are made on CIFAR-10, and it cannot be had here. {explanation}",
              file=sys.stderr)
        return 1
    print(f"CIFAR-10: {explanation}", flush=True)
    total = 0.0
    if args.store is not None:
        args.store.mkdir(parents=True, exist_ok=True)
        store_context = contextlib.nullcontext(str(args.store.resolve()))
    else:
        store_context = tempfile.TemporaryDirectory(prefix="resnet-lessons-runs-")
    with store_context as run_store:
        previous = os.environ.get(RUN_STORE_VARIABLE)
        os.environ[RUN_STORE_VARIABLE] = run_store  # the kernels inherit it
        try:
            for path in notebooks:
                print(f"executing {path} (profile {PROFILE}) ...", flush=True)
                try:
                    seconds = execute_notebook(path)
                except NotebookExecutionError as error:
                    print(f"error: {error}", file=sys.stderr)
                    return 1
                total += seconds
                print(f"  {path}: {seconds:.1f} s", flush=True)
        finally:
            if previous is None:
                os.environ.pop(RUN_STORE_VARIABLE, None)
            else:
                os.environ[RUN_STORE_VARIABLE] = previous
    print(f"refreshed {len(notebooks)} notebook(s) in {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
