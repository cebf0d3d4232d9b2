"""Identity mappings, executed: why a deeper network should be no worse, and what a shortcut does (chapter 2).

The paper's argument (He et al. 2015, Sec. 3.1): take a trained shallow network and add layers that compute the
identity; the deeper network computes the same function, so its training error is no higher. If a deeper plain
network trains *worse* (chapter 1), the solver is failing to find such solutions. This module makes the argument
executable and measures what a shortcut changes:

- :func:`dirac_kernel`, :func:`set_to_identity` and :func:`deepen` turn convolution and batch-norm layers into exact
  identities and build a deep network from a trained shallow one (:func:`identity_kernel_problem` explains why a
  kernel is not the identity, for the chapter's exercise checker);
- :func:`learn_identity` trains a block to reproduce its input, to compare a plain block (which has to find the
  identity) with a residual block (whose branch only has to learn zero); with :func:`near_identity_target` it
  trains them on mappings *close to* the identity, where the paper's hypothesis places the advantage;
- :func:`jacobian` measures ``dH/dx`` of a block, where a shortcut adds the identity matrix.
"""

from __future__ import annotations

import dataclasses
import math

import keras
import numpy as np
import tensorflow as tf

from resnet_lessons import arguments

# How many neighbouring float32 values of the batch-norm variance to try (see _identity_variance).
_VARIANCE_CANDIDATES = 64
# The largest Jacobian jacobian() builds: a (4096, 4096) float32 matrix is 64 MiB.
MAX_JACOBIAN_SIZE = 4096


def dirac_kernel(kernel_size: int, channels: int) -> np.ndarray:
    """The convolution kernel that outputs its input: 1 at the centre tap from channel ``c`` to channel ``c``.

    With ``padding="same"`` and stride 1, output channel ``c`` at pixel ``p`` is then ``1 * x[p, c]`` plus zeros, which
    is ``x[p, c]`` exactly (adding zeros never rounds).

    Args:
        kernel_size: side of the square kernel; odd, so that it has a centre.
        channels: input channels, equal to the output channels.

    Returns:
        A float32 array of shape ``(kernel_size, kernel_size, channels, channels)``.
    """
    arguments.require(arguments.is_int(kernel_size) and kernel_size >= 1 and kernel_size % 2 == 1, "kernel_size",
                      kernel_size, "a positive odd integer (a kernel with a centre)")
    channels = arguments.positive_int(channels, "channels")
    kernel = np.zeros((kernel_size, kernel_size, channels, channels), dtype=np.float32)
    centre = kernel_size // 2
    kernel[centre, centre, np.arange(channels), np.arange(channels)] = 1.0
    return kernel


def identity_kernel_problem(kernel) -> str | None:
    """Say why a convolution with ``kernel`` would not output its input, or return ``None`` if it does.

    The verdict is computed, not compared with :func:`dirac_kernel`: a convolution with ``kernel`` (stride 1,
    ``"same"`` padding) runs on a random batch and its output is compared with the input. When it differs, the
    kernel's structure says why (chapter 2's exercise checker, :func:`resnet_lessons.checks.check_identity_kernel`,
    prints the sentence).

    Args:
        kernel: an array of shape ``(height, width, in_channels, out_channels)``.

    Raises:
        ValueError: if ``kernel`` is not an array of numbers.
    """
    try:
        kernel = np.asarray(kernel, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"kernel must be an array of numbers (height, width, in_channels, out_channels), got "
                         f"{type(kernel).__name__}") from None
    if kernel.ndim != 4:
        return (f"the kernel has shape {kernel.shape}; a Conv2D kernel has four axes: (height, width, input "
                "channels, output channels)")
    height, width, in_channels, out_channels = kernel.shape
    if in_channels != out_channels or in_channels == 0:
        return f"it maps {in_channels} channels to {out_channels}; the identity keeps the number of channels"
    if height != width or height % 2 == 0:
        return (f"a {height}x{width} kernel has no centre tap; the identity needs an odd square kernel such as "
                "3x3")
    inputs = np.random.default_rng(0).normal(size=(2, 6, 6, in_channels)).astype(np.float32)
    outputs = keras.ops.convert_to_numpy(keras.ops.conv(inputs, kernel, strides=1, padding="same"))
    difference = float(np.max(np.abs(outputs - inputs)))
    if difference <= 1e-6:
        return None
    centre = height // 2
    taps = np.abs(kernel).sum(axis=(2, 3))
    taps[centre, centre] = 0
    centre_matrix = kernel[centre, centre]
    if taps.any():
        hint = ("taps other than the centre are not zero, so every output pixel mixes in its neighbours (a single 1 "
                "off the centre shifts the image)")
    elif np.any(centre_matrix != np.diag(np.diag(centre_matrix))):
        hint = ("the centre tap mixes channels: kernel[centre, centre, i, j] must be 0 for i != j, so that each "
                "output channel copies exactly one input channel")
    else:
        hint = "the centre tap's diagonal must be 1: kernel[centre, centre, c, c] = 1 for every channel c"
    return f"the output differs from the input by up to {difference:.3g}: {hint}"


