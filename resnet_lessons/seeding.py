"""One explicit call that makes a run repeatable (every chapter calls it in its setup cell)."""

from __future__ import annotations

import keras
import tensorflow as tf


def set_seed(seed: int, *, deterministic_ops: bool = True) -> None:
    """Seed Python, NumPy, TensorFlow and Keras, and ask TensorFlow for deterministic kernels.

    ``keras.utils.set_random_seed`` seeds the three random number generators that weight initialisation and data
    shuffling draw from. Seeds alone are not enough on every device: some GPU kernels (and multi-threaded reductions)
    add floating-point numbers in a varying order, so ``tf.config.experimental.enable_op_determinism`` is switched on
    as well; it stays on for the rest of the process. Nothing in the package seeds anything at import time; this
    function is the one place it happens.

    Args:
        seed: a non-negative integer.
        deterministic_ops: also enable TensorFlow's deterministic op implementations.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    keras.utils.set_random_seed(seed)
    if deterministic_ops:
        tf.config.experimental.enable_op_determinism()
