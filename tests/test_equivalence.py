"""Tests of resnet_lessons.equivalence: copying weights between models and comparing their outputs."""

import keras
import numpy as np
import pytest

from resnet_lessons import blocks, equivalence, models


def _small_net(name, prefix="", seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(4, 4, 2))
    x = keras.layers.Conv2D(3, 3, padding="same", name=f"{prefix}conv")(inputs)
    x = keras.layers.BatchNormalization(name=f"{prefix}bn")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(2, name=f"{prefix}dense")(x), name=name)


def test_copy_by_name_makes_outputs_equal():
    first, second = _small_net("first", seed=0), _small_net("second", seed=1)
    inputs = np.random.default_rng(0).normal(size=(5, 4, 4, 2)).astype("float32")
    assert equivalence.max_output_difference(first, second, inputs) > 1e-3
    assert equivalence.copy_weights(first, second) == 3
    assert equivalence.max_output_difference(first, second, inputs) == 0.0


def test_copy_by_order_pairs_differently_named_layers():
    first, second = _small_net("first", seed=0), _small_net("second", prefix="other_", seed=1)
    with pytest.raises(ValueError, match="layer names differ"):
        equivalence.copy_weights(first, second)
    equivalence.copy_weights(first, second, match="order")
    inputs = np.ones((2, 4, 4, 2), dtype="float32")
    assert equivalence.max_output_difference(first, second, inputs, training=True) == 0.0


def test_mismatched_shapes_copy_nothing():
    first = models.resnet20(input_shape=(8, 8, 3))
    second = models.resnet20(input_shape=(8, 8, 3), num_classes=5)
    before = second.get_layer("conv1_conv").get_weights()[0].copy()
    with pytest.raises(ValueError, match="predictions"):
        equivalence.copy_weights(first, second)
    np.testing.assert_array_equal(second.get_layer("conv1_conv").get_weights()[0], before)


def test_order_match_needs_equal_layer_counts():
    with pytest.raises(ValueError, match="one to one"):
        equivalence.copy_weights(models.resnet20(input_shape=(8, 8, 3)), models.resnet32(input_shape=(8, 8, 3)),
                                 match="order")


def test_bad_arguments():
    net = _small_net("net")
    with pytest.raises(ValueError, match="match must be"):
        equivalence.copy_weights(net, net, match="position")
    with pytest.raises(ValueError, match="keras.Model"):
        equivalence.weighted_layers(None)
    other = keras.Sequential([keras.Input(shape=(4, 4, 2)), keras.layers.Flatten()])
    with pytest.raises(ValueError, match="outputs shape"):
        equivalence.max_output_difference(net, other, np.zeros((1, 4, 4, 2), dtype="float32"))


# --------------------------------------------------------------------------- structure matching, blocks, predictions

