"""load.Burst: busy processes that start spinning before start() returns and are gone after stop()."""

import os
import time

import pytest

from resnet_lessons import load


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a running process, from Linux's /proc/PID/stat."""
    with open(f"/proc/{pid}/stat", encoding="utf-8") as file:
        fields = file.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads CPU time from Linux's /proc")
def test_a_burst_keeps_its_processes_busy_until_stopped():
    burst = load.Burst(processes=2)
    burst.start()
    try:
        processes = list(burst._running)
        assert burst.running and len(processes) == 2
        # Spinning, not sleeping: each gathers CPU time. On a busy machine that takes longer, so wait for it (a
        # sleeping process would never get there) instead of asking for a share of a fixed interval.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(cpu_seconds(process.pid) > 0.2 for process in processes):
            time.sleep(0.1)
        assert all(process.poll() is None for process in processes)
        assert all(cpu_seconds(process.pid) > 0.2 for process in processes)
    finally:
        burst.stop()
    assert not burst.running
    assert all(process.returncode is not None for process in processes)


def test_a_burst_as_a_context_stops_on_an_exception():
    with pytest.raises(KeyError):
        with load.Burst(processes=1) as burst:
            [process] = burst._running
            raise KeyError("the timed code failed")
    assert process.returncode is not None and not burst.running


def test_a_burst_ends_by_itself_after_its_time_limit():
    burst = load.Burst(processes=1, time_limit=0.3)
    burst.start()
    [process] = burst._running
    assert process.wait(timeout=30) == 0  # it finished its loop; nobody killed it
    burst.stop()


def test_a_running_burst_cannot_start_twice_and_stop_without_start_does_nothing():
    burst = load.Burst(processes=1)
    burst.stop()
    with burst:
        with pytest.raises(RuntimeError, match="already running"):
            burst.start()
    assert not burst.running


@pytest.mark.parametrize("kwargs, message", [
    (dict(processes=0), "processes must be a positive integer, got 0"),
    (dict(processes=1.5), "processes must be a positive integer, got 1.5"),
    (dict(time_limit=0), "time_limit must be a positive number of seconds, got 0"),
    (dict(time_limit="10"), "time_limit must be a positive number of seconds, got '10'"),
])
def test_a_burst_refuses_bad_arguments_naming_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load.Burst(**kwargs)
