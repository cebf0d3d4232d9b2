"""One explicit call that makes a run repeatable (every chapter calls it in its setup cell)."""

from __future__ import annotations

import keras
import tensorflow as tf

from resnet_lessons import arguments


def set_seed(seed: int, *, deterministic_ops: bool = True) -> None:
    """Seed Python, NumPy, TensorFlow and Keras, and (``deterministic_ops``) ask TensorFlow for deterministic kernels.

    Seeds alone are not enough on every device: some GPU kernels and multi-threaded reductions add floating-point
    numbers in a varying order, so ``tf.config.experimental.enable_op_determinism`` is switched on too, for the rest of
    the process. This is the one place the package seeds anything; nothing is seeded at import time.
    """
    keras.utils.set_random_seed(arguments.non_negative_int(seed, "seed"))
    if deterministic_ops:
        tf.config.experimental.enable_op_determinism()
