"""Tests of resnet_lessons.bench (with bench_specs and bench_report, whose names it re-exports) and
resnet_lessons.hardware: the steps, the statistics, the precisions, the report and the command line, on tiny models
and one or two steps (no test here judges a machine's speed)."""

import dataclasses
import json
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from resnet_lessons import bench, bench_report, bench_specs, complexity, hardware, models, profiles, timing

TINY = dict(model="tiny", batch_size=2, image_size=8)


def _tiny_network(input_shape):
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Conv2D(4, 3, padding="same", use_bias=False, name="conv1_conv")(inputs)
    x = keras.layers.BatchNormalization(name="conv1_bn")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(10, name="predictions")(x), name="tiny")


@pytest.fixture(autouse=True)
def tiny_model_registered(monkeypatch):
    """A one-convolution stand-in, so most tests trace and run in a fraction of a second."""
    monkeypatch.setitem(bench.MODELS, "tiny", bench.ModelEntry(_tiny_network, "a test network", 4))


def tiny_spec(**fields):
    return bench.BenchmarkSpec(**{**TINY, **fields})


def result_with(step_seconds, mode="forward", batch_size=4, multiply_adds=1_000_000, model="tiny"):
    spec = bench.BenchmarkSpec(model=model, mode=mode, batch_size=batch_size, image_size=8)
    return bench.BenchmarkResult(spec, tuple(step_seconds), (9.0,), multiply_adds, "cpu")


# ------------------------------------------------------------------------------------------- specs and input

