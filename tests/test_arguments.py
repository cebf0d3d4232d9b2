"""The argument checkers: what counts as an integer or a number, the messages, and the values they return."""

import math

import numpy as np
import pytest

from resnet_lessons import arguments


@pytest.mark.parametrize("value, expected", [
    (0, True), (-3, True), (np.int64(5), True), (np.uint8(2), True),
    (True, False), (np.bool_(True), False), (2.0, False), ("2", False), (None, False),
])
def test_is_int_takes_python_and_numpy_integers_but_not_bools(value, expected):
    assert arguments.is_int(value) is expected


@pytest.mark.parametrize("value, expected", [
    (0, True), (0.5, True), (np.float64(1e-4), True), (np.int32(3), True),
    (False, False), (math.nan, False), (math.inf, False), ("0.1", False), (None, False),
])
def test_is_number_takes_finite_numbers_but_not_bools(value, expected):
    assert arguments.is_number(value) is expected


def test_checkers_return_python_ints():
    for value in (3, np.int64(3)):
        for checker in (arguments.positive_int, arguments.non_negative_int):
            checked = checker(value, "x")
            assert checked == 3 and type(checked) is int
        checked = arguments.count_at_most(value, "x", 3)
        assert checked == 3 and type(checked) is int
    assert arguments.non_negative_int(0, "seed") == 0


@pytest.mark.parametrize("call, message", [
    (lambda: arguments.positive_int(0, "batch_size"), "batch_size must be a positive integer, got 0"),
    (lambda: arguments.positive_int(True, "epochs"), "epochs must be a positive integer, got True"),
    (lambda: arguments.positive_int(2.0, "epochs"), r"epochs must be a positive integer, got 2\.0"),
    (lambda: arguments.non_negative_int(-1, "seed"), "seed must be a non-negative integer, got -1"),
    (lambda: arguments.non_negative_int("0", "seed"), "seed must be a non-negative integer, got '0'"),
    (lambda: arguments.count_at_most(7, "num_train", 6), "num_train must be between 1 and 6, got 7"),
    (lambda: arguments.count_at_most(0, "num_train", 50_000), "num_train must be between 1 and 50,000, got 0"),
    (lambda: arguments.count_at_most(np.int64(9), "n", 6, what="the images available"),
     r"n must be between 1 and 6 \(the images available\), got 9$"),
    (lambda: arguments.count_at_most(1.5, "num_test", 6), r"num_test must be a positive integer, got 1\.5"),
    (lambda: arguments.require(False, "momentum", 1.0, "in [0, 1)"), r"momentum must be in \[0, 1\), got 1\.0"),
])
def test_errors_name_the_argument_what_was_expected_and_the_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_require_passes_when_the_condition_holds():
    assert arguments.require(True, "x", 1, "anything") is None
