"""Gates, lesions and path gradients (chapter 7): what a deleted block computes, what a path's gradient is."""

import functools
import itertools
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from resnet_lessons import blocks, lesions, models

SHAPE = (8, 8, 3)


def images(count=6, seed=0):
    return np.random.default_rng(seed).normal(size=(count, *SHAPE)).astype("float32")


def labels(count=6):
    return np.arange(count, dtype="int32") % 10


@functools.lru_cache(maxsize=None)
def networks(residual=True):
    """A ResNet-8 or plain-8 (3 blocks) with non-trivial batch-norm statistics, and its gated copy."""
    keras.utils.set_random_seed(1)
    build = functools.partial(models.cifar_network, 8, residual=residual, input_shape=SHAPE)
    model = build()
    rng = np.random.default_rng(2)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.gamma.shape[0]
            layer.gamma.assign(rng.uniform(0.5, 1.5, channels).astype("float32"))
            layer.beta.assign(rng.normal(0, 0.3, channels).astype("float32"))
            layer.moving_mean.assign(rng.normal(0, 0.3, channels).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, channels).astype("float32"))
    return model, lesions.GatedNetwork.from_trained(model, build)


def input_gradient(network, x, y):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(y, network.model(x, training=False),
                                                                          from_logits=True))
    return tape.gradient(loss, x).numpy()


def block_io(model, block):
    """A model from the network's input to (the block's input, the block's output)."""
    first = model.get_layer(f"{block}_1_conv")
    return keras.Model(model.input, [first.input, model.get_layer(f"{block}_out").output])


@pytest.mark.parametrize("residual", [True, False])
def test_gates_add_no_trainable_parameter_and_keep_the_outputs(residual):
    model, network = networks(residual)
    assert models.count_parameters(network.model).trainable == models.count_parameters(model).trainable
    assert network.blocks == ("conv2_block1", "conv3_block1", "conv4_block1")
    assert network.downsampling == (False, True, True)
    assert network.residual == (residual,) * 3
    np.testing.assert_array_equal(network.model(images()).numpy(), model(images()).numpy())


def test_ungated_layer_names_are_unchanged_by_the_option():
    plain, gated = models.resnet20(input_shape=SHAPE), models.resnet20(input_shape=SHAPE, gated=True)
    names = {layer.name for layer in plain.layers}
    extra = {layer.name for layer in gated.layers} - names
    assert names <= {layer.name for layer in gated.layers}
    assert extra == {f"conv{s}_block{b}_{side}_gate" for s in (2, 3, 4) for b in (1, 2, 3)
                     for side in ("branch", "shortcut")}


def test_a_deleted_residual_block_outputs_its_shortcut_exactly():
    _, network = networks(True)
    try:
        for index, block in enumerate(network.blocks):
            network.set_gates(deleted=[block])
            block_input, block_output = (tensor.numpy() for tensor in block_io(network.model, block)(images()))
            shortcut = blocks.ZeroPadShortcut(block_output.shape[-1], 2 if network.downsampling[index] else 1)
            np.testing.assert_array_equal(block_output, keras.ops.convert_to_numpy(shortcut(block_input)))
    finally:
        network.set_gates()


def test_a_deleted_plain_block_is_replaced_by_the_option_a_shortcut():
    model, network = networks(False)
    io = block_io(network.model, "conv3_block1")
    block_input, before = (tensor.numpy() for tensor in io(images()))
    np.testing.assert_array_equal(before, block_io(model, "conv3_block1")(images())[1].numpy())
    network.set_gates(deleted=[1])
    try:
        _, after = (tensor.numpy() for tensor in io(images()))
    finally:
        network.set_gates()
    np.testing.assert_array_equal(after[..., :16], block_input[:, ::2, ::2, :])
    np.testing.assert_array_equal(after[..., 16:], 0)


def test_deleting_changes_the_error_and_set_gates_restores_the_network():
    _, network = networks(True)
    before = network.model(images()).numpy()
    network.set_gates(deleted=[0, 2])
    assert not np.array_equal(network.model(images()).numpy(), before)
    network.set_gates()
    np.testing.assert_array_equal(network.model(images()).numpy(), before)


