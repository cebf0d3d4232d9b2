"""Run every chapter on Google Colab's versions of TensorFlow, Keras, NumPy, Matplotlib and scikit-image.

Usage (from the repository root)::

    python tools/colab_check.py [--venv DIR] [--report FILE] [NOTEBOOK ...]

1. Makes a virtual environment (``.venv-colab`` unless ``--venv``; an existing one is reused) with the versions pinned
   in ``requirements-colab.txt``.
2. Installs the book's package the way a notebook's first cell does in Colab: ``pip install`` of the source tree,
   without constraints, so that whatever pip would change in Colab it changes here; then refuses to go on if a pinned
   version changed (the package's bounds in ``pyproject.toml`` would upgrade Colab's TensorFlow, Keras or NumPy).
3. Runs the notebooks (every ``book/*.ipynb`` by default) under nbval in one pytest run, with the quick profile and a
   run store that starts empty, as CI does.
4. Writes the result to ``COLAB_CHECK.md`` (``--report``): date, Python, the versions, and the passed and failed cells
   of every notebook. The exit status is 0 only if every cell passed.

Colab's Python (3.13) is not needed: the environment uses the interpreter that runs this script. The notebooks need
CIFAR-10 as they do anywhere (offline: ``$RESNET_LESSONS_CIFAR10_FOLDER``). The run takes as long as the book's
nbval run: 20 to 50 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path
from xml.etree import ElementTree

REPO_ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = REPO_ROOT / "requirements-colab.txt"
DEFAULT_VENV = REPO_ROOT / ".venv-colab"
DEFAULT_REPORT = REPO_ROOT / "COLAB_CHECK.md"
# The versions the report names, Colab's side of the comparison.
REPORTED = ("tensorflow", "keras", "numpy", "matplotlib", "scikit-image")


def read_pins(path: Path = REQUIREMENTS) -> dict[str, str]:
    """``{package: version}`` of every ``package==version`` line of a requirements file (comments skipped)."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = (part.strip() for part in line.split("==", 1))
            pins[name.lower()] = version
    return pins


def changed_pins(pins: dict[str, str], installed: dict[str, str]) -> list[str]:
    """One line per pinned package whose installed version is not its pin (or that is missing)."""
    return [f"{name}: pinned {version}, installed {installed.get(name, 'nothing')}"
            for name, version in pins.items() if installed.get(name) != version]


def installed_versions(python: Path, names) -> dict[str, str]:
    """The versions of ``names`` installed for the interpreter ``python`` (missing ones left out)."""
    script = ("import importlib.metadata as metadata, json, sys\n"
              "versions = {}\n"
              "for name in sys.argv[1:]:\n"
              "    try:\n"
              "        versions[name] = metadata.version(name)\n"
              "    except metadata.PackageNotFoundError:\n"
              "        pass\n"
              "print(json.dumps(versions))\n")
    result = subprocess.run([str(python), "-c", script, *names], check=True, capture_output=True, text=True)
    return json.loads(result.stdout)


def cells_by_notebook(junit_xml: Path, notebooks) -> dict[str, tuple[int, int]]:
    """``{notebook name: (passed cells, failed cells)}`` from pytest's JUnit XML of an nbval run; a notebook that
    did not run at all counts as (0, 0)."""
    names = [Path(notebook).name for notebook in notebooks]
    counts = {name: [0, 0] for name in names}
    for case in ElementTree.parse(junit_xml).getroot().iter("testcase"):
        name = next((name for name in names if case.get("classname", "").endswith(name)), None)
        if name is None:
            continue
        failed = any(child.tag in ("failure", "error") for child in case)
        counts[name][1 if failed else 0] += 1
    return {name: (passed, failed) for name, (passed, failed) in counts.items()}