def _reordered_block(x, filters, strides, name):
    """The package's option-B block written another way: shortcut first, other names, layers.ReLU."""
    from keras import layers

    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=strides, use_bias=False, name=f"{name}_proj")(x)
        shortcut = layers.BatchNormalization(epsilon=1.001e-5, name=f"{name}_proj_norm")(shortcut)
    y = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_a")(x)
    y = layers.BatchNormalization(epsilon=1.001e-5, name=f"{name}_a_norm")(y)
    y = layers.ReLU()(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_b")(y)
    y = layers.BatchNormalization(epsilon=1.001e-5, name=f"{name}_b_norm")(y)
    return layers.ReLU()(layers.Add()([y, shortcut]))


def _package_block_b(x, filters, strides, name):
    return blocks.basic_block(x, filters, strides, name=name, shortcut="B")


def test_structure_match_pairs_layers_created_in_another_order():
    reference = equivalence.block_model(_package_block_b, input_shape=(8, 8, 16), filters=32, strides=2)
    other = equivalence.block_model(_reordered_block, input_shape=(8, 8, 16), filters=32, strides=2)
    # By order the projection would meet a 3x3 convolution: the shapes differ.
    with pytest.raises(ValueError, match="shapes"):
        equivalence.copy_weights(reference, other, match="order")
    assert equivalence.copy_weights(reference, other, match="structure") == 6
    inputs = np.random.default_rng(0).normal(size=(4, 8, 8, 16)).astype("float32")
    assert equivalence.max_output_difference(reference, other, inputs, training=True) == 0.0


def test_structural_order_is_the_same_for_both_writings():
    reference = equivalence.block_model(_package_block_b, input_shape=(8, 8, 16), filters=32, strides=2)
    other = equivalence.block_model(_reordered_block, input_shape=(8, 8, 16), filters=32, strides=2)
    pairs = {(a.name, b.name) for a, b in zip(equivalence.structural_order(reference),
                                               equivalence.structural_order(other))}
    assert pairs == {("block_0_conv", "block_proj"), ("block_1_conv", "block_a"), ("block_0_bn", "block_proj_norm"),
                     ("block_1_bn", "block_a_norm"), ("block_2_conv", "block_b"), ("block_2_bn", "block_b_norm")}


def test_block_model_wraps_a_block_function():
    model = equivalence.block_model(blocks.basic_block, input_shape=(8, 8, 16), filters=32, strides=2, name="b")
    assert model.name == "b" and model.output_shape == (None, 4, 4, 32)
    assert "b_0_pad" in [layer.name for layer in model.layers]
    with pytest.raises(ValueError, match="block must be a function"):
        equivalence.block_model("basic_block", input_shape=(8, 8, 16), filters=16)
    with pytest.raises(ValueError, match="input_shape"):
        equivalence.block_model(blocks.basic_block, input_shape=(8, 8), filters=16)


def test_compare_blocks_finds_an_equal_block_equal():
    result = equivalence.compare_blocks(_reordered_block, _package_block_b, input_shape=(8, 8, 16), filters=32,
                                        strides=2)
    assert result.same and result.max_difference == 0.0 and result.detail == ""
    assert result.candidate_parameters == result.reference_parameters == 3 * 3 * 16 * 32 + 3 * 3 * 32 * 32 + (
        16 * 32) + 3 * 2 * 32


def test_compare_blocks_reports_the_differences():
    option_a = equivalence.compare_blocks(blocks.basic_block, _package_block_b, input_shape=(8, 8, 16), filters=32,
                                          strides=2)
    assert not option_a.same and option_a.max_difference is None
    assert option_a.reference_parameters - option_a.candidate_parameters == 16 * 32 + 2 * 32
    assert "parameter counts differ" in option_a.detail

    def relu_before_add(x, filters, strides, name):
        from keras import layers
        y = layers.ReLU()(blocks.conv_bn(x, filters, 3, strides, f"{name}_1"))
        y = layers.ReLU()(blocks.conv_bn(y, filters, 3, 1, f"{name}_2"))
        return layers.Add()([y, blocks.shortcut_path(x, filters, strides, "B", name)])

    wrong = equivalence.compare_blocks(relu_before_add, _package_block_b, input_shape=(8, 8, 16), filters=32,
                                       strides=2)
    assert not wrong.same and wrong.max_difference > 0.1


def test_compare_predictions_of_a_model_with_itself_and_with_another():
    first, second = _small_net("first", seed=0), _small_net("second", seed=1)
    images = np.random.default_rng(0).normal(size=(10, 4, 4, 2)).astype("float32")
    labels = np.arange(10) % 2
    batches = [(images[:6], labels[:6]), (images[6:], labels[6:])]
    same = equivalence.compare_predictions(first, first, batches)
    assert same.examples == 10 and same.same_predictions == 10 and same.max_logit_difference == 0.0
    assert same.first_loss == same.second_loss and same.first_error == same.second_error
    logits = np.asarray(first(images, training=False))
    expected_loss = np.mean(np.log(np.exp(logits).sum(axis=1)) - logits[np.arange(10), labels])
    assert same.first_loss == pytest.approx(expected_loss, rel=1e-5)
    assert same.first_error == np.mean(logits.argmax(axis=1) != labels)
    assert same.only_first_right == same.only_second_right == 0
    other = equivalence.compare_predictions(first, second, batches)
    assert other.max_logit_difference > 0 and other.first_loss != other.second_loss
    right = [np.asarray(net(images, training=False)).argmax(axis=1) == labels for net in (first, second)]
    assert other.only_first_right + other.only_second_right > 0  # the two nets disagree somewhere
    assert other.only_first_right == np.sum(right[0] & ~right[1])
    assert other.only_second_right == np.sum(right[1] & ~right[0])
    # the errors differ by exactly the examples only one of them gets right
    assert 10 * (other.second_error - other.first_error) == pytest.approx(
        other.only_first_right - other.only_second_right)


def test_compare_predictions_rejects_empty_batches_and_non_models():
    net = _small_net("net")
    with pytest.raises(ValueError, match="no examples"):
        equivalence.compare_predictions(net, net, [])
    with pytest.raises(ValueError, match="keras.Model"):
        equivalence.compare_predictions(net, "net", [])


def test_unknown_match_names_all_three():
    net = _small_net("net")
    with pytest.raises(ValueError, match="'name', 'order', 'structure'"):
        equivalence.copy_weights(net, net, match="graph")


def test_randomise_batch_norms_sets_every_statistic_from_its_seed():
    def build():
        inputs = keras.Input((4, 4, 3))
        x = keras.layers.BatchNormalization(name="first")(inputs)
        return keras.Model(inputs, keras.layers.BatchNormalization(name="second")(x))

    model, same_seed, other_seed = build(), build(), build()
    fresh = [np.asarray(weight) for weight in model.get_weights()]
    equivalence.randomise_batch_norms(model, 3)
    equivalence.randomise_batch_norms(same_seed, np.random.default_rng(3))  # a generator works as its seed does
    equivalence.randomise_batch_norms(other_seed, 4)
    for new, old in zip(model.get_weights(), fresh):  # scale, shift, moving mean and variance of both layers
        assert not np.allclose(new, old)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), same_seed.get_weights()))
    assert not any(np.array_equal(a, b) for a, b in zip(model.get_weights(), other_seed.get_weights()))
    assert all(np.all(variance > 0) for variance in model.get_weights()[3::4])


@pytest.mark.parametrize("model, rng, named", [("a model", 0, "model"), (None, 0, "model"), ("model", -1, "rng"),
                                               ("model", 1.5, "rng"), ("model", "seed", "rng")])
def test_randomise_batch_norms_names_a_bad_argument(model, rng, named):
    if model == "model":
        inputs = keras.Input((4, 4, 3))
        model = keras.Model(inputs, keras.layers.BatchNormalization()(inputs))
    with pytest.raises(ValueError, match=f"^{named} must be"):
        equivalence.randomise_batch_norms(model, rng)
