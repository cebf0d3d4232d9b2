"""resnet_lessons: the package behind the executable book "ResNet Lessons".

Import the modules you need; importing the package itself loads nothing else and changes no global state.

- ``data``, ``cifar10``, ``synthetic``: CIFAR-10, or a synthetic stand-in when offline, as an ``ImageDataset``.
- ``pipeline``: ``tf.data`` input pipelines with the paper's augmentation, reproducible epoch by epoch.
- ``blocks``, ``models``: plain and residual blocks, shortcut options A/B/C, the one network builder.
- ``profiles``, ``train``: the ``quick`` and ``paper`` recipes, training with checkpoints and histories.
- ``plots``: training curves and image grids; ``checks``: checkers for the exercises.
- ``seeding``: the one call that makes a run repeatable.
- ``complexity``: multiply-adds (the paper's FLOPs) counted from a built model.
- ``equivalence``: copy weights between two implementations and compare their outputs.
"""

__version__ = "0.1.0"
