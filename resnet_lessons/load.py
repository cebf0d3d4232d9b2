"""Load on purpose: busy processes that take CPU cores from a measurement (chapter 6).

Chapter 6 times the same step twice, once after the other and once interleaved, while a burst of load from another
program arrives, to show why a benchmark interleaves what it compares. :class:`Burst` is that other program: processes
that each keep one core busy, started and stopped between two timed steps.
"""

from __future__ import annotations

import subprocess
import sys

from resnet_lessons import arguments

# What each busy process runs: say it is running, then spin until killed or until the time limit.
_SPIN = ("import sys, time\n"
         "end = time.monotonic() + float(sys.argv[1])\n"
         "print('spinning', flush=True)\n"
         "while time.monotonic() < end:\n"
         "    pass\n")


class Burst:
    """``processes`` busy processes, each spinning on a core from :meth:`start` until :meth:`stop` (or the end of a
    ``with`` block). Each also ends by itself after ``time_limit`` seconds, so that none outlives a crashed kernel."""

    def __init__(self, processes: int = 2, *, time_limit: float = 300.0):
        self.processes = arguments.positive_int(processes, "processes")
        arguments.require(arguments.is_number(time_limit) and time_limit > 0, "time_limit", time_limit,
                          "a positive number of seconds")
        self.time_limit = float(time_limit)
        self._running: list[subprocess.Popen] = []

    @property
    def running(self) -> bool:
        return bool(self._running)

    def start(self) -> None:
        """Start the busy processes and return once every one of them is spinning."""
        if self._running:
            raise RuntimeError("the burst is already running: stop it before starting it again")
        self._running = [subprocess.Popen([sys.executable, "-c", _SPIN, str(self.time_limit)],
                                          stdout=subprocess.PIPE, text=True) for _ in range(self.processes)]
        for process in self._running:
            process.stdout.readline()  # "spinning": its loop has begun

    def stop(self) -> None:
        """Kill the busy processes and wait until they are gone (nothing happens if none runs)."""
        for process in self._running:
            process.kill()
        for process in self._running:
            process.wait()
            process.stdout.close()
        self._running = []

    def __enter__(self) -> "Burst":
        self.start()
        return self

    def __exit__(self, *exception) -> None:
        self.stop()