@pytest.mark.parametrize("fields, message", [
    (dict(model="resnet51"), "unknown model 'resnet51': expected one of ours, ours-bias, keras"),
    (dict(mode="backward"), "unknown mode 'backward'"),
    (dict(execution="graph"), "unknown execution 'graph'"),
    (dict(precision="float16"), "unknown precision 'float16'"),
    (dict(batch_size=0), "batch_size must be an integer >= 1, got 0"),
    (dict(batch_size=2.0), "batch_size must be an integer >= 1, got 2.0"),
    (dict(image_size=2), "image_size must be an integer >= 4 for model 'tiny', got 2"),
    (dict(model="keras", image_size=16), "image_size must be an integer >= 32 for model 'keras', got 16"),
])
def test_spec_refuses_bad_values_naming_them(fields, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        tiny_spec(**fields)


def test_the_timing_chapter_6_calls_through_bench_is_timing():
    assert bench.time_steps is timing.time_steps and bench.read_back is timing.read_back
    assert (bench.BLOG_STEPS, bench.BLOG_BURN_IN, bench.BLOG_BATCH_SIZE, bench.BLOG_IMAGE_SIZE) == (100, 10, 16, 224)


def test_the_specs_and_reports_chapter_6_calls_through_bench_are_the_split_modules():
    assert bench.BenchmarkSpec is bench_specs.BenchmarkSpec and bench.MODELS is bench_specs.MODELS
    assert bench.EXECUTIONS is bench_specs.EXECUTIONS and bench.benchmark_sizes is bench_specs.benchmark_sizes
    assert bench.BenchmarkResult is bench_report.BenchmarkResult and bench.Report is bench_report.Report
    assert (bench.compare, bench.find, bench.load_report) == (
        bench_report.compare, bench_report.find, bench_report.load_report)


def test_measure_and_run_time_through_the_one_timing_loop(monkeypatch):
    calls = []
    original = timing.time_interleaved
    monkeypatch.setattr(timing, "time_interleaved", lambda *args, **kwargs: calls.append(len(args[0])) or original(
        *args, **kwargs))
    bench.measure([tiny_spec(), tiny_spec(mode="train-step")], steps=1, burn_in=0, log=None)
    bench.run(tiny_spec(), steps=1, burn_in=0, ceiling_size=None, log=None)
    assert calls == [2, 1]


def test_spec_label_and_group():
    spec = tiny_spec(mode="forward-backward")
    assert spec.label == "tiny forward-backward function float32 2x8"
    assert spec.group() == tiny_spec(model="resnet56", mode="forward-backward").group()
    assert spec.group() != tiny_spec(mode="forward").group()


def test_models_are_registered_as_promised():
    assert {"ours", "ours-bias", "keras", "resnet20"} <= set(bench.MODELS)
    model = bench.build_model("resnet20", 8)
    assert model.input_shape == (None, 8, 8, 3)
    assert model.output_shape == (None, 10)


@pytest.mark.slow  # builds keras.applications.ResNet50 (about 3 s)
def test_keras_model_gives_logits_with_random_weights():
    model = bench.build_model("keras", 32)
    assert model.layers[-1].activation is keras.activations.linear
    assert model.output_shape == (None, 1000)


needs_resnet50 = pytest.mark.skipif(not hasattr(models, "resnet50"), reason="models.resnet50 not written yet")


@needs_resnet50
@pytest.mark.slow  # builds three ResNet-50s (about 10 s)
def test_ours_with_biases_does_exactly_keras_work_and_ours_without_them_less():
    keras_model, ours_bias, ours = (bench.build_model(name, 64) for name in ("keras", "ours-bias", "ours"))
    assert complexity.count_multiply_adds(ours_bias) == complexity.count_multiply_adds(keras_model)
    assert complexity.count_multiply_adds(ours) == complexity.count_multiply_adds(keras_model)
    assert ours_bias.count_params() == keras_model.count_params()
    assert ours.count_params() < keras_model.count_params()


def test_build_model_restores_the_global_dtype_policy():
    before = keras.config.dtype_policy().name
    model = bench.build_model("resnet20", 8, precision="mixed_bfloat16")
    assert model.layers[1].dtype_policy.name == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == before


# ------------------------------------------------------------------------------------------------ the steps

def test_forward_step_returns_inference_logits():
    model = _tiny_network((8, 8, 3))
    images = tf.random.stateless_normal((2, 8, 8, 3), seed=(0, 0))
    logits = bench.make_step(model, "forward", "function")(images, tf.constant([0, 1]))
    np.testing.assert_allclose(logits.numpy(), model(images, training=False).numpy(), atol=1e-5)


def test_forward_backward_step_returns_the_sum_of_all_gradients_and_changes_no_weight():
    model = _tiny_network((8, 8, 3))
    images, labels = tf.random.stateless_normal((2, 8, 8, 3), seed=(0, 0)), tf.constant([3, 7])
    kernel_before = model.get_layer("conv1_conv").kernel.numpy()
    total = bench.make_step(model, "forward-backward", "eager")(images, labels)
    with tf.GradientTape() as tape:
        logits = model(images, training=True)
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))
    expected = sum(float(tf.reduce_sum(gradient)) for gradient in tape.gradient(loss, model.trainable_variables))
    assert float(total) == pytest.approx(expected, rel=1e-4, abs=1e-5)
    np.testing.assert_array_equal(model.get_layer("conv1_conv").kernel.numpy(), kernel_before)


def test_train_step_updates_the_weights():
    model = _tiny_network((8, 8, 3))
    images, labels = tf.random.stateless_normal((2, 8, 8, 3), seed=(0, 0)), tf.constant([3, 7])
    kernel_before = model.get_layer("conv1_conv").kernel.numpy()
    step = bench.make_step(model, "train-step", "function")
    total = step(images, labels)
    assert not np.array_equal(model.get_layer("conv1_conv").kernel.numpy(), kernel_before)
    assert float(total) == pytest.approx(sum(float(tf.reduce_sum(w)) for w in model.trainable_variables), rel=1e-5)


@pytest.mark.parametrize("arguments, message", [
    (("sideways", "function"), "unknown mode 'sideways'"),
    (("forward", "jit"), "unknown execution 'jit'"),
])
def test_make_step_refuses_unknown_modes_and_executions(arguments, message):
    with pytest.raises(ValueError, match=message):
        bench.make_step(_tiny_network((8, 8, 3)), *arguments)


