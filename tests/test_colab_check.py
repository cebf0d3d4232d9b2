"""tools/colab_check.py without making its environment: Colab's pinned versions against the package's bounds, and
how a run's result is read and reported."""

import importlib.util
import sys
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

REPO_ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("colab_check", REPO_ROOT / "tools" / "colab_check.py")
colab_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(colab_check)

COLAB_PYTHON = "3.13"


def test_installing_the_package_in_colab_changes_none_of_colabs_versions():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    pins = colab_check.read_pins()
    assert {"tensorflow", "keras", "numpy", "matplotlib", "scikit-image"} <= set(pins)
    assert SpecifierSet(project["requires-python"]).contains(COLAB_PYTHON)
    for dependency in map(Requirement, project["dependencies"]):
        # pinned there, so that pip has nothing to choose, and within the package's bounds, so that it keeps the pin
        assert dependency.name in pins, f"{dependency.name} is not pinned in requirements-colab.txt"
        assert dependency.specifier.contains(pins[dependency.name]), (dependency, pins[dependency.name])


def test_the_notebook_test_tools_match_the_main_environments():
    main = colab_check.read_pins(REPO_ROOT / "requirements.txt")
    colab = colab_check.read_pins()
    for tool in ("pytest", "nbval", "ipykernel", "nbclient", "nbformat"):
        assert colab[tool] == main[tool], tool


def test_a_changed_or_missing_pin_is_named():
    pins = {"tensorflow": "2.20.0", "keras": "3.13.2", "numpy": "2.1.3"}
    installed = {"tensorflow": "2.21.0", "keras": "3.13.2"}
    assert colab_check.changed_pins(pins, installed) == [
        "tensorflow: pinned 2.20.0, installed 2.21.0", "numpy: pinned 2.1.3, installed nothing"]
    assert colab_check.installed_versions(Path(sys.executable), ["packaging", "no-such-package"]) == {
        "packaging": __import__("packaging").__version__}


def test_the_report_counts_cells_per_notebook_from_pytests_junit_xml(tmp_path):
    junit = tmp_path / "nbval.xml"
    junit.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="book.00_setup.ipynb" name="Cell 0" />'
        '<testcase classname="book.00_setup.ipynb" name="Cell 1"><failure message="x">x</failure></testcase>'
        '<testcase classname="book.01_degradation.ipynb" name="Cell 0" />'
        '<testcase classname="tests.test_other" name="test_unrelated" />'
        '</testsuite></testsuites>')
    notebooks = [Path("book/00_setup.ipynb"), Path("book/01_degradation.ipynb"), Path("book/02_identity.ipynb")]
    cells = colab_check.cells_by_notebook(junit, notebooks)
    assert cells == {"00_setup.ipynb": (1, 1), "01_degradation.ipynb": (1, 0), "02_identity.ipynb": (0, 0)}
    page = colab_check.report("2026-12-08", "3.11.7", {"tensorflow": "2.20.0"}, cells, 1800)
    assert "| tensorflow | 2.20.0 |" in page and "| 00_setup.ipynb | 1 | 1 |" in page
    assert "Not passing: 00_setup.ipynb, 02_identity.ipynb." in page
    assert "Every chapter passed." in colab_check.report("d", "3.11", {}, {"a.ipynb": (3, 0)}, 60)