def test_backward_gates_change_the_gradient_not_the_forward_value():
    _, network = networks(True)
    x, y = images(), labels()
    network.set_gates()
    logits, full = network.model(x).numpy(), input_gradient(network, x, y)
    try:
        network.set_gates(path=[1])
        np.testing.assert_array_equal(network.model(x).numpy(), logits)
        assert np.abs(input_gradient(network, x, y) - full).max() > 1e-3 * np.abs(full).max()
    finally:
        network.set_gates()


def test_the_gradients_of_all_paths_add_up_to_the_whole_gradient():
    _, network = networks(True)
    x, y = images(), labels()
    network.set_gates()
    full = input_gradient(network, x, y)
    total = np.zeros_like(full)
    try:
        for length in range(4):
            for path in itertools.combinations(range(3), length):
                network.set_gates(path=path)
                total += input_gradient(network, x, y)
    finally:
        network.set_gates()
    np.testing.assert_allclose(total, full, atol=1e-5 * np.abs(full).max())


def test_changing_the_gates_does_not_retrace():
    _, network = networks(True)
    x, y = images(), labels()
    lesions.single_deletion_errors(network, x, y)
    lesions.path_gradient_magnitudes(network, x, y, lengths=[0, 1, 2, 3], samples=2, seed=0)
    traces = network.traces
    assert traces == 2  # one evaluation, one gradient function
    lesions.random_deletion_errors(network, x[:4], y[:4], counts=[1, 2], samples=2, seed=1)
    network.input_gradient_norms(x[:3], y[:3])
    assert network.traces == traces


def test_input_gradient_norms_are_the_per_image_gradient_norms():
    _, network = networks(True)
    x, y = images(), labels()
    network.set_gates(path=[0, 2])
    try:
        expected = np.sqrt((input_gradient(network, x, y) ** 2).sum(axis=(1, 2, 3)))
        np.testing.assert_allclose(network.input_gradient_norms(x, y), expected, rtol=1e-5)
    finally:
        network.set_gates()


def test_single_deletions_measure_every_block_and_restore():
    _, network = networks(True)
    x, y = images(20), labels(20)
    result = lesions.single_deletion_errors(network, x, y)
    assert result.blocks == network.blocks and len(result.errors) == 3
    assert result.base_error == network.error(x, y)
    network.set_gates(deleted=[2])
    assert result.errors[2] == network.error(x, y)
    network.set_gates()
    np.testing.assert_allclose(result.increases(), np.asarray(result.errors) - result.base_error)


def test_random_deletions_and_path_gradients_have_their_shapes():
    _, network = networks(True)
    x, y = images(), labels()
    deletions = lesions.random_deletion_errors(network, x, y, counts=[0, 3], samples=2, seed=0)
    assert deletions.errors.shape == (2, 2)
    np.testing.assert_array_equal(deletions.errors[0], deletions.base_error)  # nothing deleted
    paths = lesions.path_gradient_magnitudes(network, x, y, lengths=[0, 1, 2, 3], samples=3, seed=0)
    assert paths.magnitudes.shape == (4, 3) and np.all(paths.magnitudes > 0)
    np.testing.assert_allclose(paths.total_magnitudes(), [1, 3, 3, 1] * paths.mean_magnitudes())


def test_path_length_counts_are_binomial():
    assert lesions.path_length_counts(3) == [1, 3, 3, 1]
    assert sum(lesions.path_length_counts(54)) == 2**54
    np.testing.assert_allclose(lesions.path_length_distribution(4), [1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16])


def test_veit_et_al_ranges_for_resnet_110():
    # 54 blocks: most paths are 19 to 35 blocks long, and lengths 5 to 17 are 0.45 % of all paths.
    assert lesions.central_lengths(54, 0.98) == (19, 35)
    assert round(100 * lesions.fraction_of_paths(54, 5, 17), 2) == 0.45


