"""Tests of checks.check_achieved_gflops, the checker of chapter 6's GFLOP/s exercise."""

import pytest

from resnet_lessons import bench, checks


def result(mode="forward-backward", step_seconds=(1.0, 2.0, 6.0), batch_size=4, multiply_adds=10**9):
    spec = bench.BenchmarkSpec(model="resnet20", mode=mode, batch_size=batch_size, image_size=8)
    return bench.BenchmarkResult(spec, step_seconds, (), multiply_adds, "cpu")


def test_right_answers_pass_with_the_median_or_the_mean():
    measured = result()  # 2 * 1e9 * 4 * 3 = 24e9 operations; median 2 s, mean 3 s
    assert checks.check_achieved_gflops(measured, 12.0)
    assert checks.check_achieved_gflops(measured, 12.05)
    with_mean = checks.check_achieved_gflops(measured, 8.0)
    assert with_mean and "over the median step" in str(with_mean)


@pytest.mark.parametrize("answer, hint", [
    (6.0, "a multiply-add is two floating-point operations"),
    (4.0, "the backward pass costs about twice the forward pass"),
    (2.0, "count 2 operations per multiply-add and 3"),
    (3.0, "a step processes the whole batch of 4 images"),
    (12e9, "GFLOP/s counts 10^9 operations per second"),
    (7.0, "divide the operations of one step"),
])
def test_usual_slips_get_a_hint(answer, hint):
    verdict = checks.check_achieved_gflops(result(), answer)
    assert not verdict and hint in str(verdict)


def test_a_forward_result_has_no_backward_factor():
    measured = result(mode="forward", step_seconds=(2.0,))  # 8e9 / 2 s = 4 GFLOP/s
    assert checks.check_achieved_gflops(measured, 4.0)
    assert "divide the operations" in str(checks.check_achieved_gflops(measured, 4.0 / 3))


def test_no_answer_yet_and_bad_answers():
    assert checks.check_achieved_gflops(result(), ...) is checks.NO_ANSWER
    for bad in ("12", -1.0, 0, float("nan"), True):
        with pytest.raises(ValueError, match="answer must be a positive number of GFLOP/s"):
            checks.check_achieved_gflops(result(), bad)