# --------------------------------------------------------------------------------------- measuring many

def test_measure_returns_one_result_per_spec_in_order():
    # The interleaving itself is timing.time_interleaved's (tests/test_timing.py).
    specs = [tiny_spec(model="tiny"), tiny_spec(model="resnet20")]
    results = bench.measure(specs, steps=2, burn_in=1, log=None)
    assert [result.spec for result in results] == specs
    assert all(len(r.step_seconds) == 2 and len(r.burn_in_seconds) == 1 for r in results)
    assert results[1].multiply_adds_per_image == complexity.count_multiply_adds(models.resnet20(input_shape=(8, 8, 3)))


def test_measure_builds_one_model_for_specs_that_differ_only_in_the_work(monkeypatch):
    built = []
    original = bench.build_model
    monkeypatch.setattr(bench, "build_model", lambda *args: built.append(args) or original(*args))
    specs = [tiny_spec(), tiny_spec(mode="train-step"), tiny_spec(batch_size=3), tiny_spec(image_size=6)]
    bench.measure(specs, steps=1, burn_in=0, log=None)
    assert built == [("tiny", 8, "float32"), ("tiny", 6, "float32")]


def test_measure_runs_every_mode_and_execution_of_a_tiny_model():
    specs = [tiny_spec(mode=mode, execution=execution)
             for mode in bench.MODES for execution in ("eager", "function")]
    lines = []
    results = bench.measure(specs, steps=1, burn_in=1, log=lines.append)
    assert [result.spec for result in results] == specs
    assert all(result.median_seconds > 0 for result in results)
    assert any("burn-in done" in line for line in lines)


def test_measure_silences_tensorflows_retracing_warning_only_while_it_runs(caplog):
    specs = [tiny_spec(batch_size=batch_size) for batch_size in range(1, 8)]  # seven traces of one function
    bench.measure(specs, steps=1, burn_in=0, log=None)
    assert "retracing" not in caplog.text
    assert bench._drop_retracing_warning not in tf.get_logger().filters


@pytest.mark.slow  # XLA compiles the step (a few seconds)
def test_xla_execution_runs():
    [result] = bench.measure(tiny_spec(execution="xla"), steps=1, burn_in=1, log=None)
    assert result.median_seconds > 0


def test_measure_refuses_bad_arguments():
    with pytest.raises(ValueError, match="specs must be a BenchmarkSpec or a non-empty list"):
        bench.measure([], steps=1)
    with pytest.raises(ValueError, match="specs must be a BenchmarkSpec"):
        bench.measure(["tiny"], steps=1)
    with pytest.raises(ValueError, match="steps must be an integer >= 1, got 0"):
        bench.measure(tiny_spec(), steps=0)
    with pytest.raises(ValueError, match="device must be one of auto, cpu, gpu, got 'tpu'"):
        bench.measure(tiny_spec(), steps=1, device="tpu")


def test_an_unsupported_precision_is_refused_before_any_model_is_built(monkeypatch):
    monkeypatch.setattr(hardware, "cpu_flags", lambda path=hardware.CPUINFO_PATH: frozenset({"avx2", "fma"}))
    monkeypatch.setattr(bench, "build_model", None)  # building anything would fail differently
    with pytest.raises(ValueError, match="precision 'mixed_bfloat16' is not supported on this CPU: this CPU has no "
                                         "bfloat16 instructions"):
        bench.measure(tiny_spec(precision="mixed_bfloat16"), steps=1, device="cpu")


@pytest.mark.skipif(not hardware.precision_support("cpu")["mixed_bfloat16"].supported,
                    reason="this CPU has no bfloat16 instructions")
def test_mixed_bfloat16_runs_where_the_cpu_has_it():
    [result] = bench.measure(tiny_spec(precision="mixed_bfloat16", mode="train-step"), steps=1, burn_in=0,
                             device="cpu", log=None)
    assert result.median_seconds > 0


# ------------------------------------------------------------------------------------------- statistics

