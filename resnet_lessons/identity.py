"""Identity mappings, executed: why a deeper network should be no worse, and what a shortcut does (chapter 2).

The paper's argument (Sec. 3.1): a shallow net plus identity layers computes the same function, so a deeper plain net
that trains worse (chapter 1) shows the solver failing. :func:`deepen` builds that deeper net exactly;
:func:`learn_identity` compares how plain and residual blocks learn the identity or mappings close to it;
:func:`jacobian` measures ``dH/dx``, to which a shortcut adds the identity matrix.
"""

from __future__ import annotations

import dataclasses
import math

import keras
import numpy as np
import tensorflow as tf

from resnet_lessons import arguments

# The largest Jacobian jacobian() builds: a (4096, 4096) float32 matrix is 64 MiB.
MAX_JACOBIAN_SIZE = 4096


def dirac_kernel(kernel_size: int, channels: int) -> np.ndarray:
    """The kernel ``(k, k, channels, channels)`` that outputs its input exactly ("same", stride 1): centre 1, c to c."""
    arguments.require(arguments.is_int(kernel_size) and kernel_size >= 1 and kernel_size % 2 == 1, "kernel_size",
                      kernel_size, "a positive odd integer (a kernel with a centre)")
    channels = arguments.positive_int(channels, "channels")
    kernel = np.zeros((kernel_size, kernel_size, channels, channels), dtype=np.float32)
    centre = kernel_size // 2
    kernel[centre, centre, np.arange(channels), np.arange(channels)] = 1.0
    return kernel


