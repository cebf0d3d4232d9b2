"""Training profiles: the paper's recipe and shorter versions of it for a laptop CPU (every training chapter).

A profile is a frozen :class:`TrainConfig`; notebooks pick one by name, and the ``RESNET_LESSONS_PROFILE``
environment variable changes the default for a whole run of the book (``RESNET_LESSONS_PROFILE=paper`` on a GPU
reproduces the paper's schedule with the same code). A chapter that needs a variation derives it with
``dataclasses.replace(config, epochs=...)`` so the change is visible in the notebook.
"""

from __future__ import annotations

import dataclasses
import os

from resnet_lessons import arguments

PROFILE_ENVIRONMENT_VARIABLE = "RESNET_LESSONS_PROFILE"


def step_decay(iteration, *, learning_rate: float, decay_iterations: tuple[int, ...], warmup_iterations: int,
               warmup_learning_rate: float, as_number=float):
    """The paper's learning-rate schedule at SGD step ``iteration`` (counted from 0), written once for the book.

    ``warmup_learning_rate`` for the first ``warmup_iterations`` steps, then ``learning_rate``, divided by 10 at each
    of ``decay_iterations``. The same lines serve the history (:meth:`TrainConfig.learning_rate_at`, with a Python
    int) and the optimizer (:class:`resnet_lessons.train.WarmupStepDecay`, with the step counter as a tensor inside
    the compiled training step): ``as_number`` turns a comparison into 1 or 0 (``float`` for Python numbers, a cast for
    tensors), and the warm-up is chosen by multiplying by it instead of by an ``if``, which a tensor cannot drive.

    Returns:
        The learning rate: a ``float`` for a Python ``iteration``, else of the type ``as_number`` returns.
    """
    decays = sum(as_number(iteration >= boundary) for boundary in decay_iterations)
    warming_up = as_number(iteration < warmup_iterations)
    return warming_up * warmup_learning_rate + (1 - warming_up) * learning_rate * 0.1**decays


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that decides how a network is trained, so two runs under one config are comparable.

    The defaults are the paper's CIFAR-10 recipe (Sec. 4.2), so a profile names only what it changes. 64k iterations
    of batch 128 on 45k images is 182 epochs of 351 steps; the divisions by 10 at 32k and 48k iterations fall after
    epochs 91 and 137.
    """

    name: str  # shown on figures and in histories
    epochs: int = 182  # passes over the (sub)set of training images
    batch_size: int = 128  # images per SGD step
    learning_rate: float = 0.1  # after warm-up, before the first decay
    momentum: float = 0.9  # SGD momentum
    weight_decay: float = 1e-4  # L2 coefficient on conv and dense kernels, added to the gradient
    decay_epochs: tuple[int, ...] = (91, 137)  # epochs after which the learning rate is divided by 10
    # Steps at warmup_learning_rate before the full learning rate; the paper warms up ResNet-110 only (for_depth).
    warmup_iterations: int = 0
    warmup_learning_rate: float = 0.01  # learning rate during warm-up (the paper's, for ResNet-110)
    train_examples: int | None = None  # first N training images (None: all, 45,000 after the validation split)
    test_examples: int | None = None  # first N test images (None: all)
    validation_examples: int = 5_000  # held out of the training images, measured after every epoch
    image_size: int = 32  # side of the images the nets see; CIFAR's 32 is area-downsampled to it when smaller
    augment: bool = True  # the paper's pad-crop-flip augmentation
    jit_compile: bool | str = "auto"  # XLA: "auto" uses it on a GPU and not on a CPU, where it does not pay off
    # With a validation split: measure the test split after every epoch as well, for curves like the paper's Fig. 6.
    # Nothing is chosen on it (the schedule is fixed in advance), so it stays a test set. Without a validation split
    # the test split is measured after every epoch anyway.
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
        require(isinstance(self.augment, bool), "augment", "True or False")
        require(self.jit_compile in (True, False, "auto"), "jit_compile", "True, False or 'auto'")
        require(isinstance(self.test_every_epoch, bool), "test_every_epoch", "True or False")
        # NumPy integers pass the checks; store Python ones, so a config compares, hashes and saves as JSON as usual.
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if arguments.is_int(value) and not isinstance(value, int):
                object.__setattr__(self, field.name, int(value))
        object.__setattr__(self, "decay_epochs", tuple(int(epoch) for epoch in decay))

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """The ``(height, width, 3)`` a model trained under this profile takes."""
        return (self.image_size, self.image_size, 3)

    def decay_iterations(self, steps_per_epoch: int) -> tuple[int, ...]:
        """The SGD steps (counted from 0) at which the learning rate is divided by 10: ``decay_epochs`` in steps."""
        steps_per_epoch = arguments.positive_int(steps_per_epoch, "steps_per_epoch")
        return tuple(epoch * steps_per_epoch for epoch in self.decay_epochs)

    def learning_rate_at(self, iteration: int, steps_per_epoch: int) -> float:
        """The learning rate of SGD step ``iteration`` (counted from 0), by :func:`step_decay`: the history's column."""
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


# The paper's CIFAR-10 recipe: the defaults of TrainConfig.
PAPER = TrainConfig(name="paper")

