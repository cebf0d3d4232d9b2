"""Tests of resnet_lessons.timing: reading results back, the timing loop (one step or several interleaved) and the
matmul ceiling, on tiny steps (no test here judges a machine's speed)."""

import numpy as np
import pytest
import tensorflow as tf

from resnet_lessons import hardware, timing


def test_read_back_copies_tensors_to_numpy_in_any_nest():
    copied = timing.read_back({"a": tf.ones(2), "b": [tf.zeros(()), 3]})
    assert isinstance(copied["a"], np.ndarray) and copied["a"].tolist() == [1.0, 1.0]
    assert isinstance(copied["b"][0], (np.ndarray, np.generic)) and copied["b"][1] == 3


def test_read_back_waits_for_an_asynchronous_result():
    # In asynchronous mode a call returns before its result exists; reading it back gives the computed value.
    tf.config.experimental.set_synchronous_execution(False)
    try:
        matrix = tf.random.stateless_normal((64, 64), seed=(0, 0))
        product = tf.matmul(matrix, matrix)
        assert np.allclose(timing.read_back(product), matrix.numpy() @ matrix.numpy(), atol=1e-3)
    finally:
        tf.config.experimental.set_synchronous_execution(True)


class CountingStep:
    """A step whose result records whether it was read back, and which names itself in ``calls`` when called."""

    def __init__(self, name="step", calls=None):
        self.name, self.calls, self.read = name, calls if calls is not None else [], 0

    def __call__(self):
        self.calls.append(self.name)
        step = self

        class Result:
            def numpy(self):
                step.read += 1
                return np.zeros(1)

        return Result()


def test_time_steps_runs_burn_in_plus_steps_and_reads_every_result():
    step = CountingStep()
    times = timing.time_steps(step, steps=3, burn_in=2)
    assert len(step.calls) == step.read == 5
    assert len(times.burn_in_seconds) == 2 and len(times.step_seconds) == 3
    assert all(seconds >= 0 for seconds in times.step_seconds)


def test_time_steps_logs_progress_like_the_blog():
    lines = []
    timing.time_steps(CountingStep(), steps=4, burn_in=1, log=lines.append, label="tiny", progress_every=2)
    assert len(lines) == 2 and "tiny step 2/4" in lines[0] and "tiny step 4/4" in lines[1]


@pytest.mark.parametrize("arguments, message", [
    (dict(steps=0), "steps must be an integer >= 1, got 0"),
    (dict(steps=-5), "steps must be an integer >= 1, got -5"),
    (dict(steps=True), "steps must be an integer >= 1, got True"),
    (dict(burn_in=-1), "burn_in must be an integer >= 0, got -1"),
    (dict(progress_every=0), "progress_every must be an integer >= 1, got 0"),
])
def test_time_steps_refuses_bad_counts(arguments, message):
    with pytest.raises(ValueError, match=message):
        timing.time_steps(CountingStep(), **arguments)


def test_time_interleaved_reverses_the_order_each_round_and_reports_every_round():
    calls, rounds = [], []
    steps = [CountingStep("a", calls), CountingStep("b", calls)]
    times = timing.time_interleaved(steps, steps=2, burn_in=1,
                                    after_round=lambda measured, seconds: rounds.append((measured, len(seconds[0]))))
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert all(step.read == 3 for step in steps)
    assert rounds == [(0, 1), (1, 2), (2, 3)]
    assert [(len(t.burn_in_seconds), len(t.step_seconds)) for t in times] == [(1, 2), (1, 2)]


def test_check_choice_names_the_value_and_the_choices():
    assert timing.check_choice("mode", "a", ("a", "b")) == "a"
    with pytest.raises(ValueError, match="unknown mode 'c': expected one of a, b"):
        timing.check_choice("mode", "c", ("a", "b"))


# ------------------------------------------------------------------------------------------------ ceiling

def test_measure_ceiling_refuses_a_precision_the_cpu_lacks(monkeypatch):
    monkeypatch.setattr(hardware, "cpu_flags", lambda path=hardware.CPUINFO_PATH: frozenset({"avx2"}))
    with pytest.raises(ValueError, match="this CPU has no float16 instructions"):
        timing.measure_ceiling(64, "float16", device="cpu")


