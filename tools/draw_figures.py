"""Draw the book's concept figures (residual block, shortcut options, bottleneck, unrolled paths, pre-activation).

Usage:
    python tools/draw_figures.py                 # writes the six SVG files into book/figures/
    python tools/draw_figures.py --output DIR    # writes them into DIR instead

The figures are drawn with matplotlib on a canvas measured in inches, so a box 1.5 units wide is 1.5 inches wide in
the SVG file; every figure is at most 7 inches wide, the width of the book's text column. All six share one style:
weight layers are light blue boxes, ReLUs orange, batch norms green, the shortcut (identity) path is drawn in one
accent colour, and an addition is a circled plus. Text stays text in the SVG (``svg.fonttype = "none"``), and the
output is byte-identical from run to run (fixed hash salt, no date), so ``tests/test_draw_figures.py`` can check
that the committed files in book/figures/ are exactly what this script draws.

To change a figure, edit its ``draw_...`` function, run this script, look at the result and commit the SVG file
together with the script.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib
from matplotlib import patches
from matplotlib import path as mpath
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

REPO_ROOT = Path(__file__).resolve().parent.parent
FIGURES_DIR = REPO_ROOT / "book" / "figures"

MATPLOTLIB_STYLE = {
    "svg.hashsalt": "resnet-lessons",  # the same ids in the SVG on every run
    "svg.fonttype": "none",  # text stays text: searchable, and drawn in the reader's sans-serif font
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
}

# The palette: one colour per kind of layer, one accent colour for the shortcut.
INK = "#333333"  # main path, addition nodes, text
MUTED_INK = "#666666"  # shape annotations
SHORTCUT = "#c0396b"  # the identity path and everything drawn on it


@dataclass(frozen=True)
class BoxStyle:
    """The colours of one kind of box."""

    fill: str
    edge: str


WEIGHT = BoxStyle(fill="#dbe8f5", edge="#3b6ea5")  # convolution or fully connected layer
RELU = BoxStyle(fill="#fbe5c8", edge="#c07a2c")  # nonlinearity
BATCH_NORM = BoxStyle(fill="#dcefdc", edge="#4a8a4a")  # batch normalisation
RESHAPE = BoxStyle(fill="#f2f2f2", edge="#7a7a7a")  # parameter-free operation (subsample and pad)

# Sizes, in inches (the canvas unit) and points (fonts).
LABEL_SIZE = 11  # text inside boxes
MATH_SIZE = 12  # x, F(x), F(x) + x
SUBSCRIPT_SIZE = 10  # the l of x_l
TITLE_SIZE = 12
NOTE_SIZE = 10  # shape annotations, captions of panels
BOX_WIDTH = 1.5
BOX_HEIGHT = 0.36
GAP = 0.24  # length of the arrow between two stacked boxes
LONG_GAP = 0.44  # length of an arrow that carries a label beside it
OUTPUT_ARROW = 0.3  # length of the arrow out of a block
INPUT_DROP = 0.62  # from the centre of a block's input label down to its first box
ADDITION_RADIUS = 0.14
CORNER_RADIUS = 0.12  # rounding of the shortcut's corners
LINE_WIDTH = 1.3
SHORTCUT_WIDTH = 2.0


@dataclass(frozen=True)
class Box:
    """A drawn box or node: its centre and size, in inches."""

    x: float
    y: float
    width: float
    height: float

    @property
    def top(self) -> float:
        return self.y + self.height / 2

    @property
    def bottom(self) -> float:
        return self.y - self.height / 2

    @property
    def left(self) -> float:
        return self.x - self.width / 2

    @property
    def right(self) -> float:
        return self.x + self.width / 2


@dataclass(frozen=True)
class Layer:
    """One box of a block: its label, colours and height."""

    label: str
    style: BoxStyle
    height: float = BOX_HEIGHT


def weight(label: str = "weight layer") -> Layer:
    return Layer(label, WEIGHT)


def relu(label: str = "relu") -> Layer:
    return Layer(label, RELU, height=0.3)


def batch_norm(label: str = "BN") -> Layer:
    return Layer(label, BATCH_NORM, height=0.3)


# ---------------------------------------------------------------------------------------------------------------
# Drawing helpers shared by every figure.
# ---------------------------------------------------------------------------------------------------------------


def new_canvas(width: float, height: float):
    """A figure of ``width`` x ``height`` inches whose axes span it, with one data unit per inch."""
    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)  # a renderer for measuring text before the SVG is written
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, width)
    axes.set_ylim(0, height)
    axes.set_axis_off()
    return figure, axes


def draw_text(axes, x, y, text, size=LABEL_SIZE, color=INK, ha="center", va="center", **options):
    return axes.text(x, y, text, fontsize=size, color=color, ha=ha, va=va, **options)


def draw_math(axes, x, y, text, ha="center", color=INK, **options):
    """A formula such as "F(x) + x" in italics; "x_l+1" is set as x with the subscript l+1.

    The formula is plain text, not mathtext, so that any sans-serif font can show it; a subscript is a second,
    smaller text placed after the first.
    """
    base, _, subscript = text.partition("_")
    options = {"color": color, "style": "italic", **options}
    if not subscript:
        return draw_text(axes, x, y, text, size=MATH_SIZE, ha=ha, **options)
    base_width = text_width(axes, base, MATH_SIZE, style="italic") + 0.01  # a hair of space, as in TeX
    total_width = base_width + text_width(axes, subscript, SUBSCRIPT_SIZE, style="italic")
    left = x - total_width * {"left": 0, "center": 0.5, "right": 1}[ha]
    draw_text(axes, left, y, base, size=MATH_SIZE, ha="left", **options)
    return draw_text(axes, left + base_width, y - 0.045, subscript, size=SUBSCRIPT_SIZE, ha="left", **options)


def draw_title(axes, x, y, text):
    return draw_text(axes, x, y, text, size=TITLE_SIZE, weight="bold")


def draw_box(axes, x, y, layer: Layer, width=BOX_WIDTH, size=LABEL_SIZE, edge=None) -> Box:
    """A rounded box centred on (x, y) with the layer's label inside (a label with "_" is set as a formula)."""
    box = Box(x, y, width, layer.height)
    axes.add_patch(
        patches.FancyBboxPatch(
            (box.left, box.bottom),
            box.width,
            box.height,
            boxstyle="round,pad=0,rounding_size=0.06",
            facecolor=layer.style.fill,
            edgecolor=edge or layer.style.edge,
            linewidth=LINE_WIDTH,
            zorder=3,
        )
    )
    if "_" in layer.label:  # a formula such as f_1
        draw_math(axes, x, y, layer.label, zorder=4)
    else:
        draw_text(axes, x, y, layer.label, size=size, zorder=4)
    return box


