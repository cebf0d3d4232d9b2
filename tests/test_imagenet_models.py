"""The ImageNet family (chapter 5): Table 1's structure and cost, and ResNet-50 against keras.applications.

Building ResNet-50 takes about 2 s on 2 CPU cores, ResNet-101 about 5 s and ResNet-152 about 7 s; the module builds
each configuration once. The whole file used 24 s of CPU time (110 s of wall time on a machine shared by five
processes, load average 10); the tests marked slow are about half of it.
"""

import functools

import keras
import numpy as np
import pytest

from resnet_lessons import complexity, equivalence, models

# The paper's Table 1: multiply-adds ("FLOPs") per image at 224x224, in units of 10^9.
TABLE_1_GIGA_MULTIPLY_ADDS = {18: 1.8, 34: 3.6, 50: 3.8, 101: 7.6, 152: 11.3}
# The same networks' trainable parameters without conv biases; they equal torchvision's published counts
# (resnet18 11,689,512 ... resnet152 60,192,808; torchvision's v1.5 placement changes no shape).
TRAINABLE_WITHOUT_BIASES = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160, 152: 60_192_808}
# keras.applications.ResNet50(weights=None)'s counts (Keras 3), with its conv biases: in all and trainable.
KERAS_RESNET50_TOTAL = 25_636_712
KERAS_RESNET50_TRAINABLE = 25_583_592
# ResNet-101 and ResNet-152 take 5-7 s each to build: slow.
DEPTHS = [pytest.param(depth, marks=pytest.mark.slow) if depth > 50 else depth
          for depth in models.IMAGENET_BLOCKS_PER_STAGE]


@functools.cache
def cached_imagenet_model(depth, items):
    return models.imagenet_resnet(depth, **dict(items))


def built(depth, **kwargs):
    return cached_imagenet_model(depth, tuple(sorted(kwargs.items())))


@pytest.mark.parametrize("depth", DEPTHS)
def test_multiply_adds_reproduce_table_1(depth):
    giga = complexity.count_multiply_adds(built(depth)) / 1e9
    assert giga == pytest.approx(TABLE_1_GIGA_MULTIPLY_ADDS[depth], rel=0.05)


def test_v1_5_stride_placement_costs_about_4_1_giga_multiply_adds():
    paper = complexity.count_multiply_adds(built(50))
    v1_5 = complexity.count_multiply_adds(built(50, stride_on="3x3"))
    assert v1_5 / 1e9 == pytest.approx(4.1, rel=0.05)
    assert v1_5 > paper
    # same weights, only the strides move
    assert models.count_parameters(built(50, stride_on="3x3")) == models.count_parameters(built(50))


@pytest.mark.parametrize("depth", DEPTHS)
def test_trainable_parameters_without_biases(depth):
    assert models.count_parameters(built(depth)).trainable == TRAINABLE_WITHOUT_BIASES[depth]


def test_resnet50_with_biases_has_keras_applications_parameters():
    counts = models.count_parameters(built(50, use_bias=True))
    assert (counts.total, counts.trainable) == (KERAS_RESNET50_TOTAL, KERAS_RESNET50_TRAINABLE)


def test_stage_output_sizes_and_blocks_per_stage():
    model = built(50)
    names = [layer.name for layer in model.layers]
    for stage, (blocks, size, channels) in enumerate(zip((3, 4, 6, 3), (56, 28, 14, 7), (256, 512, 1024, 2048)),
                                                     start=2):
        assert sum(name.startswith(f"conv{stage}_block") and name.endswith("_out") for name in names) == blocks
        assert tuple(model.get_layer(f"conv{stage}_block{blocks}_out").output.shape[1:]) == (size, size, channels)
    assert tuple(model.get_layer("conv1_relu").output.shape[1:]) == (112, 112, 64)
    assert tuple(model.get_layer("pool1_pool").output.shape[1:]) == (56, 56, 64)