def test_measure_ceiling_times_every_kernel_and_keeps_the_fastest():
    ceiling = timing.measure_ceiling(64, "float32", steps=3, burn_in=1, device="cpu")
    names = [kernel.name for kernel in ceiling.kernels]
    assert names[0] == "TensorFlow matmul 64x64" and names[1].startswith("TensorFlow 3x3 convolution")
    assert names[2] == "NumPy matmul 64x64"  # float32 on the CPU only
    assert all(len(kernel.step_seconds) == 3 for kernel in ceiling.kernels)
    assert ceiling.kernels[1].multiply_adds == 1 * 56 * 56 * 256 * 256 * 9  # the smallest batch, one image
    assert ceiling.best.gflops_per_second == max(kernel.gflops_per_second for kernel in ceiling.kernels)
    assert ceiling.gflops_per_second == ceiling.best.gflops_per_second
    assert ceiling.rate("NumPy") == ceiling.kernels[2].gflops_per_second
    assert f"set by {ceiling.best.name}" in ceiling.describe()
    with pytest.raises(ValueError, match="no single kernel"):
        ceiling.rate("TensorFlow")  # two kernels start so


def test_a_kernel_rate_counts_two_operations_per_multiply_add_over_the_fastest_call():
    kernel = timing.KernelRate("k", multiply_adds=10**9, step_seconds=(0.5, 0.25, 1.0))
    assert kernel.gflops_per_second == pytest.approx(8.0)
    ceiling = timing.KernelCeiling("float32", "cpu", (kernel,))
    assert ceiling.fraction(4.0) == "50% of the ceiling"
    assert ceiling.fraction(10.0).startswith("125% of the ceiling: above it")


def peak_of(gflops, clock_is_maximum=False):
    """A CpuPeak of one core at 1 GHz doing ``gflops`` operations per cycle."""
    return hardware.CpuPeak(cores=1, clock_ghz=1.0, clock_is_maximum=clock_is_maximum, vector_flag="avx2",
                            per_cycle=gflops)


def test_the_ceiling_sets_rates_against_the_peak_and_says_why_one_is_above_it():
    kernel = timing.KernelRate("k", multiply_adds=10**9, step_seconds=(0.25,))  # 8 GFLOP/s
    below = timing.KernelCeiling("float32", "cpu", (kernel,), peak_of(16))
    assert below.fraction(4.0) == "50% of the ceiling, 25% of the peak"
    assert below.peak_note() == "the best kernel reaches 50% of the peak"
    assert below.describe().endswith("x 16 operations per cycle (avx2, at most 2 FMA units): the best kernel "
                                     "reaches 50% of the peak")
    above = timing.KernelCeiling("float32", "cpu", (kernel,), peak_of(4))
    assert above.peak_note() == ("above the peak at the reported 1.00 GHz: the cores ran at 2.00 GHz or faster, "
                                 "so the reported clock is not the one they ran at")
    assert above.fraction(6.0) == f"75% of the ceiling, 150% of the peak ({above.peak_note()})"
    assert "assumptions miss this processor" in timing.KernelCeiling("float32", "cpu", (kernel,),
                                                                     peak_of(4, True)).peak_note()
    assert "could not be read" in timing.KernelCeiling("float32", "cpu", (kernel,)).peak_note()


def test_measure_ceiling_reports_the_cpu_peak_for_float32_only(monkeypatch):
    peak = peak_of(1000)
    monkeypatch.setattr(hardware, "cpu_peak", lambda: peak)
    assert timing.measure_ceiling(32, "float32", steps=1, burn_in=0, device="cpu").peak is peak
    if hardware.precision_support("cpu")["mixed_bfloat16"].supported:
        assert timing.measure_ceiling(32, "bfloat16", steps=1, burn_in=0, device="cpu").peak is None


def test_measure_ceiling_rejects_bad_arguments():
    with pytest.raises(ValueError, match="size"):
        timing.measure_ceiling(0)
    with pytest.raises(ValueError, match="dtype"):
        timing.measure_ceiling(8, "int8")