def set_to_identity(layer) -> None:
    """Set the weights of a ``Conv2D`` or ``BatchNormalization`` layer so that it outputs its input (inference mode).

    A convolution gets :func:`dirac_kernel` and a zero bias; it must keep the shape (stride 1, ``"same"`` padding, as
    many filters as input channels, no activation). A batch norm gets scale 1, shift 0, moving mean 0 and a moving
    variance ``v`` with ``1 / sqrt(v + epsilon) = 1``. In exact arithmetic ``v = 1 - epsilon``; in float32 the
    vectorised ``rsqrt`` of some CPUs returns 0.99999994 for 1, so the neighbouring float32 values of ``v`` are tried
    on the layer itself and each channel keeps the first one whose computed scale is exactly 1. The layer is then
    the identity to the last bit, and chapter 2 can ask for equal outputs, not close ones.

    In training mode a batch norm normalises with the batch's own statistics, so it is the identity only in
    inference mode: the deeper network computes the same *function* as the shallow one, which is the paper's claim.

    Raises:
        ValueError: for any other kind of layer, a layer that is not built, or one that cannot keep the shape.
    """
    _check_can_be_identity(layer)
    if isinstance(layer, keras.layers.Conv2D):
        weights = [dirac_kernel(layer.kernel_size[0], layer.filters)]
        if layer.use_bias:
            weights.append(np.zeros(layer.filters, dtype=np.float32))
        layer.set_weights(weights)
        return
    channels = layer.moving_mean.shape[0]
    layer.moving_mean.assign(np.zeros(channels, dtype=np.float32))
    if layer.scale:
        layer.gamma.assign(np.ones(channels, dtype=np.float32))
    if layer.center:
        layer.beta.assign(np.zeros(channels, dtype=np.float32))
    layer.moving_variance.assign(_identity_variance(layer))


def deepen(shallow: keras.Model, deep: keras.Model) -> list[str]:
    """Make ``deep`` compute what ``shallow`` computes: copy the shared layers, set the others to the identity.

    This is the paper's constructive argument (Sec. 3.1), e.g. with ``shallow = plain20()`` (trained) and
    ``deep = plain56()``: the layers both networks have (matched by name: ``conv2_block1_1_conv`` ...) are copied,
    and every other layer with weights, here the conv-BN pairs of blocks 4 to 9 of each stage, is set to the identity
    by :func:`set_to_identity`. The ReLUs of those extra blocks see the output of a previous ReLU, which is never
    negative, so they pass it through unchanged: the deep network's outputs equal the shallow one's. The chapter
    checks that by computation, not by trusting this paragraph.

    Args:
        shallow: the trained network.
        deep: a network with every weighted layer of ``shallow`` (same names, same weight shapes) and more.

    Returns:
        The names of the layers set to the identity, in ``deep``'s layer order.

    Raises:
        ValueError: if a layer of ``shallow`` is missing from ``deep`` or has other weight shapes there, or if an
            extra layer cannot be the identity. Nothing is changed then.
    """
    for argument, model in (("shallow", shallow), ("deep", deep)):
        if not isinstance(model, keras.Model):
            raise ValueError(f"{argument} must be a keras.Model, got {type(model).__name__}")
    shallow_layers = {layer.name: layer for layer in shallow.layers if layer.weights}
    deep_names = {layer.name for layer in deep.layers}
    missing = [name for name in shallow_layers if name not in deep_names]
    if missing:
        raise ValueError(f"{deep.name!r} lacks layers of {shallow.name!r}: {missing[:5]}; deepen() copies layers "
                         "by name, so the deep network must contain every layer of the shallow one")
    extra = []
    for layer in deep.layers:
        if not layer.weights:
            continue
        if layer.name in shallow_layers:
            source_shapes = [tuple(weight.shape) for weight in shallow_layers[layer.name].weights]
            target_shapes = [tuple(weight.shape) for weight in layer.weights]
            if source_shapes != target_shapes:
                raise ValueError(f"layer {layer.name!r} has weights of shapes {source_shapes} in {shallow.name!r} "
                                 f"but {target_shapes} in {deep.name!r}")
        else:
            _check_can_be_identity(layer)
            extra.append(layer)
    for name, layer in shallow_layers.items():
        deep.get_layer(name).set_weights(layer.get_weights())
    for layer in extra:
        set_to_identity(layer)
    return [layer.name for layer in extra]


