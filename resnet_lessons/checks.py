"""Checkers for the exercises: whether an answer is right and, if not, what is likely wrong.

Each returns a :class:`CheckResult`, truthy when right, shown as one line a student can act on. The right answer is
computed from the package's code at the call; none is stored here. Given the placeholder ``...`` (or ``None``) of an
unanswered exercise cell, a checker says what to do instead of failing, so the notebooks run top to bottom.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import keras
import numpy as np

from resnet_lessons import (arguments, blocks, equivalence, gradients, identity, models, seeding,
                            shortcut_variants)


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
    """Check a hand count of ``model``'s trainable parameters (hints: batch norm's share, biases on convolutions)."""
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model, got {type(model).__name__}")
    if _unanswered(answer):
        return NO_ANSWER
    arguments.require(arguments.is_number(answer) and answer == int(answer), "answer", answer, "a whole number")
    answer = int(answer)
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
    """Check a predicted output shape ``(height, width, channels)`` of one image at the layer ``layer_name``."""
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


def check_identity_kernel(answer) -> CheckResult:
    """Check a kernel meant to make a convolution output its input (chapter 2); any kernel that works passes."""
    if _unanswered(answer):
        return NO_ANSWER
    problem = identity.identity_kernel_problem(answer)
    if problem is None:
        return CheckResult(True, "a convolution with this kernel outputs its input unchanged.")
    return CheckResult(False, f"{problem}.")


def check_projection_block(block) -> CheckResult:
    """Check a residual block with option B shortcuts: a 1x1 projection only where the shape changes (chapter 3).

    ``block(x, filters, strides, name)`` is compared with ``blocks.basic_block(..., shortcut="B")``.
    """
    def explain(result, in_channels, filters):
        return _difference(
            result, shape="the stride goes on the first 3x3 convolution and on the projection",
            parameters={8 * in_channels * filters: "the projection is a 1x1 convolution, not a 3x3 one",
                        -2 * filters: "the projection needs its batch norm",
                        in_channels * filters + 2 * filters: "option B keeps the identity where the shape does not "
                                                             "change (a projection everywhere is option C)",
                        -in_channels * filters - 2 * filters: "the shortcut has no projection; where the shape "
                                                              "changes, option B uses a 1x1 conv-BN with the "
                                                              "block's stride"},
            other_count="two 3x3 conv-BN pairs without biases, plus a 1x1 conv-BN projection where the shape changes",
            outputs="check the order conv -> batch norm -> ReLU, no ReLU after the second batch norm, and the ReLU "
                    "after the addition")

    return _compare_block(block, functools.partial(blocks.basic_block, shortcut="B"), ((16, 32, 2), (16, 16, 1)),
                          explain, when_strided_fails="; where the shape changes, the shortcut needs a 1x1 "
                                                      "convolution with the block's stride")


def _compare_block(block, reference, cases, explain, when_strided_fails: str = "") -> CheckResult:
    """Compare a student's ``block`` with ``reference`` for each ``(in_channels, filters, strides)`` of ``cases`` (on
    copied weights, :func:`resnet_lessons.equivalence.compare_blocks`); at the first difference, say which case and
    ``explain(result, in_channels, filters)``; if building it fails at a stride, add ``when_strided_fails``."""
    if _unanswered(block):
        return NO_ANSWER
    if not callable(block):
        raise ValueError(f"answer must be a block function block(x, filters, strides, name), got {block!r}")
    for in_channels, filters, strides in cases:
        case = f"for {in_channels} -> {filters} channels at stride {strides}"
        try:
            result = equivalence.compare_blocks(block, reference, input_shape=(8, 8, in_channels), filters=filters,
                                                strides=strides)
        except Exception as error:  # the student's code may fail in any way; say how
            advice = when_strided_fails if strides != 1 else ""
            return CheckResult(False, f"building your block {case} raised {type(error).__name__}: {error}{advice}")
        if not result.same:
            return CheckResult(False, f"{case}, {explain(result, in_channels, filters)}.")
    return CheckResult(True, "your block has the package block's parameters and computes the same outputs.")


def _difference(result, *, shape: str, parameters: dict, other_count: str, outputs: str, epsilon: bool = False) -> str:
    """Why a student's block differs from the package's (an :class:`~resnet_lessons.equivalence.BlockComparison`):
    its output shape (with the advice ``shape``), its parameter count (a hint per known difference in
    ``parameters``, else ``other_count``), or its outputs (``outputs``; with ``epsilon``, small differences point to
    batch norm's epsilon)."""
    extra = result.candidate_parameters - result.reference_parameters
    if result.candidate_output_shape != result.reference_output_shape:
        return f"the output is {result.candidate_output_shape}, expected {result.reference_output_shape}: {shape}"
    if extra:
        return parameters.get(extra, f"it has {extra:+,} parameters: {other_count}")
    differences = result.detail or f"up to {result.max_difference:.3g}"
    if epsilon and not result.detail and result.max_difference < 0.05:
        return (f"same parameters, outputs close but not equal ({differences}): check batch norm's epsilon, "
                f"{blocks.BATCH_NORM_EPSILON} in the package (as in keras.applications) where Keras' default is "
                "1e-3; blocks.bn_relu uses the package's")
    return f"same parameters, different outputs ({differences}): {outputs}"


def check_chance_loss(answer, num_classes: int = 10) -> CheckResult:
    """Check the cross-entropy of a classifier that gives every class the same probability (chapter 1).

    That loss, :math:`\\ln C`, is where a fresh classifier starts and one that learns nothing stays. Hints recognise
    the chance *error*, the probability itself, a base-10 or base-2 logarithm and a lost minus sign.
    """
    arguments.require(arguments.is_int(num_classes) and num_classes >= 2, "num_classes", num_classes,
                      "an integer of at least 2")
    if _unanswered(answer):
        return NO_ANSWER
    arguments.require(arguments.is_number(answer), "answer", answer, "a number")
    expected = math.log(num_classes)
    if math.isclose(answer, expected, rel_tol=1e-3):
        return CheckResult(True, f"-ln(1/{num_classes}) = ln {num_classes} = {expected:.4f}.")
    hints = [(1 - 1 / num_classes, "that is the chance error rate; the loss is the cross-entropy, -ln p of the "
                                   "correct class's probability p"),
             (1 / num_classes, "that is the probability of the correct class; the loss is -ln of it"),
             (math.log10(num_classes), "that is a base-10 logarithm; cross-entropy uses the natural logarithm, "
                                       "math.log"),
             (math.log2(num_classes), "that is a base-2 logarithm (bits); Keras' cross-entropy uses the natural "
                                      "logarithm, math.log"),
             (-expected, "the sign is lost: ln p is negative for p < 1, the loss is -ln p")]
    for value, hint in hints:
        if math.isclose(answer, value, rel_tol=1e-3):
            return CheckResult(False, f"{answer:.4g}: {hint}.")
    return CheckResult(False, f"{answer:.4g} is not it: the loss of one image is -ln of the probability given to its "
                              f"correct class, here 1/{num_classes} for every image.")


def _unanswered(answer) -> bool:
    return answer is None or answer is Ellipsis


def check_achieved_gflops(result, answer) -> CheckResult:
    """Check a hand computation of a :class:`resnet_lessons.bench.BenchmarkResult`'s achieved GFLOP/s (chapter 6).

    Expected: ``2 * multiply-adds per image * batch size * (3 with a backward pass) / median seconds / 10^9``, within
    1 %, or with the mean step time. Hints recognise a missing factor 2, 3 or batch size, and a wrong power of 10.
    """
    if _unanswered(answer):
        return NO_ANSWER
    arguments.require(arguments.is_number(answer) and answer > 0, "answer", answer, "a positive number of GFLOP/s")
    expected = result.gflops_per_second
    with_mean = result.flops_per_step / result.mean_seconds / 1e9
    if math.isclose(answer, expected, rel_tol=0.01):
        return CheckResult(True, f"{expected:.1f} GFLOP/s over the median step of {result.median_seconds:.3f} s.")
    if math.isclose(answer, with_mean, rel_tol=0.01):
        return CheckResult(True, f"{with_mean:.1f} GFLOP/s over the mean step; over the median step, which one slow "
                                 f"step cannot move, it is {expected:.1f}.")
    backward = {3: "the backward pass costs about twice the forward pass: count three forward passes",
                6: "count 2 operations per multiply-add and 3 forward passes' worth with the backward pass"}
    hints = {**(backward if result.spec.mode != "forward" else {}),
             2: "a multiply-add is two floating-point operations, a multiply and an add",
             result.spec.batch_size: f"a step processes the whole batch of {result.spec.batch_size} images",
             1e9: "GFLOP/s counts 10^9 operations per second", 1e-9: "GFLOP/s counts 10^9 operations per second"}
    for factor, hint in hints.items():
        if any(math.isclose(answer * factor, value, rel_tol=0.01) for value in (expected, with_mean)):
            return CheckResult(False, f"{answer:.4g} is off by a factor of {factor:g}: {hint}.")
    return CheckResult(False, f"{answer:.4g} is not it: divide the operations of one step (2 per multiply-add, for "
                              "every image of the batch, times 3 with a backward pass) by the median step time, "
                              "then by 10^9.")


def check_path_count(num_blocks: int, length: int, answer) -> CheckResult:
    """Check a count of the paths of ``length`` residual branches through a net of ``num_blocks`` blocks (chapter 7).

    Unrolled, ``n`` blocks give ``2**n`` paths (each block crossed by its branch or its shortcut), ``comb(n, k)`` of
    them through exactly ``k`` branches. Hints recognise ``2**n``, the fraction, ``n! / (n - k)!`` and ``n**k``.
    """
    for name, value, least in (("num_blocks", num_blocks, 1), ("length", length, 0)):
        arguments.require(arguments.is_int(value) and value >= least, name, value, f"an integer >= {least}")
    arguments.require(length <= num_blocks, "length", length, f"at most num_blocks={num_blocks}")
    if _unanswered(answer):
        return NO_ANSWER
    expected = math.comb(num_blocks, length)
    arguments.require(arguments.is_number(answer), "answer", answer, "a number of paths")
    if answer == expected:
        return CheckResult(True, f"{expected:,} of the {2**num_blocks:,} paths cross exactly {length} branches: "
                                 f"choose which {length} of the {num_blocks} blocks, comb({num_blocks}, {length}).")
    hints = {
        2**num_blocks: f"that is every path; count only those that cross exactly {length} branches",
        expected / 2**num_blocks: "that is the fraction of all paths; the count is that times 2**n",
        math.perm(num_blocks, length): "that counts ordered choices; the blocks of a path come in the network's "
                                       "order, so divide by k!",
        num_blocks**length: "that counts choices with repetition and order; a path crosses each block once",
    }
    for value, hint in hints.items():
        if math.isclose(answer, value, rel_tol=1e-9):
            return CheckResult(False, f"{answer:,} is not it: {hint}.")
    return CheckResult(False, f"{answer:,} is not it: a path crosses each block once, by its branch or by its "
                              f"shortcut; how many ways are there to choose the {length} blocks whose branch it takes?")


def check_shortcut_product(scale: float, num_blocks: int, answer) -> CheckResult:
    """Check a prediction of how a stack of shortcuts scaled by ``scale`` scales the gradient (chapter 8).

    The expected value is *measured*: two CIFAR nets of ``num_blocks`` blocks (``6n + 2`` layers, so ``num_blocks``
    a multiple of 3) with every branch starting at zero, one with identity shortcuts and one with shortcuts scaled by
    ``scale``; the ratio of their gradients at the first block's input (over the gradient at the last block's
    output) is the answer, within 5 %. Hints recognise a product instead of a power, a power off by one, and 1.
    """
    arguments.require(arguments.is_number(scale) and 0 < scale < 1, "scale", scale, "a number in (0, 1)")
    arguments.require(arguments.is_int(num_blocks) and num_blocks >= 3 and num_blocks % 3 == 0, "num_blocks",
                      num_blocks, "a positive multiple of 3 (three stages of n blocks)")
    if _unanswered(answer):
        return NO_ANSWER
    arguments.require(arguments.is_number(answer), "answer", answer, "a number")
    images = np.random.default_rng(0).normal(size=(8, 8, 8, 3)).astype("float32")
    labels = np.arange(8) % 10
    ratios = {}
    for variant in ("identity", "scaled"):
        seeding.set_seed(0)
        model = shortcut_variants.variant_resnet(2 * num_blocks + 2, variant, input_shape=(8, 8, 3), scale=scale,
                                                 zero_init_residual=True)
        first, last = gradients.activation_gradient_norms(model, images, labels,
                                                          ["conv1_relu", f"conv4_block{num_blocks // 3}_out"])
        ratios[variant] = first / last
    measured = ratios["scaled"] / ratios["identity"]
    if math.isclose(answer, measured, rel_tol=0.05):
        return CheckResult(True, f"measured {measured:.4g}, and {scale:g}^{num_blocks} = {scale**num_blocks:.4g}: "
                                 "every block multiplies the signal that skips its branch by the scale, forward and "
                                 "backward.")
    hints = {scale * num_blocks: "that multiplies the scale by the number of blocks; the factors multiply, so raise "
                                 "it to a power",
             scale ** (num_blocks - 1): "one factor is missing: every one of the blocks scales its shortcut",
             scale ** (num_blocks + 1): "one factor too many: count the blocks, not the layers between them",
             1.0: "a gradient does not pass a scaled shortcut unchanged: it is multiplied by the scale"}
    for value, hint in hints.items():
        if math.isclose(answer, value, rel_tol=0.05):
            return CheckResult(False, f"{answer:.4g} is not it: {hint}.")
    return CheckResult(False, f"{answer:.4g} is not it: with every branch at zero a block is its shortcut, y = "
                              f"{scale:g} x; what do {num_blocks} of them in a row do to a gradient?")


def check_preact_block(block) -> CheckResult:
    """Check a full pre-activation basic block, ``block(x, filters, strides, name)`` (chapter 8), against
    :func:`resnet_lessons.blocks.preact_basic_block` with option A: same parameters, same outputs on copied weights."""
    def explain(result, in_channels, filters):
        return _difference(
            result, shape="the stride goes on the first 3x3 convolution, and option A subsamples and zero-pads the "
                          "shortcut",
            parameters={-2 * in_channels: "the block starts with batch norm and ReLU on its input (the "
                                          "pre-activation)",
                        2 * filters: "nothing follows the second convolution: its batch norm is the next block's "
                                     "pre-activation",
                        filters: "the convolutions have no biases (each is followed by a batch norm, here or in the "
                                 "next block)"},
            other_count="BN-ReLU-conv3x3-BN-ReLU-conv3x3, no biases, and a shortcut without parameters",
            outputs="nothing may follow the addition (no ReLU, no batch norm), and the identity shortcut carries the "
                    "block's input itself, not its normalised version",
            epsilon=True)

    return _compare_block(block, blocks.preact_basic_block, ((16, 16, 1), (16, 32, 2)), explain)
