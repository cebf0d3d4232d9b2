"""Tests for tools/student_edition.py: which cells and which text survive in the student edition."""

import importlib.util
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

TOOL = Path(__file__).resolve().parent.parent / "tools" / "student_edition.py"
_spec = importlib.util.spec_from_file_location("student_edition", TOOL)
student_edition = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(student_edition)


def make_notebook(*cells):
    """A notebook from ("md" | "code", source) pairs; code cells get an output and an execution count."""
    notebook = v4.new_notebook()
    for count, (kind, source) in enumerate(cells, start=1):
        if kind == "md":
            notebook.cells.append(v4.new_markdown_cell(source))
        else:
            notebook.cells.append(
                v4.new_code_cell(
                    source,
                    execution_count=count,
                    outputs=[v4.new_output("stream", name="stdout", text="out\n")],
                )
            )
    return notebook


def sources(notebook):
    return [cell.source for cell in notebook.cells]


EXERCISE = "```{exercise}\n:label: ex-depth\n\nHow many layers has ResNet-20?\n```"


def test_fenced_solution_alone_in_a_cell_is_dropped():
    notebook = make_notebook(
        ("md", "# Title"),
        ("md", EXERCISE),
        ("md", "````{solution} ex-depth\n:class: dropdown\n\n```python\nprint(6 * 3 + 2)\n```\n````"),
        ("code", "x = 1"),
    )
    student = student_edition.strip_solutions(notebook)
    assert sources(student) == ["# Title", EXERCISE, "x = 1"]


def test_fenced_solution_is_cut_out_of_a_cell_with_other_text():
    cell = (
        "Some text before.\n\n"
        + EXERCISE
        + "\n\n```{solution} ex-depth\n:class: dropdown\n\n20 layers: $6n+2$ with $n=3$.\n```\n\n"
        + "Text after the solution."
    )
    student = student_edition.strip_solutions(make_notebook(("md", cell)))
    assert sources(student) == ["Some text before.\n\n" + EXERCISE + "\n\nText after the solution."]


def test_tilde_and_colon_fences_and_a_solution_nested_in_a_directive():
    cell = (
        "~~~{solution} ex-a\nA\n~~~\n"
        ":::{solution} ex-b\n:class: dropdown\nB\n:::\n"
        "::::{note}\nKeep this note.\n:::{solution} ex-c\nC\n:::\n::::\n"
        "kept"
    )
    student = student_edition.strip_solutions(make_notebook(("md", cell)))
    assert sources(student) == ["::::{note}\nKeep this note.\n::::\nkept"]


def test_solution_syntax_shown_inside_a_code_block_is_kept():
    cell = "Write a solution like this:\n\n````markdown\n```{solution} ex-1\nanswer\n```\n````"
    student = student_edition.strip_solutions(make_notebook(("md", cell)))
    assert sources(student) == [cell]


def test_gated_solution_removes_marker_cells_and_the_code_between():
    notebook = make_notebook(
        ("md", "# Title"),
        ("md", EXERCISE),
        ("md", "```{solution-start} ex-depth\n:class: dropdown\n```"),
        ("code", "depth = 6 * 3 + 2"),
        ("md", "Some explanation inside the solution."),
        ("code", "print(depth)"),
        ("md", "```{solution-end}\n```"),
        ("code", "after = True"),
    )
    student = student_edition.strip_solutions(notebook)
    assert sources(student) == ["# Title", EXERCISE, "after = True"]


def test_gated_markers_keep_text_outside_the_range_in_their_cells():
    notebook = make_notebook(
        ("md", EXERCISE + "\n\n```{solution-start} ex-depth\n```\nHidden explanation."),
        ("code", "depth = 20"),
        ("md", "```{solution-end}\n```\n\n## Summary"),
    )
    student = student_edition.strip_solutions(notebook)
    assert sources(student) == [EXERCISE, "## Summary"]


