"""Tests of resnet_lessons.identity: identity layers, deepening a network, Jacobians, learning the identity."""

import keras
import numpy as np
import pytest

from resnet_lessons import blocks, equivalence, identity, models


def _conv_bn_relu(channels=8, **conv_kwargs):
    inputs = keras.Input((6, 6, channels))
    x = keras.layers.Conv2D(channels, 3, name="conv", **{"padding": "same", **conv_kwargs})(inputs)
    x = keras.layers.BatchNormalization(epsilon=blocks.BATCH_NORM_EPSILON, name="bn")(x)
    return keras.Model(inputs, keras.layers.ReLU(name="relu")(x))


def test_dirac_kernel_has_one_centre_tap_per_channel():
    kernel = identity.dirac_kernel(3, 4)
    assert kernel.shape == (3, 3, 4, 4) and kernel.dtype == np.float32
    np.testing.assert_array_equal(kernel[1, 1], np.eye(4))
    assert kernel.sum() == 4


@pytest.mark.parametrize("kernel_size, channels", [(2, 4), (0, 4), (3, 0), (3.0, 4), (True, 4)])
def test_dirac_kernel_rejects_bad_sizes(kernel_size, channels):
    with pytest.raises(ValueError, match="kernel_size|channels"):
        identity.dirac_kernel(kernel_size, channels)


@pytest.mark.parametrize("use_bias", [False, True])
def test_conv_bn_relu_set_to_identity_passes_non_negative_inputs_exactly(use_bias):
    model = _conv_bn_relu(use_bias=use_bias)
    equivalence.randomise_batch_norms(model)
    for name in ("conv", "bn"):
        identity.set_to_identity(model.get_layer(name))
    inputs = np.maximum(np.random.default_rng(1).normal(size=(4, 6, 6, 8)), 0).astype("float32")
    np.testing.assert_array_equal(np.asarray(model(inputs, training=False)), inputs)
    np.testing.assert_array_equal(model.predict(inputs, verbose=0), inputs)


def test_identity_batch_norm_is_exact_for_every_channel_count():
    for channels in (1, 3, 16, 17, 64):
        layer = keras.layers.BatchNormalization(epsilon=1.001e-5)
        layer.build((None, 4, 4, channels))
        identity.set_to_identity(layer)
        inputs = np.random.default_rng(channels).normal(size=(3, 4, 4, channels)).astype("float32")
        np.testing.assert_array_equal(np.asarray(layer(inputs, training=False)), inputs)


@pytest.mark.parametrize("conv_kwargs, message", [
    ({"strides": 2}, "strides"),
    ({"padding": "valid"}, "padding"),
    ({"activation": "relu"}, "activation"),
])
def test_convolutions_that_change_the_signal_cannot_be_the_identity(conv_kwargs, message):
    model = _conv_bn_relu(**conv_kwargs)
    with pytest.raises(ValueError, match=message):
        identity.set_to_identity(model.get_layer("conv"))


def test_channel_changing_convolution_and_other_layers_are_refused():
    inputs = keras.Input((4, 4, 3))
    conv = keras.layers.Conv2D(5, 3, padding="same", name="wider")
    dense = keras.layers.Dense(2, name="dense")
    keras.Model(inputs, dense(conv(inputs)))
    with pytest.raises(ValueError, match="maps 3 channels to 5"):
        identity.set_to_identity(conv)
    with pytest.raises(ValueError, match="Dense"):
        identity.set_to_identity(dense)
    with pytest.raises(ValueError, match="not built"):
        identity.set_to_identity(keras.layers.Conv2D(3, 3, padding="same"))