def jacobian(model: keras.Model, example) -> np.ndarray:
    """The Jacobian ``d model(x) / dx`` of a one-input, one-output model at one example, in inference mode.

    Row ``i`` is the gradient of output value ``i`` with respect to every input value: the vector-Jacobian product
    with the ``i``-th unit vector. All rows are computed in one backward pass over a batch of copies of ``example``
    (in inference mode every example is processed on its own, so the copies do not interact).

    Args:
        model: e.g. one residual block as a model, or the part of it up to the addition ``F(x) + x``.
        example: one input, shaped like ``model``'s input without the batch axis (a leading batch axis of 1 is
            accepted too).

    Returns:
        A float32 array of shape ``(output size, input size)``, sizes counted over all axes but the batch.

    Raises:
        ValueError: for a model with several inputs or outputs, an example of the wrong shape, or a Jacobian larger
            than ``MAX_JACOBIAN_SIZE`` on a side.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"expected a keras.Model, got {type(model).__name__}")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"model {model.name!r} must have one input and one output, it has {len(model.inputs)} and "
                         f"{len(model.outputs)}")
    input_shape = tuple(model.inputs[0].shape[1:])
    output_shape = tuple(model.outputs[0].shape[1:])
    example = np.asarray(example, dtype=np.float32)
    if example.shape == (1, *input_shape):
        example = example[0]
    if example.shape != input_shape:
        raise ValueError(f"example must have shape {input_shape} (the model's input without the batch axis), "
                         f"got {example.shape}")
    input_size, output_size = math.prod(input_shape), math.prod(output_shape)
    if max(input_size, output_size) > MAX_JACOBIAN_SIZE:
        raise ValueError(f"the Jacobian would be {output_size} x {input_size}; at most {MAX_JACOBIAN_SIZE} on a side "
                         "is supported: use a smaller input")
    rows = []
    for start in range(0, output_size, 512):  # batches of 512 rows bound the memory
        count = min(512, output_size - start)
        inputs = tf.constant(np.broadcast_to(example, (count, *input_shape)))
        upstream = tf.reshape(tf.eye(output_size, dtype=tf.float32)[start:start + count], (count, *output_shape))
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = model(inputs, training=False)
        rows.append(tf.reshape(tape.gradient(outputs, inputs, output_gradients=upstream), (count, input_size)))
    return np.concatenate([row.numpy() for row in rows])


@dataclasses.dataclass(frozen=True)
class IdentityLearningCurve:
    """How well a model reproduced its input during :func:`learn_identity`."""

    label: str  # the run's name on plots
    steps: list[int]  # SGD steps done when each value was measured: 0, then after every epoch
    test_mse: list[float]  # mean squared error between output and target on held-out inputs, inference mode

    def steps_to_reach(self, mse: float) -> int | None:
        """The first measured step at which the held-out error was at most ``mse``, or ``None`` if never."""
        arguments.require(arguments.is_number(mse) and mse >= 0, "mse", mse, "a number >= 0")
        return next((step for step, value in zip(self.steps, self.test_mse) if value <= mse), None)


def learn_identity(model: keras.Model, train_inputs, test_inputs, *, epochs: int, batch_size: int = 64,
                   learning_rate: float = 0.05, momentum: float = 0.9, seed: int = 0,
                   label: str | None = None, train_targets=None,
                   test_targets=None) -> IdentityLearningCurve:
    """Train ``model`` to reproduce its input (target = input, mean squared error, SGD with momentum).

    Chapter 2 uses it to compare a plain block, whose layers must *find* the identity, with a residual block, whose
    branch only has to output zero. Every epoch visits ``train_inputs`` in an order drawn from ``(seed, epoch)``, so
    two models trained with the same arguments see the same batches. Given targets (e.g. from
    :func:`near_identity_target`), it trains towards them instead of the inputs, in the same order.

    Args:
        model: a model whose output has its input's shape.
        train_inputs, test_inputs: arrays ``(N, *input shape)``.
        epochs: passes over ``train_inputs``.
        batch_size, learning_rate, momentum: the optimiser's settings.
        seed: decides the order of the examples in every epoch.
        label: the run's name; defaults to the model's name.
        train_targets, test_targets: what the model should output for each input, of the inputs' shapes; default:
            the inputs themselves.

    Returns:
        The :class:`IdentityLearningCurve`: the held-out error before training and after every epoch.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model, got {type(model).__name__}")
    if tuple(model.input_shape[1:]) != tuple(model.output_shape[1:]):
        raise ValueError(f"model {model.name!r} maps {model.input_shape[1:]} to {model.output_shape[1:]}; "
                         "reproducing the input needs equal shapes")
    train_inputs = _check_inputs(train_inputs, model, "train_inputs")
    test_inputs = _check_inputs(test_inputs, model, "test_inputs")
    train_targets = _check_targets(train_targets, train_inputs, "train_targets")
    test_targets = _check_targets(test_targets, test_inputs, "test_targets")
    epochs = arguments.positive_int(epochs, "epochs")
    batch_size = arguments.positive_int(batch_size, "batch_size")
    arguments.require(arguments.is_number(learning_rate) and learning_rate > 0, "learning_rate", learning_rate,
                      "a positive number")
    arguments.require(arguments.is_number(momentum) and 0 <= momentum < 1, "momentum", momentum, "in [0, 1)")
    seed = arguments.non_negative_int(seed, "seed")
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum), loss="mse")
    steps_per_epoch = math.ceil(len(train_inputs) / batch_size)
    steps, errors = [0], [_mean_squared_error(model, test_inputs, test_targets)]
    for epoch in range(epochs):
        order = np.random.default_rng([seed, epoch]).permutation(len(train_inputs))
        model.fit(train_inputs[order], train_targets[order], batch_size=batch_size, epochs=1, shuffle=False,
                  verbose=0)
        steps.append((epoch + 1) * steps_per_epoch)
        errors.append(_mean_squared_error(model, test_inputs, test_targets))
    return IdentityLearningCurve(label=label or model.name, steps=steps, test_mse=errors)


