"""Write a student edition of the book's notebooks: the same notebooks without the solutions.

Usage:
    python tools/student_edition.py --output student/ [NOTEBOOK ...]

Without NOTEBOOK arguments every ``book/*.ipynb`` is converted. Solutions follow sphinx-exercise's two forms:

* a fenced ``solution`` directive inside a markdown cell (backtick, tilde or colon fence, any options such as
  ``:class: dropdown``)::

      ````{solution} exercise-label
      :class: dropdown
      ...
      ````

  The fenced block is removed from the cell's text; the cell is dropped when nothing else remains.

* the gated form, a ``solution-start`` directive, any cells (typically the solution's code), and a
  ``solution-end`` directive::

      ```{solution-start} exercise-label
      ```
      ... cells ...
      ```{solution-end}
      ```

  Everything from the ``solution-start`` fence through the ``solution-end`` fence is removed: the cells in
  between, and the two marker cells unless they also hold other text (text before the start fence or after the
  end fence is kept).

``exercise`` directives (and ``exercise-start``/``exercise-end``) are kept untouched. By default all outputs and
execution counts are cleared as well, so that students run the notebooks themselves (``--keep-outputs`` keeps
them). Unbalanced ``solution-start``/``solution-end`` markers or an unclosed solution fence raise
``SolutionMarkupError`` naming the notebook and the cell.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

REPO_ROOT = Path(__file__).resolve().parent.parent
BOOK_DIR = REPO_ROOT / "book"

# An opening fence: optional indentation, 3+ backticks, tildes or colons (MyST's colon_fence), then the info string.
_OPEN_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>.*)$")
# The directive name in an info string such as "{solution} ex-1" or " {solution-start} ex-1".
_DIRECTIVE = re.compile(r"^\s*\{(?P<name>[A-Za-z0-9_:+-]+)\}")

SOLUTION = "solution"
SOLUTION_START = "solution-start"
SOLUTION_END = "solution-end"


class SolutionMarkupError(ValueError):
    """The solution markup of a notebook cannot be stripped safely (unbalanced or unclosed markers)."""


def _directive_name(info: str) -> str | None:
    """Return the MyST directive name of a fence's info string, or None for a plain code fence."""
    match = _DIRECTIVE.match(info)
    return match.group("name") if match else None


def _closes(line: str, fence: str) -> bool:
    """Whether ``line`` closes a block opened with ``fence`` (same character, at least as long, nothing after)."""
    stripped = line.strip()
    return len(stripped) >= len(fence) and set(stripped) == {fence[0]}


def _split_blocks(lines: list[str]) -> list[tuple[str, list[str], str | None, str | None]]:
    """Split markdown lines into top-level text runs and fenced blocks, following CommonMark's fence rules.

    Returns a list of ``(kind, lines, directive_name, fence)`` with kind ``"text"`` or ``"fence"``. A fence that is
    never closed runs to the end of the text, as in CommonMark; it is returned with ``fence`` set and its last
    line not a closing fence, which callers check with :func:`_is_closed`.
    """
    blocks: list[tuple[str, list[str], str | None, str | None]] = []
    text: list[str] = []
    i = 0
    while i < len(lines):
        match = _OPEN_FENCE.match(lines[i])
        # A backtick fence's info string may not contain backticks (CommonMark); such a line is inline code.
        if match and not (match.group("fence")[0] == "`" and "`" in match.group("info")):
            fence = match.group("fence")
            block = [lines[i]]
            i += 1
            while i < len(lines):
                block.append(lines[i])
                i += 1
                if _closes(block[-1], fence):
                    break
            if text:
                blocks.append(("text", text, None, None))
                text = []
            blocks.append(("fence", block, _directive_name(match.group("info")), fence))
        else:
            text.append(lines[i])
            i += 1
    if text:
        blocks.append(("text", text, None, None))
    return blocks


def _is_closed(block: list[str], fence: str) -> bool:
    return len(block) > 1 and _closes(block[-1], fence)


def _strip_nested(lines: list[str], where: str) -> list[str]:
    """Remove ``solution`` blocks inside a directive's content (for example a solution nested in a dropdown)."""
    out: list[str] = []
    for kind, block, name, fence in _split_blocks(lines):
        if kind == "fence" and name in (SOLUTION_START, SOLUTION_END):
            raise SolutionMarkupError(f"{where}: '{{{name}}}' nested inside another directive")
        if kind == "fence" and name == SOLUTION:
            if not _is_closed(block, fence):
                raise SolutionMarkupError(f"{where}: '{{solution}}' fence {fence!r} is never closed")
            continue
        if kind == "fence" and name is not None and _is_closed(block, fence):
            out.extend([block[0], *_strip_nested(block[1:-1], where), block[-1]])
        else:
            out.extend(block)
    return out


