"""Residual networks as ensembles of shallow paths: lesions and path gradients, measured (chapter 7).

Veit, Wilber and Belongie (2016) unroll a residual network of ``n`` blocks into ``2**n`` paths (each block passes its
input through the shortcut or the branch), ``comb(n, k)`` of which cross ``k`` branches. *Lesions* delete blocks of a
trained net at test time (a deleted plain block is replaced by its option A shortcut, as a residual block is);
*path gradients* let the gradient through ``k`` chosen branches and all other shortcuts, one path of length ``k``.

Both need a net built with ``gated=True``; :meth:`GatedNetwork.from_trained` builds one with a trained net's weights.
The gates are variables, so one compiled evaluation serves every lesion and one compiled gradient every path.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Sequence

import keras
import numpy as np
import tensorflow as tf

from resnet_lessons import arguments, blocks

BRANCH_GATE = "_branch_gate"
SHORTCUT_GATE = "_shortcut_gate"


class GatedNetwork:
    """A network built with ``gated=True`` (each block with a ``{block}_branch_gate`` and a ``{block}_shortcut_gate``,
    normalised images in, logits out), with its gates, one compiled evaluation and one compiled gradient."""

    def __init__(self, model: keras.Model):
        _check_model(model, "model")
        gates = {layer.name: layer for layer in model.layers if isinstance(layer, blocks.Gate)}
        names = [name[: -len(BRANCH_GATE)] for name in gates if name.endswith(BRANCH_GATE)]
        if not names:
            raise ValueError(f"model {model.name!r} has no gated blocks: build it with gated=True, or use "
                             "GatedNetwork.from_trained")
        missing = [name for name in names if f"{name}{SHORTCUT_GATE}" not in gates]
        if missing:
            raise ValueError(f"blocks {missing} of {model.name!r} have a branch gate but no shortcut gate")
        self.model = model
        self.blocks: tuple[str, ...] = tuple(names)
        self._branch = [gates[f"{name}{BRANCH_GATE}"] for name in names]
        self._shortcut = [gates[f"{name}{SHORTCUT_GATE}"] for name in names]
        # A residual block's shortcut is open by default, a gated plain block's is closed.
        self.residual: tuple[bool, ...] = tuple(gate.default_forward != 0 for gate in self._shortcut)
        # A stage's first block downsamples: its output has another shape than its input.
        self.downsampling: tuple[bool, ...] = tuple(
            tuple(model.get_layer(f"{name}_1_conv").input.shape) != tuple(model.get_layer(f"{name}_out").output.shape)
            for name in names)
        spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)
        self._predict = tf.function(self._predict_python, input_signature=[spec])
        self._gradient = tf.function(self._gradient_python, input_signature=[spec, tf.TensorSpec((None,), tf.int32)])

    @classmethod
    def from_trained(cls, model: keras.Model, builder: Callable[..., keras.Model], **options) -> "GatedNetwork":
        """Build ``builder(gated=True, **options)`` and copy the trained ``model``'s weights into it, by layer name.

        ``builder`` and ``options`` are those ``model`` was built with (e.g. ``models.resnet56``,
        ``input_shape=config.input_shape``); a ``ValueError`` says so if the result is not ``model`` plus gates.
        """
        _check_model(model, "model")
        gated = builder(gated=True, **options)
        if gated.name != model.name:
            raise ValueError(f"builder made {gated.name!r}, not a gated {model.name!r}: pass the builder and options "
                             "the model was built with")
        copy_weights_into_gated(model, gated)
        return cls(gated)

    def set_gates(self, *, deleted: Iterable = (), path: Iterable | None = None) -> None:
        """Set every gate (so the state never depends on earlier calls; ``set_gates()`` restores the net as built).

        Args:
            deleted: blocks (names or 0-based indices into :attr:`blocks`) replaced by their shortcut in the forward
                pass: branch gate 0, shortcut gate 1.
            path: ``None`` lets the gradient through everything; otherwise the blocks whose *branch* carries the
                gradient, while every other block's *shortcut* does: the one path that crosses exactly these branches.
        """
        deleted = set(self._indices(deleted, "deleted"))
        on_path = None if path is None else set(self._indices(path, "path"))
        for index, (branch, shortcut) in enumerate(zip(self._branch, self._shortcut)):
            is_deleted = index in deleted
            branch.forward_gate.assign(0.0 if is_deleted else branch.default_forward)
            shortcut.forward_gate.assign(1.0 if is_deleted else shortcut.default_forward)
            branch.backward_gate.assign(1.0 if on_path is None or index in on_path else 0.0)
            shortcut.backward_gate.assign(1.0 if on_path is None or index not in on_path else 0.0)

    def _indices(self, selection, argument) -> list[int]:
        if isinstance(selection, (str, int)):
            raise ValueError(f"{argument} must be a collection of block names or indices, got {selection!r}")
        indices = []
        for item in selection:
            if isinstance(item, str):
                if item not in self.blocks:
                    raise ValueError(f"{argument}: no block {item!r} in {self.model.name!r} (its blocks are "
                                     f"{self.blocks[0]} ... {self.blocks[-1]})")
                item = self.blocks.index(item)
            elif not arguments.is_int(item):
                raise ValueError(f"{argument}: expected block names or indices, got {item!r}")
            elif not 0 <= item < len(self.blocks):
                raise ValueError(f"{argument}: block index {item} is out of range 0..{len(self.blocks) - 1}")
            indices.append(int(item))
        return indices

    @property
    def traces(self) -> int:
        """How many times the compiled evaluation and gradient functions were traced (1 each once used)."""
        return sum(function.experimental_get_tracing_count() for function in (self._predict, self._gradient))

    def error(self, images, labels, *, batch_size: int = 256) -> float:
        """The fraction of the (normalised) ``images`` misclassified, in inference mode, with the gates as set."""
        images, labels = self._check(images, labels)
        batch_size = arguments.positive_int(batch_size, "batch_size")
        wrong = 0
        for start in range(0, len(labels), batch_size):
            predicted = self._predict(tf.constant(images[start:start + batch_size])).numpy()
            wrong += int(np.sum(predicted != labels[start:start + batch_size]))
        return wrong / len(labels)

    def input_gradient_norms(self, images, labels) -> np.ndarray:
        """Each image's ``|d loss_i / d image_i|`` (float64, ``(N,)``), its cross-entropy's gradient with the gates
        as set; in inference mode (batch norm's moving statistics), so it depends on that image only."""
        images, labels = self._check(images, labels)
        return self._gradient(tf.constant(images), tf.constant(labels)).numpy().astype(np.float64)

    def _predict_python(self, images):
        return tf.argmax(self.model(images, training=False), axis=-1, output_type=tf.int32)

    def _gradient_python(self, images, labels):
        with tf.GradientTape() as tape:
            tape.watch(images)
            logits = self.model(images, training=False)
            loss = tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))
        return tf.sqrt(tf.reduce_sum(tf.square(tape.gradient(loss, images)), axis=[1, 2, 3]))

    def _check(self, images, labels):
        images = np.asarray(images, dtype=np.float32)
        labels = np.asarray(labels)
        expected = tuple(self.model.input_shape[1:])
        if images.ndim != 4 or images.shape[1:] != expected or len(images) == 0:
            raise ValueError(f"images must have shape (N, {', '.join(map(str, expected))}) with N >= 1 to fit "
                             f"{self.model.name!r}, got {images.shape}")
        if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"labels must be {len(images)} integer class labels, got shape {labels.shape} of "
                             f"{labels.dtype}")
        return images, labels.astype(np.int32)