def near_identity_target(inputs, strength: float, *, seed: int = 0) -> np.ndarray:
    """A mapping close to the identity: ``max(x + strength * G(x), 0)`` for a fixed random convolution ``G``.

    The paper's hypothesis (Sec. 3.1) is about optimal functions *close to* an identity mapping, not the identity
    itself: "it should be easier for the solver to find the perturbations with reference to an identity mapping".
    ``strength`` sets how close. ``G`` is a 3x3 convolution, channels to channels with "same" padding and no bias,
    whose kernel is drawn from ``seed`` with a standard deviation of ``1 / sqrt(9 * channels)``, so that ``G(x)``
    has about the mean square of ``x``: at strength 1 the perturbation is as large as the input. The ReLU keeps the
    target non-negative, as the output of a block that ends in a ReLU must be.

    Args:
        inputs: feature maps ``(N, height, width, channels)``.
        strength: ``e >= 0`` in ``x + e * G(x)``; 0 gives ``max(x, 0)``, the identity on non-negative inputs.
        seed: draws ``G``: the same seed gives the same mapping for training and held-out inputs.

    Returns:
        float32 targets of the inputs' shape.
    """
    inputs = np.asarray(inputs, dtype=np.float32)
    if inputs.ndim != 4 or 0 in inputs.shape:
        raise ValueError(f"inputs must be feature maps (N, height, width, channels), got shape {inputs.shape}")
    arguments.require(arguments.is_number(strength) and strength >= 0, "strength", strength, "a number >= 0")
    seed = arguments.non_negative_int(seed, "seed")
    channels = inputs.shape[-1]
    kernel = np.random.default_rng(seed).normal(size=(3, 3, channels, channels)) / math.sqrt(9 * channels)
    perturbation = np.asarray(tf.nn.conv2d(inputs, kernel.astype(np.float32), strides=1, padding="SAME"))
    return np.maximum(inputs + np.float32(strength) * perturbation, 0).astype(np.float32)


def _mean_squared_error(model, inputs, targets) -> float:
    outputs = model.predict(inputs, batch_size=256, verbose=0)
    return float(np.mean((outputs.astype(np.float64) - targets.astype(np.float64)) ** 2))


