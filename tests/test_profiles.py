"""Profiles: their values, choice by name and environment, validation, the learning-rate schedule, benchmark sizes."""

import dataclasses
import math

import numpy as np
import pytest

from resnet_lessons import profiles


# Every field of every profile, as it was before TrainConfig had defaults: the defaults must not move a profile.
PROFILE_VALUES = {
    "quick": dict(name="quick", epochs=8, batch_size=128, learning_rate=0.02, momentum=0.9, weight_decay=1e-4,
                  decay_epochs=(6,), warmup_iterations=32, warmup_learning_rate=0.01, train_examples=4096,
                  test_examples=1024, validation_examples=0, image_size=16, augment=False, jit_compile="auto",
                  test_every_epoch=False),
    "medium": dict(name="medium", epochs=10, batch_size=128, learning_rate=0.1, momentum=0.9, weight_decay=1e-4,
                   decay_epochs=(5, 8), warmup_iterations=0, warmup_learning_rate=0.01, train_examples=None,
                   test_examples=None, validation_examples=5000, image_size=16, augment=True, jit_compile="auto",
                   test_every_epoch=True),
    "paper": dict(name="paper", epochs=182, batch_size=128, learning_rate=0.1, momentum=0.9, weight_decay=1e-4,
                  decay_epochs=(91, 137), warmup_iterations=0, warmup_learning_rate=0.01, train_examples=None,
                  test_examples=None, validation_examples=5000, image_size=32, augment=True, jit_compile="auto",
                  test_every_epoch=False),
}


@pytest.mark.parametrize("name", sorted(PROFILE_VALUES))
def test_every_profile_keeps_its_values(name):
    values = dataclasses.asdict(profiles.PROFILES[name])
    assert list(values) == list(PROFILE_VALUES[name])  # the field order too: it is the order of stored JSON
    assert values == PROFILE_VALUES[name]
    assert [type(value) for value in values.values()] == [type(value) for value in PROFILE_VALUES[name].values()]
    assert sorted(profiles.PROFILES) == sorted(PROFILE_VALUES)


def test_the_defaults_are_the_papers_recipe():
    assert profiles.TrainConfig(name="paper") == profiles.PAPER
    with pytest.raises(TypeError):
        profiles.TrainConfig()  # a profile is always named


def test_profiles_by_name():
    assert profiles.get_profile("quick") is profiles.QUICK
    assert profiles.get_profile("paper") is profiles.PAPER
    assert profiles.get_profile("medium") is profiles.MEDIUM


