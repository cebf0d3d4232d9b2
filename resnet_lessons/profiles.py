"""Training profiles: the paper's recipe and shorter versions of it for a laptop CPU (every training chapter).

A profile is a frozen :class:`TrainConfig` that notebooks pick by name (:func:`get_profile`); ``RESNET_LESSONS_PROFILE``
changes the default for a whole run of the book (``paper`` on a GPU reproduces the paper's schedule). A chapter derives
a variation with ``dataclasses.replace(config, epochs=...)``, so the change shows in the notebook.
"""

from __future__ import annotations

import dataclasses
import os

from resnet_lessons import arguments

PROFILE_ENVIRONMENT_VARIABLE = "RESNET_LESSONS_PROFILE"


def step_decay(iteration, *, learning_rate: float, decay_iterations: tuple[int, ...], warmup_iterations: int,
               warmup_learning_rate: float, as_number=float):
    """The paper's learning rate at SGD step ``iteration`` (from 0): ``warmup_learning_rate`` for ``warmup_iterations``
    steps, then ``learning_rate``, divided by 10 at each of ``decay_iterations``.

    The one formula for the history (:meth:`TrainConfig.learning_rate_at`) and the optimizer
    (:class:`resnet_lessons.train.WarmupStepDecay`, a step tensor): ``as_number`` turns a comparison into 1 or 0, and
    the warm-up is chosen by multiplying by it, since a tensor cannot drive an ``if``.
    """
    decays = sum(as_number(iteration >= boundary) for boundary in decay_iterations)
    warming_up = as_number(iteration < warmup_iterations)
    return warming_up * warmup_learning_rate + (1 - warming_up) * learning_rate * 0.1**decays


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that decides how a network is trained, so two runs under one config are comparable.

    The defaults are the paper's CIFAR-10 recipe (Sec. 4.2): 64k iterations of batch 128 on 45k images is 182 epochs
    of 351 steps, and the divisions by 10 at 32k and 48k iterations fall after epochs 91 and 137.
    """

    name: str  # shown on figures and in histories
    epochs: int = 182  # passes over the (sub)set of training images
    batch_size: int = 128  # images per SGD step
    learning_rate: float = 0.1  # after warm-up, before the first decay
    momentum: float = 0.9  # SGD momentum
    weight_decay: float = 1e-4  # L2 coefficient on conv and dense kernels, added to the gradient
    decay_epochs: tuple[int, ...] = (91, 137)  # epochs after which the learning rate is divided by 10
    warmup_iterations: int = 0  # steps at warmup_learning_rate first; the paper warms up ResNet-110 only (for_depth)
    warmup_learning_rate: float = 0.01  # learning rate during warm-up (the paper's, for ResNet-110)
    # How many of the data set's training images (its num_train) a run uses: the first N (None: all, 45,000 after the
    # validation split); a setting, named like test_examples and validation_examples.
    train_examples: int | None = None
    test_examples: int | None = None  # first N test images (None: all)
    validation_examples: int = 5_000  # held out of the training images, measured after every epoch
    image_size: int = 32  # side of the images the nets see; CIFAR's 32 is area-downsampled to it when smaller
    augment: bool = True  # the paper's pad-crop-flip augmentation
    jit_compile: bool | str = "auto"  # XLA: "auto" uses it on a GPU and not on a CPU, where it does not pay off
    # With a validation split, measure the test split after every epoch too (curves like the paper's Fig. 6); nothing
    # is chosen on it, so it stays a test set. Without a validation split it is measured after every epoch anyway.
    test_every_epoch: bool = False

    def __post_init__(self):
        def require(condition, field, expected):
            arguments.require(condition, f"TrainConfig.{field}", getattr(self, field), expected)

        require(isinstance(self.name, str) and self.name, "name", "a non-empty string")
        for field in ("epochs", "batch_size", "image_size"):
            arguments.positive_int(getattr(self, field), f"TrainConfig.{field}")
        for field in ("warmup_iterations", "validation_examples"):
            arguments.non_negative_int(getattr(self, field), f"TrainConfig.{field}")
        for field in ("train_examples", "test_examples"):
            value = getattr(self, field)
            require(value is None or (arguments.is_int(value) and value >= 1), field, "None or a positive integer")
        for field in ("learning_rate", "warmup_learning_rate"):
            require(arguments.is_number(getattr(self, field)) and getattr(self, field) > 0, field, "a positive number")
        require(arguments.is_number(self.momentum) and 0 <= self.momentum < 1, "momentum", "in [0, 1)")
        require(arguments.is_number(self.weight_decay) and self.weight_decay >= 0, "weight_decay", "a number >= 0")
        decay = self.decay_epochs
        require(isinstance(decay, tuple) and all(arguments.is_int(e) and 0 < e for e in decay)
                and list(decay) == sorted(set(decay)), "decay_epochs", "a tuple of increasing positive epoch numbers")
        for field in ("augment", "test_every_epoch"):
            require(isinstance(getattr(self, field), bool), field, "True or False")
        require(self.jit_compile in (True, False, "auto"), "jit_compile", "True, False or 'auto'")
        # NumPy integers pass the checks; store Python ones, so a config compares, hashes and saves as JSON as usual.
        for name, value in dataclasses.asdict(self).items():
            if arguments.is_int(value) and not isinstance(value, int):
                object.__setattr__(self, name, int(value))
        object.__setattr__(self, "decay_epochs", tuple(int(epoch) for epoch in decay))

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """The recipe ``dataclasses.asdict`` gave, read back from JSON (which turns the tuple into a list)."""
        return cls(**{**values, "decay_epochs": tuple(values["decay_epochs"])})

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """The ``(height, width, 3)`` a model trained under this profile takes."""
        return (self.image_size, self.image_size, 3)

    def decay_iterations(self, steps_per_epoch: int) -> tuple[int, ...]:
        """The SGD steps (from 0) at which the learning rate is divided by 10: ``decay_epochs`` in steps."""
        steps_per_epoch = arguments.positive_int(steps_per_epoch, "steps_per_epoch")
        return tuple(epoch * steps_per_epoch for epoch in self.decay_epochs)

    def learning_rate_at(self, iteration: int, steps_per_epoch: int) -> float:
        """The learning rate of SGD step ``iteration`` (from 0), by :func:`step_decay`: the history's column."""
        return step_decay(arguments.non_negative_int(iteration, "iteration"), learning_rate=self.learning_rate,
                          decay_iterations=self.decay_iterations(steps_per_epoch),
                          warmup_iterations=self.warmup_iterations, warmup_learning_rate=self.warmup_learning_rate)

    def describe(self) -> str:
        """One line for figure captions and logs: the recipe, and which split is measured when."""
        if self.validation_examples:
            images = (f"{self.train_examples:,} of the training images" if self.train_examples
                      else "all training images") + f" but {self.validation_examples:,} held out for validation,"
            held_out = ("validation and test error after every epoch" if self.test_every_epoch
                        else "validation error after every epoch, test error once at the end")
        else:
            images = f"{self.train_examples:,} training images" if self.train_examples else "all training images"
            tested = f"{self.test_examples:,} test images" if self.test_examples else "the test images"
            held_out = f"error on {tested} after every epoch"
        return (f"profile '{self.name}': {self.epochs} epochs, batch {self.batch_size}, lr {self.learning_rate:g}, "
                f"{images} at {self.image_size}x{self.image_size}; {held_out}")


