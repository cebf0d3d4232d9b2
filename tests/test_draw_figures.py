"""Tests for tools/draw_figures.py: it writes the six concept figures, and the committed ones are exactly its output."""

import importlib.util
import re
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOL = REPO_ROOT / "tools" / "draw_figures.py"
COMMITTED = REPO_ROOT / "book" / "figures"
FIGURES = (
    "residual_block.svg",
    "plain_vs_residual_block.svg",
    "shortcut_options.svg",
    "basic_vs_bottleneck.svg",
    "unrolled_paths.svg",
    "preactivation_block.svg",
)
POINTS_PER_UNIT = {"pt": 1.0, "in": 72.0, "px": 0.75, "": 0.75}  # SVG lengths in points (1 px = 1/96 inch)

_spec = importlib.util.spec_from_file_location("draw_figures", TOOL)
draw_figures = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = draw_figures  # its dataclasses look their module up by name
_spec.loader.exec_module(draw_figures)


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """The folder the script's main writes into, run once for all the tests of this module."""
    output = tmp_path_factory.mktemp("figures")
    assert draw_figures.main(["--output", str(output)]) == 0
    return output


def width_in_inches(root) -> float:
    match = re.fullmatch(r"([0-9.]+)([a-z]*)", root.get("width", ""))
    assert match, f"the width {root.get('width')!r} is not a plain SVG length"
    return float(match.group(1)) * POINTS_PER_UNIT[match.group(2)] / 72


def test_the_script_draws_exactly_the_six_figures(drawn):
    assert sorted(path.name for path in drawn.iterdir()) == sorted(FIGURES)


@pytest.mark.parametrize("name", FIGURES)
def test_each_figure_is_an_svg_that_fits_the_text_column(drawn, name):
    root = ElementTree.parse(drawn / name).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert width_in_inches(root) <= 7.5
    assert root.find(".//{http://www.w3.org/2000/svg}text") is not None, "labels stay text (svg.fonttype none)"


@pytest.mark.parametrize("name", FIGURES)
def test_the_committed_figure_is_what_the_script_draws(drawn, name):
    committed = COMMITTED / name
    assert committed.exists(), f"{committed} is missing: run python tools/draw_figures.py and commit the file"
    assert (drawn / name).read_bytes() == committed.read_bytes(), (
        f"book/figures/{name} differs from what tools/draw_figures.py draws: run the script and commit the result "
        "(the bytes also depend on matplotlib's version: the files were drawn with the one in requirements.txt)"
    )


def test_a_label_outside_the_figure_is_refused():
    style = draw_figures.matplotlib.rc_context(draw_figures.MATPLOTLIB_STYLE)
    with style, pytest.raises(ValueError, match="sticks out"):
        figure, axes = draw_figures.new_canvas(1.0, 1.0)
        draw_figures.draw_text(axes, 0.95, 0.5, "a long label")
        draw_figures.check_layout(figure, "test")


def test_overlapping_labels_are_refused():
    style = draw_figures.matplotlib.rc_context(draw_figures.MATPLOTLIB_STYLE)
    with style, pytest.raises(ValueError, match="overlap"):
        figure, axes = draw_figures.new_canvas(3.0, 1.0)
        draw_figures.draw_text(axes, 1.5, 0.5, "identity")
        draw_figures.draw_text(axes, 1.6, 0.5, "F(x) + x")
        draw_figures.check_layout(figure, "test")