def draw_arrow(axes, start, end, color=INK, width=LINE_WIDTH, head=True):
    """A straight line from ``start`` to ``end`` (points in inches), with an arrow head at ``end``."""
    axes.add_patch(
        patches.FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>,head_length=5,head_width=2.6" if head else "-",
            mutation_scale=1,
            shrinkA=0,
            shrinkB=0,
            color=color,
            linewidth=width,
            zorder=2,
        )
    )


def draw_addition(axes, x, y) -> Box:
    """The addition node: a circled plus centred on (x, y)."""
    axes.add_patch(
        patches.Circle((x, y), ADDITION_RADIUS, facecolor="white", edgecolor=INK, linewidth=LINE_WIDTH, zorder=3)
    )
    arm = ADDITION_RADIUS * 0.6
    axes.plot([x - arm, x + arm], [y, y], color=INK, linewidth=LINE_WIDTH, solid_capstyle="butt", zorder=4)
    axes.plot([x, x], [y - arm, y + arm], color=INK, linewidth=LINE_WIDTH, solid_capstyle="butt", zorder=4)
    return Box(x, y, 2 * ADDITION_RADIUS, 2 * ADDITION_RADIUS)


def draw_fork(axes, x, y):
    """The dot where the shortcut leaves the main path."""
    axes.add_patch(patches.Circle((x, y), 0.035, color=INK, zorder=4))