def test_deepen_plain20_into_plain56_keeps_the_function():
    keras.utils.set_random_seed(0)
    shallow = models.plain20(input_shape=(8, 8, 3))
    deep = models.plain56(input_shape=(8, 8, 3))
    equivalence.randomise_batch_norms(shallow)
    names = identity.deepen(shallow, deep)
    # Blocks 4-9 of three stages, two conv-BN pairs each.
    assert len(names) == 3 * 6 * 4
    assert names[0] == "conv2_block4_1_conv" and "conv4_block9_2_bn" in names
    inputs = np.random.default_rng(0).normal(size=(16, 8, 8, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(deep(inputs, training=False)),
                                  np.asarray(shallow(inputs, training=False)))


def test_deepen_refuses_networks_that_do_not_contain_the_shallow_one():
    shallow = models.plain20(input_shape=(8, 8, 3))
    with pytest.raises(ValueError, match="lacks layers"):
        identity.deepen(models.plain56(input_shape=(8, 8, 3)), shallow)
    with pytest.raises(ValueError, match="shapes"):
        identity.deepen(shallow, models.plain56(input_shape=(8, 8, 3), num_classes=5))
    with pytest.raises(ValueError, match="keras.Model"):
        identity.deepen("plain20", shallow)


def test_deepen_checks_every_extra_layer_before_changing_anything():
    shallow = models.plain20(input_shape=(8, 8, 3))
    deep = models.plain20(input_shape=(8, 8, 3))
    wider = keras.Model(deep.inputs, deep.outputs + [keras.layers.Dense(3, name="extra")(deep.output)])
    before = deep.get_layer("conv1_conv").get_weights()[0].copy()
    with pytest.raises(ValueError, match="extra"):
        identity.deepen(shallow, wider)
    np.testing.assert_array_equal(deep.get_layer("conv1_conv").get_weights()[0], before)


def test_jacobian_of_a_linear_map_is_its_matrix():
    matrix = np.arange(12, dtype="float32").reshape(4, 3) / 10  # y = x @ matrix, so dy/dx = matrix.T
    inputs = keras.Input((4,))
    layer = keras.layers.Dense(3, use_bias=False)
    model = keras.Model(inputs, layer(inputs))
    layer.set_weights([matrix])
    jacobian = identity.jacobian(model, np.ones(4))
    assert jacobian.shape == (3, 4)
    np.testing.assert_allclose(jacobian, matrix.T, rtol=1e-6)


def test_shortcut_adds_the_identity_to_a_blocks_jacobian():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4, 4, 4))
    outputs = blocks.basic_block(inputs, 4, name="b")
    block = keras.Model(inputs, outputs)
    total = keras.Model(inputs, block.get_layer("b_add").output)  # F(x) + x
    branch = keras.Model(inputs, block.get_layer("b_2_bn").output)  # F(x)
    example = np.random.default_rng(0).normal(size=(1, 4, 4, 4)).astype("float32")
    difference = identity.jacobian(total, example) - identity.jacobian(branch, example)
    np.testing.assert_allclose(difference, np.eye(64), atol=1e-6)


def test_jacobian_rejects_bad_examples_and_large_sizes():
    inputs = keras.Input((4, 4, 2))
    model = keras.Model(inputs, keras.layers.ReLU()(inputs))
    with pytest.raises(ValueError, match=r"shape \(4, 4, 2\)"):
        identity.jacobian(model, np.zeros((2, 4, 4, 2)))
    big = keras.Input((80, 80, 1))
    with pytest.raises(ValueError, match="at most"):
        identity.jacobian(keras.Model(big, keras.layers.ReLU()(big)), np.zeros((80, 80, 1)))
    two = keras.Model(inputs, [inputs, keras.layers.ReLU()(inputs)])
    with pytest.raises(ValueError, match="one input and one output"):
        identity.jacobian(two, np.zeros((4, 4, 2)))


