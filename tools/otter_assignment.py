"""Turn a chapter's exercises into an assignment for otter-grader (Otter Assign's notebook format, version 1).

Usage (from the repository root)::

    python tools/otter_assignment.py book/00_setup.ipynb [...] --output assignments/

For each chapter it writes ``OUTPUT/<chapter>/<chapter>.ipynb``, the *master notebook* Otter Assign reads, and a
``requirements.txt`` beside it that installs the book's package from its repository (``_config.yml``). The master is
the whole chapter, so that every exercise keeps the networks, data and imports it builds on; each exercise becomes one
question, named by its label:

* a *checked* exercise (its work cell calls ``resnet_lessons.checks``) is autograded: the solution's code goes in
  front of the work cell's own check (students see the work cell's placeholders there instead), and every checker
  call of the work cell becomes a hidden test worth one point that asserts the checker's verdict;
* an *open* exercise is graded by hand (``manual: true``, ``OPEN_POINTS`` points) with the book's solution, its text
  and its code, as the reference; the student gets the work cell and an answer cell.

Then, with otter-grader 7 installed (it is not one of the book's requirements)::

    otter assign OUTPUT/00_setup/00_setup.ipynb dist/          # student notebook and autograder zip
    otter run -a dist/autograder/00_setup-autograder_*.zip submission.ipynb   # grade one submission here

Grading runs the whole notebook, so the grader needs what the chapter needs: the package (the zip installs it from
``requirements.txt``) and, where the chapter trains, CIFAR-10 (with internet it is downloaded; offline set
``RESNET_LESSONS_CIFAR10_FOLDER``).
"""

from __future__ import annotations

import argparse
import ast
import builtins
import dataclasses
import re
import sys
from pathlib import Path

import nbformat
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import student_edition

REPO_ROOT = Path(__file__).resolve().parent.parent
OPEN_POINTS = 2  # an open exercise, graded by hand
# A work cell's line for the student to complete, such as `answer = ...  # your expression here`.
PLACEHOLDER = re.compile(r"^\s*[\w, ]+=\s*\.\.\.(\s*#.*)?$")
CHECK_POINTS = 1  # each checker call of a checked exercise


@dataclasses.dataclass
class Exercise:
    """One exercise of a chapter, as the book writes it."""

    label: str
    title: str
    prompt: str  # the exercise's text, Markdown without the directive
    work_cells: list = dataclasses.field(default_factory=list)  # the code cells given to work in
    solution_text: list = dataclasses.field(default_factory=list)  # Markdown of the solution
    solution_code: list = dataclasses.field(default_factory=list)  # code of the solution, one string per cell

    @property
    def check_calls(self) -> list[ast.Call]:
        """Every ``checks.check_*(...)`` call in the work cells."""
        return [node for cell in self.work_cells for node in ast.walk(ast.parse(cell.source))
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "checks"
                and node.func.attr.startswith("check_")]


def _directive_body(lines: list[str]) -> tuple[str, dict[str, str], str]:
    """``(argument, options, body)`` of a fenced MyST directive given as its lines, fences included."""
    argument = re.sub(r"^\s*\{[^}]*\}\s*", "", lines[0].lstrip(" `~:"))
    body = lines[1:-1]
    options = {}
    while body and body[0].startswith(":"):
        key, _, value = body.pop(0)[1:].partition(":")
        options[key.strip()] = value.strip()
    return argument.strip(), options, "\n".join(body).strip()


def _python_blocks(markdown: str) -> list[str]:
    """The code of the ```` ```python ```` blocks of a Markdown text."""
    return [match.group(1).strip() for match in re.finditer(r"```python\n(.*?)\n```", markdown, flags=re.DOTALL)]


def parse_chapter(notebook) -> list:
    """The chapter as a list of cells (kept as they are) and :class:`Exercise` objects in their place.

    Markdown cells are split at the exercise and solution directives: text around them stays, an ``{exercise}``
    opens an exercise, the code cells after it are its work cells, and a ``{solution}`` (fenced) or the cells between
    ``{solution-start}`` and ``{solution-end}`` are its solution.
    """
    items, exercises = [], {}
    current, in_solution = None, None

    def keep_text(lines):
        text = student_edition._tidy(lines)
        if not text.strip():
            return
        if in_solution is not None:
            in_solution.solution_text.append(text)
        else:
            items.append(nbformat.v4.new_markdown_cell(text))

    for cell in notebook.cells:
        if cell.cell_type == "code":
            if in_solution is not None:
                in_solution.solution_code.append(cell.source)
            elif current is not None and not current.solution_text and not current.solution_code:
                current.work_cells.append(cell)
            else:
                items.append(cell)
            continue
        if cell.cell_type != "markdown":
            items.append(cell)
            continue
        for kind, lines, name, _ in student_edition._split_blocks(cell.source.split("\n")):
            if name == "exercise":
                title, options, body = _directive_body(lines)
                current = Exercise(label=options["label"], title=title, prompt=body)
                exercises[current.label] = current
                items.append(current)
            elif name == "solution":
                label, _, body = _directive_body(lines)
                exercise = exercises[label]
                exercise.solution_text.append(body)
                exercise.solution_code += _python_blocks(body)
            elif name == "solution-start":
                label, _, _ = _directive_body(lines)
                in_solution = exercises[label]
            elif name == "solution-end":
                in_solution, current = None, None
            else:
                keep_text(lines)
    return items