def rounded_path(points, radius=CORNER_RADIUS) -> mpath.Path:
    """A polyline through ``points`` whose corners are rounded with quadratic curves of the given radius."""
    vertices = [points[0]]
    codes = [mpath.Path.MOVETO]
    for before, corner, after in zip(points, points[1:], points[2:]):
        vertices += [_towards(corner, before, radius), corner, _towards(corner, after, radius)]
        codes += [mpath.Path.LINETO, mpath.Path.CURVE3, mpath.Path.CURVE3]
    vertices.append(points[-1])
    codes.append(mpath.Path.LINETO)
    return mpath.Path(vertices, codes)


def _towards(start, end, distance):
    """The point ``distance`` inches from ``start`` on the way to ``end``."""
    (x0, y0), (x1, y1) = start, end
    length = ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5
    step = min(distance, length / 2) / length
    return (x0 + (x1 - x0) * step, y0 + (y1 - y0) * step)


def draw_shortcut(axes, points, head=True):
    """The shortcut: a line in the accent colour through ``points`` (rounded corners), arrow head at the end."""
    axes.add_patch(
        patches.FancyArrowPatch(
            path=rounded_path(points),
            arrowstyle="-|>,head_length=5,head_width=2.6" if head else "-",
            mutation_scale=1,
            color=SHORTCUT,
            linewidth=SHORTCUT_WIDTH,
            zorder=2,
        )
    )


def draw_shortcut_label(axes, x, y, math=None, words="identity"):
    """The shortcut's label, left-aligned at (x, y): an optional formula over a word, both in the accent colour."""
    if math is None:
        draw_text(axes, x, y, words, color=SHORTCUT, ha="left")
        return
    draw_math(axes, x, y + 0.11, math, ha="left", color=SHORTCUT)
    draw_text(axes, x, y - 0.11, words, color=SHORTCUT, ha="left")


def check_layout(figure, name):
    """Raise ValueError if a label sticks out of the figure or two labels overlap: such a figure reads badly."""
    renderer = figure.canvas.get_renderer()
    texts = [text for text in figure.axes[0].texts if text.get_text()]
    extents = [text.get_window_extent(renderer) for text in texts]
    for text, extent in zip(texts, extents):
        if extent.x0 < 0 or extent.y0 < 0 or extent.x1 > figure.bbox.x1 or extent.y1 > figure.bbox.y1:
            raise ValueError(f"{name}: the label {text.get_text()!r} sticks out of the figure")
    for (first, first_extent), (second, second_extent) in itertools.combinations(zip(texts, extents), 2):
        if first_extent.overlaps(second_extent):
            raise ValueError(f"{name}: the labels {first.get_text()!r} and {second.get_text()!r} overlap")


# ---------------------------------------------------------------------------------------------------------------
# Blocks drawn top to bottom (figures 1, 2, 4 and 6).
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerticalBlock:
    """What a vertical block shows, from the input at the top to the output at the bottom."""

    input_label: str  # above the first arrow, e.g. "x" or "64-d"
    branch: tuple[Layer, ...]  # the residual branch (or the plain stack), top to bottom
    after_addition: tuple[Layer, ...] = ()  # e.g. the final relu
    branch_output: str = ""  # beside the arrow out of the branch, e.g. "F(x)"
    block_output: str = ""  # beside the arrow out of the addition, e.g. "F(x) + x"
    output_label: str = ""  # below the last arrow, e.g. "x_l+1"
    shortcut: bool = True  # False draws a plain block: no addition, no shortcut
    shortcut_math: str | None = None  # formula over the shortcut's word, e.g. "x"
    input_is_math: bool = True  # "x" in italics; "64-d" upright


def vertical_block_height(block: VerticalBlock) -> float:
    """The height the block's drawing takes below the centre of its input label, in inches."""
    height = INPUT_DROP + stack_height(block.branch) + LONG_GAP + 2 * ADDITION_RADIUS + LONG_GAP
    if block.after_addition:
        height += stack_height(block.after_addition) + OUTPUT_ARROW
    if block.output_label:
        height += 0.3
    return height


def stack_height(layers) -> float:
    return sum(layer.height for layer in layers) + GAP * (len(layers) - 1)