def test_medium_profile_is_the_papers_recipe_shortened_at_16x16():
    medium, paper = profiles.MEDIUM, profiles.PAPER
    # only the length, the decays (at half and three quarters of the run, as the paper's, rounded up), the image size
    # and the test split's per-epoch measurement (for curves) differ
    assert dataclasses.replace(medium, name="paper", epochs=paper.epochs, decay_epochs=paper.decay_epochs,
                               image_size=paper.image_size, test_every_epoch=False) == paper
    assert medium.test_every_epoch and "validation and test error after every epoch" in medium.describe()
    assert medium.image_size == 16 and medium.decay_epochs == (medium.epochs // 2, math.ceil(0.75 * medium.epochs))


def test_environment_variable_chooses_the_default(monkeypatch):
    monkeypatch.setenv("RESNET_LESSONS_PROFILE", "paper")
    assert profiles.get_profile() is profiles.PAPER
    monkeypatch.delenv("RESNET_LESSONS_PROFILE")
    assert profiles.get_profile() is profiles.QUICK


def test_unknown_profile_names_the_choices(monkeypatch):
    with pytest.raises(ValueError, match="unknown profile 'fast': expected one of medium, paper, quick"):
        profiles.get_profile("fast")
    monkeypatch.setenv("RESNET_LESSONS_PROFILE", "slow")
    with pytest.raises(ValueError, match="RESNET_LESSONS_PROFILE"):
        profiles.get_profile()


def test_a_config_passes_through():
    config = dataclasses.replace(profiles.QUICK, epochs=1)
    assert profiles.get_profile(config) is config


def test_paper_profile_is_the_papers_recipe():
    paper = profiles.PAPER
    assert (paper.batch_size, paper.learning_rate, paper.momentum, paper.weight_decay) == (128, 0.1, 0.9, 1e-4)
    steps = 45_000 // 128
    # 64k iterations, divided by 10 at 32k and 48k (within an epoch of rounding).
    assert abs(paper.epochs * steps - 64_000) < steps
    assert all(abs(epoch * steps - boundary) < steps for epoch, boundary in zip(paper.decay_epochs, (32_000, 48_000)))
    assert paper.validation_examples == 5_000 and paper.image_size == 32 and paper.augment


def test_learning_rate_schedule_warms_up_then_decays():
    config = dataclasses.replace(profiles.QUICK, learning_rate=0.1, warmup_iterations=5, warmup_learning_rate=0.01,
                                 decay_epochs=(2, 3))
    rates = [config.learning_rate_at(step, steps_per_epoch=10) for step in (0, 4, 5, 19, 20, 29, 30)]
    assert rates == pytest.approx([0.01, 0.01, 0.1, 0.1, 0.01, 0.01, 0.001])
    assert config.decay_iterations(10) == (20, 30)


def test_step_decay_gives_the_same_floats_as_the_rule_written_out():
    # The warm-up is chosen by multiplying by 0 or 1, which must leave each rate exactly as "if ... else" gives it.
    for config, steps in ((profiles.QUICK, 32), (profiles.PAPER, 351), (profiles.for_depth("paper", 110), 351)):
        for iteration in range(0, config.epochs * steps, 7):
            decays = sum(iteration >= epoch * steps for epoch in config.decay_epochs)
            expected = (config.warmup_learning_rate if iteration < config.warmup_iterations
                        else config.learning_rate * 0.1**decays)
            rate = config.learning_rate_at(iteration, steps)
            assert type(rate) is float and rate == expected
    assert profiles.step_decay(3, learning_rate=0.1, decay_iterations=(), warmup_iterations=0,
                               warmup_learning_rate=0.01) == 0.1


@pytest.mark.parametrize("field, value", [
    ("epochs", -1), ("epochs", 0), ("epochs", 2.5), ("batch_size", 0), ("learning_rate", 0.0),
    ("learning_rate", float("nan")), ("momentum", 1.0), ("weight_decay", -1e-4), ("decay_epochs", (5, 3)),
    ("decay_epochs", [3]), ("train_examples", 0), ("image_size", 0), ("jit_compile", "yes"), ("augment", 1),
    ("warmup_iterations", -1), ("name", ""),
])
def test_bad_fields_are_named(field, value):
    with pytest.raises(ValueError, match=f"TrainConfig.{field} must be"):
        dataclasses.replace(profiles.QUICK, **{field: value})


def test_describe_and_input_shape():
    assert profiles.QUICK.input_shape == (profiles.QUICK.image_size,) * 2 + (3,)
    assert "profile 'quick'" in profiles.QUICK.describe()


@pytest.mark.parametrize("iteration, steps_per_epoch, message", [
    (-1, 10, "iteration"), (1.5, 10, "iteration"), (0, 0, "steps_per_epoch"), (0, 2.0, "steps_per_epoch"),
])
def test_learning_rate_at_rejects_bad_steps(iteration, steps_per_epoch, message):
    with pytest.raises(ValueError, match=message):
        profiles.QUICK.learning_rate_at(iteration, steps_per_epoch)


def test_for_depth_adds_the_papers_resnet110_warmup():
    deep = profiles.for_depth("paper", 110)
    assert deep.name == "paper-warmup" and deep.warmup_iterations == 400 and deep.warmup_learning_rate == 0.01
    assert dataclasses.replace(deep, name="paper", warmup_iterations=0) == profiles.PAPER  # nothing else changes
    steps = 45_000 // 128
    rates = [deep.learning_rate_at(step, steps) for step in (0, 399, 400, 32_000)]
    assert rates == pytest.approx([0.01, 0.01, 0.1, 0.01])
    assert profiles.for_depth(profiles.PAPER, 1202).warmup_iterations == 400
    assert profiles.for_depth("paper", 56) is profiles.PAPER  # shallower nets start at 0.1 at once
    assert profiles.for_depth("quick", 110) is profiles.QUICK  # it warms up already


@pytest.mark.parametrize("depth", [0, -110, 1.5, "110", True])
def test_for_depth_rejects_bad_depths(depth):
    with pytest.raises(ValueError, match="depth must be a positive integer"):
        profiles.for_depth("paper", depth)


def test_numpy_integers_are_stored_as_python_ints():
    config = dataclasses.replace(profiles.QUICK, epochs=np.int64(8), decay_epochs=(np.int32(6),),
                                 train_examples=np.int64(4096))
    assert config == profiles.QUICK and hash(config) == hash(profiles.QUICK)
    assert type(config.epochs) is int and type(config.train_examples) is int and type(config.decay_epochs[0]) is int
