"""resnet_lessons: the package behind the executable book "ResNet Lessons".

Import the modules you need; importing the package loads nothing else and changes no global state.

- ``data``, ``cifar10``, ``image_folder``, ``synthetic``: CIFAR-10 (official, or in the image-folder layout), or a
  synthetic stand-in offline; ``downloads``: the one download path (cache, probe, one error with a reason).
- ``pipeline``: ``tf.data`` pipelines with the paper's augmentation, reproducible epoch by epoch.
- ``blocks``, ``models``, ``family``, ``complexity``, ``pretrained``: blocks, shortcut options A/B/C, the one network
  builder, the CIFAR-10 and ImageNet families, their closed-form and counted costs, Keras' ImageNet weights.
- ``profiles``, ``train``, ``checkpoints``, ``progress``, ``run_store``, ``distribute``: the recipes, training,
  resuming, live status, finished runs kept and reused, ``tf.distribute`` strategies.
- ``run_report``, ``figure6``, ``responses``: result files of runs too long for a chapter, and the paper's Fig. 6 and
  Fig. 7 checked and drawn from them (chapter 4).
- ``gradients``, ``identity``, ``graph``, ``diagram``, ``equivalence``: gradient norms per layer (chapter 1), identity
  mappings (2), layer graphs and block diagrams (3), comparing two implementations.
- ``timing``, ``bench``, ``bench_specs``, ``bench_report``, ``hardware``, ``load``: honest timing, the machine and
  its peak, and load made on purpose (chapter 6).
- ``lesions``, ``shattered``, ``initializers``: paths in residual nets, shattered gradients, Dirac init (ch. 7).
- ``shortcut_variants``: the shortcuts of the 2016 follow-up's Table 1 (scaled, gated, 1x1 conv, dropout) as blocks
  for the one builder (chapter 8).
- ``plots``, ``checks``, ``seeding``, ``arguments``: shared figures, exercise checkers, repeatable runs, argument checks
"""

__version__ = "0.1.0"
