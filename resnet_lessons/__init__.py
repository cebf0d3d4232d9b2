"""resnet_lessons: an executable textbook about residual networks (ResNets) in Keras."""

__version__ = "0.1.0"
