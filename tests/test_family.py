"""Closed-form counts of the 6n+2 family against the built networks and the exact counts of the book's plan."""

import pytest

from resnet_lessons import complexity, family, models

# Exact trainable parameters (batch norm's scale and shift counted, no conv bias), counted by hand; the paper's
# Table 6 rounds them: 0.27M, 0.46M, 0.66M, 0.85M, 1.7M and 19.4M.
EXACT_TRAINABLE = {20: 269_722, 32: 464_154, 44: 658_586, 56: 853_018, 110: 1_727_962, 1202: 19_421_274}


@pytest.mark.parametrize("depth, expected", EXACT_TRAINABLE.items())
def test_parameter_count_equals_the_exact_counts(depth, expected):
    assert family.parameter_count(depth) == expected


@pytest.mark.parametrize("depth", [8, 20, 56])
@pytest.mark.parametrize("image_size", [32, 16, 15])
def test_formulas_equal_the_counts_of_built_nets(depth, image_size):
    for model in (models.cifar_resnet(depth, input_shape=(image_size, image_size, 3)),
                  models.cifar_plain(depth, input_shape=(image_size, image_size, 3), num_classes=7)):
        classes = model.output_shape[-1]
        assert family.parameter_count(depth, num_classes=classes) == models.count_parameters(model).trainable
        assert (family.multiply_add_count(depth, image_size=image_size, num_classes=classes)
                == complexity.count_multiply_adds(model))


def test_resnet110_multiply_adds_equal_the_built_net():
    assert family.multiply_add_count(110) == complexity.count_multiply_adds(models.resnet110()) == 252_887_680


def test_multiply_adds_of_resnet20():
    assert family.multiply_add_count(20) == 40_551_040
    # a 16x16 image has a quarter of the positions at every layer
    # (the dense layer excepted: it costs 64 * 10 at any size)
    assert family.multiply_add_count(20, image_size=16) * 4 == family.multiply_add_count(20) + 3 * 64 * 10


@pytest.mark.parametrize("call, message", [
    (lambda: family.parameter_count(21), "depth must be of the form 6n"),
    (lambda: family.parameter_count(20, num_classes=0), "num_classes must be a positive integer"),
    (lambda: family.multiply_add_count(20, image_size=0), "image_size must be a positive integer"),
    (lambda: family.multiply_add_count(20, image_size=32.0), "image_size must be a positive integer"),
])
def test_bad_input_is_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()