def test_two_gated_solutions_and_exercise_start_end_untouched():
    notebook = make_notebook(
        ("md", "```{exercise-start}\n:label: ex-1\n```"),
        ("code", "# your code here"),
        ("md", "```{exercise-end}\n```"),
        ("md", "```{solution-start} ex-1\n```"),
        ("code", "answer = 1"),
        ("md", "```{solution-end}\n```"),
        ("md", "```{solution-start} ex-2\n```"),
        ("code", "answer = 2"),
        ("md", "```{solution-end}\n```"),
    )
    student = student_edition.strip_solutions(notebook)
    assert sources(student) == [
        "```{exercise-start}\n:label: ex-1\n```",
        "# your code here",
        "```{exercise-end}\n```",
    ]


def test_outputs_cleared_by_default_and_kept_on_request():
    notebook = make_notebook(("md", "# Title"), ("code", "print('out')"))
    notebook.cells[1].metadata["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00Z"}
    student = student_edition.strip_solutions(notebook)
    code = student.cells[1]
    assert code.outputs == [] and code.execution_count is None and "execution" not in code.metadata
    kept = student_edition.strip_solutions(notebook, clear_outputs=False)
    assert kept.cells[1].outputs and kept.cells[1].execution_count == 2


def test_input_notebook_is_not_modified_and_ids_are_kept():
    notebook = make_notebook(("md", "# Title"), ("md", "```{solution} ex\nA\n```"), ("code", "x = 1"))
    ids = [cell.id for cell in notebook.cells]
    student = student_edition.strip_solutions(notebook)
    assert len(notebook.cells) == 3 and notebook.cells[2].outputs
    assert [cell.id for cell in student.cells] == [ids[0], ids[2]]


@pytest.mark.parametrize(
    "cells, message",
    [
        ([("md", "```{solution-start} ex\n```"), ("code", "x = 1")], "has no matching"),
        ([("code", "x = 1"), ("md", "```{solution-end}\n```")], "without a preceding"),
        (
            [("md", "```{solution-start} a\n```"), ("md", "```{solution-start} b\n```")],
            "inside an open solution-start",
        ),
        ([("md", "# T"), ("md", "```{solution} ex\nnever closed")], "never closed"),
    ],
)
def test_unbalanced_markup_is_an_error_naming_notebook_and_cell(cells, message):
    with pytest.raises(student_edition.SolutionMarkupError, match=message) as error:
        student_edition.strip_solutions(make_notebook(*cells), name="book/99_demo.ipynb")
    assert "book/99_demo.ipynb, cell " in str(error.value)


def test_unbalanced_error_points_at_the_start_cell():
    notebook = make_notebook(("md", "# T"), ("md", "```{solution-start} ex\n```"), ("code", "x = 1"))
    with pytest.raises(student_edition.SolutionMarkupError, match=r"demo.ipynb, cell 1 "):
        student_edition.strip_solutions(notebook, name="demo.ipynb")


def test_command_line_writes_the_student_edition(tmp_path, capsys):
    book = tmp_path / "book"
    book.mkdir()
    notebook = make_notebook(("md", "# Title"), ("md", "```{solution} ex\nA\n```"), ("code", "x = 1"))
    nbformat.write(notebook, book / "01_demo.ipynb")
    output = tmp_path / "student"
    assert student_edition.main(["--output", str(output), str(book / "01_demo.ipynb")]) == 0
    written = nbformat.read(output / "01_demo.ipynb", as_version=4)
    nbformat.validate(written)
    assert sources(written) == ["# Title", "x = 1"]
    assert written.cells[1].outputs == []
    assert "wrote" in capsys.readouterr().out


def test_command_line_reports_unbalanced_markers(tmp_path, capsys):
    nbformat.write(make_notebook(("md", "```{solution-start} ex\n```")), tmp_path / "bad.ipynb")
    assert student_edition.main(["--output", str(tmp_path / "student"), str(tmp_path / "bad.ipynb")]) == 1
    assert "bad.ipynb, cell 0" in capsys.readouterr().err


def test_command_line_refuses_to_overwrite_the_book(tmp_path):
    nbformat.write(make_notebook(("md", "# T")), tmp_path / "a.ipynb")
    assert student_edition.main(["--output", str(tmp_path), str(tmp_path / "a.ipynb")]) == 1
