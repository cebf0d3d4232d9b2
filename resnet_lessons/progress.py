"""Progress a reader can watch that leaves nothing volatile behind in a stored notebook.

The book's notebooks are committed with their outputs, and a stored "40 s left" is wrong on every later run. So in a
Jupyter kernel a :class:`LiveStatus` is one display, a header with a status line under it updated in place, and only
the header stays when the work is done; elsewhere (a terminal, a log) it prints the header, then a status line now and
then.
"""

from __future__ import annotations

import time

from resnet_lessons import arguments


def in_notebook_kernel() -> bool:
    """Whether this code runs in a Jupyter kernel, where displays can be updated in place."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class LiveStatus:
    """A header that stays, and a status line under it that lasts only while the work runs.

    Args:
        print_interval: outside a notebook, the least number of seconds between two printed status lines.
        notebook: show an updatable display (True), print (False), or decide by :func:`in_notebook_kernel` (None).
    """

    def __init__(self, header: str, *, print_interval: float = 30.0, notebook: bool | None = None):
        if not isinstance(header, str):
            raise ValueError(f"header must be a string, got {type(header).__name__}")
        arguments.require(arguments.is_number(print_interval) and print_interval >= 0, "print_interval",
                          print_interval, "a number of seconds >= 0")
        self.header = header
        self.print_interval = float(print_interval)
        self.notebook = in_notebook_kernel() if notebook is None else bool(notebook)
        self._last_print = time.monotonic()
        self._handle = None
        if self.notebook:
            from IPython.display import display

            self._handle = display({"text/plain": header}, raw=True, display_id=True)
        else:
            print(header, flush=True)

    def update(self, status: str) -> None:
        """Show ``status`` under the header (in a notebook at once; printed at most every ``print_interval`` s)."""
        if self._handle is not None:
            self._handle.update({"text/plain": f"{self.header}\n  {status}"}, raw=True)
            return
        now = time.monotonic()
        if now - self._last_print >= self.print_interval:
            self._last_print = now
            print(f"  {status}", flush=True)

    def finish(self, result: str | None = None) -> None:
        """The work is done: the status line goes. In a notebook ``result``, if given, takes the header's place (one
        line for the whole job); otherwise the header stays. Outside a notebook ``result`` is printed."""
        if self._handle is not None:
            self._handle.update({"text/plain": self.header if result is None else result}, raw=True)
        elif result is not None:
            print(result, flush=True)
