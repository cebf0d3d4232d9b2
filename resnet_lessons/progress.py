"""Progress a reader can watch that leaves nothing volatile behind in a stored notebook.

Long work should say that it is alive and how long is left. But the book's notebooks are committed with their
outputs, and a stored "40 s left" or "step 30/32" is wrong on every later run. In a Jupyter kernel (JupyterLab,
Colab, VS Code, nbclient) a :class:`LiveStatus` is therefore one display that shows a header with a status line under
it, updated in place while the work runs; when the work is done only the header stays. Anywhere else (a terminal, a
script writing a log) nothing is stored, so it prints the header once and then a status line now and then.
"""

from __future__ import annotations

import time


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
        header: the line that stays, e.g. ``"Training plain-20 (269,722 trainable parameters) under ..."``.
        print_interval: outside a notebook, the least number of seconds between two printed status lines.
        notebook: show it as an updatable display (True), print it (False), or decide by
            :func:`in_notebook_kernel` (None).
    """

    def __init__(self, header: str, *, print_interval: float = 30.0, notebook: bool | None = None):
        if not isinstance(header, str):
            raise ValueError(f"header must be a string, got {type(header).__name__}")
        if isinstance(print_interval, bool) or not isinstance(print_interval, (int, float)) or print_interval < 0:
            raise ValueError(f"print_interval must be a number of seconds >= 0, got {print_interval!r}")
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

    def finish(self) -> None:
        """The work is done: in a notebook the status line goes and the header stays."""
        if self._handle is not None:
            self._handle.update({"text/plain": self.header}, raw=True)