def draw_vertical_block(axes, x, top, block: VerticalBlock, box_width=BOX_WIDTH):
    """Draw ``block`` centred on column ``x``, the centre of its input label at height ``top``."""
    if block.input_is_math:
        draw_math(axes, x, top, block.input_label)
    else:
        draw_text(axes, x, top, block.input_label, size=MATH_SIZE)
    fork_y = top - 0.34
    boxes = draw_stack(axes, x, top - INPUT_DROP, block.branch, box_width, start=(x, top - 0.2))
    y = boxes[-1].bottom - LONG_GAP
    if block.shortcut:
        addition = draw_addition(axes, x, y - ADDITION_RADIUS)
        draw_arrow(axes, (x, boxes[-1].bottom), (x, addition.top))
        draw_fork(axes, x, fork_y)
        side_x = x + box_width / 2 + 0.3
        draw_shortcut(axes, [(x, fork_y), (side_x, fork_y), (side_x, addition.y), (addition.right, addition.y)])
        draw_shortcut_label(axes, side_x + 0.1, (fork_y + addition.y) / 2, block.shortcut_math)
    else:
        # A plain block: the line runs on where the addition would be, so both kinds of block line up.
        draw_arrow(axes, (x, boxes[-1].bottom), (x, y - 2 * ADDITION_RADIUS), head=False)
    if block.branch_output:
        draw_math(axes, x - 0.12, boxes[-1].bottom - LONG_GAP / 2, block.branch_output, ha="right")
    after_y = y - 2 * ADDITION_RADIUS
    if block.block_output:
        draw_math(axes, x - 0.12, after_y - LONG_GAP / 2, block.block_output, ha="right")
    draw_tail(axes, x, after_y, block, box_width)


def draw_tail(axes, x, y, block: VerticalBlock, box_width):
    """The layers after the addition, the output arrow and the output label, from height ``y`` downwards."""
    if block.after_addition:
        boxes = draw_stack(axes, x, y - LONG_GAP, block.after_addition, box_width, start=(x, y))
        start, end = boxes[-1].bottom, boxes[-1].bottom - OUTPUT_ARROW
    else:
        start, end = y, y - LONG_GAP
    draw_arrow(axes, (x, start), (x, end))
    if block.output_label:
        draw_math(axes, x, end - 0.17, block.output_label)


def draw_stack(axes, x, top, layers, box_width=BOX_WIDTH, start=None) -> list[Box]:
    """Boxes for ``layers`` from ``top`` downwards, joined by arrows; ``start`` is where the first arrow begins."""
    boxes = []
    previous_bottom = start
    y = top
    for layer in layers:
        box = draw_box(axes, x, y - layer.height / 2, layer, box_width)
        if previous_bottom is not None:
            draw_arrow(axes, previous_bottom, (x, box.top))
        boxes.append(box)
        previous_bottom = (x, box.bottom)
        y = box.bottom - GAP
    return boxes


# ---------------------------------------------------------------------------------------------------------------
# Blocks drawn left to right (figures 3 and 5).
# ---------------------------------------------------------------------------------------------------------------


def draw_horizontal_block(axes, start_x, y, branch: Layer, branch_width, rise, shortcut_layers=(), lead=0.3):
    """A residual block drawn left to right from ``start_x`` on the line at height ``y``; return its addition node.

    The line runs ``lead`` inches into the branch box, with the fork at its middle. The shortcut leaves at the fork,
    rises by ``rise``, runs over the branch and comes down into the addition node; ``shortcut_layers`` are drawn on
    its top segment (a projection), else it is labelled "identity".
    """
    fork_x = start_x + lead / 2
    branch_box = draw_box(axes, start_x + lead + branch_width / 2, y, branch, branch_width)
    draw_arrow(axes, (start_x, y), (branch_box.left, y))
    addition = draw_addition(axes, branch_box.right + 0.3 + ADDITION_RADIUS, y)
    draw_arrow(axes, (branch_box.right, y), (addition.left, y))
    draw_fork(axes, fork_x, y)
    top = y + rise
    draw_shortcut(axes, [(fork_x, y), (fork_x, top), (addition.x, top), (addition.x, addition.top)])
    if shortcut_layers:
        draw_layers_on_line(axes, (fork_x + addition.x) / 2, top, shortcut_layers)
    else:
        draw_text(axes, (fork_x + addition.x) / 2, top + 0.14, "identity", color=SHORTCUT, size=NOTE_SIZE + 1)
    return addition


