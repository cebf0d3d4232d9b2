"""Exercise checkers: right answers pass, usual slips get the matching hint, bad input is refused."""

import pytest

from resnet_lessons import checks, models


@pytest.fixture(scope="module")
def resnet20():
    return models.resnet20()


def test_right_parameter_count_passes(resnet20):
    result = checks.check_parameter_count(resnet20, 269_722)
    assert result and result.passed
    assert str(result).startswith("Correct")


@pytest.mark.parametrize("answer, hint", [
    (269_722 - 2 * (16 * 7 + 32 * 6 + 64 * 6), "gamma and beta"),
    (269_722 + 1_376, "moving mean and variance"),
    (269_722 + 16 * 7 + 32 * 6 + 64 * 6, "bias"),
    (1_000, "layer by layer"),
])
def test_wrong_counts_get_the_matching_hint(resnet20, answer, hint):
    result = checks.check_parameter_count(resnet20, answer)
    assert not result
    assert hint in result.message
    assert str(result).startswith("Not yet")


def test_feature_map_shape(resnet20):
    assert checks.check_feature_map_shape(resnet20, "conv3_block1_out", (16, 16, 32))
    wrong_size = checks.check_feature_map_shape(resnet20, "conv3_block1_out", (32, 32, 32))
    assert not wrong_size and "stride-2" in wrong_size.message and "filters" not in wrong_size.message
    wrong_channels = checks.check_feature_map_shape(resnet20, "conv3_block1_out", (16, 16, 16))
    assert not wrong_channels and "doubles" in wrong_channels.message


@pytest.mark.parametrize("call, message", [
    (lambda m: checks.check_parameter_count(m, "many"), "whole number"),
    (lambda m: checks.check_parameter_count(m, 1.5), "whole number"),
    (lambda m: checks.check_parameter_count("resnet20", 1), "keras.Model"),
    (lambda m: checks.check_feature_map_shape(m, "conv9", (1, 1, 1)), "no layer named 'conv9'"),
    (lambda m: checks.check_feature_map_shape(m, "avg_pool", (1, 1)), "height, width, channels"),
])
def test_bad_input_is_refused(resnet20, call, message):
    with pytest.raises(ValueError, match=message):
        call(resnet20)


@pytest.mark.parametrize("placeholder", [..., None])
def test_placeholder_answers_ask_for_an_answer(resnet20, placeholder):
    for result in (checks.check_parameter_count(resnet20, placeholder),
                   checks.check_feature_map_shape(resnet20, "conv3_block1_out", placeholder)):
        assert not result and "no answer yet" in str(result)


def test_the_chance_loss_and_its_usual_slips():
    import math

    assert checks.check_chance_loss(-math.log(1 / 10))
    assert "ln 10 = 2.3026" in str(checks.check_chance_loss(2.3026))
    assert checks.check_chance_loss(math.log(100), num_classes=100)
    for answer, hint in [(0.9, "chance error"), (0.1, "probability of the correct class"), (1.0, "base-10"),
                         (math.log2(10), "base-2"), (-2.302585, "sign"), (2.0, "is not it")]:
        result = checks.check_chance_loss(answer)
        assert not result and hint in str(result), (answer, str(result))
    assert checks.check_chance_loss(...) is checks.NO_ANSWER
    with pytest.raises(ValueError, match="answer must be a number, got 'ln 10'"):
        checks.check_chance_loss("ln 10")
    with pytest.raises(ValueError, match="num_classes must be an integer of at least 2, got 1"):
        checks.check_chance_loss(2.3, num_classes=1)


def test_shortcut_product_is_measured_and_common_slips_get_hints():
    assert "no answer" in str(checks.check_shortcut_product(0.9, 6, ...))
    result = checks.check_shortcut_product(0.9, 6, 0.9**6)
    assert result and "0.9^6" in str(result)
    assert not checks.check_shortcut_product(0.9, 6, 0.9 * 6)
    assert "one factor is missing" in str(checks.check_shortcut_product(0.9, 6, 0.9**5))
    assert "multiplied by the scale" in str(checks.check_shortcut_product(0.9, 6, 1.0))
    assert "is not it" in str(checks.check_shortcut_product(0.9, 6, 0.2))
    for kwargs, message in (({"scale": 1.0}, "scale"), ({"num_blocks": 5}, "num_blocks"), ({"answer": "x"}, "answer")):
        arguments = {"scale": 0.9, "num_blocks": 6, "answer": 0.5, **kwargs}
        with pytest.raises(ValueError, match=message):
            checks.check_shortcut_product(**arguments)