def _identity_task(residual, seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((4, 4, 4))
    return keras.Model(inputs, blocks.basic_block(inputs, 4, name="b", residual=residual))


def _feature_maps(count, seed):
    return np.maximum(np.random.default_rng(seed).normal(size=(count, 4, 4, 4)), 0).astype("float32")


def test_learn_identity_records_an_improving_curve_and_is_repeatable():
    train_inputs, test_inputs = _feature_maps(128, 0), _feature_maps(32, 1)
    curves = [identity.learn_identity(_identity_task(residual=True), train_inputs, test_inputs, epochs=3,
                                      batch_size=32, label="residual") for _ in range(2)]
    assert curves[0].steps == [0, 4, 8, 12]
    assert curves[0].test_mse[-1] < curves[0].test_mse[0]
    assert curves[0] == curves[1]
    assert curves[0].steps_to_reach(curves[0].test_mse[-1]) <= 12
    assert curves[0].steps_to_reach(0.0) is None


def test_zero_gamma_residual_block_starts_at_zero_error():
    inputs = keras.Input((4, 4, 4))
    model = keras.Model(inputs, blocks.basic_block(inputs, 4, name="b", zero_init_residual=True))
    curve = identity.learn_identity(model, _feature_maps(32, 0), _feature_maps(16, 1), epochs=1, batch_size=16)
    assert curve.test_mse[0] == 0.0


@pytest.mark.parametrize("kwargs, message", [
    ({"epochs": 0}, "epochs"),
    ({"epochs": 1, "batch_size": 2.5}, "batch_size"),
    ({"epochs": 1, "learning_rate": 0}, "learning_rate"),
    ({"epochs": 1, "momentum": 1.0}, "momentum"),
    ({"epochs": 1, "seed": -1}, "seed"),
])
def test_learn_identity_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        identity.learn_identity(_identity_task(True), _feature_maps(8, 0), _feature_maps(8, 1), **kwargs)


def test_learn_identity_rejects_mismatched_inputs_and_models():
    with pytest.raises(ValueError, match="train_inputs must have shape"):
        identity.learn_identity(_identity_task(True), np.zeros((8, 4, 4, 3)), _feature_maps(8, 1), epochs=1)
    inputs = keras.Input((4, 4, 4))
    widening = keras.Model(inputs, blocks.basic_block(inputs, 8, name="b"))
    with pytest.raises(ValueError, match="equal shapes"):
        identity.learn_identity(widening, _feature_maps(8, 0), _feature_maps(8, 1), epochs=1)
    with pytest.raises(ValueError, match="mse"):
        identity.IdentityLearningCurve("x", [0], [1.0]).steps_to_reach(-1)


def test_identity_kernel_problem_accepts_the_dirac_kernel_and_explains_wrong_ones():
    assert identity.identity_kernel_problem(identity.dirac_kernel(3, 5)) is None
    assert identity.identity_kernel_problem(identity.dirac_kernel(1, 2).astype("float64")) is None
    shifted = np.zeros((3, 3, 2, 2))
    shifted[0, 1] = np.eye(2)
    assert "shifts the image" in identity.identity_kernel_problem(shifted)
    mixing = np.zeros((3, 3, 2, 2))
    mixing[1, 1] = 1.0
    assert "mixes channels" in identity.identity_kernel_problem(mixing)
    halved = identity.dirac_kernel(3, 2) / 2
    assert "diagonal must be 1" in identity.identity_kernel_problem(halved)
    assert "maps 2 channels to 3" in identity.identity_kernel_problem(np.zeros((3, 3, 2, 3)))
    assert "no centre tap" in identity.identity_kernel_problem(np.zeros((2, 2, 2, 2)))
    assert "four axes" in identity.identity_kernel_problem(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="array of numbers"):
        identity.identity_kernel_problem("a kernel")


def test_near_identity_target_is_the_relu_of_input_plus_a_scaled_random_convolution():
    inputs = _feature_maps(64, 0)
    at_zero = identity.near_identity_target(inputs, 0.0)
    np.testing.assert_array_equal(at_zero, inputs)  # the inputs are non-negative: max(x, 0) = x
    one, two = identity.near_identity_target(inputs, 1.0), identity.near_identity_target(inputs, 2.0)
    # Before the ReLU the perturbation is linear in the strength: where both targets are positive,
    # (two - x) = 2 (one - x).
    both_positive = (one > 0) & (two > 0)
    np.testing.assert_allclose((two - inputs)[both_positive], 2 * (one - inputs)[both_positive], rtol=1e-4, atol=1e-5)
    perturbation = one - inputs
    assert np.all(one >= 0) and np.any(perturbation != 0)
    # G's kernel is scaled so that G(x) has about the mean square of x (at 4 channels: 36 taps, a rough match).
    unclipped = (one > 0)
    ratio = np.mean(perturbation[unclipped] ** 2) / np.mean(inputs ** 2)
    assert 0.2 < ratio < 3
    np.testing.assert_array_equal(identity.near_identity_target(inputs, 1.0, seed=0), one)
    assert not np.array_equal(identity.near_identity_target(inputs, 1.0, seed=1), one)


@pytest.mark.parametrize("arguments, message", [
    ((np.zeros((4, 4, 4)), 1.0), "feature maps"),
    ((np.zeros((2, 4, 4, 4)), -0.5), "strength"),
    ((np.zeros((2, 4, 4, 4)), True), "strength"),
])
def test_near_identity_target_rejects_bad_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        identity.near_identity_target(*arguments)


def test_learn_identity_trains_towards_given_targets():
    train_inputs, test_inputs = _feature_maps(128, 0), _feature_maps(32, 1)
    train_targets = identity.near_identity_target(train_inputs, 0.5)
    test_targets = identity.near_identity_target(test_inputs, 0.5)
    towards_targets = identity.learn_identity(_identity_task(residual=True), train_inputs, test_inputs, epochs=3,
                                              batch_size=32, train_targets=train_targets, test_targets=test_targets)
    towards_inputs = identity.learn_identity(_identity_task(residual=True), train_inputs, test_inputs, epochs=3,
                                             batch_size=32)
    # Same start, different targets: the initial error is measured against the targets.
    assert towards_targets.test_mse[0] != towards_inputs.test_mse[0]
    assert towards_targets.test_mse[-1] < towards_targets.test_mse[0]
    with pytest.raises(ValueError, match="test_targets must have the inputs' shape"):
        identity.learn_identity(_identity_task(True), train_inputs, test_inputs, epochs=1,
                                test_targets=test_targets[:4])