def copy_weights_into_gated(source: keras.Model, gated: keras.Model) -> int:
    """Copy every weighted layer of ``source`` into the layer of the same name in ``gated``; return how many.

    A ``ValueError`` names the first layer missing in ``gated``, with other weight shapes, or extra there and not a
    gate; nothing is copied then.
    """
    _check_model(source, "source")
    _check_model(gated, "gated")
    targets = {layer.name: layer for layer in gated.layers if layer.weights}
    sources = {layer.name: layer for layer in source.layers if layer.weights}
    for layer in sources.values():
        if layer.name not in targets:
            raise ValueError(f"layer {layer.name!r} of {source.name!r} is not in {gated.name!r}")
        shapes = [tuple(weight.shape) for weight in layer.weights]
        target_shapes = [tuple(weight.shape) for weight in targets[layer.name].weights]
        if shapes != target_shapes:
            raise ValueError(f"layer {layer.name!r} has weights of shapes {shapes} in {source.name!r} but "
                             f"{target_shapes} in {gated.name!r}")
    extra = [name for name, layer in targets.items() if name not in sources and not isinstance(layer, blocks.Gate)]
    if extra:
        raise ValueError(f"{gated.name!r} has weighted layers that {source.name!r} lacks and that are not gates: "
                         f"{extra[:5]}")
    for name, layer in sources.items():
        targets[name].set_weights(layer.get_weights())
    return len(sources)