def test_basic_block_nets_project_only_where_the_shape_changes():
    names = {layer.name for layer in built(18).layers}
    assert "conv2_block1_0_conv" not in names  # 64 -> 64 channels at stride 1: identity
    assert {"conv3_block1_0_conv", "conv4_block1_0_conv", "conv5_block1_0_conv"} <= names
    assert "conv3_block2_0_conv" not in names
    assert tuple(built(18).get_layer("conv5_block2_out").output.shape[1:]) == (7, 7, 512)


@pytest.fixture(scope="module")
def keras_resnet50_logits():
    keras.utils.set_random_seed(0)
    reference = keras.applications.ResNet50(weights=None, classifier_activation=None)
    equivalence.randomise_batch_norms(reference)  # so that copying them is tested too
    return reference


def test_layer_names_line_up_with_keras_applications(keras_resnet50_logits):
    ours = {layer.name for layer in built(50, use_bias=True).layers[1:]}
    theirs = {layer.name for layer in keras_resnet50_logits.layers[1:]}  # [0] is the input layer
    assert ours == theirs


def test_resnet50_equals_keras_applications_on_the_same_weights(keras_resnet50_logits):
    ours = models.resnet50(use_bias=True)
    inputs = np.random.default_rng(1).normal(0, 50, size=(2, 224, 224, 3)).astype("float32")
    assert equivalence.max_output_difference(keras_resnet50_logits, ours, inputs) > 1e-2  # different weights
    assert equivalence.copy_weights(keras_resnet50_logits, ours) == 107  # 53 convs, 53 batch norms, the dense
    assert equivalence.max_output_difference(keras_resnet50_logits, ours, inputs) < 1e-4


@pytest.mark.slow
def test_softmax_outputs_equal_keras_applications_default():
    keras.utils.set_random_seed(0)
    reference = keras.applications.ResNet50(weights=None)  # softmax output, its default
    equivalence.randomise_batch_norms(reference, 2)
    ours = models.resnet50(use_bias=True, classifier_activation="softmax")
    equivalence.copy_weights(reference, ours)
    inputs = np.random.default_rng(3).normal(0, 50, size=(2, 224, 224, 3)).astype("float32")
    assert equivalence.max_output_difference(reference, ours, inputs) < 1e-4
    np.testing.assert_allclose(np.sum(ours(inputs), axis=1), 1.0, rtol=1e-5)


def test_without_top_ends_with_the_last_feature_map():
    model = models.resnet50(include_top=False, input_shape=(64, 64, 3))
    assert model.output.shape[1:] == (2, 2, 2048)
    assert "predictions" not in {layer.name for layer in model.layers}


def test_recipes_name_their_models():
    for recipe, depth in ((models.resnet18, 18), (models.resnet34, 34)):
        model = recipe(input_shape=(32, 32, 3), num_classes=3)
        assert model.name == f"resnet{depth}" and model.output.shape[1:] == (3,)
    assert built(50).name == "resnet50"


def test_small_inputs_work_with_global_average_pooling():
    model = models.resnet18(input_shape=(64, 48, 3), num_classes=5, classifier_activation="softmax")
    probabilities = model(np.zeros((1, 64, 48, 3), "float32"), training=False)
    np.testing.assert_allclose(np.sum(probabilities, axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("kwargs, message", [
    ({"depth": 20}, "depth must be one of 18, 34, 50, 101, 152"),
    ({"depth": 50.0}, "depth must be one of"),
    ({"depth": True}, "depth must be one of"),
    ({"depth": "50"}, "depth must be one of"),
    ({"depth": 50, "stride_on": "2x2"}, "stride_on must be one of"),
    ({"depth": 18, "stride_on": "2x2"}, "stride_on must be one of"),  # basic blocks ignore it, but refuse a typo
    ({"depth": 50, "use_bias": "yes"}, "use_bias must be True or False"),
    ({"depth": 18, "include_top": "no"}, "include_top must be True or False"),
    ({"depth": 18, "num_classes": 0}, "num_classes"),
    ({"depth": 18, "input_shape": (224, 224)}, "input_shape"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        models.imagenet_resnet(**kwargs)