def _tidy(lines: list[str]) -> str:
    """Join lines, collapsing the runs of blank lines that removing a block leaves behind."""
    out: list[str] = []
    for line in lines:
        if line.strip() == "" and (not out or out[-1].strip() == ""):
            continue
        out.append(line)
    while out and out[-1].strip() == "":
        out.pop()
    return "\n".join(out)


def _strip_markdown(source: str, inside: bool, where: str) -> tuple[str, bool, list[str]]:
    """Strip solutions from one markdown cell.

    Args:
        source: the cell's text.
        inside: whether the cell starts inside a gated ``solution-start`` ... ``solution-end`` range.
        where: "notebook, cell N" for error messages.

    Returns:
        The remaining text, whether the cell ends inside a gated range, and the gated markers seen (in order).
    """
    out: list[str] = []
    markers: list[str] = []
    for kind, block, name, fence in _split_blocks(source.split("\n")):
        is_solution = kind == "fence" and name in (SOLUTION, SOLUTION_START, SOLUTION_END)
        if is_solution and not _is_closed(block, fence):
            raise SolutionMarkupError(f"{where}: '{{{name}}}' fence {fence!r} is never closed")
        if inside:
            if name == SOLUTION_START:
                raise SolutionMarkupError(f"{where}: '{{solution-start}}' inside an open solution-start range")
            if name == SOLUTION_END:
                inside = False
                markers.append(SOLUTION_END)
            continue  # everything inside the range goes, the end marker included
        if name == SOLUTION_START:
            inside = True
            markers.append(SOLUTION_START)
        elif name == SOLUTION_END:
            raise SolutionMarkupError(f"{where}: '{{solution-end}}' without a preceding '{{solution-start}}'")
        elif name == SOLUTION:
            pass  # drop the whole fenced block
        elif kind == "fence" and name is not None and _is_closed(block, fence):
            out.extend([block[0], *_strip_nested(block[1:-1], where), block[-1]])
        else:
            out.extend(block)
    return _tidy(out), inside, markers


def strip_solutions(
    notebook: nbformat.NotebookNode, name: str = "notebook", clear_outputs: bool = True
) -> nbformat.NotebookNode:
    """Return a copy of ``notebook`` without its solutions (see the module docstring for the markup).

    Args:
        notebook: a version-4 notebook, as read by ``nbformat.read(..., as_version=4)``.
        name: the notebook's name, used in error messages.
        clear_outputs: also clear every code cell's outputs and execution count.

    Returns:
        A new notebook; ``notebook`` is not modified. Cell ids and metadata of the kept cells are preserved.

    Raises:
        SolutionMarkupError: unbalanced ``solution-start``/``solution-end`` markers or an unclosed solution fence.
    """
    result = nbformat.from_dict(notebook)  # deep copy
    kept = []
    inside = False
    start_where = ""
    for index, cell in enumerate(result.cells):
        where = f"{name}, cell {index}" + (f" (id {cell['id']})" if "id" in cell else "")
        if cell.cell_type == "markdown":
            text, now_inside, markers = _strip_markdown(cell.source, inside, where)
            if markers and markers[-1] == SOLUTION_START:
                start_where = where
            inside = now_inside
            if text.strip() == "":
                continue
            if text != cell.source:
                cell.source = text
            kept.append(cell)
        elif inside:
            continue  # a code or raw cell of a gated solution
        else:
            kept.append(cell)
    if inside:
        raise SolutionMarkupError(f"{start_where}: '{{solution-start}}' has no matching '{{solution-end}}'")
    if clear_outputs:
        for cell in kept:
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
                cell.metadata.pop("execution", None)
    result.cells = kept
    return result


def write_student_edition(
    notebooks: list[Path], output: Path, clear_outputs: bool = True
) -> list[Path]:
    """Write the student edition of each notebook into ``output`` (same file names). Returns the written paths."""
    output = output.resolve()
    written = []
    for path in notebooks:
        path = Path(path)
        if path.resolve().parent == output:
            raise ValueError(f"--output {output} is the folder of {path}: it would overwrite the book")
    output.mkdir(parents=True, exist_ok=True)
    for path in notebooks:
        path = Path(path)
        notebook = nbformat.read(path, as_version=4)
        student = strip_solutions(notebook, name=str(path), clear_outputs=clear_outputs)
        target = output / path.name
        nbformat.write(student, target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "notebooks", nargs="*", type=Path, help="notebooks to convert (default: every book/*.ipynb)"
    )
    parser.add_argument(
        "--output", type=Path, required=True, help="folder for the student edition, e.g. student/"
    )
    parser.add_argument(
        "--keep-outputs",
        action="store_true",
        help="keep the stored outputs (default: clear them, students run the notebooks themselves)",
    )
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted(BOOK_DIR.glob("*.ipynb"))
    if not notebooks:
        parser.error(f"no notebooks given and none found in {BOOK_DIR}")
    try:
        written = write_student_edition(notebooks, args.output, clear_outputs=not args.keep_outputs)
    except (SolutionMarkupError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
