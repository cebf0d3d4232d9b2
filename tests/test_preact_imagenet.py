"""The pre-activation bottleneck and ResNet-50 (chapter 8) against keras.applications' ResNet v2.

The reference is Keras' own ``residual_block_v2`` (the block ``ResNet50V2`` stacks) and ``ResNet50V2`` itself. Our
nets downsample in a stage's first block and ``ResNet50V2`` in its last, so whole networks are compared by their
weights (names, shapes, counts) and single blocks, where the stride does not enter, by their outputs.
"""

import functools

import keras
import numpy as np
import pytest
from keras.src.applications import resnet as keras_resnet

from resnet_lessons import blocks, equivalence, models

# keras.applications.ResNet50V2(weights=None)'s parameter count (Keras 3), in all and trainable.
KERAS_RESNET50V2_TOTAL = 25_613_800
KERAS_RESNET50V2_TRAINABLE = 25_568_360


@functools.cache
def ours_and_keras():
    return models.resnet50_preact(), keras.applications.ResNet50V2(weights=None)


def weights_by_name(model):
    return {f"{layer.name}/{index}": tuple(weight.shape) for layer in model.layers
            for index, weight in enumerate(layer.weights)}


def test_resnet50_preact_has_the_weights_of_keras_resnet50v2():
    ours, reference = ours_and_keras()
    counts = models.count_parameters(ours)
    assert counts.trainable + counts.non_trainable == KERAS_RESNET50V2_TOTAL == reference.count_params()
    assert counts.trainable == KERAS_RESNET50V2_TRAINABLE
    assert weights_by_name(ours) == weights_by_name(reference)


def test_resnet50_preact_downsamples_in_a_stages_first_block():
    ours, reference = ours_and_keras()
    # ours: conv3_block1 halves 56 -> 28; ResNet50V2: conv2_block3, the last block of the stage before
    assert ours.get_layer("conv2_block3_out").output.shape[1:3] == (56, 56)
    assert reference.get_layer("conv2_block3_out").output.shape[1:3] == (28, 28)
    assert ours.get_layer("conv3_block1_out").output.shape[1:3] == (28, 28)
    assert ours.get_layer("post_relu").output.shape[1:] == reference.get_layer("post_relu").output.shape[1:]
    assert ours.name == "resnet50_preact"


def block_pair(input_shape, filters, conv_shortcut):
    inputs = keras.Input(input_shape)
    ours = keras.Model(inputs, blocks.preact_bottleneck_block(inputs, filters, 1, name="b",
                                                              shortcut="C" if conv_shortcut else "A", use_bias=True))
    inputs = keras.Input(input_shape)
    reference = keras.Model(inputs, keras_resnet.residual_block_v2(inputs, filters, conv_shortcut=conv_shortcut,
                                                                   name="b"))
    return ours, reference


@pytest.mark.parametrize("input_channels, conv_shortcut", [(16, True), (32, False)])
def test_preact_bottleneck_equals_keras_block_on_the_same_weights(input_channels, conv_shortcut):
    ours, reference = block_pair((8, 8, input_channels), 8, conv_shortcut)
    equivalence.randomise_batch_norms(reference, rng=0)
    for layer in reference.layers:
        if layer.weights:
            ours.get_layer(layer.name).set_weights(layer.get_weights())
    images = np.random.default_rng(1).normal(size=(2, 8, 8, input_channels)).astype("float32")
    np.testing.assert_allclose(ours(images, training=False), reference(images, training=False), atol=1e-5)


def test_preact_bottleneck_parameters_by_hand():
    inputs = keras.Input((8, 8, 16))
    model = keras.Model(inputs, blocks.preact_bottleneck_block(inputs, 8, 2, name="b"))
    expected = (2 * 16  # preact_bn
                + 16 * 8 + 2 * 8  # 1_conv, 1_bn
                + 3 * 3 * 8 * 8 + 2 * 8  # 2_conv, 2_bn
                + 8 * 32  # 3_conv, nothing after it
                + 16 * 32)  # 0_conv: option B projects 16 -> 32, no batch norm
    assert models.count_parameters(model).trainable == expected
    assert model.output.shape[1:] == (4, 4, 32)
    assert model.get_layer("b_0_conv").input is model.get_layer("b_preact_relu").output


def test_basic_block_depths_and_bad_arguments():
    model = models.imagenet_preact_resnet(18, input_shape=(64, 64, 3), num_classes=5)
    assert model.name == "resnet18_preact" and model.output.shape[1:] == (5,)
    assert "conv2_block1_preact_bn" in {layer.name for layer in model.layers}
    with pytest.raises(ValueError, match="depth"):
        models.imagenet_preact_resnet(42)
    with pytest.raises(ValueError, match="use_bias"):
        models.imagenet_preact_resnet(50, use_bias="yes")
