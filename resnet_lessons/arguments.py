"""Argument checkers: a public function checks what a reader passes it, once, with these; helpers below trust it.

Each raises a ``ValueError`` naming the argument, what was expected and the value (``"batch_size must be a positive
integer, got 0"``) and returns integers as Python ``int``. An integer is a Python or NumPy integer but not a bool
(``epochs=True`` is a mistake, not one epoch). This module imports nothing from the package, so any module can use it.
"""

from __future__ import annotations

import math
import numbers


def is_int(value) -> bool:
    """True for a Python or NumPy integer, False for a bool and for everything else (``2.0`` included)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value) -> bool:
    """True for an integer (as in :func:`is_int`) or a finite float; False for a bool, ``nan`` and infinities."""
    return is_int(value) or (isinstance(value, float) and math.isfinite(value))


def require(condition: bool, name: str, value, expected: str) -> None:
    """Raise ``ValueError("<name> must be <expected>, got <value>")`` unless ``condition`` holds.

    The package's one message format, for checks the functions below do not cover, e.g.
    ``require(is_number(momentum) and 0 <= momentum < 1, "momentum", momentum, "in [0, 1)")``.
    """
    if not condition:
        raise ValueError(f"{name} must be {expected}, got {value!r}")


def positive_int(value, name: str) -> int:
    """``value`` as an ``int`` if it is an integer >= 1; else a ``ValueError`` naming ``name``."""
    require(is_int(value) and value >= 1, name, value, "a positive integer")
    return int(value)


def non_negative_int(value, name: str) -> int:
    """``value`` as an ``int`` if it is an integer >= 0 (a seed, an epoch index); else a ``ValueError``."""
    require(is_int(value) and value >= 0, name, value, "a non-negative integer")
    return int(value)


def count_at_most(value, name: str, available: int, *, what: str = "") -> int:
    """``value`` as an ``int`` if it is an integer from 1 to ``available`` (how many of something to take).

    ``what`` says what ``available`` is: ``"the images available"`` gives ``"num_train must be between 1 and 6 (the
    images available), got 7"``.
    """
    require(is_int(value), name, value, "a positive integer")
    require(1 <= value <= available, name, int(value), f"between 1 and {available:,}" + (f" ({what})" if what else ""))
    return int(value)
