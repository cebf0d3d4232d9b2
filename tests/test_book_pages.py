"""What a reader of the rendered book sees, checked on the stored notebooks without executing them.

The book renders the outputs stored in ``book/*.ipynb``. These tests keep the harness behind the page (no visible
NBVAL comment; every checked cell hides its code), every visible code and output line within the text column
(88 characters: the theme clips longer lines), and ``display(Markdown(...))`` tables renderable as tables.
"""

import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
WIDTH = 88
# Jupyter Book 1's cell tags that take a cell's input, or its output, off the page (or fold it away).
HIDDEN_INPUT = {"remove-cell", "remove-input", "hide-input", "hide-cell"}
HIDDEN_OUTPUT = {"remove-cell", "remove-output", "hide-output", "hide-cell"}


def code_cells(path):
    notebook = json.loads(path.read_text())
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] == "code":
            yield index, cell, set(cell.get("metadata", {}).get("tags", []))


def output_text(output) -> str:
    """The text an output shows on the page (streams and plain text; not figures, HTML or markdown)."""
    if output.get("output_type") == "stream":
        return "".join(output.get("text", ""))
    data = output.get("data", {})
    if "text/plain" in data and "text/html" not in data and not any(key.startswith("image/") for key in data):
        return "".join(data["text/plain"])
    return ""


def test_there_are_notebooks_to_check():
    assert len(NOTEBOOKS) >= 9


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_checked_cells_keep_the_harness_off_the_page(path):
    problems = []
    for index, cell, tags in code_cells(path):
        source = "".join(cell["source"])
        if "NBVAL_" in source:
            problems.append(f"cell {index}: an NBVAL comment in its code (use the cell tag nbval-check-output)")
        if "nbval-check-output" in tags and not tags & {"remove-input", "remove-cell"}:
            problems.append(f"cell {index}: checked (nbval-check-output) but its code is shown: tag it remove-input "
                            "or remove-cell")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_visible_code_and_output_lines_fit_the_text_column(path):
    wide = []
    for index, cell, tags in code_cells(path):
        if not tags & HIDDEN_INPUT:
            wide += [f"cell {index}, code: {line}" for line in "".join(cell["source"]).splitlines()
                     if len(line) > WIDTH]
        if not tags & HIDDEN_OUTPUT:
            for output in cell.get("outputs", []):
                wide += [f"cell {index}, output: {line}" for line in output_text(output).splitlines()
                         if len(line) > WIDTH]
    assert not wide, f"{len(wide)} line(s) wider than {WIDTH} characters:\n" + "\n".join(wide[:20])


def markdown_renders_tables() -> bool:
    config = (ROOT / "_config.yml").read_text()
    return bool(re.search(r"^\s*nb_render_markdown_format:\s*['\"]?(myst|gfm)\b", config, re.M))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_markdown_tables_render_as_tables(path):
    if markdown_renders_tables():
        return
    tables = [index for index, cell, tags in code_cells(path) for output in cell.get("outputs", [])
              if re.search(r"^\s*\|?\s*:?-{3,}", "".join(output.get("data", {}).get("text/markdown", "")), re.M)]
    assert not tables, (f"cells {tables} display a markdown table, which _config.yml's commonmark rendering shows as "
                        "raw text: set nb_render_markdown_format: myst")


def test_the_config_renders_markdown_outputs_with_tables():
    assert markdown_renders_tables()
