"""tools/otter_assignment.py: a chapter's exercises as an Otter Assign master notebook (format version 1), tested on
a small chapter the test writes; the hidden tests are run here the way Otter runs them, on a right and a wrong
answer."""

import importlib.util
import math
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat import v4

from resnet_lessons import checks

TOOL = Path(__file__).resolve().parent.parent / "tools" / "otter_assignment.py"
_spec = importlib.util.spec_from_file_location("otter_assignment", TOOL)
otter_assignment = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = otter_assignment  # its dataclass looks itself up there
_spec.loader.exec_module(otter_assignment)


def small_chapter():
    """Text, a checked exercise with a fenced solution, an open one with a gated solution, then more text."""
    notebook = v4.new_notebook()
    notebook.cells = [
        v4.new_markdown_cell("# A chapter\n\nSome text."),
        v4.new_code_cell("from resnet_lessons import checks"),
        v4.new_markdown_cell("## Exercises\n\nTry first.\n\n```{exercise} The chance loss (checked)\n"
                             ":label: ex-chance\n\nWhat loss does a guess give?\n```"),
        v4.new_code_cell("answer = ...  # your expression here\nprint(checks.check_chance_loss(answer))"),
        v4.new_markdown_cell("````{solution} ex-chance\n:class: dropdown\n\nIt is ln 10.\n\n```python\n"
                             "import math\nanswer = math.log(10)\n```\n````\n\n```{exercise} Explain it\n"
                             ":label: ex-open\n\nWhy ln 10?\n```"),
        v4.new_code_cell("# your code here"),
        v4.new_markdown_cell("```{solution-start} ex-open\n:class: dropdown\n```\n\nBecause every class gets 1/10:"),
        v4.new_code_cell("print(-math.log(1 / 10))"),
        v4.new_markdown_cell("```{solution-end}\n```\n\n## What's next\n\nMore."),
    ]
    return notebook


def config_of(cell, marker):
    assert cell.cell_type == "raw" and cell.source.startswith(f"# {marker}\n"), cell.source
    return yaml.safe_load(cell.source.split("\n", 1)[1])


def test_the_master_notebook_is_the_chapter_with_one_question_per_exercise():
    master = otter_assignment.master_notebook(small_chapter(), "chapter")
    nbformat.validate(master)
    assert config_of(master.cells[0], "ASSIGNMENT CONFIG")["tests"] == {"ok_format": False, "files": False}
    sources = [cell.source for cell in master.cells]
    assert sources[1:4] == ["# A chapter\n\nSome text.", "from resnet_lessons import checks",
                            "## Exercises\n\nTry first."]
    assert sources[-1] == "## What's next\n\nMore."
    questions = [config_of(cell, "BEGIN QUESTION") for cell in master.cells if cell.source.startswith("# BEGIN QUE")]
    assert questions == [{"name": "ex-chance", "manual": False},
                         {"name": "ex-open", "manual": True, "points": otter_assignment.OPEN_POINTS}]
    assert "**The chance loss (checked)**\n\nWhat loss does a guess give?" in sources
    # the checked solution: the book's code in place of the placeholder, the work cell's check kept
    assert ('# BEGIN SOLUTION NO PROMPT\nimport math\nanswer = math.log(10)\n# END SOLUTION\n'
            '""" # BEGIN PROMPT\nanswer = ...  # your expression here\n"""; # END PROMPT\n'
            'print(checks.check_chance_loss(answer))') in sources
    # the open one: the solution's code and text as the reference, nothing of it left in the chapter's text
    assert "# BEGIN SOLUTION\nprint(-math.log(1 / 10))\n# END SOLUTION" in sources
    assert "Because every class gets 1/10:" in sources
    assert not any("{solution" in source or "{exercise" in source for source in sources)
    for begin, end in (("# BEGIN QUESTION", "# END QUESTION"), ("# BEGIN SOLUTION", "# END SOLUTION"),
                       ("# BEGIN TESTS", "# END TESTS")):
        raw = [cell.source.split("\n")[0] for cell in master.cells if cell.cell_type == "raw"]
        assert raw.count(begin) == raw.count(end) > 0


def run_hidden_test(source, variables):
    """Run one test cell as Otter does: the function after the test configuration, called with the graded
    notebook's variables of the same names."""
    config, body = source.split('""" # END TEST CONFIG\n')
    assert yaml.safe_load(config.split("\n", 1)[1]) == {"points": 1, "hidden": True}
    namespace = {}
    exec(body, namespace)  # noqa: S102 (the tool's own output)
    [test] = [value for name, value in namespace.items() if name.startswith("test_")]
    test(**{name: variables[name] for name in test.__code__.co_varnames[:test.__code__.co_argcount]})


def test_a_hidden_test_passes_the_right_answer_and_fails_a_wrong_one_with_the_checkers_hint():
    master = otter_assignment.master_notebook(small_chapter(), "chapter")
    [test] = [cell.source for cell in master.cells if "BEGIN TEST CONFIG" in cell.source]
    run_hidden_test(test, {"answer": math.log(10), "checks": checks})
    with pytest.raises(AssertionError, match="chance error rate"):
        run_hidden_test(test, {"answer": 0.9, "checks": checks})
    with pytest.raises(AssertionError, match="no answer yet"):
        run_hidden_test(test, {"answer": ..., "checks": checks})


def test_the_assignment_is_written_with_its_requirements_and_a_chapter_without_exercises_is_refused(tmp_path):
    chapter = tmp_path / "chapter.ipynb"
    nbformat.write(small_chapter(), chapter)
    path = otter_assignment.write_assignment(chapter, tmp_path / "out")
    assert path == tmp_path / "out" / "chapter" / "chapter.ipynb" and nbformat.read(path, as_version=4).cells
    assert (path.parent / "requirements.txt").read_text() == (
        f"resnet-lessons @ git+{otter_assignment.repository_url()}\n")
    with pytest.raises(ValueError, match="no exercises"):
        otter_assignment.master_notebook(v4.new_notebook(cells=[v4.new_markdown_cell("# Only text")]), "empty")


def test_every_chapter_with_exercises_becomes_an_assignment():
    for path in sorted((TOOL.parent.parent / "book").glob("*.ipynb")):
        master = otter_assignment.master_notebook(nbformat.read(path, as_version=4), path.stem)
        assert any(cell.source.startswith("# BEGIN QUESTION") for cell in master.cells), path.name