def test_statistics_of_known_step_times():
    result = result_with([1.0, 2.0, 3.0, 10.0], batch_size=4, multiply_adds=1_000_000)
    assert result.mean_seconds == 4.0
    assert result.median_seconds == 2.5
    assert result.std_seconds == pytest.approx(np.std([1, 2, 3, 10], ddof=1))
    assert result.images_per_second == pytest.approx(4 / 2.5)
    assert result.flops_per_step == 2 * 1_000_000 * 4
    assert result.gflops_per_second == pytest.approx(8e6 / 2.5 / 1e9)
    assert result_with([1.0]).std_seconds == 0.0


@pytest.mark.parametrize("mode", ["forward-backward", "train-step"])
def test_backward_work_counts_three_forward_passes(mode):
    assert result_with([1.0], mode=mode).flops_per_step == 3 * result_with([1.0]).flops_per_step


def ceiling_of(seconds=0.1, multiply_adds=10**9, peak=None):
    """A float32 CPU ceiling of one kernel: 2 * multiply_adds / 1e9 / seconds GFLOP/s."""
    return timing.KernelCeiling("float32", "cpu", (timing.KernelRate("k", multiply_adds, (seconds,)),), peak)


def test_describe_prints_the_blog_line_and_the_fraction_of_the_ceiling():
    ceiling = ceiling_of(0.1)
    assert ceiling.gflops_per_second == pytest.approx(20.0)
    line = result_with([0.5, 0.5, 0.5], batch_size=5, multiply_adds=10**9).describe(ceiling)
    assert line == ("tiny forward function float32 5x8: 0.500 +/- 0.000 s/batch over 3 steps, median 0.500 s, "
                    "10.0 images/s, 20.0 GFLOP/s (100% of the ceiling)")


def test_compare_divides_medians_within_groups_only():
    ours = result_with([2.0, 2.0], model="tiny")
    baseline = result_with([4.0, 4.0], model="resnet56")
    other_group = result_with([1.0], model="tiny", mode="forward-backward")
    [comparison] = bench.compare([ours, baseline, other_group], baseline="resnet56")
    assert comparison.spec == ours.spec and comparison.baseline == "resnet56"
    assert comparison.median_ratio == 0.5


# ---------------------------------------------------------------------------------------------- hardware

def test_precision_support_on_cpus_with_and_without_16_bit_instructions():
    plain = hardware.precision_support("cpu", flags=frozenset({"avx2", "fma"}))
    assert list(plain) == list(hardware.PRECISIONS)
    assert plain["float32"].supported
    assert not plain["mixed_bfloat16"].supported and not plain["mixed_float16"].supported
    assert "emulate bfloat16" in plain["mixed_bfloat16"].reason
    recent = hardware.precision_support("cpu", flags=frozenset({"avx512f", "avx512_bf16", "amx_bf16"}))
    assert recent["mixed_bfloat16"].supported and "amx_bf16, avx512_bf16" in recent["mixed_bfloat16"].reason
    assert not recent["mixed_float16"].supported
    unknown = hardware.precision_support("cpu", flags=frozenset())
    assert "cannot tell" in unknown["mixed_float16"].reason


def test_precision_support_on_gpus_follows_the_compute_capability(monkeypatch):
    monkeypatch.setattr(hardware, "resolve_device", lambda device="auto": "gpu")
    turing = hardware.precision_support("gpu", capability=(7, 5))
    assert turing["mixed_float16"].supported and not turing["mixed_bfloat16"].supported
    assert "need at least 8.0" in turing["mixed_bfloat16"].reason
    ampere = hardware.precision_support("gpu", capability=(8, 0))
    assert all(entry.supported for entry in ampere.values())
    pascal = hardware.precision_support("gpu", capability=(6, 1))
    assert [name for name, entry in pascal.items() if entry.supported] == ["float32"]


