"""The notebook tests need CIFAR-10: without it, say so once, with the remedy, instead of failing cell by cell.

The chapters' stored outputs were made on CIFAR-10 and their checked cells state findings about it. Run on the
synthetic fallback they would fail dozens of comparisons with no word on why. So when nbval collects notebooks and
CIFAR-10 cannot be had here (no official release in the Keras cache, no download possible, no image-folder copy named
by $RESNET_LESSONS_CIFAR10_FOLDER), the notebooks are not run, the unit tests still are, and the run fails with one
line saying what is missing and what to do.

Every test session also starts with an empty run store (resnet_lessons.run_store), so that a notebook that reuses a
trained network reuses one made by an earlier notebook of the same session, never a run left on this machine by
older code.
"""

import os
import tempfile

import pytest

_missing_data = []
_run_store = None


def pytest_configure(config):
    # The notebooks' kernels inherit this process's environment.
    global _run_store
    _run_store = tempfile.TemporaryDirectory(prefix="resnet-lessons-runs-")
    os.environ["RESNET_LESSONS_RUN_STORE"] = _run_store.name


def pytest_unconfigure(config):
    if _run_store is not None:
        _run_store.cleanup()


def _is_notebook_item(item) -> bool:
    return str(getattr(item, "path", "")).endswith(".ipynb")


def pytest_collection_modifyitems(session, config, items):
    notebook_items = [item for item in items if _is_notebook_item(item)]
    if not notebook_items:
        return
    from resnet_lessons import cifar10

    available, explanation = cifar10.availability()
    if available:
        return
    notebooks = ", ".join(sorted({item.path.name for item in notebook_items}))
    count = len({item.path for item in notebook_items})
    _missing_data.append(f"the {count} notebook(s) ({notebooks}) were not run: they need CIFAR-10. {explanation}")
    items[:] = [item for item in items if not _is_notebook_item(item)]
    config.hook.pytest_deselected(items=notebook_items)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    for message in _missing_data:
        terminalreporter.write_line(f"error: {message}", red=True, bold=True)


def pytest_sessionfinish(session, exitstatus):
    if _missing_data and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