def identity_kernel_problem(kernel) -> str | None:
    """Say why a convolution with ``kernel`` (``(height, width, in, out)``) would not output its input, else ``None``.

    The verdict is computed on a random batch; the kernel's structure then says why it differs (the sentence chapter
    2's :func:`resnet_lessons.checks.check_identity_kernel` prints).
    """
    try:
        kernel = np.asarray(kernel, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError("kernel must be an array of numbers (height, width, in_channels, out_channels), got "
                         f"{type(kernel).__name__}") from None
    if kernel.ndim != 4:
        return (f"the kernel has shape {kernel.shape}; a Conv2D kernel has four axes: (height, width, input channels, "
                "output channels)")
    height, width, in_channels, out_channels = kernel.shape
    if in_channels != out_channels or in_channels == 0:
        return f"it maps {in_channels} channels to {out_channels}; the identity keeps the number of channels"
    if height != width or height % 2 == 0:
        return f"a {height}x{width} kernel has no centre tap; the identity needs an odd square kernel such as 3x3"
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
    """Set the weights of a built ``Conv2D`` or ``BatchNormalization`` layer so that it outputs its input.

    A convolution (stride 1, ``"same"``, filters = input channels, no activation) gets :func:`dirac_kernel` and a zero
    bias; a batch norm scale 1, shift 0, mean 0 and the variance ``v`` with ``1 / sqrt(v + eps)`` exactly 1 on this
    CPU (some vectorised float32 ``rsqrt`` give 0.99999994 at ``v = 1 - eps``), so chapter 2 can ask for equal
    outputs. In inference mode only: the deeper net computes the same *function*, which is the paper's claim.
    """
    _check_can_be_identity(layer)
    if isinstance(layer, keras.layers.Conv2D):
        bias = [np.zeros(layer.filters, dtype=np.float32)] if layer.use_bias else []
        layer.set_weights([dirac_kernel(layer.kernel_size[0], layer.filters)] + bias)
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

    The paper's constructive argument (Sec. 3.1), e.g. a trained ``plain20()`` into ``plain56()``: layers of the same
    name are copied, every other weighted layer (the conv-BN pairs of blocks 4 to 9 of each stage) goes through
    :func:`set_to_identity`; the extra ReLUs see non-negative inputs and pass them through, so the outputs are equal.
    Returns the names of the layers set to the identity; on a ``ValueError`` nothing is changed.
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
    """The Jacobian ``d model(x) / dx`` (float32, ``(output size, input size)``) of a one-input, one-output model.

    Row ``i`` is the vector-Jacobian product with the ``i``-th unit vector, all from one backward pass over copies of
    ``example`` (with or without a batch axis of 1), which do not interact in inference mode.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"expected a keras.Model, got {type(model).__name__}")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"model {model.name!r} must have one input and one output, it has {len(model.inputs)} and "
                         f"{len(model.outputs)}")
    input_shape, output_shape = tuple(model.inputs[0].shape[1:]), tuple(model.outputs[0].shape[1:])
    example = np.asarray(example, dtype=np.float32)
    if example.shape == (1, *input_shape):
        example = example[0]
    if example.shape != input_shape:
        raise ValueError(f"example must have shape {input_shape} (the model's input without the batch axis), got "
                         f"{example.shape}")
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
                   learning_rate: float = 0.05, momentum: float = 0.9, seed: int = 0, label: str | None = None,
                   train_targets=None, test_targets=None) -> IdentityLearningCurve:
    """Train ``model`` to reproduce its input (mean squared error, SGD with momentum); the held-out error per epoch.

    Chapter 2 compares a plain block, which must *find* the identity, with a residual block, whose branch only has to
    output zero. Each epoch's order is drawn from ``(seed, epoch)``, so models trained with the same arguments see the
    same batches. ``train_targets``/``test_targets`` (e.g. :func:`near_identity_target`) replace the inputs as targets.
    ``label`` defaults to the model's name.
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
    steps = [epoch * math.ceil(len(train_inputs) / batch_size) for epoch in range(epochs + 1)]
    errors = [_mean_squared_error(model, test_inputs, test_targets)]
    for epoch in range(epochs):
        order = np.random.default_rng([seed, epoch]).permutation(len(train_inputs))
        model.fit(train_inputs[order], train_targets[order], batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
        errors.append(_mean_squared_error(model, test_inputs, test_targets))
    return IdentityLearningCurve(label=label or model.name, steps=steps, test_mse=errors)


def near_identity_target(inputs, strength: float, *, seed: int = 0) -> np.ndarray:
    """A mapping close to the identity, ``max(x + strength * G(x), 0)``, of feature maps ``(N, H, W, C)`` (float32).

    The paper's hypothesis (Sec. 3.1) is about functions *close to* the identity. ``G`` is a 3x3 "same" convolution
    without bias, its kernel drawn from ``seed`` (one seed, one mapping for training and held-out inputs) with standard
    deviation ``1 / sqrt(9 * C)``, so ``G(x)`` has about the mean square of ``x``. The ReLU keeps the target
    non-negative, as a block ending in a ReLU outputs; strength 0 is the identity on non-negative inputs.
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
        raise ValueError(f"{name} must have shape (N, {', '.join(map(str, expected))}) with N >= 1, got {inputs.shape}")
    return inputs


def _check_can_be_identity(layer) -> None:
    """Raise ``ValueError`` unless :func:`set_to_identity` can turn ``layer`` into an exact identity."""
    name = getattr(layer, "name", repr(layer))
    is_norm = isinstance(layer, keras.layers.BatchNormalization)
    if not is_norm and (not isinstance(layer, keras.layers.Conv2D)
                        or isinstance(layer, (keras.layers.DepthwiseConv2D, keras.layers.Conv2DTranspose))):
        raise ValueError(f"cannot set layer {name!r} ({type(layer).__name__}) to the identity: only Conv2D and "
                         "BatchNormalization layers are supported")
    if not layer.built:
        raise ValueError(f"layer {name!r} is not built yet: build its model first")
    if is_norm:
        if layer.axis not in (-1, layer.input_spec.ndim - 1):
            raise ValueError(f"batch norm {name!r} normalises axis {layer.axis}; only the last (channel) axis is "
                             "supported")
    else:
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


def _identity_variance(layer) -> np.ndarray:
    """Per channel, the first float32 variance outwards from ``1 - epsilon`` for which ``layer`` computes ``x * 1.0``.

    Channels are tried independently: a vectorised ``rsqrt`` can round differently in the vector lanes and in the
    scalar tail (17 channels are 16 lanes and 1 tail).
    """
    channels = layer.moving_variance.shape[0]
    exact = np.float32(1.0) - np.float32(layer.epsilon)
    candidates = [exact]
    below = above = exact
    for _ in range(64):  # 64 neighbouring float32 values on each side
        below, above = np.nextafter(below, np.float32(0)), np.nextafter(above, np.float32(2))
        candidates += [above, below]
    ones = np.ones((1,) * (layer.input_spec.ndim - 1) + (channels,), dtype=np.float32)
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