@dataclasses.dataclass(frozen=True)
class SingleDeletions:
    """The test error of a network with each of its blocks deleted in turn (Veit et al. 2016)."""

    blocks: tuple[str, ...]  # the blocks, from the input
    downsampling: tuple[bool, ...]  # whether each block changes the shape (a stage's first block)
    base_error: float  # the error of the whole network
    errors: tuple[float, ...]  # the error with only that block deleted

    def increases(self) -> np.ndarray:
        """Each deletion's error minus the whole network's, as fractions."""
        return np.asarray(self.errors) - self.base_error


def single_deletion_errors(network: GatedNetwork, images, labels) -> SingleDeletions:
    """Delete each block alone, measure the error, and restore the network afterwards."""
    _check_network(network)
    deletions = [[]] + [[index] for index in range(len(network.blocks))]  # [] deletes nothing: the base error
    base, *errors = _measure(network, "deleted", deletions, lambda: network.error(images, labels))
    return SingleDeletions(network.blocks, network.downsampling, base, tuple(errors))


@dataclasses.dataclass(frozen=True)
class RandomDeletions:
    """The test error with ``k`` blocks deleted at random, several draws per ``k`` (Veit et al. 2016)."""

    counts: tuple[int, ...]  # the numbers k of blocks deleted
    errors: np.ndarray  # (len(counts), samples): the error of each draw
    base_error: float  # nothing deleted

    def mean_errors(self) -> np.ndarray:
        return self.errors.mean(axis=1)


def random_deletion_errors(network: GatedNetwork, images, labels, *, counts: Sequence[int], samples: int,
                           seed: int, among: Sequence[int] | None = None) -> RandomDeletions:
    """Delete ``k`` blocks drawn without replacement from ``among`` (indices; ``None``: all) for each ``k`` in
    ``counts``, ``samples`` times, and measure the error each time."""
    _check_network(network)
    pool = list(range(len(network.blocks))) if among is None else network._indices(among, "among")
    counts = _check_counts(counts, len(pool), "counts")
    samples = arguments.positive_int(samples, "samples")
    rng = np.random.default_rng(arguments.non_negative_int(seed, "seed"))
    draws = [[pool[i] for i in rng.choice(len(pool), size=count, replace=False)]
             for count in counts for _ in range(samples)]
    base, *errors = _measure(network, "deleted", [[]] + draws, lambda: network.error(images, labels))
    return RandomDeletions(tuple(counts), np.reshape(errors, (len(counts), samples)), base)


def _measure(network, gates, selections, measure) -> list:
    """``measure()`` with each selection of blocks set as ``gates`` (``"deleted"`` or ``"path"``), in order; the
    network is restored afterwards."""
    values = []
    try:
        for selection in selections:
            network.set_gates(**{gates: selection})
            values.append(measure())
    finally:
        network.set_gates()
    return values


def path_length_counts(num_blocks: int) -> list[int]:
    """How many of the ``2**num_blocks`` paths cross ``k`` branches, ``k = 0 .. num_blocks``: ``comb(num_blocks, k)``,
    a binomial distribution, exact (Python integers)."""
    num_blocks = arguments.positive_int(num_blocks, "num_blocks")
    return [math.comb(num_blocks, k) for k in range(num_blocks + 1)]


def path_length_distribution(num_blocks: int) -> np.ndarray:
    """The fraction of all paths of each length ``k = 0 .. num_blocks``: ``comb(n, k) / 2**n``."""
    return np.array([count / 2**num_blocks for count in path_length_counts(num_blocks)])


def fraction_of_paths(num_blocks: int, shortest: int, longest: int) -> float:
    """The fraction of the ``2**num_blocks`` paths whose length is from ``shortest`` to ``longest`` (inclusive)."""
    num_blocks = arguments.positive_int(num_blocks, "num_blocks")
    for name, value in (("shortest", shortest), ("longest", longest)):
        arguments.require(arguments.is_int(value) and 0 <= value <= num_blocks, name, value,
                          f"an integer from 0 to num_blocks={num_blocks}")
    if shortest > longest:
        raise ValueError(f"shortest ({shortest}) must not exceed longest ({longest})")
    return sum(math.comb(num_blocks, k) for k in range(shortest, longest + 1)) / 2**num_blocks


def central_lengths(num_blocks: int, share: float) -> tuple[int, int]:
    """The shortest range of path lengths that holds at least ``share`` of the ``2**num_blocks`` paths.

    For ResNet-110's 54 blocks and ``share=0.98`` it is 19 to 35, the range in which Veit et al. say most paths lie.
    """
    _check_share(share)
    return _shortest_window(np.array([float(count) for count in path_length_counts(num_blocks)]), share)


