"""The CIFAR family: the paper's exact parameter counts, names, shapes and errors."""

import functools

import keras
import numpy as np
import pytest
from keras import layers

from resnet_lessons import blocks, models

# Exact trainable parameters (BN gamma/beta counted, no conv bias) of the paper's CIFAR-10 nets, counted by hand;
# the paper's Table 6 rounds them: 0.27M, 0.46M, 0.66M, 0.85M and 1.7M.
PAPER_TRAINABLE = {20: 269_722, 32: 464_154, 44: 658_586, 56: 853_018, 110: 1_727_962}


@pytest.mark.parametrize("depth", sorted(PAPER_TRAINABLE))
@pytest.mark.parametrize("residual", [True, False])
def test_trainable_parameters_equal_the_paper(depth, residual):
    model = models.cifar_network(depth, residual=residual)
    assert models.count_parameters(model).trainable == PAPER_TRAINABLE[depth]


def test_batch_norm_moving_statistics_are_the_non_trainable_parameters():
    counts = models.count_parameters(models.resnet20())
    assert counts.non_trainable == 1_376  # each batch norm's moving mean and variance: 2 x (7 x 16 + 6 x 32 + 6 x 64)
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


def test_plain_nets_refuse_an_unknown_shortcut_too():
    with pytest.raises(ValueError, match="unknown shortcut option 'D'"):
        models.plain20(shortcut="D")


def test_stages_of_the_recipes():
    assert models.cifar_stages(20) == [models.Stage(3, 16, 1), models.Stage(3, 32, 2), models.Stage(3, 64, 2)]
    assert [stage.blocks for stage in models.imagenet_stages(101)] == [3, 4, 23, 3]
    with pytest.raises(ValueError, match="6n \\+ 2"):
        models.cifar_stages(21)


# --- One builder, any block: the pre-activation net (He et al. 2016) and a block the package does not have ---

def test_builder_takes_a_block_defined_here_without_any_edit():
    def one_conv_block(x, filters, strides, name):
        """A residual block with a single 3x3 conv-BN on its branch: a kind the package does not define."""
        y = blocks.conv_bn(x, filters, 3, strides, f"{name}_1")
        y = layers.Add(name=f"{name}_add")([blocks.shortcut_path(x, filters, strides, "A", name), y])
        return layers.Activation("relu", name=f"{name}_out")(y)

    model = models.build_network(input_shape=(8, 8, 3), stem=models.cifar_stem, stages=models.cifar_stages(8),
                                 block=one_conv_block, num_classes=10, name="one_conv8")
    assert model.output.shape[1:] == (10,)
    assert tuple(model.get_layer("conv4_block1_out").output.shape[1:]) == (2, 2, 64)
    stem = 3 * 3 * 3 * 16 + 2 * 16
    branches = (3 * 3 * 16 * 16 + 2 * 16) + (3 * 3 * 16 * 32 + 2 * 32) + (3 * 3 * 32 * 64 + 2 * 64)
    assert models.count_parameters(model).trainable == stem + branches + 64 * 10 + 10


def preact_trainable_by_hand(n, *, projections=0):
    """Trainable parameters of a pre-activation CIFAR net with n blocks per stage, counted from its layers."""
    total = 3 * 3 * 3 * 16  # the stem: a convolution alone
    channels = 16
    for filters in (16, 32, 64):
        for _ in range(n):
            total += 2 * channels  # preact_bn, on the block's input
            total += 3 * 3 * channels * filters + 2 * filters  # 1_conv, 1_bn
            total += 3 * 3 * filters * filters  # 2_conv, nothing after it
            channels = filters
    total += 2 * 64  # post_bn
    return total + projections + 64 * 10 + 10


def test_resnet20_preact_parameter_count():
    counts = models.count_parameters(models.resnet20_preact())
    assert counts.trainable == preact_trainable_by_hand(3)
    # The batch norms move but their channels add up the same: ResNet-20's 269,722, and its 1,376 statistics.
    assert (counts.trainable, counts.non_trainable) == (PAPER_TRAINABLE[20], 1_376)
    # Option B projects 16->32 and 32->64 with a 1x1 convolution and no batch norm.
    option_b = models.count_parameters(models.resnet20_preact(shortcut="B")).trainable
    assert option_b == preact_trainable_by_hand(3, projections=16 * 32 + 32 * 64)


def test_resnet20_preact_shapes_and_names():
    model = models.resnet20_preact(input_shape=(16, 16, 3), num_classes=7)
    assert model.name == "resnet20_preact"
    assert model(np.zeros((2, 16, 16, 3), "float32"), training=False).shape == (2, 7)
    names = [layer.name for layer in model.layers]
    assert names[:4] == ["images", "conv1_conv", "conv2_block1_preact_bn", "conv2_block1_preact_relu"]
    assert names[-4:] == ["post_bn", "post_relu", "avg_pool", "predictions"]
    assert "conv3_block1_0_pad" in names and not any(name.endswith("_add") for name in names)
    assert tuple(model.get_layer("conv4_block3_out").output.shape[1:]) == (4, 4, 64)


def test_preact_blocks_add_without_a_relu_after():
    model = models.resnet20_preact()
    # the sum is the block's output, and the next block's batch norm reads it as it is
    assert isinstance(model.get_layer("conv2_block1_out"), layers.Add)
    assert model.get_layer("conv2_block2_preact_bn").input is model.get_layer("conv2_block1_out").output
    assert model.get_layer("post_bn").input is model.get_layer("conv4_block3_out").output


def test_after_stages_stays_without_the_top():
    model = models.build_network(input_shape=(8, 8, 3), stem=models.cifar_preact_stem,
                                 stages=models.cifar_stages(8), block=blocks.preact_basic_block, num_classes=10,
                                 name="features", include_top=False,
                                 after_stages=functools.partial(blocks.bn_relu, name="post"))
    assert model.layers[-1].name == "post_relu" and model.output.shape[1:] == (2, 2, 64)


@pytest.mark.parametrize("kwargs, message", [
    ({"shortcut": "D"}, "unknown shortcut option 'D'"),
    ({"depth": 21}, "6n \\+ 2"),
    ({"num_classes": 0}, "num_classes"),
])
def test_bad_preact_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        models.cifar_preact_resnet(**{"depth": 20, **kwargs})
