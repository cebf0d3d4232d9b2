"""Distributed training: the strategy is chosen sensibly, and two replicas compute what one device computes.

The two-device comparison runs in a fresh process (``distribute.compare_in_subprocess``): TensorFlow fixes its
devices when it starts, so this pytest process, which already uses TensorFlow, cannot split its CPU any more, and a
split made here would leak into every other test.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from resnet_lessons import distribute, models, seeding, train


@pytest.fixture(scope="module")
def comparison():
    # through `python -m resnet_lessons.distribute`, the command line a reader can run too
    return distribute.compare_in_subprocess(cpu_devices=2, steps=1, image_size=8)


@pytest.mark.slow  # about 30 s on 2 idle cores: a fresh TensorFlow process tracing three training steps
def test_two_replicas_compute_what_one_device_computes(comparison):
    assert comparison.replicas == 2 and "MirroredStrategy" in comparison.strategy
    assert comparison.batch_size == 128 and comparison.steps == 1
    # Synchronized batch norm: the first batch's loss is the one-device loss; both are float32 means of the same
    # 128 numbers, so they agree to float32 rounding (relative 1e-6 leaves a wide margin over ~1e-7).
    assert comparison.synchronized_loss == pytest.approx(comparison.one_device_loss, rel=1e-6)
    # Per-replica batch norm (Keras' default): each half of the batch is normalised by its own statistics, so the
    # loss is the mean of the two halves' losses on one device, again to float32 rounding ...
    assert comparison.replicated_loss == pytest.approx(comparison.slice_mean_loss, rel=1e-6)
    # ... which is another number than the whole batch's loss: statistics of 64 images are not those of 128.
    assert abs(comparison.replicated_loss - comparison.one_device_loss) > 1e-4 * comparison.one_device_loss
    # Updates. Synchronized: measured 0.1 % of the update's size here (0.2 % at 16x16, the notebook's size). Not
    # float32's 1e-7, because Keras computes the synchronized variance as E[x^2] - E[x]^2 from summed slices, which
    # loses digits when the mean is large compared with the spread; the tolerance of 1 % leaves a factor of 5 or
    # more. Per-replica batch norm changes the first update by far more (measured 68 %, 46 % at 16x16), so the
    # tolerance does tell the two apart.
    assert comparison.synchronized_update_difference < 0.01
    assert comparison.replicated_update_difference > 0.1


def test_on_one_cpu_the_default_strategy_is_chosen():
    # This process has one CPU device and no GPU (the CI machine): no mirroring to do.
    if tf.config.list_logical_devices("GPU") or len(tf.config.list_logical_devices("CPU")) > 1:
        pytest.skip("this machine has more than one device")
    strategy = distribute.choose_strategy()
    assert strategy is tf.distribute.get_strategy() and strategy.num_replicas_in_sync == 1
    assert "default strategy: 1 replica" in train.describe_strategy(strategy)


def test_with_one_gpu_the_comparison_still_mirrors_over_the_cpu(monkeypatch):
    # Colab's GPU runtime: one GPU, which choose_strategy would train on alone. Faked here (CI has no GPU): the
    # comparison's strategy must hide it and mirror over the CPU's logical devices instead.
    fake_gpu = tf.config.PhysicalDevice(name="/physical_device:GPU:0", device_type="GPU")
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: [fake_gpu] if kind == "GPU" else [])
    monkeypatch.setattr(tf.config, "list_logical_devices", lambda kind=None: [fake_gpu] if kind == "GPU" else [])
    assert distribute.choose_strategy() is tf.distribute.get_strategy()  # what the comparison must not use
    hidden, mirrored = [], []
    monkeypatch.setattr(tf.config, "set_visible_devices", lambda devices, kind=None: hidden.append((devices, kind)))
    monkeypatch.setattr(distribute, "split_cpu", lambda n: [f"/device:CPU:{i}" for i in range(n)])
    monkeypatch.setattr(tf.distribute, "MirroredStrategy", lambda devices: mirrored.append(devices) or "mirrored")
    assert distribute.split_cpu_strategy(2) == "mirrored"
    assert hidden == [([], "GPU")] and mirrored == [["/device:CPU:0", "/device:CPU:1"]]


def test_split_cpu_after_start_up_says_what_to_do():
    tf.constant(1.0)  # TensorFlow has initialised its devices now
    with pytest.raises(RuntimeError, match="before anything else uses TensorFlow"):
        distribute.split_cpu(len(tf.config.list_logical_devices("CPU")) + 1)
    # asking for what is already there is fine
    assert len(distribute.split_cpu(len(tf.config.list_logical_devices("CPU")))) >= 1


def test_synchronize_batch_norm_keeps_weights_and_names():
    seeding.set_seed(0)
    model = models.resnet20(input_shape=(8, 8, 3))
    copy = distribute.synchronize_batch_norm(model)
    norms = [layer for layer in copy.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and all(layer.synchronized for layer in norms)
    assert [layer.name for layer in copy.layers] == [layer.name for layer in model.layers]
    images = np.random.default_rng(0).normal(size=(4, 8, 8, 3)).astype("float32")
    # On one device synchronized batch norm is batch norm: the same outputs at inference.
    np.testing.assert_allclose(copy(images).numpy(), model(images).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("call, message", [
    (lambda: distribute.split_cpu(0), "num_devices must be a positive integer"),
    (lambda: distribute.synchronize_batch_norm("resnet20"), "keras.Model"),
    (lambda: distribute.compare_in_subprocess(cpu_devices=1), "cpu_devices must be an integer >= 2"),
    (lambda: distribute.compare_in_subprocess(source="imagenet"), "source must be one of"),
    (lambda: distribute.compare_with_one_device(models.resnet20, None, "quick", "mirrored"), "tf.distribute"),
    (lambda: distribute.compare_with_one_device(models.resnet20(), None, "quick", tf.distribute.get_strategy()),
     "build_model must be a function"),
    (lambda: distribute.compare_with_one_device(models.resnet20, None, "quick", tf.distribute.get_strategy(),
                                                steps=0), "steps must be a positive integer"),
])
def test_bad_input_is_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()
