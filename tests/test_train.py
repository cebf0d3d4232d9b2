"""Training: it learns, it records, it resumes after an interruption without losing an epoch, it refuses bad input."""

import dataclasses
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from resnet_lessons import data, models, pipeline, profiles, seeding, train

TINY = dataclasses.replace(profiles.QUICK, name="tiny", epochs=3, batch_size=32, train_examples=128,
                           test_examples=64, image_size=8, decay_epochs=(2,), warmup_iterations=2)


@pytest.fixture(scope="module")
def dataset():
    return data.load_dataset("synthetic", num_train=256, num_test=128, seed=0, verbose=False)


def tiny_model(config=TINY):
    seeding.set_seed(1)
    return models.resnet20(input_shape=config.input_shape)


class InterruptAfterEpoch(keras.callbacks.Callback):
    """Simulates Ctrl-C (or a Colab disconnect) once an epoch has finished."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            raise KeyboardInterrupt


class EpochsSeen(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch + 1)


def test_a_small_net_fits_a_small_training_set(dataset):
    config = dataclasses.replace(TINY, epochs=12, train_examples=64, batch_size=32, decay_epochs=(),
                                 weight_decay=0.0, learning_rate=0.05)
    history = train.train(tiny_model(config), dataset, config, verbose=False)
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert history.final("train_error") < 0.2


def test_history_records_every_epoch(dataset, capsys):
    history = train.train(tiny_model(), dataset, TINY, label="tiny-20")
    assert history.label == "tiny-20" and history.profile == "tiny" and history.seed == 0
    assert history.epochs == [1, 2, 3]
    assert history.steps_per_epoch == 128 // 32
    assert history.iterations == [4, 8, 12]
    # decay_epochs=(2,): divided by 10 after epoch 2; each entry is the rate of the epoch's last step.
    assert history.learning_rate == pytest.approx([TINY.learning_rate, TINY.learning_rate,
                                                   TINY.learning_rate / 10])
    for metric in ("train_error", "test_error"):
        assert all(0.0 <= value <= 1.0 for value in getattr(history, metric))
    assert all(seconds > 0 for seconds in history.seconds)
    assert "synthetic" in history.data_description and "8x8" in history.data_description
    printed = capsys.readouterr().out
    # by default, outside a notebook: the live status' header, then the run's one summary line, and no epoch lines
    *header, summary = printed.splitlines()
    assert " ".join(header).startswith("Training tiny-20 (269,722 trainable parameters) under profile 'tiny'")
    assert all(len(line) <= 88 for line in header)
    assert summary == train.summary_line(history)
    assert summary.startswith("tiny-20: 3 epochs in ") and "epoch 3/3" not in printed
    assert f"training error {100 * history.final('train_error'):.1f} %" in summary
    assert summary.endswith(f"test error {100 * history.final('test_error'):.1f} %")
    # the data's provenance is printed once per chapter by load_dataset, not by every run; no time-left estimate
    # outlives the live status, which a stored notebook does not keep
    assert "Data:" not in printed and " left" not in printed
    assert "Devices:" not in printed  # one device: nothing to say


def test_verbose_2_prints_a_line_per_epoch_and_0_prints_nothing(dataset, capsys):
    history = train.train(tiny_model(), dataset, TINY, label="tiny-20", verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Training tiny-20") and lines[-1] == train.summary_line(history)
    assert [line.split("  ")[0] for line in lines if line.startswith("epoch")] == ["epoch 1/3", "epoch 2/3",
                                                                                  "epoch 3/3"]
    train.train(tiny_model(), dataset, TINY, verbose=0)
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="verbose must be 0, 1 or 2"):
        train.train(tiny_model(), dataset, TINY, verbose=3)


def test_the_summary_line_fits_the_page():
    history = train.TrainingHistory(label="ResNet-110, lr 0.1 from the start, a long label", profile="p",
                                    data_description="d", seed=0, steps_per_epoch=1)
    history.append(epoch=1, train_loss=1.0, train_error=0.25, held_out_loss=1.0, held_out_error=0.5,
                   learning_rate=0.1, seconds=80.0, validation=True)
    history.final_test_loss, history.final_test_error = 1.0, 0.125
    line = train.summary_line(history, note=" (read back from the run store)")
    assert all(len(part) <= 88 for part in line.splitlines()) and len(line.splitlines()) == 2
    assert " ".join(line.split()) == (
        "ResNet-110, lr 0.1 from the start, a long label (read back from the run store): 1 epoch in 80 s; "
        "training error 25.0 %, validation error 50.0 %, test error 12.5 %")


def test_a_validation_split_is_watched_and_the_test_split_measured_once_at_the_end(dataset, tmp_path, capsys):
    config = dataclasses.replace(TINY, validation_examples=48, train_examples=None, test_examples=64)
    history = train.train(tiny_model(config), dataset, config, checkpoint_dir=tmp_path)
    assert history.held_out == "validation"
    assert len(history.validation_error) == 3 and history.test_error == [] and history.test_loss == []
    assert 0.0 <= history.final_test_error <= 1.0 and history.final_test_loss > 0
    assert history.final("test_error") == history.final_test_error
    assert history.final("validation_error") == history.validation_error[-1]
    printed = capsys.readouterr().out
    assert not any(line.startswith("epoch") for line in printed.splitlines())  # no epoch lines by default
    assert printed.endswith(train.summary_line(history) + "\n")
    assert "validation error" in printed and "test error" in printed
    # the checkpoint keeps the final test measurement: a second call trains nothing and measures nothing again
    seen = EpochsSeen()
    again = train.train(tiny_model(config), dataset, config, checkpoint_dir=tmp_path, callbacks=[seen])
    assert seen.epochs == [] and again.to_dict() == history.to_dict()
    assert "test split, once" not in capsys.readouterr().out


def test_the_final_test_measurement_matches_an_evaluation_of_the_trained_model(dataset):
    config = dataclasses.replace(TINY, validation_examples=48, train_examples=None, test_examples=64, epochs=2)
    model = tiny_model(config)
    history = train.train(model, dataset, config, verbose=False)
    prepared = train.prepare_data(dataset, config)
    test_batches = pipeline.eval_pipeline(prepared.dataset.x_test, prepared.dataset.y_test, batch_size=32,
                                          mean=prepared.mean, std=prepared.std)
    results = model.evaluate(test_batches, return_dict=True, verbose=0)
    assert history.final_test_error == pytest.approx(1.0 - results["accuracy"])
    assert prepared.dataset.num_test == 64 and len(prepared.validation[1]) == 48


def test_a_validated_run_can_measure_the_test_split_after_every_epoch(dataset, capsys):
    config = dataclasses.replace(TINY, validation_examples=48, train_examples=None, test_examples=64,
                                 test_every_epoch=True)
    model = tiny_model(config)
    history = train.train(model, dataset, config, verbose=2)
    assert len(history.validation_error) == len(history.test_error) == len(history.test_loss) == 3
    assert history.held_out == "validation"  # the split the run watches is still the validation split
    assert history.final("test_error") == history.final_test_error == history.test_error[-1]
    prepared = train.prepare_data(dataset, config)
    test_batches = pipeline.eval_pipeline(prepared.dataset.x_test, prepared.dataset.y_test, batch_size=32,
                                          mean=prepared.mean, std=prepared.std)
    assert history.test_error[-1] == pytest.approx(1.0 - model.evaluate(test_batches, return_dict=True,
                                                                        verbose=0)["accuracy"])
    printed = " ".join(capsys.readouterr().out.split())  # the header and the summary are wrapped at 88
    assert "validation and test error after every epoch" in printed
    assert printed.count("test error") == 1 + 3 + 1  # the header, each epoch line and the summary
    assert "test split, once" not in printed
    with pytest.raises(ValueError, match="only for a run with a validation split"):
        train.TrainingHistory(label="a", profile="p", data_description="d", seed=0, steps_per_epoch=1).append(
            epoch=1, train_loss=1.0, train_error=0.5, held_out_loss=1.0, held_out_error=0.5, learning_rate=0.1,
            seconds=1.0, test_loss=1.0, test_error=0.5)


def test_an_unfinished_validated_run_has_no_test_error_yet():
    history = train.TrainingHistory(label="a", profile="paper", data_description="d", seed=0, steps_per_epoch=3)
    history.append(epoch=1, train_loss=2.0, train_error=0.8, held_out_loss=2.1, held_out_error=0.9,
                   learning_rate=0.1, seconds=1.5, validation=True)
    assert history.held_out == "validation" and history.final("validation_error") == 0.9
    with pytest.raises(ValueError, match="measured once, after the last epoch"):
        history.final("test_error")
    plain = train.TrainingHistory(label="b", profile="quick", data_description="d", seed=0, steps_per_epoch=3)
    plain.append(epoch=1, train_loss=2.0, train_error=0.8, held_out_loss=2.1, held_out_error=0.9,
                 learning_rate=0.1, seconds=1.5)
    with pytest.raises(ValueError, match="has no validation_error: it measured the test split"):
        plain.final("validation_error")


def test_the_training_step_is_traced_once(dataset):
    # The optimizer is built before the first step: a first step that creates its variables would be traced twice.
    model = tiny_model()
    traced = []
    train_step = model.train_step
    model.train_step = lambda batch: traced.append(batch) or train_step(batch)
    train.train(model, dataset, TINY, verbose=False)
    assert len(traced) == 1


def test_interrupted_run_resumes_without_losing_an_epoch(dataset, tmp_path):
    uninterrupted = train.train(tiny_model(), dataset, TINY, checkpoint_dir=tmp_path / "whole", verbose=False)

    with pytest.raises(KeyboardInterrupt):
        train.train(tiny_model(), dataset, TINY, checkpoint_dir=tmp_path / "cut", verbose=False,
                    callbacks=[InterruptAfterEpoch(2)])
    saved = json.loads((tmp_path / "cut" / "run.json").read_text())
    assert saved["epochs_done"] == 2

    seen = EpochsSeen()
    resumed = train.train(tiny_model(), dataset, TINY, checkpoint_dir=tmp_path / "cut", verbose=False,
                          callbacks=[seen])
    assert seen.epochs == [3]  # only the missing epoch was trained
    assert resumed.epochs == [1, 2, 3]
    for metric in ("train_loss", "test_loss", "train_error", "test_error"):
        np.testing.assert_allclose(getattr(resumed, metric), getattr(uninterrupted, metric), rtol=1e-4, atol=1e-5)
    assert sorted(path.name for path in (tmp_path / "cut").iterdir()) == ["epoch-0003", "run.json"]


def test_a_finished_run_can_be_extended(dataset, tmp_path):
    longer = train.train(tiny_model(), dataset, TINY, checkpoint_dir=tmp_path / "whole", verbose=False)
    short = dataclasses.replace(TINY, epochs=2)
    train.train(tiny_model(), dataset, short, checkpoint_dir=tmp_path / "grown", verbose=False)
    seen = EpochsSeen()
    extended = train.train(tiny_model(), dataset, TINY, checkpoint_dir=tmp_path / "grown", verbose=False,
                           callbacks=[seen])
    assert seen.epochs == [3] and extended.epochs == [1, 2, 3]
    for metric in ("train_loss", "test_loss", "learning_rate"):
        np.testing.assert_allclose(getattr(extended, metric), getattr(longer, metric), rtol=1e-4, atol=1e-5)
    # asking a longer checkpoint for fewer epochs trains nothing and returns what is there
    again = train.train(tiny_model(short), dataset, short, checkpoint_dir=tmp_path / "grown", verbose=False,
                        callbacks=[seen])
    assert seen.epochs == [3] and again.epochs == [1, 2, 3]


def test_a_finished_run_returns_its_history_without_training(dataset, tmp_path):
    first = train.train(tiny_model(), dataset, TINY, checkpoint_dir=tmp_path, verbose=False)
    seen = EpochsSeen()
    again = train.train(tiny_model(), dataset, TINY, checkpoint_dir=tmp_path, verbose=False, callbacks=[seen])
    assert seen.epochs == [] and again.to_dict() == first.to_dict()


def test_a_checkpoint_of_another_run_is_refused(dataset, tmp_path):
    short = dataclasses.replace(TINY, epochs=1)
    train.train(tiny_model(short), dataset, short, checkpoint_dir=tmp_path, verbose=False)
    other = dataclasses.replace(short, learning_rate=0.01)
    with pytest.raises(ValueError, match="belongs to another run .*config"):
        train.train(tiny_model(other), dataset, other, checkpoint_dir=tmp_path, verbose=False)
    with pytest.raises(ValueError, match="seed"):
        train.train(tiny_model(short), dataset, short, checkpoint_dir=tmp_path, seed=5, verbose=False)


def test_weight_decay_adds_l2_to_kernels_only():
    kernel = keras.Variable(np.ones((2, 2), "float32"), name="kernel")
    gamma = keras.Variable(np.ones((2,), "float32"), name="gamma")
    optimizer = train.SGDWithL2(l2=0.5, learning_rate=0.1, momentum=0.0)
    optimizer.apply_gradients([(np.zeros((2, 2), "float32"), kernel), (np.zeros((2,), "float32"), gamma)])
    np.testing.assert_allclose(kernel.numpy(), 1 - 0.1 * 0.5)
    np.testing.assert_allclose(gamma.numpy(), 1.0)
    assert train.SGDWithL2.from_config(optimizer.get_config()).l2 == 0.5
    with pytest.raises(ValueError, match="l2"):
        train.SGDWithL2(l2=-1.0)


def test_the_optimizers_schedule_is_the_one_in_the_history():
    # Both come from profiles.step_decay: the optimizer's in float32 on the step counter, the history's in Python.
    config = dataclasses.replace(TINY, warmup_iterations=3, decay_epochs=(2, 3))
    schedule = train.WarmupStepDecay(config.learning_rate, config.decay_iterations(4), 3, config.warmup_learning_rate)
    assert schedule.boundaries == (8, 12)
    rates = [float(schedule(step)) for step in range(16)]
    assert rates == pytest.approx([config.learning_rate_at(step, steps_per_epoch=4) for step in range(16)], rel=1e-6)
    assert train.WarmupStepDecay.from_config(schedule.get_config()).get_config() == schedule.get_config()


def test_prepare_data_applies_the_profile(dataset):
    config = dataclasses.replace(TINY, validation_examples=32, train_examples=100, test_examples=None)
    prepared = train.prepare_data(dataset, config)
    # the validation images come out of the training split; the test split stays the test split
    assert prepared.dataset.num_train == 100 and prepared.dataset.num_test == dataset.num_test
    validation_images, validation_labels = prepared.validation
    assert validation_images.shape == (32, 8, 8, 3) and validation_labels.shape == (32,)
    assert prepared.held_out[0] is validation_images
    assert prepared.dataset.image_size == 8
    assert prepared.mean.shape == prepared.std.shape == (3,)
    assert "32 training images held out for validation" in prepared.description
    # no image is both a validation and a training image (at full size, before downsampling)
    full = train.prepare_data(dataset, dataclasses.replace(config, image_size=32, train_examples=None))
    train_rows = {image.tobytes() for image in full.dataset.x_train}
    assert not any(image.tobytes() in train_rows for image in full.validation[0])
    assert full.dataset.num_train + 32 == dataset.num_train
    without = train.prepare_data(dataset, TINY)
    assert without.validation is None and without.held_out[0] is without.dataset.x_test


def test_history_saves_and_loads(tmp_path):
    history = train.TrainingHistory(label="a", profile="quick", data_description="d", seed=0, steps_per_epoch=3)
    with pytest.raises(ValueError, match="no finished epoch"):
        history.final("test_error")
    history.append(epoch=1, train_loss=2.0, train_error=0.8, held_out_loss=2.1, held_out_error=0.9,
                   learning_rate=0.1, seconds=1.5)
    history.save(tmp_path / "h.json")
    assert train.TrainingHistory.load(tmp_path / "h.json") == history
    assert history.final("test_error") == 0.9 and history.total_seconds == 1.5
    with pytest.raises(ValueError, match="unknown metric"):
        history.final("accuracy")


def test_estimate_training_time(dataset):
    model = tiny_model()
    before = [weight.numpy().copy() for weight in model.weights]
    estimate = train.estimate_training_time(model, dataset, TINY, burn_in_steps=1, measured_steps=2)
    assert estimate.seconds_per_step > 0 and estimate.images_per_second > 0
    assert estimate.total_seconds > 3 * 4 * estimate.seconds_per_step
    assert "minutes here" in estimate.describe()
    assert all(np.array_equal(a, b.numpy()) for a, b in zip(before, model.weights))  # the model is untouched


def test_a_one_replica_mirrored_strategy_trains_like_one_device(dataset):
    # The distributed code path (scope, mirrored variables, distributed datasets) in this process, on its one CPU.
    # Two replicas need a split CPU, hence a fresh process: see tests/test_distribute.py.
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    one_device = train.train(tiny_model(), dataset, TINY, verbose=False)
    with strategy.scope():
        model = tiny_model()
    mirrored = train.train(model, dataset, TINY, verbose=False, strategy=strategy)
    assert isinstance(model.weights[0].value, tf.distribute.DistributedValues)
    for metric in ("train_loss", "test_loss"):
        np.testing.assert_allclose(getattr(mirrored, metric), getattr(one_device, metric), rtol=1e-4)
    # built outside the strategy's scope: refused, with the remedy
    with pytest.raises(ValueError, match="not built inside the scope of the strategy"):
        train.train(tiny_model(), dataset, TINY, verbose=False, strategy=strategy)
    estimate = train.estimate_training_time(model, dataset, TINY, burn_in_steps=1, measured_steps=1)
    assert estimate.seconds_per_step > 0


def test_duration_is_readable():
    assert [train._duration(seconds) for seconds in (40, 600, 9_360)] == ["40 s", "10 min", "2.6 h"]


@pytest.mark.parametrize("call, message", [
    (lambda d: train.train(models.resnet20(), d, TINY, verbose=False), "input_shape=config.input_shape"),
    (lambda d: train.train(models.resnet20(input_shape=(8, 8, 3), num_classes=3), d, TINY), "3 outputs"),
    (lambda d: train.train(tiny_model(), d, "slow"), "unknown profile 'slow'"),
    (lambda d: train.train(tiny_model(), d.x_train, TINY), "ImageDataset"),
    (lambda d: train.train("resnet20", d, TINY), "keras.Model"),
    (lambda d: train.train(tiny_model(), d, TINY, seed=-1), "seed"),
    (lambda d: train.estimate_training_time(tiny_model(), d, TINY, measured_steps=0), "measured_steps"),
    (lambda d: train.compile_for_training("resnet20", TINY, 4), "keras.Model"),
    (lambda d: train.compile_for_training(tiny_model(), "quick", 4), "TrainConfig"),
    (lambda d: train.compile_for_training(tiny_model(), TINY, 0), "steps_per_epoch"),
    (lambda d: train.train(tiny_model(), d, TINY, strategy="mirrored"), "tf.distribute.Strategy"),
    (lambda d: train.describe_strategy("mirrored"), "tf.distribute.Strategy"),
])
def test_bad_input_is_refused(dataset, call, message):
    with pytest.raises(ValueError, match=message):
        call(dataset)


def test_long_runs_print_about_twenty_epoch_lines_and_every_change_of_learning_rate():
    assert all(train.shows_epoch_line(epoch, 8, [0.1] * epoch) for epoch in range(1, 9))  # short: every epoch
    paper = profiles.PAPER
    rates = [paper.learning_rate_at(epoch * 351 - 1, 351) for epoch in range(1, paper.epochs + 1)]
    shown = [epoch for epoch in range(1, paper.epochs + 1)
             if train.shows_epoch_line(epoch, paper.epochs, rates[:epoch])]
    assert shown[0] == 1 and shown[-1] == 182 and 20 <= len(shown) <= 25
    assert 92 in shown and 138 in shown  # the first epochs at 0.01 and 0.001
    assert 10 in shown and 11 not in shown  # every 10th epoch (182 / 20, rounded up)


def test_step_losses_average_to_each_epochs_training_loss(dataset):
    step_losses = train.StepLosses()
    history = train.train(tiny_model(), dataset, TINY, verbose=False, callbacks=[step_losses])
    losses = np.array(step_losses.losses).reshape(len(history.epochs), history.steps_per_epoch)
    # Keras' epoch loss is the mean of the epoch's step losses, which the callback recovered one by one
    np.testing.assert_allclose(losses.mean(axis=1), history.train_loss, rtol=1e-5)
    assert len(set(np.round(losses[0], 6))) > 1  # one number per step, not the running mean repeated
