"""resnet_lessons: the package behind the executable book "ResNet Lessons".

Import the modules you need; importing the package itself loads nothing else and changes no global state.

- ``data``, ``cifar10``, ``image_folder``, ``synthetic``: CIFAR-10 (the official release, or a copy in the
  image-folder layout), or a synthetic stand-in when offline, as an ``ImageDataset``.
- ``downloads``: the one download path (the Keras cache, a no-hang reachability check, one error with a reason),
  shared by CIFAR-10 and the ImageNet weights.
- ``pipeline``: ``tf.data`` input pipelines with the paper's augmentation, reproducible epoch by epoch.
- ``blocks``, ``models``: plain, residual and bottleneck blocks, shortcut options A/B/C, the one network builder,
  the CIFAR-10 family and the ImageNet family (ResNet-18 to ResNet-152).
- ``family``: closed-form parameter and multiply-add counts of the 6n+2 CIFAR nets (ResNet-1202 included).
- ``complexity``: multiply-adds (the paper's FLOPs) counted from a built model.
- ``pretrained``: Keras' ImageNet weights for ResNet-50/101/152, loaded into the book's models by layer name.
- ``profiles``, ``train``, ``checkpoints``, ``progress``: the ``quick``, ``medium`` and ``paper`` recipes, training
  and its histories, checkpoints to resume from, and a live status that stored notebooks do not keep.
- ``run_report``, ``figure6``: result files of the runs too long for a chapter (``benchmarks/``), and the checks
  and two-panel figure of the paper's Fig. 6 that chapter 4 draws from one.
- ``distribute``: ``tf.distribute`` strategies for the training function, and a one-vs-two-replica comparison.
- ``gradients``: the gradient norm reaching every layer (chapter 1).
- ``identity``: identity layers, deepening a trained net, Jacobians, learning the identity (chapter 2).
- ``graph``, ``diagram``: the layer graph of a built model, and block diagrams drawn from it (chapter 3).
- ``equivalence``: copy weights between two implementations, pair layers by structure, compare their outputs.
- ``timing``, ``bench`` (with ``bench_specs`` and ``bench_report``), ``hardware``: one timing loop and the machine's
  ceiling; honest timing of forward, backward and training steps, what can be measured and the reports of what was;
  and what the machine is (chapter 6; ``python -m resnet_lessons.bench --help``).
- ``lesions``, ``shattered``, ``initializers``: residual nets as ensembles of paths (block deletions, path
  gradients), shattered gradients of 1-D inputs, and Dirac initialisation (chapter 7).
- ``plots``: training curves, gradient norms and image grids; ``checks``: checkers for the exercises.
- ``seeding``: the one call that makes a run repeatable; ``arguments``: the argument checkers every module uses.
- ``run_store``: train once, reuse everywhere: finished runs kept on this machine, keyed by what decides them.
"""

__version__ = "0.1.0"
