"""The input-pipeline benchmark script runs, prints both feeds for each model, and checks the cost it is given."""

import importlib.util
import pathlib
import sys

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "input_pipeline.py"
TINY = ["--image-size", "8", "--batch-size", "16", "--num-images", "64", "--steps", "2", "--warmup-steps", "1",
        "--repeats", "2", "--models", "ResNet-20"]


@pytest.fixture(scope="module")
def benchmark():
    spec = importlib.util.spec_from_file_location("input_pipeline_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_prints_both_feeds_and_the_cost(benchmark, capsys):
    assert benchmark.main(TINY) == 0
    printed = capsys.readouterr().out
    assert printed.count("ResNet-20 repeat") == 4  # two repeats of two feeds
    assert "memory" in printed and "pipeline" in printed
    row = next(line for line in printed.splitlines() if line.startswith("ResNet-20 "))
    assert row.count("%") == 3 and "of a step" in row


def test_max_cost_decides_the_exit_status(benchmark, capsys):
    # The cost 1 - pipeline / memory is below 1 (100 %) whatever the noise, and above -100 (-10,000 %) unless the
    # pipeline feed runs 101 times faster than the memory feed: each limit decides the status one way.
    assert benchmark.main(TINY + ["--max-cost", "-100"]) == 1
    assert "costs more than" in capsys.readouterr().out
    assert benchmark.main(TINY + ["--max-cost", "1.0"]) == 0


def test_result_arithmetic(benchmark):
    measurement = benchmark.Measurement
    result = benchmark.Result("m", memory=[measurement(100.0, 2.0), measurement(300.0, 4.0), measurement(200.0, 3.0)],
                              pipeline=[measurement(180.0, 3.3)] * 3, pipeline_alone_cpu_ms_per_image=0.3)
    assert result.memory_images_per_second == 200.0 and result.cost == pytest.approx(0.1)
    assert result.cpu_cost == pytest.approx(1 - 3.0 / 3.3)
    assert result.cpu_bound == pytest.approx(0.3 / 3.3)


@pytest.mark.parametrize("arguments", [["--steps", "0"], ["--batch-size", "128", "--num-images", "64"],
                                       ["--models", "ResNet-50"]])
def test_bad_arguments_are_refused(benchmark, arguments):
    with pytest.raises(SystemExit):
        benchmark.parse_arguments(arguments)