def test_check_precision_names_the_reason_and_what_is_supported():
    with pytest.raises(ValueError, match=r"not supported on this CPU: this CPU has no float16 instructions .*"
                                         r"Supported here: float32, mixed_bfloat16"):
        hardware.check_precision("mixed_float16", "cpu", flags=frozenset({"avx512_bf16"}))
    with pytest.raises(ValueError, match="precision must be one of float32, mixed_bfloat16, mixed_float16"):
        hardware.check_precision("int8", "cpu")
    assert hardware.check_precision("float32", "cpu") == "float32"


def test_resolve_device():
    assert hardware.resolve_device("cpu") == "cpu"
    assert hardware.resolve_device("auto") in ("cpu", "gpu")
    with pytest.raises(ValueError, match="device must be one of auto, cpu, gpu, got 'tpu'"):
        hardware.resolve_device("tpu")
    if not tf.config.list_physical_devices("GPU"):
        with pytest.raises(ValueError, match="TensorFlow sees no GPU"):
            hardware.resolve_device("gpu")


def write_cpuinfo(folder, flags, megahertz="2445.406"):
    path = folder / "cpuinfo"
    clock = f"cpu MHz\t\t: {megahertz}\n" if megahertz else ""
    path.write_text(f"processor\t: 0\nmodel name\t: Test CPU\n{clock}flags\t\t: {flags}\n")
    return str(path)


@pytest.mark.parametrize("flags, vector, per_cycle", [
    ("fpu sse2 avx fma avx2 avx512f", "avx512f", 64),  # 16 lanes x 2 operations x 2 FMA units
    ("fpu sse2 avx fma avx2", "avx2", 32),
    ("fpu sse2 avx", "avx", 16),  # no FMA: one multiply and one add unit
    ("fpu sse2", "sse2", 8),
])
def test_cpu_peak_counts_lanes_fma_units_cores_and_the_clock(tmp_path, flags, vector, per_cycle):
    peak = hardware.cpu_peak(path=write_cpuinfo(tmp_path, flags), max_clock_path=str(tmp_path / "none"), cores=2)
    assert (peak.vector_flag, peak.per_cycle, peak.cores) == (vector, per_cycle, 2)
    assert peak.clock_ghz == pytest.approx(2.445406) and not peak.clock_is_maximum
    assert peak.gflops_per_second == pytest.approx(2 * 2.445406 * per_cycle)
    assert "the clock Linux reports, not a bound" in peak.describe()


def test_cpu_peak_prefers_the_drivers_maximum_clock(tmp_path):
    maximum = tmp_path / "cpuinfo_max_freq"
    maximum.write_text("3500000\n")  # kHz
    peak = hardware.cpu_peak(path=write_cpuinfo(tmp_path, "avx2 fma"), max_clock_path=str(maximum), cores=1)
    assert peak.clock_ghz == pytest.approx(3.5) and peak.clock_is_maximum
    assert peak.describe() == ("float32 peak 112.0 GFLOP/s = 1 cores x 3.50 GHz (the maximum clock) x 32 operations "
                               "per cycle (avx2, at most 2 FMA units)")


def test_cpu_peak_is_none_without_a_vector_width_or_a_clock(tmp_path):
    none = str(tmp_path / "none")
    assert hardware.cpu_peak(path=write_cpuinfo(tmp_path, "fpu asimd"), max_clock_path=none) is None  # Arm
    assert hardware.cpu_peak(path=write_cpuinfo(tmp_path, "avx2 fma", megahertz=""), max_clock_path=none) is None
    assert hardware.cpu_peak(path=none, max_clock_path=none) is None
    with pytest.raises(ValueError, match="cores must be a positive integer, got 0"):
        hardware.cpu_peak(path=write_cpuinfo(tmp_path, "avx2"), max_clock_path=none, cores=0)


def test_cpu_flags_and_model_read_linux_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Test CPU 3000\nflags\t\t: fpu avx2 avx512_bf16\n")
    assert hardware.cpu_flags(str(cpuinfo)) == {"fpu", "avx2", "avx512_bf16"}
    assert hardware.cpu_model(str(cpuinfo)) == "Test CPU 3000"
    assert hardware.cpu_flags(str(tmp_path / "missing")) == frozenset()