def _check_targets(targets, inputs, name):
    if targets is None:
        return inputs
    targets = np.asarray(targets, dtype=np.float32)
    if targets.shape != inputs.shape:
        raise ValueError(f"{name} must have the inputs' shape {inputs.shape}, got {targets.shape}")
    return targets


def _check_inputs(inputs, model, name):
    inputs = np.asarray(inputs, dtype=np.float32)
    expected = tuple(model.input_shape[1:])
    if inputs.ndim != len(expected) + 1 or inputs.shape[1:] != expected or len(inputs) == 0:
        raise ValueError(f"{name} must have shape (N, {', '.join(map(str, expected))}) with N >= 1, "
                         f"got {inputs.shape}")
    return inputs


def _check_can_be_identity(layer) -> None:
    """Raise ``ValueError`` unless :func:`set_to_identity` can turn ``layer`` into an exact identity."""
    name = getattr(layer, "name", repr(layer))
    if isinstance(layer, keras.layers.BatchNormalization):
        if not layer.built:
            raise ValueError(f"layer {name!r} is not built yet: build its model first")
        if layer.axis not in (-1, _input_rank(layer) - 1):
            raise ValueError(f"batch norm {name!r} normalises axis {layer.axis}; only the last (channel) axis is "
                             "supported")
        return
    if isinstance(layer, keras.layers.Conv2D) and not isinstance(layer, (keras.layers.DepthwiseConv2D,
                                                                        keras.layers.Conv2DTranspose)):
        if not layer.built:
            raise ValueError(f"layer {name!r} is not built yet: build its model first")
        in_channels = layer.kernel.shape[2]
        problems = []
        if layer.kernel_size[0] != layer.kernel_size[1] or layer.kernel_size[0] % 2 == 0:
            problems.append(f"kernel {layer.kernel_size} is not square and odd")
        if tuple(layer.strides) != (1, 1) or tuple(layer.dilation_rate) != (1, 1):
            problems.append(f"strides {layer.strides} and dilation {layer.dilation_rate} must be 1")
        if layer.padding != "same" and layer.kernel_size[0] > 1:
            problems.append(f"padding is {layer.padding!r}, not 'same'")
        if layer.groups != 1:
            problems.append(f"groups is {layer.groups}, not 1")
        if layer.filters != in_channels:
            problems.append(f"it maps {in_channels} channels to {layer.filters}")
        if layer.activation is not keras.activations.linear:
            problems.append(f"it applies the activation {layer.activation.__name__!r}")
        if problems:
            raise ValueError(f"convolution {name!r} cannot be the identity: {'; '.join(problems)}")
        return
    raise ValueError(f"cannot set layer {name!r} ({type(layer).__name__}) to the identity: only Conv2D and "
                     "BatchNormalization layers are supported")


def _input_rank(layer) -> int:
    """The rank of the inputs a built batch-norm layer accepts (4 for images: batch, height, width, channels)."""
    return layer.input_spec.ndim


def _identity_variance(layer) -> np.ndarray:
    """A moving variance per channel for which ``layer`` (scale 1, shift 0, mean 0) computes ``x * 1.0`` exactly.

    Each channel gets the first float32 value, starting at ``1 - epsilon`` and moving outwards, for which the
    layer's computed scale is exactly 1. Channels are tried independently: a vectorised ``rsqrt`` can round
    differently in the vector lanes and in the scalar tail (17 channels are 16 lanes and 1 tail).
    """
    channels = layer.moving_variance.shape[0]
    epsilon = np.float32(layer.epsilon)
    exact = np.float32(1.0) - epsilon
    candidates = [exact]
    below = above = exact
    for _ in range(_VARIANCE_CANDIDATES):
        below, above = np.nextafter(below, np.float32(0)), np.nextafter(above, np.float32(2))
        candidates += [above, below]
    ones = np.ones((1,) * (_input_rank(layer) - 1) + (channels,), dtype=np.float32)
    chosen = np.full(channels, exact, dtype=np.float32)
    found = np.zeros(channels, dtype=bool)
    for candidate in candidates:
        layer.moving_variance.assign(np.full(channels, candidate, dtype=np.float32))
        exact_here = keras.ops.convert_to_numpy(layer(ones, training=False)).reshape(channels) == 1.0
        chosen[exact_here & ~found] = candidate
        found |= exact_here
        if found.all():
            break
    # A channel that no candidate makes exact keeps 1 - epsilon, off by an ulp or so.
    return chosen