def draw_layers_on_line(axes, x, y, layers, gap=0.1):
    """Boxes side by side on a horizontal line, centred on (x, y), each as wide as its label needs."""
    widths = [text_width(axes, layer.label, NOTE_SIZE) + 0.2 for layer in layers]
    left = x - (sum(widths) + gap * (len(layers) - 1)) / 2
    for layer, width in zip(layers, widths):
        draw_box(axes, left + width / 2, y, layer, width, size=NOTE_SIZE, edge=SHORTCUT)
        left += width + gap


def text_width(axes, text, size, **options) -> float:
    """The width of ``text`` at ``size`` points, in inches."""
    probe = draw_text(axes, 0, 0, text, size=size, **options)
    width = probe.get_window_extent(axes.figure.canvas.get_renderer()).width / axes.figure.dpi
    probe.remove()
    return width


# ---------------------------------------------------------------------------------------------------------------
# The six figures.
# ---------------------------------------------------------------------------------------------------------------

RESIDUAL_BLOCK = VerticalBlock(
    input_label="x",
    branch=(weight(), relu(), weight()),
    after_addition=(relu(),),
    branch_output="F(x)",
    block_output="F(x) + x",
    shortcut_math="x",
)


def draw_residual_block():
    """He et al. (2015), Fig. 2: the residual block, F(x) + x, with the identity shortcut."""
    height = vertical_block_height(RESIDUAL_BLOCK) + 0.5
    figure, axes = new_canvas(3.4, height)
    draw_vertical_block(axes, 1.25, height - 0.3, RESIDUAL_BLOCK)
    return figure


def draw_plain_vs_residual_block():
    """A plain block, which must learn H(x), beside the residual block, which learns F(x) and adds x."""
    plain = VerticalBlock(
        input_label="x",
        branch=(weight(), relu(), weight()),
        after_addition=(relu(),),
        block_output="H(x)",
        shortcut=False,
    )
    return draw_side_by_side(((1.75, "plain block", plain), (5.0, "residual block", RESIDUAL_BLOCK)))


def draw_side_by_side(panels):
    """Vertical blocks side by side on one 7-inch canvas, each under its title: ``panels`` is ``(x, title, block)``
    triples; the canvas is as tall as the tallest block."""
    height = max(vertical_block_height(block) for _, _, block in panels) + 0.95
    figure, axes = new_canvas(7.0, height)
    for x, title, block in panels:
        draw_title(axes, x, height - 0.3, title)
        draw_vertical_block(axes, x, height - 0.75, block)
    return figure


def draw_shortcut_options():
    """He et al. (2015), options A, B and C for the shortcuts, at a block that halves the size and doubles the width."""
    projection_with_stride = (Layer("1×1, 32, /2", WEIGHT, height=0.3), Layer("BN", BATCH_NORM, height=0.3))
    projection = (Layer("1×1, 32", WEIGHT, height=0.3), Layer("BN", BATCH_NORM, height=0.3))
    zero_padding = (Layer("subsample /2,\nadd 16 zero channels", RESHAPE, height=0.46),)
    options = (
        ("A", "no parameters", zero_padding, ()),
        ("B", "projections only where the shape changes", projection_with_stride, ()),
        ("C", "a projection on every block", projection_with_stride, projection),
    )
    row_height = 1.95
    figure, axes = new_canvas(7.0, row_height * len(options))
    for row, (letter, cost, first_shortcut, second_shortcut) in enumerate(options):
        y = row_height * (len(options) - row) - 1.15
        draw_option_row(axes, y, letter, cost, first_shortcut, second_shortcut)
    return figure


