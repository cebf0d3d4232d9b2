"""ImageNet weights for the book's ResNet-50/101/152: the files Keras publishes, loaded by layer name (chapter 5).

Training a ResNet-50 on ImageNet takes days on several GPUs; Keras publishes the weights of its ``keras.applications``
ResNets, converted from the paper's authors' release. :func:`resnet_lessons.models.imagenet_resnet` names its layers
as Keras does, so :func:`load_imagenet_weights` reads the file (cached, or downloaded through
:mod:`resnet_lessons.downloads`, never hanging offline) into a ``keras.applications`` model and copies every layer.

The paper's convolutions have no bias, Keras' have one. Before batch norm a bias is redundant: ``BN(conv(x) + b)``
with moving mean ``m`` equals ``BN(conv(x))`` with moving mean ``m - b``, so :func:`copy_keras_weights` folds each
bias into the batch norm after it, and the weights also fit the paper's bias-free model.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib

import keras
import numpy as np

from resnet_lessons import arguments, downloads, equivalence, models

# Where keras.applications downloads its ResNet weights (keras/src/applications/resnet.py), and the MD5 sums it
# checks, for the files with the classifier ("top") and without it.
KERAS_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
KERAS_WEIGHTS_MD5 = {50: ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
                     101: ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
                     152: ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c")}
# The 1,000 ImageNet class names, as keras.applications' decode_predictions fetches them (about 35 kB).
CLASS_INDEX_URL = "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"
CLASS_INDEX_MD5 = "c2c37ea517e94d9795004a39431a14cb"
IMAGENET_CLASSES = 1000
CACHE_SUBDIR = "models"  # the Keras cache's folder for weights, as keras.applications uses it

_KERAS_BUILDERS = {50: "ResNet50", 101: "ResNet101", 152: "ResNet152"}


class WeightsUnavailable(downloads.Unavailable):
    """The ImageNet weights (or class names) are not in the Keras cache and cannot be downloaded now."""


def weights_file_name(depth: int, include_top: bool = True) -> str:
    """The name of Keras' weight file for ResNet-``depth``, e.g. ``resnet50_weights_tf_dim_ordering_tf_kernels.h5``."""
    _validate_depth(depth)
    suffix = "" if include_top else "_notop"
    return f"resnet{depth}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"


def weights_file(depth: int, *, include_top: bool = True, cache_dir=None, download: bool = True,
                 timeout: float = 3.0) -> pathlib.Path:
    """The path of Keras' ImageNet weights for ResNet-``depth`` (50, 101 or 152), downloaded if needed (about 100 MB).

    ``include_top`` chooses the file with the 1,000-class dense layer or the one without it (``_notop``); the other
    arguments are those of :func:`resnet_lessons.downloads.fetch`. A :class:`WeightsUnavailable` says why the file
    cannot be had now (not cached and ``download`` False, offline, the download failed, the cached file damaged).
    """
    _validate_depth(depth)
    file_name = weights_file_name(depth, include_top)
    md5 = KERAS_WEIGHTS_MD5[depth][0 if include_top else 1]
    return _fetch(file_name, KERAS_WEIGHTS_URL + file_name, md5, f"the ImageNet weights file of ResNet-{depth}",
                  cache_dir=cache_dir, download=download, timeout=timeout)


def imagenet_class_names(*, cache_dir=None, download: bool = True, timeout: float = 3.0) -> list[str]:
    """The 1,000 ImageNet class names in the order of the classifier's outputs (``"tench"``, ..., ``"toilet tissue"``).

    Read from the class index of ``keras.applications``' ``decode_predictions`` (cached, or downloaded as
    :func:`weights_file`).
    """
    path = _fetch("imagenet_class_index.json", CLASS_INDEX_URL, CLASS_INDEX_MD5, "the ImageNet class index",
                  cache_dir=cache_dir, download=download, timeout=timeout)
    with open(path) as index_file:
        index = json.load(index_file)
    return [index[str(number)][1].replace("_", " ") for number in range(IMAGENET_CLASSES)]


def load_imagenet_weights(model: keras.Model, *, cache_dir=None, download: bool = True,
                          timeout: float = 3.0) -> keras.Model:
    """Load Keras' ImageNet weights into a ResNet-50/101/152 built by :func:`resnet_lessons.models.imagenet_resnet`.

    ``model`` (e.g. ``models.resnet50()``, any input size, ``stride_on="1x1"`` and 1,000 classes if it has a
    classifier, with or without conv biases) is returned with the weights loaded; its depth and whether it has the
    classifier are read from its layers. A model they do not fit is a ``ValueError``; when the weights cannot be had
    (a :class:`WeightsUnavailable`) nothing is changed. The weights expect the preprocessing of
    ``keras.applications.resnet50.preprocess_input``: RGB in 0..255 converted to BGR, ImageNet's mean pixel subtracted.
    """
    depth, include_top = _architecture(model)
    path = weights_file(depth, include_top=include_top, cache_dir=cache_dir, download=download, timeout=timeout)
    builder = getattr(keras.applications, _KERAS_BUILDERS[depth])
    # The classifier activation does not affect the weights; None keeps Keras from checking it against them.
    reference = builder(weights=None, include_top=include_top, classifier_activation=None)
    reference.load_weights(os.fspath(path))
    copy_keras_weights(reference, model)
    return model