def _raw(text: str):
    return nbformat.v4.new_raw_cell(text)


def _config_cell(marker: str, values: dict):
    return _raw(f"# {marker}\n" + yaml.safe_dump(values, sort_keys=False).strip())


def hidden_test(call: ast.Call, number: int) -> str:
    """A test cell of Otter's exception-based format: the checker call, its verdict asserted. The function's
    arguments are the names the call reads, which Otter takes from the graded notebook's global variables."""
    names = sorted({node.id for node in ast.walk(call) if isinstance(node, ast.Name)} - set(dir(builtins)))
    config = yaml.safe_dump({"points": CHECK_POINTS, "hidden": True}, sort_keys=False).strip()
    return (f'""" # BEGIN TEST CONFIG\n{config}\n""" # END TEST CONFIG\n'
            f"def test_check_{number}({', '.join(names)}):\n"
            f"    verdict = {ast.unparse(call)}\n"
            "    assert verdict.passed, str(verdict)\n")


def question_cells(exercise: Exercise) -> list:
    """The cells of one question: configuration, prompt, solution and, for a checked exercise, its tests."""
    checked = bool(exercise.check_calls)
    question = {"name": exercise.label, "manual": not checked}
    if not checked:
        question["points"] = OPEN_POINTS
    cells = [_config_cell("BEGIN QUESTION", question),
             nbformat.v4.new_markdown_cell(f"**{exercise.title}**\n\n{exercise.prompt}"),
             _raw("# BEGIN SOLUTION")]
    solution = "\n\n".join(exercise.solution_code)
    work = "\n".join(cell.source for cell in exercise.work_cells)
    if checked:
        # The solution's code runs in the master; the student sees the work cell's placeholders (`answer = ...`)
        # instead, which Otter's prompt block keeps out of the master's run. The work cell's checks stay in both.
        lines = work.split("\n")
        placeholders = [line for line in lines if PLACEHOLDER.match(line)]
        rest = [line for line in lines if not PLACEHOLDER.match(line)]
        prompt = ['""" # BEGIN PROMPT', *placeholders, '"""; # END PROMPT'] if placeholders else []
        cells.append(nbformat.v4.new_code_cell("\n".join(
            ["# BEGIN SOLUTION NO PROMPT", solution, "# END SOLUTION", *prompt, *rest]).strip()))
    else:
        cells.append(nbformat.v4.new_code_cell("# BEGIN SOLUTION\n" + (solution or "# (see the text)")
                                               + "\n# END SOLUTION"))
        cells.append(nbformat.v4.new_markdown_cell("\n\n".join(exercise.solution_text) or "See the code above."))
    cells.append(_raw("# END SOLUTION"))
    if checked:
        cells.append(_raw("# BEGIN TESTS"))
        cells += [nbformat.v4.new_code_cell(hidden_test(call, number))
                  for number, call in enumerate(exercise.check_calls, start=1)]
        cells.append(_raw("# END TESTS"))
    cells.append(_raw("# END QUESTION"))
    return cells


def repository_url() -> str:
    """The book's repository, as ``_config.yml`` names it for the launch buttons."""
    return yaml.safe_load((REPO_ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]["url"]


def master_notebook(notebook, name: str):
    """The Otter Assign master notebook of one chapter: configuration, then the chapter with its exercises as
    questions. A ``ValueError`` if the chapter has no exercise."""
    items = parse_chapter(notebook)
    if not any(isinstance(item, Exercise) for item in items):
        raise ValueError(f"{name} has no exercises to turn into an assignment")
    config = {"name": name, "requirements": "requirements.txt", "init_cell": False, "export_cell": False,
              "check_all_cell": False, "run_tests": False, "generate": {"pdf": False},
              "tests": {"ok_format": False, "files": False}}
    master = nbformat.v4.new_notebook(metadata=notebook.metadata)
    master.cells = [_config_cell("ASSIGNMENT CONFIG", config)]
    for item in items:
        if isinstance(item, Exercise):
            master.cells += question_cells(item)
        else:
            cell = nbformat.from_dict(item)
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
            master.cells.append(cell)
    return master


def write_assignment(notebook_path: Path, output: Path) -> Path:
    """Write the master notebook and its ``requirements.txt`` under ``output/<chapter>/``; return the notebook's
    path."""
    name = notebook_path.stem
    master = master_notebook(nbformat.read(notebook_path, as_version=4), name)
    folder = output / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "requirements.txt").write_text(f"resnet-lessons @ git+{repository_url()}\n", encoding="utf-8")
    path = folder / f"{name}.ipynb"
    nbformat.write(master, path)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path, help="chapters to turn into assignments")
    parser.add_argument("--output", type=Path, required=True, help="folder for the master notebooks")
    arguments = parser.parse_args(argv)
    missing = [str(path) for path in arguments.notebooks if path.suffix != ".ipynb" or not path.is_file()]
    if missing:
        parser.error(f"not a notebook: {', '.join(missing)}")
    for path in arguments.notebooks:
        print(f"{path} -> {write_assignment(path, arguments.output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