def test_describe_environment_records_versions_and_device():
    record = hardware.describe_environment("cpu")
    assert record["tensorflow"] == tf.__version__ and record["device"] == "cpu"
    assert record["cpu_cores"] >= 1 and record["date_utc"].endswith("+00:00")
    json.dumps(record)  # a report stores it as JSON


def test_tf32_is_recorded_and_in_effect_only_on_ampere_or_later_gpus_when_enabled():
    record = hardware.describe_environment("cpu")
    assert record["tf32_enabled"] == tf.config.experimental.tensor_float_32_execution_enabled()
    assert record["tf32_in_effect"] is False  # a CPU has no tensor cores
    assert hardware.tf32_in_effect("gpu", (8, 0), True) and hardware.tf32_in_effect("gpu", (9, 0), True)
    assert not hardware.tf32_in_effect("gpu", (7, 5), True)  # Turing: no TF32
    assert not hardware.tf32_in_effect("gpu", (8, 6), False)  # switched off
    assert not hardware.tf32_in_effect("gpu", None, True) and not hardware.tf32_in_effect("cpu", (8, 0), True)


def test_the_tf32_switch_and_the_summary_label(monkeypatch):
    calls = []
    monkeypatch.setattr(tf.config.experimental, "enable_tensor_float_32_execution", calls.append)
    hardware.set_tf32(False)
    assert calls == [False]
    with pytest.raises(ValueError, match="True or False"):
        hardware.set_tf32("no")
    report = bench.Report(command="c", environment={"tf32_in_effect": True}, settings={}, results=())
    assert report.summary().startswith("float32 below means TF32")
    assert "TF32" not in bench.Report(command="c", environment={"tf32_in_effect": False}, settings={},
                                      results=()).summary()
    arguments = bench.build_parser().parse_args(["--no-tf32"])
    assert arguments.no_tf32


# ------------------------------------------------------------------------------------------------ reports

def test_report_round_trips_through_json(tmp_path):
    peak = hardware.CpuPeak(cores=2, clock_ghz=2.5, clock_is_maximum=False, vector_flag="avx2", per_cycle=32)
    ceiling = ceiling_of(0.001, peak=peak)
    results = (result_with([1.0, 2.0], model="tiny"), result_with([2.0, 2.0], model="resnet56"))
    report = bench.Report(command="python -m resnet_lessons.bench", environment={"cpu": "x"},
                          settings={"steps": 2}, results=results, ceilings=(ceiling,),
                          comparisons=tuple(bench.compare(results, "resnet56")), seconds=3.0,
                          load_average_after=[0.5, 0.4, 0.3])
    path = tmp_path / "report.json"
    report.save(path)
    loaded = bench.load_report(str(path))
    assert loaded == report
    assert loaded.results[1].median_seconds == 2.0
    assert loaded.ceiling_for("float32") == ceiling and loaded.ceiling_for("mixed_bfloat16") is None
    assert "tiny / resnet56 median time, forward function float32 4x8: 0.750" in loaded.summary()
    stored = json.loads(path.read_text())  # the statistics are written beside the times, for readers of the file
    assert stored["report_version"] == 2 and stored["results"][1]["median_seconds"] == 2.0
    assert stored["ceilings"][0]["gflops_per_second"] == pytest.approx(ceiling.gflops_per_second)
    assert stored["ceilings"][0]["kernels"][0]["gflops_per_second"] == pytest.approx(2000.0)
    assert stored["ceilings"][0]["peak"]["gflops_per_second"] == pytest.approx(160.0)
    no_peak = dataclasses.replace(report, ceilings=(ceiling_of(0.001),))
    no_peak.save(path)
    assert bench.load_report(str(path)) == no_peak


def test_the_stored_chapter_6_report_reads_back_and_writes_out_unchanged():
    path = pathlib.Path(__file__).resolve().parents[1] / "book" / "data" / "resnet50_benchmark.json"
    report = bench.load_report(str(path))
    assert json.loads(json.dumps(report.to_dict())) == json.loads(path.read_text())