def report(date: str, python_version: str, versions: dict[str, str], cells: dict[str, tuple[int, int]],
           seconds: float) -> str:
    """The Markdown page the check writes."""
    failing = [name for name, (passed, failed) in cells.items() if failed or not passed]
    lines = [
        "# The chapters on Google Colab's versions",
        "",
        (f"Last run: {date}, by `python tools/colab_check.py` (Python {python_version}; Colab runs 3.13), "
         f"{seconds / 60:.0f} minutes. Versions, as pinned in `requirements-colab.txt` and left unchanged by "
         "installing the package:"),
        "",
        "| package | version |",
        "|---|---|",
        *(f"| {name} | {version} |" for name, version in versions.items()),
        "",
        "| notebook | cells passed | cells failed |",
        "|---|--:|--:|",
        *(f"| {name} | {passed} | {failed} |" for name, (passed, failed) in cells.items()),
        "",
        "Every chapter passed." if not failing else f"Not passing: {', '.join(failing)}.",
        "",
    ]
    return "\n".join(lines)


def make_environment(folder: Path) -> Path:
    """The environment's Python, after creating it (if new) and installing ``requirements-colab.txt`` in it."""
    python = folder / "bin" / "python"
    if not python.exists():
        print(f"Creating {folder} with {sys.executable}", flush=True)
        venv.create(folder, with_pip=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)], check=True)
    return python


def install_package(python: Path) -> None:
    """Install the book's package from the source tree as the first cell does in Colab (not editable, no
    constraints); a ``SystemExit`` naming what changed if that moved a pinned version."""
    pins = read_pins()
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps",
                    str(REPO_ROOT)], check=True)
    # The package's own dependencies, resolved as in Colab: pip upgrades only what the bounds refuse.
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(REPO_ROOT)], check=True)
    changes = changed_pins(pins, installed_versions(python, pins))
    if changes:
        raise SystemExit("installing the package changed Colab's versions (pyproject.toml's bounds refuse them):\n  "
                         + "\n  ".join(changes))


def run_notebooks(python: Path, notebooks: list[Path], junit_xml: Path) -> None:
    """nbval on ``notebooks`` in one pytest run with the quick profile (the repository's conftest.py gives it an
    empty run store, as in CI); cells that fail are recorded in ``junit_xml``, not raised."""
    environment = dict(os.environ, RESNET_LESSONS_PROFILE="quick")
    environment.pop("MPLBACKEND", None)  # as in CI: the kernels' inline backend draws the figures
    subprocess.run([str(python), "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={junit_xml}",
                    *map(str, notebooks)], cwd=REPO_ROOT, env=environment, check=False)


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to run (default: every book/*.ipynb)")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV,
                        help=f"the environment to make or reuse (default: {DEFAULT_VENV.name})")
    parser.add_argument("--report", type=Path, default=DEFAULT_REPORT,
                        help=f"where to write the result (default: {DEFAULT_REPORT.name})")
    arguments = parser.parse_args(argv)
    arguments.notebooks = [path.resolve() for path in arguments.notebooks] or sorted(
        (REPO_ROOT / "book").glob("*.ipynb"))
    missing = [str(path) for path in arguments.notebooks if path.suffix != ".ipynb" or not path.is_file()]
    if missing:
        parser.error(f"not a notebook: {', '.join(missing)}")
    return arguments


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    start = time.monotonic()
    python = make_environment(arguments.venv.resolve())
    install_package(python)
    with tempfile.TemporaryDirectory() as scratch:
        junit_xml = Path(scratch) / "nbval.xml"
        run_notebooks(python, arguments.notebooks, junit_xml)
        cells = cells_by_notebook(junit_xml, arguments.notebooks)
    version = subprocess.run([str(python), "-c", "import platform; print(platform.python_version())"],
                             check=True, capture_output=True, text=True).stdout.strip()
    page = report(datetime.date.today().isoformat(), version, installed_versions(python, REPORTED), cells,
                  time.monotonic() - start)
    arguments.report.write_text(page, encoding="utf-8")
    print(page)
    return 0 if all(passed and not failed for passed, failed in cells.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
