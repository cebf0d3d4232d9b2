"""The CIFAR family: the paper's exact parameter counts, names, shapes and errors."""

import numpy as np
import pytest

from resnet_lessons import models

# BOOK.md: exact trainable parameters (BN gamma/beta counted, no conv bias) of the paper's CIFAR-10 nets.
PAPER_TRAINABLE = {20: 269_722, 32: 464_154, 44: 658_586, 56: 853_018, 110: 1_727_962}


@pytest.mark.parametrize("depth", sorted(PAPER_TRAINABLE))
@pytest.mark.parametrize("residual", [True, False])
def test_trainable_parameters_equal_the_paper(depth, residual):
    model = models.cifar_network(depth, residual=residual)
    assert models.count_parameters(model).trainable == PAPER_TRAINABLE[depth]


def test_batch_norm_moving_statistics_are_the_non_trainable_parameters():
    counts = models.count_parameters(models.resnet20())
    assert counts.non_trainable == 1_376  # BOOK.md: 1,376 more at depth 20
    assert counts.total == counts.trainable + counts.non_trainable


def test_projection_shortcuts_add_parameters_only_where_they_project():
    option_a = models.count_parameters(models.resnet20(shortcut="A")).trainable
    option_b = models.count_parameters(models.resnet20(shortcut="B")).trainable
    option_c = models.count_parameters(models.resnet20(shortcut="C")).trainable
    # B: two projections (16->32 and 32->64), each a 1x1 conv plus batch norm.
    assert option_b - option_a == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)
    # C: a projection on all nine blocks.
    per_stage = [16 * 16 + 32, 32 * 32 + 64, 64 * 64 + 128]
    first_blocks = (16 * 16 + 32) + (16 * 32 + 64) + (32 * 64 + 128)
    assert option_c - option_a == first_blocks + 2 * sum(per_stage)


def test_plain_and_residual_nets_differ_only_by_the_shortcut_additions():
    plain = models.plain20()
    residual = models.resnet20()
    plain_names = {layer.name for layer in plain.layers}
    residual_names = {layer.name for layer in residual.layers}
    assert plain_names <= residual_names
    extra = residual_names - plain_names
    assert all(name.endswith(("_add", "_0_pad")) for name in extra)
    assert sum(name.endswith("_add") for name in extra) == 9


def test_layer_names_follow_keras_applications():
    model = models.resnet56()
    names = [layer.name for layer in model.layers]
    assert names[:4] == ["images", "conv1_conv", "conv1_bn", "conv1_relu"]
    for expected in ("conv2_block1_1_conv", "conv2_block9_out", "conv3_block1_0_pad", "conv4_block9_add",
                     "avg_pool", "predictions"):
        assert expected in names
    assert model.name == "resnet56" and models.plain56().name == "plain56"


def test_feature_maps_halve_and_channels_double_per_stage():
    model = models.resnet20()
    shapes = {name: tuple(model.get_layer(name).output.shape[1:])
              for name in ("conv2_block3_out", "conv3_block1_out", "conv4_block3_out")}
    assert shapes == {"conv2_block3_out": (32, 32, 16), "conv3_block1_out": (16, 16, 32),
                      "conv4_block3_out": (8, 8, 64)}


def test_outputs_are_logits_of_the_requested_number_of_classes():
    model = models.resnet20(input_shape=(16, 16, 3), num_classes=7)
    logits = model(np.zeros((2, 16, 16, 3), "float32"), training=False)
    assert logits.shape == (2, 7)
    probabilities = models.resnet20(classifier_activation="softmax")(np.ones((3, 32, 32, 3), "float32"))
    np.testing.assert_allclose(np.sum(probabilities, axis=1), 1.0, rtol=1e-5)


def test_zero_init_residual_blocks_start_as_relu_of_their_input():
    model = models.resnet20(zero_init_residual=True)
    block_input = model.get_layer("conv2_block2_1_conv").input
    block_output = model.get_layer("conv2_block2_out").output
    import keras
    probe = keras.Model(block_input, block_output)
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 16)).astype("float32")
    np.testing.assert_allclose(probe(x, training=False), np.maximum(x, 0), atol=1e-6)


@pytest.mark.parametrize("depth", [0, 7, 19, 21, 27, -4, 20.0, "20", True])
def test_depth_must_be_six_n_plus_two(depth):
    with pytest.raises(ValueError, match="6n \\+ 2"):
        models.blocks_per_stage(depth)


def test_blocks_per_stage():
    assert [models.blocks_per_stage(depth) for depth in (8, 20, 56, 110, 1202)] == [1, 3, 9, 18, 200]


@pytest.mark.parametrize("kwargs, message", [
    ({"shortcut": "D"}, "unknown shortcut option 'D'"),
    ({"num_classes": 0}, "num_classes"),
    ({"input_shape": (32, 32)}, "input_shape"),
    ({"input_shape": "big"}, "input_shape"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        models.resnet20(**kwargs)


def test_zero_init_residual_is_refused_for_plain_nets():
    with pytest.raises(ValueError, match="residual"):
        models.plain20(zero_init_residual=True)


def test_stage_validates_its_fields():
    with pytest.raises(ValueError, match="Stage.filters"):
        models.Stage(blocks=2, filters=0, strides=1)


def test_count_parameters_rejects_non_models():
    with pytest.raises(ValueError, match="keras.Model"):
        models.count_parameters("resnet20")
