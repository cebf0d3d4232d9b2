"""Checkers for the exercises: they say plainly whether an answer is right and, if not, what is likely wrong.

Every checker returns a :class:`CheckResult`, which is truthy when the answer is right and prints as one line a
student can act on, so a notebook cell ending in ``checks.check_parameter_count(model, 270_000)`` shows the verdict.
Checkers compute the right answer from the package's own code at the time of the call; no answer is stored here.
An exercise cell starts with ``answer = ...``; a checker given that placeholder (or ``None``) says what to do
instead of failing, so the book's notebooks run top to bottom before anyone has answered.
"""

from __future__ import annotations

import dataclasses
import math

import keras

from resnet_lessons import models


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """The verdict on one answer."""

    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return f"{'Correct' if self.passed else 'Not yet'}: {self.message}"

    __repr__ = __str__


NO_ANSWER = CheckResult(False, "no answer yet: replace the ... with your answer and run the cell again.")


def check_parameter_count(model: keras.Model, answer) -> CheckResult:
    """Check a hand count of ``model``'s trainable parameters, with hints for the usual slips.

    The hints recognise answers that forgot batch norm's scale and shift, counted its moving statistics (which are
    not trained), or gave every convolution a bias (the paper's convs have none: batch norm follows them).

    Args:
        model: the network whose parameters were counted.
        answer: the student's count, an integer.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model, got {type(model).__name__}")
    if _unanswered(answer):
        return NO_ANSWER
    answer = _as_integer(answer, "answer")
    counts = models.count_parameters(model)
    expected = counts.trainable
    if answer == expected:
        return CheckResult(True, f"{model.name} has {expected:,} trainable parameters.")
    batch_norm_trainable = sum(math.prod(weight.shape) for layer in model.layers
                               if isinstance(layer, keras.layers.BatchNormalization)
                               for weight in layer.trainable_weights)
    conv_filters = sum(layer.filters for layer in model.layers
                       if isinstance(layer, keras.layers.Conv2D) and not layer.use_bias)
    hints = {
        expected - batch_norm_trainable: "it looks like batch norm's scale and shift (gamma and beta, two numbers "
                                         "per channel) are missing",
        expected + counts.non_trainable: "that includes batch norm's moving mean and variance, which are not "
                                         "trained (Keras lists them as non-trainable)",
        expected + conv_filters: "that gives every convolution a bias; these convolutions have none, since the "
                                 "batch norm after each one removes any constant shift",
    }
    hint = hints.get(answer, "count layer by layer: k*k*C_in*C_out per convolution, 2*C per batch norm, "
                             "features*classes + classes for the dense layer")
    direction = "too many" if answer > expected else "too few"
    return CheckResult(False, f"{answer:,} is {abs(answer - expected):,} {direction}; {hint}.")


def check_feature_map_shape(model: keras.Model, layer_name: str, answer) -> CheckResult:
    """Check a predicted output shape ``(height, width, channels)`` of the layer ``layer_name`` for one image.

    Args:
        model: the network.
        layer_name: e.g. ``"conv3_block1_out"``.
        answer: a tuple ``(height, width, channels)``.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model, got {type(model).__name__}")
    try:
        layer = model.get_layer(layer_name)
    except ValueError:
        raise ValueError(f"model {model.name!r} has no layer named {layer_name!r}") from None
    if _unanswered(answer):
        return NO_ANSWER
    try:
        answer = tuple(int(size) for size in answer)
    except (TypeError, ValueError):
        raise ValueError(f"answer must be a tuple (height, width, channels), got {answer!r}") from None
    if len(answer) != 3:
        raise ValueError(f"answer must be a tuple (height, width, channels), got {answer!r}")
    expected = tuple(layer.output.shape[1:])
    if answer == expected:
        return CheckResult(True, f"{layer_name} outputs {expected} per image.")
    hints = []
    if answer[:2] != expected[:2]:
        hints.append("height and width: every stage after the first starts with a stride-2 block, which halves them")
    if answer[2] != expected[2]:
        hints.append("channels: each stage doubles the number of filters")
    return CheckResult(False, f"{answer} is not it; check the {' and the '.join(hints)}.")


def _unanswered(answer) -> bool:
    return answer is None or answer is Ellipsis


def _as_integer(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return int(value)
