"""The repository's conftest.py: notebooks need CIFAR-10, and without it the run says so once and fails."""

from pathlib import Path

import nbformat

ROOT_CONFTEST = Path(__file__).resolve().parent.parent / "conftest.py"


def make_project(pytester):
    pytester.makeconftest(ROOT_CONFTEST.read_text())
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('ran')")])
    nbformat.write(notebook, pytester.path / "chapter.ipynb")
    pytester.makepyfile(test_unit="def test_unit():\n    assert True\n")


def test_without_cifar10_the_notebooks_are_not_run_and_one_line_says_why(pytester, monkeypatch):
    make_project(pytester)
    monkeypatch.setenv("RESNET_LESSONS_CIFAR10_FOLDER", str(pytester.path / "no-such-copy.tar.gz"))
    monkeypatch.setenv("KERAS_HOME", str(pytester.path / "empty-keras-home"))
    result = pytester.runpytest_subprocess("--nbval-lax", "-p", "no:cacheprovider")
    assert result.ret == 1
    result.assert_outcomes(passed=1, deselected=1)
    lines = [line for line in result.outlines if "need CIFAR-10" in line]
    assert len(lines) == 1
    assert lines[0].startswith("error: the 1 notebook(s) (chapter.ipynb) were not run: they need CIFAR-10.")
    assert "no-such-copy.tar.gz, which does not exist" in lines[0]


def test_with_cifar10_the_notebooks_run(pytester, monkeypatch, tmp_path):
    from test_cifar10 import write_cifar_image_folder

    make_project(pytester)
    copy = write_cifar_image_folder(tmp_path / "copy.tar.gz")
    monkeypatch.setenv("RESNET_LESSONS_CIFAR10_FOLDER", str(copy))
    result = pytester.runpytest_subprocess("--nbval-lax", "-p", "no:cacheprovider")
    assert result.ret == 0
    result.assert_outcomes(passed=2)
    assert "need CIFAR-10" not in result.stdout.str()