def test_decay_and_effective_lengths_of_known_magnitudes():
    n = 6
    means = 0.5 ** np.arange(n + 1)
    paths = lesions.PathGradients(n, tuple(range(n + 1)), np.stack([means, means], axis=1))
    assert paths.decay_per_block() == pytest.approx(0.5)
    totals = paths.total_magnitudes()  # comb(6, k) / 2**k: 1, 3, 3.75, 2.5, 0.94, 0.19, 0.016
    first, last = paths.effective_lengths(0.9)
    assert totals[first:last + 1].sum() >= 0.9 * totals.sum()
    assert (first, last) == (0, 4)  # (1, 5) is as short; the first from the left counts
    with pytest.raises(ValueError, match="every path length"):
        lesions.PathGradients(n, (0, 1), np.ones((2, 1))).effective_lengths()


def test_bad_input_raises_value_errors():
    _, network = networks(True)
    with pytest.raises(ValueError, match="no gated blocks"):
        lesions.GatedNetwork(models.resnet20(input_shape=SHAPE))
    with pytest.raises(ValueError, match="no block 'conv9_block1'"):
        network.set_gates(deleted=["conv9_block1"])
    with pytest.raises(ValueError, match="out of range"):
        network.set_gates(path=[3])
    with pytest.raises(ValueError, match="collection"):
        network.set_gates(deleted="conv2_block1")
    with pytest.raises(ValueError, match="not a gated 'resnet8'"):
        lesions.GatedNetwork.from_trained(networks(True)[0], functools.partial(models.cifar_plain, 8),
                                          input_shape=SHAPE)
    with pytest.raises(ValueError, match="images must have shape"):
        network.error(np.zeros((2, 4, 4, 3)), [0, 1])
    with pytest.raises(ValueError, match="labels must be 2 integer"):
        network.error(np.zeros((2, *SHAPE)), [0.5, 1])
    with pytest.raises(ValueError, match="counts must hold integers from 0 to 3"):
        lesions.random_deletion_errors(network, images(), labels(), counts=[4], samples=1, seed=0)
    with pytest.raises(ValueError, match="samples"):
        lesions.path_gradient_magnitudes(network, images(), labels(), lengths=[1], samples=0, seed=0)
    with pytest.raises(ValueError, match="network must be a lesions.GatedNetwork"):
        lesions.single_deletion_errors(networks(True)[0], images(), labels())
    with pytest.raises(ValueError, match="shortest"):
        lesions.fraction_of_paths(10, 5, 4)
    with pytest.raises(ValueError, match="share"):
        lesions.central_lengths(10, 1.5)


def test_copy_into_gated_refuses_a_different_network():
    with pytest.raises(ValueError, match="shapes"):
        lesions.copy_weights_into_gated(models.resnet20(input_shape=SHAPE),
                                        models.resnet20(input_shape=SHAPE, num_classes=5, gated=True))
    with pytest.raises(ValueError, match="not in"):
        lesions.copy_weights_into_gated(models.resnet32(input_shape=SHAPE), models.resnet20(input_shape=SHAPE,
                                                                                             gated=True))


def test_gate_layer_values_gradient_and_config():
    gate = blocks.Gate(forward=0.5, backward=0.0, name="g")
    x = tf.constant([[1.0, -2.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = gate(x)
    np.testing.assert_array_equal(y.numpy(), [[0.5, -1.0]])
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [[0.0, 0.0]])
    gate.backward_gate.assign(1.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = gate(x)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [[0.5, 0.5]])
    clone = blocks.Gate.from_config(gate.get_config())
    assert (clone.default_forward, clone.default_backward, clone.name) == (0.5, 0.0, "g")
    with pytest.raises(ValueError, match="forward must be a number"):
        blocks.Gate(forward="open")
    assert not gate.trainable_weights and len(gate.non_trainable_weights) == 2


def test_error_counts_misclassified_images():
    _, network = networks(True)
    x = images(12)
    predicted = np.argmax(network.model(x).numpy(), axis=-1).astype("int32")
    wrong = predicted.copy()
    wrong[:3] = (wrong[:3] + 1) % 10
    assert network.error(x, predicted, batch_size=5) == 0
    assert network.error(x, wrong, batch_size=5) == pytest.approx(3 / 12)
    assert math.isclose(network.error(x, wrong), 0.25)