def stored_benchmark_reports():
    """Every benchmark report kept in the repository (book/data/ and tests/): JSON with results and an environment."""
    root = pathlib.Path(__file__).resolve().parents[1]
    paths = sorted([*(root / "book" / "data").glob("*.json"), *(root / "tests").rglob("*.json")])
    return [path for path in paths if {"results", "environment"} <= set(json.loads(path.read_text()))]


@pytest.mark.parametrize("path", stored_benchmark_reports(), ids=lambda path: path.name)
def test_every_stored_benchmark_report_loads(path):
    report = bench.load_report(str(path))
    assert report.results and all(isinstance(result.spec, bench_specs.BenchmarkSpec) for result in report.results)
    assert json.loads(json.dumps(report.to_dict())) == json.loads(path.read_text())  # nothing lost or added


def test_the_stored_reports_include_chapter_6s():
    assert "resnet50_benchmark.json" in [path.name for path in stored_benchmark_reports()]


def test_report_of_another_version_is_refused(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"report_version": 0}))
    with pytest.raises(ValueError, match="expected a benchmark report of version 2, got version 0"):
        bench.load_report(str(path))


# --------------------------------------------------------------------------------------------- command line

@pytest.mark.parametrize("argv, message", [
    (["--models", "resnet51"], "argument --models: invalid choice: 'resnet51'"),
    (["--batch-sizes", "0"], "argument --batch-sizes: expected a positive integer, got 0"),
    (["--steps", "-3"], "argument --steps: expected a positive integer, got -3"),
    (["--steps", "ten"], "argument --steps: expected a positive integer, got 'ten'"),
    (["--burn-in", "-1"], "argument --burn-in: expected an integer >= 0, got -1"),
    (["--modes", "backward"], "argument --modes: invalid choice: 'backward'"),
    (["--executions", "graph"], "argument --executions: invalid choice: 'graph'"),
    (["--precisions", "int8"], "argument --precisions: invalid choice: 'int8'"),
    (["--models", "keras", "--image-size", "16"], "image_size must be an integer >= 32 for model 'keras', got 16"),
])
def test_command_line_refuses_bad_arguments_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_command_line_refuses_a_precision_the_device_lacks(monkeypatch, capsys):
    monkeypatch.setattr(hardware, "cpu_flags", lambda path=hardware.CPUINFO_PATH: frozenset({"avx2"}))
    with pytest.raises(SystemExit):
        bench.main(["--device", "cpu", "--precisions", "mixed_float16"])
    assert "precision 'mixed_float16' is not supported on this CPU: this CPU has no float16" in capsys.readouterr().err


