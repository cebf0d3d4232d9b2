"""Tests of resnet_lessons.graph: reading the layer graph of a built model."""

import keras
import pytest

from resnet_lessons import blocks, graph


def _block(option="A", strides=1, filters=16):
    inputs = keras.Input((8, 8, 16), name="x")
    return keras.Model(inputs, blocks.basic_block(inputs, filters, strides, name="b", shortcut=option))


def test_identity_shortcut_feeds_the_input_into_the_addition():
    parents = graph.layer_parents(_block())
    assert list(parents) == ["x", "b_1_conv", "b_1_bn", "b_1_relu", "b_2_conv", "b_2_bn", "b_add", "b_out"]
    assert parents["x"] == [] and parents["b_1_conv"] == ["x"]
    assert sorted(parents["b_add"]) == ["b_2_bn", "x"]


def test_projection_shortcut_is_a_second_path():
    parents = graph.layer_parents(_block("B", strides=2, filters=32))
    assert parents["b_0_conv"] == ["x"] and parents["b_0_bn"] == ["b_0_conv"]
    assert sorted(parents["b_add"]) == ["b_0_bn", "b_2_bn"]
    assert graph.layer_children(parents)["x"] == ["b_1_conv", "b_0_conv"]


def test_longest_path_depths_follow_the_branch():
    depths = graph.longest_path_depths(graph.layer_parents(_block("B", strides=2, filters=32)))
    assert depths["x"] == 0 and depths["b_0_bn"] == 2 and depths["b_2_bn"] == 5
    assert depths["b_add"] == 6 and depths["b_out"] == 7
    with pytest.raises(ValueError, match="topological order"):
        graph.longest_path_depths({"b": ["a"], "a": []})


def test_operations_that_are_not_layers_and_sequential_models():
    inputs = keras.Input((4,), name="x")
    hidden = keras.layers.Dense(4, name="dense")(inputs)
    model = keras.Model(inputs, keras.ops.add(hidden, inputs))
    parents = graph.layer_parents(model)
    assert list(parents)[:2] == ["x", "dense"] and len(parents) == 3
    added = list(parents)[2]
    assert sorted(parents[added]) == ["dense", "x"]
    chain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d1"), keras.layers.Dense(1, name="d2")])
    assert graph.layer_parents(chain) == {"d1": [], "d2": ["d1"]}


def test_shared_layers_and_non_models_are_refused():
    inputs = keras.Input((4,))
    shared = keras.layers.Dense(4, name="shared")
    model = keras.Model(inputs, shared(shared(inputs)))
    with pytest.raises(ValueError, match="more than once"):
        graph.layer_parents(model)
    with pytest.raises(ValueError, match="keras.Model"):
        graph.layer_parents("model")

    class Subclassed(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="no layer graph"):
        graph.layer_parents(Subclassed())
