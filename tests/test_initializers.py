"""Chapter 7's options: Dirac initialisation, nets without batch norm, SkipInit."""

import keras
import numpy as np
import pytest

from resnet_lessons import blocks, checks, initializers, models


def test_dirac_kernel_copies_its_input():
    kernel = keras.ops.convert_to_numpy(initializers.Dirac()((3, 3, 4, 4)))
    x = np.random.default_rng(0).normal(size=(2, 5, 5, 4)).astype("float32")
    y = keras.ops.convert_to_numpy(keras.ops.conv(x, kernel, strides=1, padding="same"))
    np.testing.assert_array_equal(y, x)


def test_dirac_widening_kernel_copies_the_first_channels_and_zeroes_the_rest():
    kernel = keras.ops.convert_to_numpy(initializers.Dirac()((3, 3, 2, 5)))
    x = np.random.default_rng(1).normal(size=(1, 6, 6, 2)).astype("float32")
    y = keras.ops.convert_to_numpy(keras.ops.conv(x, kernel, strides=2, padding="same"))
    # TensorFlow's "same" pads a stride-2 convolution at the bottom and right only: the centre tap of output pixel i
    # sits on input pixel 2i + 1.
    np.testing.assert_array_equal(y[..., :2], x[:, 1::2, 1::2, :])
    np.testing.assert_array_equal(y[..., 2:], 0)


def test_dirac_noise_is_small_he_noise():
    exact = keras.ops.convert_to_numpy(initializers.Dirac()((3, 3, 64, 64)))
    noisy = keras.ops.convert_to_numpy(initializers.Dirac(noise=0.1, seed=3)((3, 3, 64, 64)))
    assert np.std(noisy - exact) == pytest.approx(0.1 * np.sqrt(2 / (9 * 64)), rel=0.1)
    assert initializers.Dirac.from_config(initializers.Dirac(0.1, 3).get_config()).noise == 0.1


def test_dirac_refuses_bad_arguments():
    with pytest.raises(ValueError, match="noise"):
        initializers.Dirac(noise=-1)
    with pytest.raises(ValueError, match="odd height"):
        initializers.Dirac()((2, 2, 3, 3))
    with pytest.raises(ValueError, match="seed"):
        initializers.Dirac(seed="zero")


def test_a_dirac_plain_net_starts_its_blocks_at_the_identity_and_keeps_its_parameters():
    model = models.plain20(input_shape=(8, 8, 3), kernel_initializer=initializers.Dirac())
    assert models.count_parameters(model).trainable == 269_722
    kernel = model.get_layer("conv2_block2_1_conv").kernel.numpy()
    np.testing.assert_array_equal(kernel, keras.ops.convert_to_numpy(initializers.Dirac()(kernel.shape)))
    assert np.count_nonzero(model.get_layer("conv1_conv").kernel.numpy()) > 400  # the stem keeps He's


def test_resnet_without_batch_norm_has_biases_instead():
    model = models.resnet20(input_shape=(8, 8, 3), batch_norm=False)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert all(layer.use_bias for layer in convolutions)
    # 269,722 less batch norm's 2 * 16 per stem + ... : every conv's 2 * filters become filters of biases.
    filters = sum(layer.filters for layer in convolutions)
    assert models.count_parameters(model).trainable == 269_722 - filters
    assert models.count_parameters(model).non_trainable == 0


def test_skip_init_blocks_start_as_their_shortcut():
    inputs = keras.Input((6, 6, 8))
    outputs = blocks.basic_block(inputs, 16, 2, name="b", batch_norm=False, skip_init=True)
    model = keras.Model(inputs, outputs)
    x = np.abs(np.random.default_rng(0).normal(size=(2, 6, 6, 8))).astype("float32")
    expected = keras.ops.convert_to_numpy(blocks.ZeroPadShortcut(16, 2)(x))
    np.testing.assert_array_equal(model(x).numpy(), expected)
    scale = model.get_layer("b_skip_init")
    assert [weight.name for weight in scale.trainable_weights] == ["scale"]


def test_skip_init_resnet_has_one_scalar_per_block():
    plain_count = models.count_parameters(models.resnet20(input_shape=(8, 8, 3), batch_norm=False)).trainable
    model = models.resnet20(input_shape=(8, 8, 3), batch_norm=False, skip_init=True)
    assert models.count_parameters(model).trainable == plain_count + 9


def test_new_options_refuse_contradictions():
    with pytest.raises(ValueError, match="skip_init=True needs residual=True"):
        models.plain20(skip_init=True)
    with pytest.raises(ValueError, match="zero_init_residual=True needs batch_norm=True"):
        models.resnet20(batch_norm=False, zero_init_residual=True)
    with pytest.raises(ValueError, match="batch_norm must be True or False"):
        models.resnet20(batch_norm="no")
    with pytest.raises(ValueError, match="gamma_zero=True needs batch_norm=True"):
        blocks.conv_bn(keras.Input((4, 4, 3)), 4, 3, 1, "c", gamma_zero=True, batch_norm=False)
    with pytest.raises(ValueError, match="initial_value"):
        blocks.SkipInit("zero")


def test_check_path_count():
    assert checks.check_path_count(9, 4, 126)
    assert not checks.check_path_count(9, 4, ...)
    assert "every path" in str(checks.check_path_count(9, 4, 512))
    assert "fraction" in str(checks.check_path_count(9, 4, 126 / 512))
    assert "ordered" in str(checks.check_path_count(9, 4, 3024))
    assert not checks.check_path_count(9, 4, 125)
    with pytest.raises(ValueError, match="length must be at most"):
        checks.check_path_count(3, 4, 1)
    with pytest.raises(ValueError, match="answer must be a number"):
        checks.check_path_count(3, 1, "three")


def test_block_output_scales_grow_without_batch_norm_and_leave_the_model_unchanged():
    x = np.random.default_rng(0).normal(size=(8, 8, 8, 3)).astype("float32")
    keras.utils.set_random_seed(0)
    he = initializers.block_output_scales(models.resnet32(input_shape=(8, 8, 3), batch_norm=False), x)
    assert [name for name, _ in he][:2] == ["conv2_block1", "conv2_block2"] and len(he) == 15
    assert he[-1][1] > 20 * he[0][1]  # about sqrt(2) per block: 2**7 over 14 blocks
    skip = initializers.block_output_scales(models.resnet32(input_shape=(8, 8, 3), batch_norm=False,
                                                            skip_init=True), x)
    assert skip[-1][1] < skip[0][1] * 1.001  # every block starts as its shortcut
    model = models.resnet20(input_shape=(8, 8, 3))
    before = [variable.numpy() for variable in model.non_trainable_variables]
    initializers.block_output_scales(model, x)
    for variable, value in zip(model.non_trainable_variables, before):
        np.testing.assert_array_equal(variable.numpy(), value)
    with pytest.raises(ValueError, match="no block outputs"):
        initializers.block_output_scales(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]), x)
