"""What chapter 6's benchmark can measure: the models, the kinds of step, and the sizes under each profile.

A :class:`BenchmarkSpec` names one configuration to time and refuses one that cannot run; :func:`benchmark_sizes`
gives the sizes the chapter measures at under a training profile. :mod:`resnet_lessons.bench` times specs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras

from resnet_lessons import hardware, models, profiles, timing

MODES = ("forward", "forward-backward", "train-step")
EXECUTIONS = ("eager", "function", "xla")
PRECISIONS = hardware.PRECISIONS
# The blog's batch: 16 images of 224x224 (its step counts are timing.BLOG_STEPS and timing.BLOG_BURN_IN).
BLOG_BATCH_SIZE = 16
BLOG_IMAGE_SIZE = 224


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """How to build one benchmarkable model for a given input shape."""

    build: Callable[[tuple[int, int, int]], keras.Model]  # input_shape -> model returning logits
    description: str  # one line for listings and reports
    min_image_size: int  # smallest height/width the model accepts


def _keras_resnet50(input_shape):
    # Logits like ours (the softmax of keras' default is left out of both), random weights (no download).
    return keras.applications.ResNet50(weights=None, input_shape=input_shape, classifier_activation=None)


MODELS = {
    "ours": ModelEntry(lambda shape: models.resnet50(input_shape=shape),
                       "our ResNet-50 (chapter 5): as in the paper, convolutions without biases", 32),
    "ours-bias": ModelEntry(lambda shape: models.resnet50(input_shape=shape, use_bias=True),
                            "our ResNet-50 with convolution biases, layer for layer keras.applications' network", 32),
    "keras": ModelEntry(_keras_resnet50, "keras.applications.ResNet50(weights=None): convolutions with biases", 32),
    "resnet20": ModelEntry(lambda shape: models.resnet20(input_shape=shape),
                           "ResNet-20 for CIFAR-10 (chapter 4): a small stand-in", 4),
    "resnet56": ModelEntry(lambda shape: models.resnet56(input_shape=shape),
                           "ResNet-56 for CIFAR-10 (chapter 4)", 4),
}


@dataclasses.dataclass(frozen=True)
class BenchmarkSpec:
    """One configuration to time: which model, which work, how it is run, at which size."""

    model: str = "ours"  # a key of MODELS
    mode: str = "forward"  # "forward" (inference), "forward-backward" (gradients) or "train-step" (+ SGD update)
    execution: str = "function"  # "eager", "function" (tf.function) or "xla" (tf.function(jit_compile=True))
    precision: str = "float32"  # "float32", "mixed_bfloat16" or "mixed_float16"
    batch_size: int = BLOG_BATCH_SIZE  # images per step
    image_size: int = BLOG_IMAGE_SIZE  # height and width of the (square, RGB) images

    def __post_init__(self):
        for name, choices in (("model", tuple(MODELS)), ("mode", MODES), ("execution", EXECUTIONS),
                              ("precision", PRECISIONS)):
            timing.check_choice(name, getattr(self, name), choices)
        timing.check_count("batch_size", self.batch_size, 1)
        least = MODELS[self.model].min_image_size
        timing.check_count("image_size", self.image_size, least, f" for model {self.model!r}")

    @property
    def label(self) -> str:
        """A short name for tables and logs, e.g. ``"keras forward function float32 16x224"``."""
        return f"{self.model} {self.mode} {self.execution} {self.precision} {self.batch_size}x{self.image_size}"

    def group(self) -> tuple:
        """Everything but the model: results in one group are comparable model against model."""
        return (self.mode, self.execution, self.precision, self.batch_size, self.image_size)


@dataclasses.dataclass(frozen=True)
class BenchmarkSizes:
    """How large chapter 6's speed measurements are under a profile: seconds on a laptop, the blog's sizes on a GPU."""

    batch_size: int  # images per timed step
    image_size: int  # height and width of the images
    steps: int  # timed steps
    burn_in: int  # steps run first and left out of the statistics
    batch_sizes: tuple[int, ...]  # the batch sizes of the throughput sweep
    ceiling_size: int  # side of the square matrices whose product measures the machine's ceiling


BENCHMARK_SIZES = {
    "quick": BenchmarkSizes(batch_size=4, image_size=96, steps=12, burn_in=3, batch_sizes=(1, 2, 4, 8, 16, 32, 64),
                            ceiling_size=2048),
    "paper": BenchmarkSizes(batch_size=BLOG_BATCH_SIZE, image_size=BLOG_IMAGE_SIZE, steps=timing.BLOG_STEPS,
                            burn_in=timing.BLOG_BURN_IN, batch_sizes=(1, 2, 4, 8, 16, 32, 64, 128, 256),
                            ceiling_size=4096),
}


def benchmark_sizes(config: profiles.TrainConfig | str | None = None) -> BenchmarkSizes:
    """The sizes of chapter 6's measurements under profile ``config`` (a ``TrainConfig``, a name, or ``None``).

    ``paper`` gets the blog's benchmark, ``quick`` one of seconds on two CPU cores; any other profile the default
    profile's sizes, so a new name never stops the chapter (add it to ``BENCHMARK_SIZES`` to give it its own).
    """
    config = profiles.get_profile() if config is None else config
    name = config.name if isinstance(config, profiles.TrainConfig) else config
    if not isinstance(name, str) or not name:
        raise ValueError(f"config must be a TrainConfig or a profile name, got {config!r}")
    return BENCHMARK_SIZES.get(name, BENCHMARK_SIZES[profiles.DEFAULT_PROFILE])
