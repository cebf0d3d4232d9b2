"""Tests of resnet_lessons.diagram: block diagrams laid out and drawn from the built model."""

import functools

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib import patches  # noqa: E402

from resnet_lessons import blocks, diagram, equivalence, models  # noqa: E402


def _block(option="A", strides=1, filters=16, residual=True):
    block = functools.partial(blocks.basic_block, shortcut=option, residual=residual)
    return equivalence.block_model(block, input_shape=(8, 8, 16), filters=filters, strides=strides, name="b")


def test_identity_shortcut_is_a_skip_edge_beside_the_main_path():
    layout = diagram.layout(_block())
    assert layout.main_path == ["b_input", "b_1_conv", "b_1_bn", "b_1_relu", "b_2_conv", "b_2_bn", "b_add", "b_out"]
    assert [box.row for box in layout.boxes] == list(range(8))
    assert {box.column for box in layout.boxes} == {0}
    assert layout.skip_edges == [("b_input", "b_add")]
    assert len(layout.edges) == 8


def test_projection_shortcut_stands_beside_the_branch_just_above_the_addition():
    layout = diagram.layout(_block("B", strides=2, filters=32))
    projection, norm, add = layout.box("b_0_conv"), layout.box("b_0_bn"), layout.box("b_add")
    assert (projection.column, norm.column) == (1, 1)
    assert (projection.row, norm.row, add.row) == (4, 5, 6)
    assert projection.label == "1x1 conv, 32, /2" and projection.output_shape == (4, 4, 32)
    assert layout.box("b_1_conv").label == "3x3 conv, 32, /2"
    assert layout.skip_edges == []
    assert ("b_0_bn", "b_add") in layout.edges and ("b_input", "b_0_conv") in layout.edges


def test_labels_and_kinds_follow_the_layers():
    layout = diagram.layout(_block("A", strides=2, filters=32))
    pad = layout.box("b_0_pad")
    assert (pad.label, pad.kind, pad.column) == ("zero-pad to 32, /2", "shortcut", 1)
    kinds = {box.name: box.kind for box in layout.boxes}
    assert kinds["b_input"] == "input" and kinds["b_1_bn"] == "norm" and kinds["b_1_relu"] == "activation"
    assert kinds["b_add"] == "merge" and kinds["b_2_conv"] == "conv"
    assert layout.box("b_out").label == "ReLU"


def test_plain_block_is_one_column_without_skips():
    layout = diagram.layout(_block(residual=False))
    assert {box.column for box in layout.boxes} == {0} and layout.skip_edges == []
    assert "b_add" not in layout.main_path


def test_a_slice_of_a_network_starts_at_its_input():
    network = models.resnet20(input_shape=(16, 16, 3))
    layout = diagram.layout(network, layer_range=("conv2_block3_out", "conv3_block2_out"))
    assert layout.main_path[0] == "conv2_block3_out" and layout.main_path[-1] == "conv3_block2_out"
    assert layout.box("conv2_block3_out").label == "input"
    assert layout.skip_edges == [("conv3_block1_out", "conv3_block2_add")]
    assert layout.box("conv3_block1_0_pad").column == 1
    assert not any(box.name.startswith("conv2_block2") for box in layout.boxes)


def test_draw_makes_one_box_per_layer_and_one_arrow_per_edge():
    model = _block("B", strides=2, filters=32)
    figure = diagram.draw(model, title="option B")
    ax = figure.axes[0]
    boxes = [patch for patch in ax.patches if isinstance(patch, patches.FancyBboxPatch)]
    arrows = [patch for patch in ax.patches if isinstance(patch, patches.FancyArrowPatch)]
    layout = diagram.layout(model)
    assert len(boxes) == len(layout.boxes) and len(arrows) == len(layout.edges)
    assert ax.get_title() == "option B"
    texts = [text.get_text() for text in ax.texts]
    assert "1x1 conv, 32, /2" in texts and "b_0_conv" in texts and "4x4x32" in texts
    plt.close(figure)


def test_draw_labels_the_identity_shortcut_and_accepts_axes_and_layouts():
    figure, ax = plt.subplots()
    assert diagram.draw(diagram.layout(_block()), ax=ax, show_names=False, show_shapes=False) is figure
    texts = [text.get_text() for text in ax.texts]
    assert "identity" in texts and "b_1_conv" not in texts and "8x8x16" not in texts
    plt.close(figure)


def test_bad_arguments_are_refused():
    model = _block()
    with pytest.raises(ValueError, match="not a layer"):
        diagram.layout(model, layer_range=("b_input", "nowhere"))
    with pytest.raises(ValueError, match="does not depend"):
        diagram.layout(model, layer_range=("b_out", "b_input"))
    with pytest.raises(ValueError, match=r"\(first, last\)"):
        diagram.layout(model, layer_range="b_out")
    with pytest.raises(ValueError, match="keras.Model"):
        diagram.layout("a block")
    with pytest.raises(ValueError, match="already sliced"):
        diagram.draw(diagram.layout(model), layer_range=("b_input", "b_out"))
    with pytest.raises(ValueError, match="no box named"):
        diagram.layout(model).box("b_0_conv")


def test_sequential_models_are_a_single_column():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d1"), keras.layers.Dense(2, name="d2")])
    layout = diagram.layout(model)
    assert layout.main_path == ["d1", "d2"] and layout.box("d2").label == "dense, 2"


def _terms(ax):
    return [text.get_text() for text in ax.texts if "mathbf" in text.get_text()]


@pytest.mark.parametrize("option, strides, shortcut_term", [
    ("A", 1, r"$\mathbf{x}$"), ("A", 2, r"shortcut($\mathbf{x}$)"), ("B", 2, r"$W_s\mathbf{x}$"),
])
def test_the_terms_of_the_addition_are_labelled_as_in_fig_2(option, strides, shortcut_term):
    figure = diagram.draw(_block(option, strides=strides, filters=32 if strides == 2 else 16))
    assert _terms(figure.axes[0]) == [r"$\mathcal{F}(\mathbf{x})$", r"$\mathbf{x}$",
                                      r"$\mathcal{F}(\mathbf{x})$ + " + shortcut_term]
    plt.close(figure)


def test_a_plain_block_has_no_terms_and_terms_can_be_left_out():
    plain = equivalence.block_model(functools.partial(blocks.basic_block, residual=False),
                                    input_shape=(8, 8, 16), filters=16, name="p")
    figure = diagram.draw(plain)
    assert _terms(figure.axes[0]) == []
    plt.close(figure)
    figure = diagram.draw(_block(), show_terms=False)
    assert _terms(figure.axes[0]) == []
    plt.close(figure)


def test_diagrams_side_by_side_get_one_scale():
    figure, axes = plt.subplots(1, 2)
    network = models.resnet20(input_shape=(16, 16, 3))
    diagram.draw(network, layer_range=("conv3_block1_out", "conv3_block2_out"), ax=axes[0])
    diagram.draw(network, layer_range=("conv2_block3_out", "conv3_block2_out"), ax=axes[1])
    assert axes[0].get_ylim() != axes[1].get_ylim()  # the longer slice has more rows
    diagram.same_scale(axes)
    assert axes[0].get_ylim() == axes[1].get_ylim() and axes[0].get_xlim() == axes[1].get_xlim()
    with pytest.raises(ValueError, match="at least one axes"):
        diagram.same_scale([])
    plt.close(figure)