PAPER = TrainConfig(name="paper")  # the paper's CIFAR-10 recipe: the defaults

# Minutes on two CPU cores: the recipe's shape, scaled down to 4,096 images at 16x16 (a quarter of the pixels), 8
# epochs of 32 steps, no augmentation (it pays off only over long runs), and lr 0.02: 256 steps leave no time to
# recover from a rough start (ResNet-56 stayed at chance at 0.05). Plain-56 stays at chance here under every change
# we tried within a chapter's budget, so chapter 1 shows the paper's degradation from a stored run of MEDIUM.
QUICK = TrainConfig(name="quick", epochs=8, learning_rate=0.02, decay_epochs=(6,), warmup_iterations=32,
                    train_examples=4_096, test_examples=1_024, validation_examples=0, image_size=16, augment=False)

# For runs longer than a chapter allows (benchmarks/degradation_seeds.py and figure6.py, read by chapters 1 and 4):
# the paper's recipe on all images at 16x16 for 10 epochs (decays at half and three quarters, rounded up), with the
# test split measured every epoch. Under it plain-56 leaves chance and ends above plain-20: the paper's degradation.
MEDIUM = TrainConfig(name="medium", epochs=10, decay_epochs=(5, 8), image_size=16, test_every_epoch=True)

PROFILES = {config.name: config for config in (QUICK, MEDIUM, PAPER)}
DEFAULT_PROFILE = "quick"

def for_depth(config: TrainConfig | str | None, depth: int) -> TrainConfig:
    """The profile as the paper applies it to a network of ``depth`` weighted layers (chapter 4): from 110 layers a
    profile without a warm-up gets ResNet-110's, named ``"<profile>-warmup"`` so histories and checkpoints tell the
    recipes apart (the paper trained the 1202-layer net the same way)."""
    config = get_profile(config)
    if arguments.positive_int(depth, "depth") < 110 or config.warmup_iterations > 0:
        return config
    # The paper's ResNet-110 warm-up (Sec. 4.2): lr 0.01 "until the training error is below 80% (about 400
    # iterations)". A fixed number of iterations keeps a run a function of its config and seed alone (resumable).
    return dataclasses.replace(config, name=f"{config.name}-warmup", warmup_iterations=400, warmup_learning_rate=0.01)


def get_profile(name: str | TrainConfig | None = None) -> TrainConfig:
    """The profile called ``name`` (a ``TrainConfig`` passes through); by default ``$RESNET_LESSONS_PROFILE`` or
    ``"quick"``. An unknown name raises a ``ValueError`` naming the profiles there are."""
    source = f" (from ${PROFILE_ENVIRONMENT_VARIABLE})" if name is None else ""  # shown only for an unknown name
    if name is None:
        name = os.environ.get(PROFILE_ENVIRONMENT_VARIABLE, "").strip() or DEFAULT_PROFILE
    if isinstance(name, TrainConfig):
        return name
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}{source}: expected one of {', '.join(sorted(PROFILES))}")
    return PROFILES[name]