# Minutes on two CPU cores. The recipe's shape is kept (SGD with momentum and weight decay, a warm-up, a step decay)
# but scaled down: 4,096 images at 16x16 (a 32x32 image has four times the pixels to convolve), 8 epochs of 32 steps,
# and no augmentation, which only pays off over long runs. The learning rate is lower than the paper's 0.1: with
# only 256 steps there is no time to recover from a rough start (on the synthetic set, at 0.05 ResNet-56 stayed at
# chance, at 0.02 it trained).
#
# Measured again on CIFAR-10 (the JPEG copy, seed 0, 2 CPU cores), final training / test error: plain-20 51.5 / 61.1 %,
# ResNet-20 21.4 / 55.9 %, ResNet-56 22.6 / 57.4 %, plain-56 88.8 / 90.4 % (chance is 90 %). Real photographs did not
# call for another profile: the nets that train here train on them too, and 4,096 images show overfitting (test far
# above training error), as they should. Plain-56 stays at chance, and no change we tried within a chapter's budget
# moved it (each run ended at 89-91 % training error): learning rates 0.005, 0.01, 0.05, 0.1; momentum 0; no weight
# decay; batches of 64; 12 and 40 epochs (1,280 steps); 32x32 images (batch 32 or 64, 256 steps); 32,768 distinct
# images in one epoch; 32x32 with augmentation at 0.1; even Adam. Plain-32 stays there as well. So the quick profile
# stays as it is: chapter 1 says that at this scale the deep plain net fails to start rather than converging to a
# higher error as in the paper, and shows the paper's degradation from a stored run of MEDIUM.
QUICK = TrainConfig(name="quick", epochs=8, learning_rate=0.02, decay_epochs=(6,), warmup_iterations=32,
                    train_examples=4_096, test_examples=1_024, validation_examples=0, image_size=16, augment=False)

# Between the two, for runs longer than a chapter allows (benchmarks/degradation_seeds.py and benchmarks/figure6.py,
# whose result files chapters 1 and 4 read): the paper's recipe (learning rate 0.1 from the first step, momentum,
# weight decay, pad-crop-flip augmentation, the 45k/5k split, decays at half and three quarters of the run, rounded
# up) on all the images at 16x16, for 10 epochs (3,510 steps) instead of 182; the test split is measured after every
# epoch too, for curves like the paper's Fig. 6. Why it exists: in the quick profile's 256 steps on 4,096 images
# plain-56 never leaves chance, at any setting we tried (see QUICK). Under this recipe (CIFAR-10, the JPEG copy, 2 CPU
# cores) plain-56 left chance within its first three epochs for each of seeds 0, 1 and 2 and ended at 76-79 %
# training error, against 37-38 % for plain-20: the paper's degradation. About 0.3 s per step for a 56-layer net.
MEDIUM = TrainConfig(name="medium", epochs=10, decay_epochs=(5, 8), image_size=16, test_every_epoch=True)

PROFILES = {config.name: config for config in (QUICK, MEDIUM, PAPER)}

# The paper's ResNet-110 warm-up (Sec. 4.2): "the initial learning rate of 0.1 is slightly too large to start
# converging. So we use 0.01 to warm up the training until the training error is below 80% (about 400 iterations),
# and then go back to 0.1". A fixed number of iterations keeps a run a function of its config and seed alone (so it
# can be resumed exactly); the paper's own stopping rule watched the training error.
DEEP_WARMUP_DEPTH = 110
DEEP_WARMUP_ITERATIONS = 400
DEEP_WARMUP_LEARNING_RATE = 0.01


def for_depth(config: TrainConfig | str | None, depth: int) -> TrainConfig:
    """The profile as the paper applies it to a network of ``depth`` layers (chapter 4).

    The paper warms ResNet-110 up at learning rate 0.01 for about 400 iterations; it says the 1202-layer net was
    trained the same way. So a profile *without* a warm-up gets that one for depths of 110 and more, under the name
    ``"<profile>-warmup"`` (so histories and checkpoints tell the two recipes apart). A profile that already warms up
    (the quick one warms every net up) and shallower nets are returned unchanged.

    Args:
        config: a ``TrainConfig`` or a profile name (``None``: the default profile, as in :func:`get_profile`).
        depth: the network's number of weighted layers, a positive integer.

    Returns:
        The ``TrainConfig`` to train that network with.
    """
    config = get_profile(config)
    arguments.require(arguments.is_int(depth) and depth >= 1, "depth", depth,
                      "a positive integer (number of weighted layers)")
    if depth < DEEP_WARMUP_DEPTH or config.warmup_iterations > 0:
        return config
    return dataclasses.replace(config, name=f"{config.name}-warmup", warmup_iterations=DEEP_WARMUP_ITERATIONS,
                               warmup_learning_rate=DEEP_WARMUP_LEARNING_RATE)


DEFAULT_PROFILE = "quick"


def get_profile(name: str | None = None) -> TrainConfig:
    """Return the profile called ``name``; by default the one in ``RESNET_LESSONS_PROFILE``, else ``"quick"``.

    Raises:
        ValueError: for a name that is not a profile, naming the ones there are.
    """
    if name is None:
        name = os.environ.get(PROFILE_ENVIRONMENT_VARIABLE, "").strip() or DEFAULT_PROFILE
        source = f" (from ${PROFILE_ENVIRONMENT_VARIABLE})" if os.environ.get(PROFILE_ENVIRONMENT_VARIABLE) else ""
    else:
        source = ""
    if isinstance(name, TrainConfig):
        return name
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}{source}: expected one of {', '.join(sorted(PROFILES))}")
    return PROFILES[name]