def copy_keras_weights(source: keras.Model, target: keras.Model) -> int:
    """Copy a ``keras.applications`` ResNet's weights into ours by layer name; the number of layers copied.

    Where ``source``'s ``X_conv`` has a bias and ``target``'s has not, the bias is subtracted from the moving mean of
    ``X_bn``; both models then compute the same function (within float rounding). When the weighted layers' names or
    shapes differ, a ``ValueError`` says so and nothing is copied.
    """
    source_layers = {layer.name: layer for layer in equivalence.weighted_layers(source)}
    target_layers = {layer.name: layer for layer in equivalence.weighted_layers(target)}
    if source_layers.keys() != target_layers.keys():
        only_source = sorted(source_layers.keys() - target_layers.keys())
        only_target = sorted(target_layers.keys() - source_layers.keys())
        raise ValueError(f"layer names differ: in {source.name!r} only: {only_source[:5]}, "
                         f"in {target.name!r} only: {only_target[:5]}")
    values = {name: layer.get_weights() for name, layer in source_layers.items()}
    for name, layer in source_layers.items():
        target_layer = target_layers[name]
        folds = (isinstance(layer, keras.layers.Conv2D) and layer.use_bias
                 and isinstance(target_layer, keras.layers.Conv2D) and not target_layer.use_bias)
        if not folds:
            continue
        batch_norm = name.removesuffix("_conv") + "_bn"
        if not name.endswith("_conv") or batch_norm not in values:
            raise ValueError(f"cannot fold the bias of {name!r}: no batch norm {batch_norm!r} follows it")
        kernel, bias = values[name]
        gamma, beta, moving_mean, moving_variance = values[batch_norm]
        values[name] = [kernel]
        values[batch_norm] = [gamma, beta, moving_mean - bias, moving_variance]
    for name, layer in target_layers.items():
        expected = [tuple(weight.shape) for weight in layer.weights]
        given = [tuple(np.shape(value)) for value in values[name]]
        if given != expected:
            raise ValueError(f"layer {name!r}: {source.name!r} has weights of shapes {given}, "
                             f"{target.name!r} needs {expected}")
    for name, layer in target_layers.items():
        layer.set_weights(values[name])
    return len(target_layers)


def top_classes(probabilities, class_names, top: int = 5) -> list[list[tuple[str, float]]]:
    """The ``top`` most probable classes of each row of softmax outputs (batch, classes), as ``(name, probability)``."""
    probabilities = np.asarray(probabilities)
    if probabilities.ndim != 2 or probabilities.shape[1] != len(class_names):
        raise ValueError(f"probabilities must have shape (batch, {len(class_names)}), got {probabilities.shape}")
    top = arguments.count_at_most(top, "top", len(class_names))
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :top]
    return [[(class_names[index], float(row[index])) for index in indices]
            for row, indices in zip(probabilities, order)]


def _validate_depth(depth):
    if not arguments.is_int(depth) or depth not in KERAS_WEIGHTS_MD5:
        raise ValueError(f"Keras publishes ImageNet weights for ResNet-50, 101 and 152, not for depth {depth!r}")


def _architecture(model):
    """Return ``(depth, include_top)`` of a model built by ``imagenet_resnet``, or raise ``ValueError``."""
    if not isinstance(model, keras.Model):
        raise ValueError(f"expected a keras.Model, got {type(model).__name__}")
    names = {layer.name for layer in model.layers}
    blocks = tuple(sum(f"conv{stage}_block{number}_out" in names for number in range(1, 100)) for stage in range(2, 6))
    depths = [depth for depth, stages in models.IMAGENET_BLOCKS_PER_STAGE.items()
              if stages == blocks and depth in KERAS_WEIGHTS_MD5]
    if not depths or "conv2_block1_3_conv" not in names:
        raise ValueError(f"{model.name!r} is not a bottleneck ResNet-50, 101 or 152 of resnet_lessons.models "
                         f"(blocks per stage {blocks}); Keras publishes ImageNet weights only for those")
    if model.get_layer("conv3_block1_1_conv").strides != (2, 2):
        raise ValueError(f"{model.name!r} has its downsampling stride on the 3x3 convolutions (stride_on='3x3'); "
                         "Keras' ImageNet weights were trained with it on the first 1x1 (stride_on='1x1')")
    include_top = "predictions" in names
    if include_top and model.get_layer("predictions").units != IMAGENET_CLASSES:
        raise ValueError(f"{model.name!r} has {model.get_layer('predictions').units} classes; the ImageNet "
                         f"classifier has {IMAGENET_CLASSES}: build it with include_top=False for its features")
    return depths[0], include_top


def _fetch(file_name, url, md5, what, *, cache_dir, download, timeout):
    """Return the cached file ``file_name`` (checked against ``md5``), downloading it first if it is missing."""
    downloads.check_timeout(timeout)
    cached = downloads.find_in_keras_cache(CACHE_SUBDIR, file_name, cache_dir)
    if cached is None:
        return downloads.fetch(url, what=what, advice=f"run once on a machine with internet access, or copy "
                               f"{file_name} into the Keras cache's {CACHE_SUBDIR}/ folder", cache_subdir=CACHE_SUBDIR,
                               cache_dir=cache_dir, download=download, timeout=timeout, error=WeightsUnavailable,
                               fname=file_name, file_hash=md5)
    with open(cached, "rb") as file:
        damaged = hashlib.file_digest(file, lambda: hashlib.md5(usedforsecurity=False)).hexdigest() != md5
    if damaged:
        raise WeightsUnavailable(f"the cached copy of {what} at {cached} is damaged (wrong MD5 sum); delete it and "
                                 "run again to download it anew", reason=f"the cached copy at {cached} is damaged")
    return cached