def test_command_line_lists_models_and_precisions(capsys):
    assert bench.main(["--list", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "keras      keras.applications.ResNet50(weights=None)" in out
    assert "float32         supported on this CPU" in out


def test_command_line_runs_and_writes_a_json_report(tmp_path, capsys, monkeypatch):
    path = tmp_path / "bench.json"
    argv = ["--models", "tiny", "resnet20", "--baseline", "resnet20", "--modes", "forward", "train-step",
            "--batch-sizes", "2", "--image-size", "8", "--steps", "2", "--burn-in", "1", "--ceiling-size", "32",
            "--no-tf32", "--json", str(path), "--quiet"]
    switched = []
    monkeypatch.setattr(bench.hardware, "set_tf32", switched.append)
    assert bench.main(argv) == 0
    assert switched == [False]  # before anything is measured
    out = capsys.readouterr().out
    assert "float32 ceiling on the" in out and "TensorFlow matmul 32x32" in out
    assert "tiny forward function float32 2x8:" in out and "images/s" in out and "GFLOP/s" in out
    assert "% of the ceiling" in out
    report = bench.load_report(str(path))
    assert report.command == "python -m resnet_lessons.bench " + " ".join(argv)
    assert [r.spec.model for r in report.results] == ["tiny", "resnet20"] * 2
    assert {c.spec.mode for c in report.comparisons} == {"forward", "train-step"}
    assert report.settings == {"steps": 2, "burn_in": 1, "seed": 0, "device": report.environment["device"]}
    assert len(report.ceilings) == 1


def test_run_keeps_the_faster_of_the_ceilings_measured_before_and_after(monkeypatch):
    rates = iter([0.2, 0.1])  # seconds per product: the second measurement is the faster one
    monkeypatch.setattr(timing, "measure_ceiling", lambda size, dtype, **kwargs: ceiling_of(next(rates), size**3))
    lines = []
    report = bench.run([tiny_spec()], steps=1, burn_in=0, ceiling_size=1000, log=lines.append)
    assert [ceiling.best.step_seconds for ceiling in report.ceilings] == [(0.1,)]
    assert any("ceiling before: float32 ceiling on the CPU: 10.0 GFLOP/s, set by k" in line for line in lines)
    assert bench.run([tiny_spec()], steps=1, burn_in=0, ceiling_size=None, log=None).ceilings == ()


@pytest.mark.slow  # a fresh Python process imports TensorFlow (a few seconds)
def test_runs_as_a_module():
    completed = subprocess.run([sys.executable, "-m", "resnet_lessons.bench", "--list", "--device", "cpu"],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert "resnet20" in completed.stdout


def test_a_report_that_cannot_be_read_is_a_clear_value_error(tmp_path):
    with pytest.raises(ValueError, match="cannot read the benchmark report .*missing.json"):
        bench.load_report(str(tmp_path / "missing.json"))
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ValueError, match="cannot read the benchmark report .*broken.json"):
        bench.load_report(str(tmp_path / "broken.json"))
    # an address that cannot be reached (nothing listens on port 9 of this machine), as offline in Colab
    with pytest.raises(ValueError, match="cannot read the benchmark report 'http://127.0.0.1:9/report.json'"):
        bench.load_report("http://127.0.0.1:9/report.json", timeout=2)


def test_benchmark_sizes_per_profile_with_a_fallback(monkeypatch):
    quick, paper = bench.benchmark_sizes("quick"), bench.benchmark_sizes(profiles.PAPER)
    assert (quick.batch_size, quick.image_size, quick.steps, quick.burn_in) == (4, 96, 12, 3)
    assert quick.batch_sizes == (1, 2, 4, 8, 16, 32, 64) and quick.ceiling_size == 2048
    # the paper profile measures the blog's benchmark: batch 16 of 224x224, 100 timed steps after 10
    assert (paper.batch_size, paper.image_size, paper.steps, paper.burn_in) == (16, 224, 100, 10)
    assert paper.batch_sizes[-1] == 256 and paper.ceiling_size == 4096
    # any other profile, among them one a reader adds, gets the default profile's sizes instead of a KeyError
    assert bench.benchmark_sizes("medium") == bench.benchmark_sizes("my-profile") == quick
    assert bench.benchmark_sizes(dataclasses.replace(profiles.PAPER, name="paper-bf16")) == quick
    monkeypatch.setenv("RESNET_LESSONS_PROFILE", "paper")
    assert bench.benchmark_sizes() == paper
    for bad in ("", 3):
        with pytest.raises(ValueError, match="a TrainConfig or a profile name"):
            bench.benchmark_sizes(bad)


def test_find_returns_the_one_matching_result_and_explains_none_or_many():
    forward, training = result_with([0.1, 0.1]), result_with([0.3, 0.3], mode="train-step")
    other = result_with([0.2, 0.2], model="resnet20")
    results = [forward, training, other]
    assert bench.find(results, model="tiny", mode="train-step") is training
    assert bench.find(results, model="resnet20") is other
    with pytest.raises(ValueError, match="2 results have model='tiny'; expected exactly one"):
        bench.find(results, model="tiny")
    with pytest.raises(ValueError, match="0 results have mode='xla'"):
        bench.find(results, mode="xla")
    with pytest.raises(ValueError, match="unknown spec field.*colour"):
        bench.find(results, colour="red")