def _shortest_window(values: np.ndarray, share: float) -> tuple[int, int]:
    """The shortest range ``(first, last)`` of consecutive indices whose values sum to at least ``share`` of all;
    the first such range from the left when several are equally short."""
    goal = share * float(np.sum(values))
    best = (0, len(values) - 1)
    for first in range(len(values)):
        running = 0.0
        for last in range(first, len(values)):
            running += float(values[last])
            if running >= goal * (1 - 1e-12):
                if last - first < best[1] - best[0]:
                    best = (first, last)
                break
    return best


@dataclasses.dataclass(frozen=True)
class PathGradients:
    """The size of the gradient that single paths of each length carry to the input (Veit et al. 2016)."""

    num_blocks: int  # n: the network has 2**n paths
    lengths: tuple[int, ...]  # the path lengths k measured
    magnitudes: np.ndarray  # (len(lengths), samples): mean |d loss / d image| over the images, per drawn path

    def mean_magnitudes(self) -> np.ndarray:
        """The mean gradient size of one path of each length."""
        return self.magnitudes.mean(axis=1)

    def total_magnitudes(self) -> np.ndarray:
        """``comb(n, k)`` times the mean size of one path of length ``k``: what all paths of that length carry.

        Sizes are added, as in Veit et al., not gradients: an upper bound, since paths' gradients can point apart.
        """
        return np.array([float(math.comb(self.num_blocks, k)) for k in self.lengths]) * self.mean_magnitudes()

    def decay_per_block(self) -> float:
        """The factor by which one path's gradient shrinks per extra branch: a least-squares fit of
        ``log(mean size)`` against ``k`` over the measured lengths, exponentiated."""
        if len(self.lengths) < 2:
            raise ValueError("decay_per_block needs at least two measured path lengths")
        slope = np.polyfit(np.asarray(self.lengths, dtype=float), np.log(self.mean_magnitudes()), 1)[0]
        return float(np.exp(slope))

    def effective_lengths(self, share: float = 0.9) -> tuple[int, int]:
        """The shortest range of consecutive measured lengths whose total magnitude is at least ``share`` of all.

        Needs every length ``0 .. n`` measured. Veit et al. name the range their figure shows (5 to 17 blocks for
        their ResNet-110); ``share`` is this function's way to make that a number, not theirs.
        """
        _check_share(share)
        if tuple(self.lengths) != tuple(range(self.num_blocks + 1)):
            raise ValueError(f"effective_lengths needs every path length 0..{self.num_blocks} measured, got "
                             f"{self.lengths}")
        return _shortest_window(self.total_magnitudes(), share)


def path_gradient_magnitudes(network: GatedNetwork, images, labels, *, lengths: Sequence[int], samples: int,
                             seed: int) -> PathGradients:
    """The mean input-gradient size of ``samples`` random single paths of each length in ``lengths`` (0 to n).

    A path of length ``k``: ``k`` blocks drawn without replacement let the gradient through their branch, all others
    through their shortcut; the forward pass is the whole network's. Summed over all ``2**n`` paths these gradients
    are the whole network's (the unit tests check it). Lengths 0 and n have one path, repeated ``samples`` times.
    """
    _check_network(network)
    n = len(network.blocks)
    lengths = _check_counts(lengths, n, "lengths")
    samples = arguments.positive_int(samples, "samples")
    rng = np.random.default_rng(arguments.non_negative_int(seed, "seed"))
    paths = [rng.choice(n, size=length, replace=False).tolist() for length in lengths for _ in range(samples)]
    magnitudes = _measure(network, "path", paths, lambda: network.input_gradient_norms(images, labels).mean())
    return PathGradients(n, tuple(lengths), np.reshape(magnitudes, (len(lengths), samples)))


def _check_model(model, argument: str) -> None:
    if not isinstance(model, keras.Model):
        raise ValueError(f"{argument} must be a keras.Model, got {type(model).__name__}")


def _check_network(network):
    if not isinstance(network, GatedNetwork):
        raise ValueError(f"network must be a lesions.GatedNetwork, got {type(network).__name__}")


def _check_share(share):
    arguments.require(arguments.is_number(share) and 0 < share <= 1, "share", share, "a number in (0, 1]")


def _check_counts(values, largest, name) -> list[int]:
    if isinstance(values, (str, int)):
        raise ValueError(f"{name} must be a sequence of integers, got {values!r}")
    values = list(values)
    if not values:
        raise ValueError(f"{name} must not be empty")
    for value in values:
        if not arguments.is_int(value) or not 0 <= value <= largest:
            raise ValueError(f"{name} must hold integers from 0 to {largest}, got {value!r}")
    return [int(value) for value in values]