def draw_option_row(axes, y, letter, cost, first_shortcut, second_shortcut):
    """One option on the line at height ``y``: a block that changes the shape, a block that keeps it, a caption."""
    shape_changing = Layer("3×3, 32, /2\n3×3, 32", WEIGHT, height=0.5)
    shape_keeping = Layer("3×3, 32\n3×3, 32", WEIGHT, height=0.5)
    options = {"branch_width": 1.2, "rise": 0.64, "lead": 0.4}
    draw_shape(axes, 0.5, y, "16 channels", "32×32")
    first = draw_horizontal_block(axes, 0.95, y, shape_changing, shortcut_layers=first_shortcut, **options)
    second_start = first.right + 0.95
    draw_arrow(axes, (first.right, y), (second_start, y), head=False)
    draw_shape(axes, (first.right + second_start) / 2, y, "32 channels", "16×16")
    second = draw_horizontal_block(axes, second_start, y, shape_keeping, shortcut_layers=second_shortcut, **options)
    draw_arrow(axes, (second.right, y), (second.right + 0.35, y))
    draw_caption(axes, 3.5, y - 0.65, f"option {letter}:", cost)


def draw_caption(axes, x, y, lead, rest):
    """A one-line caption centred on (x, y): its ``lead`` in bold, then ``rest``."""
    lead_width = text_width(axes, lead, LABEL_SIZE, weight="bold") + 0.07  # and a word space
    left = x - (lead_width + text_width(axes, rest, LABEL_SIZE)) / 2
    draw_text(axes, left, y, lead, ha="left", weight="bold")
    draw_text(axes, left + lead_width, y, rest, ha="left")


def draw_shape(axes, x, y, channels, size):
    """The shape of the activations, in two small lines under the main line at (x, y)."""
    draw_text(axes, x, y - 0.08, f"{channels}\n{size}", size=NOTE_SIZE, color=MUTED_INK, va="top")


def draw_basic_vs_bottleneck():
    """He et al. (2015), Fig. 5: the basic block for 64-d input beside the bottleneck block for 256-d input."""
    basic = VerticalBlock(
        input_label="64-d",
        branch=(weight("3×3, 64"), relu(), weight("3×3, 64")),
        after_addition=(relu(),),
        input_is_math=False,
    )
    bottleneck = VerticalBlock(
        input_label="256-d",
        branch=(weight("1×1, 64"), relu(), weight("3×3, 64"), relu(), weight("1×1, 256")),
        after_addition=(relu(),),
        input_is_math=False,
    )
    return draw_side_by_side(((1.6, "basic block", basic), (4.9, "bottleneck block", bottleneck)))


def draw_unrolled_paths():
    """Veit, Wilber and Belongie (2016), Fig. 1: three residual blocks, and the 2^3 = 8 paths they unroll into."""
    figure, axes = new_canvas(7.0, 5.0)
    column_xs = draw_three_blocks(axes, y=3.95)
    draw_eight_paths(axes, column_xs, top=2.9, lane_gap=0.3)
    return figure


def draw_three_blocks(axes, y):
    """Panel (a): f1, f2, f3 in sequence, each with its shortcut; return the centres of the three branches."""
    draw_text(axes, 0.1, y + 0.8, "(a) three residual blocks", size=TITLE_SIZE, weight="bold", ha="left")
    draw_text(axes, 0.1, y, "input", ha="left")
    start_x, branch_width, lead = 0.65, 0.55, 0.45
    column_xs = []
    for index in (1, 2, 3):
        branch = Layer(f"f_{index}", WEIGHT)
        addition = draw_horizontal_block(axes, start_x, y, branch, branch_width, rise=0.42, lead=lead)
        column_xs.append(start_x + lead + branch_width / 2)
        start_x = addition.right + (0.3 if index == 3 else 0.25)
        draw_arrow(axes, (addition.right, y), (start_x, y), head=index == 3)
    draw_text(axes, start_x + 0.06, y, "output", ha="left")
    return column_xs


def draw_eight_paths(axes, column_xs, top, lane_gap):
    """Panel (b): one lane per path; at block i a path goes through f_i (a box) or along the shortcut."""
    draw_text(
        axes, 0.1, top, "(b) unrolled: 2³ = 8 paths from input to output", size=TITLE_SIZE, weight="bold", ha="left"
    )
    paths = sorted(itertools.product((False, True), repeat=3), key=lambda path: (sum(path), path[::-1]))
    lane_ys = [top - 0.5 - lane_gap * lane for lane in range(len(paths))]
    middle_y = (lane_ys[0] + lane_ys[-1]) / 2
    lane_start, lane_end = column_xs[0] - 0.45, column_xs[-1] + 0.4
    draw_text(axes, 0.1, middle_y, "input", ha="left")
    addition = draw_addition(axes, lane_end + 0.45, middle_y)
    for path, lane_y in zip(paths, lane_ys):
        draw_arrow(axes, (0.65, middle_y), (lane_start, lane_y), head=False)
        draw_lane(axes, lane_y, lane_start, lane_end, column_xs, path)
        draw_arrow(axes, (lane_end, lane_y), _on_circle(addition, (lane_end, lane_y)), head=False)
    draw_arrow(axes, (addition.right, middle_y), (addition.right + 0.3, middle_y))
    draw_text(axes, addition.right + 0.36, middle_y, "output", ha="left")


def draw_lane(axes, y, start_x, end_x, column_xs, path, box_width=0.5):
    """One path: ink between the blocks, a box f_i where it takes the branch, the accent line where it skips."""
    x = start_x
    for index, (column_x, takes_branch) in enumerate(zip(column_xs, path), start=1):
        draw_arrow(axes, (x, y), (column_x - box_width / 2, y), head=False)
        if takes_branch:
            draw_box(axes, column_x, y, Layer(f"f_{index}", WEIGHT, height=0.24), box_width, size=NOTE_SIZE)
        else:
            draw_shortcut(axes, [(column_x - box_width / 2, y), (column_x + box_width / 2, y)], head=False)
        x = column_x + box_width / 2
    draw_arrow(axes, (x, y), (end_x, y), head=False)


def _on_circle(node: Box, point):
    """The point of the node's circle that faces ``point``."""
    dx, dy = point[0] - node.x, point[1] - node.y
    length = (dx**2 + dy**2) ** 0.5
    return (node.x + dx / length * ADDITION_RADIUS, node.y + dy / length * ADDITION_RADIUS)


def draw_preactivation_block():
    """He, Zhang, Ren and Sun (2016), Fig. 4: (a) the original block beside (e) the full pre-activation block."""
    original = VerticalBlock(
        input_label="x_l",
        branch=(weight("weight"), batch_norm(), relu("ReLU"), weight("weight"), batch_norm()),
        after_addition=(relu("ReLU"),),
        output_label="x_l+1",
    )
    preactivation = VerticalBlock(
        input_label="x_l",
        branch=(batch_norm(), relu("ReLU"), weight("weight"), batch_norm(), relu("ReLU"), weight("weight")),
        output_label="x_l+1",
    )
    height = max(vertical_block_height(original), vertical_block_height(preactivation)) + 0.95
    figure, axes = new_canvas(7.0, height)
    for x, title, block in ((1.6, "(a) original", original), (4.9, "(e) full pre-activation", preactivation)):
        draw_title(axes, x, height - 0.3, title)
        draw_vertical_block(axes, x, height - 0.8, block)
    return figure


FIGURES = {
    "residual_block.svg": draw_residual_block,
    "plain_vs_residual_block.svg": draw_plain_vs_residual_block,
    "shortcut_options.svg": draw_shortcut_options,
    "basic_vs_bottleneck.svg": draw_basic_vs_bottleneck,
    "unrolled_paths.svg": draw_unrolled_paths,
    "preactivation_block.svg": draw_preactivation_block,
}


def write_figures(output_dir: Path) -> list[Path]:
    """Draw every figure into ``output_dir`` (created if missing); return the paths written."""
    output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with matplotlib.rc_context(MATPLOTLIB_STYLE):
        for name, draw in FIGURES.items():
            figure = draw()
            check_layout(figure, name)
            path = output_dir / name
            figure.savefig(path, format="svg", metadata={"Date": None})
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--output",
        type=Path,
        default=FIGURES_DIR,
        help=f"folder for the SVG files (default: {FIGURES_DIR.relative_to(REPO_ROOT)})",
    )
    args = parser.parse_args(argv)
    for path in write_figures(args.output):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
