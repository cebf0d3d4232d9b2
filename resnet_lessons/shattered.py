"""Shattered gradients: the structure of dy/dx of a 1-D input, in plain and residual nets at initialisation (chapter 7).

Balduzzi et al. (2017): in a deep plain ReLU net with batch norm, ``dy/dx`` of a 1-D input is nearly uncorrelated
between neighbouring inputs, like white noise ("shattered"); in a residual net it stays correlated much deeper. In
NumPy float64, the derivative exact (carried forward with the activations); batch norm's statistics, those of the
probe's inputs as in training mode, are held constant in it. Without batch norm a bias-free ReLU net is positively
homogeneous, so ``dy/dx`` is constant on each side of 0 and nothing can shatter (``batch_norm=False`` shows it).

The two architectures (widths equal, He initialisation, no biases, batch norm with scale 1 and shift 0):

- ``"plain"`` of depth ``L``: ``h = relu(BN(h W_l))`` for ``l = 1 .. L`` (``W_1`` maps the input to ``width``
  units), then ``y = h v``.
- ``"residual"`` of depth ``L``: ``h = x W_0`` (an embedding without ReLU), then ``h = h + relu(BN(h)) W_l`` for
  ``l = 1 .. L`` (pre-activation blocks of one layer), then ``y = h v``.

A net of depth ``L`` is the first ``L`` layers of a deeper one: one probe of depth 50 reads out every depth from 1 to
50, each with its own read-out ``v``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from resnet_lessons import arguments

KINDS = ("plain", "residual")
# Batch norm's epsilon, as in resnet_lessons.blocks.
EPSILON = 1.001e-5


@dataclasses.dataclass(frozen=True)
class GradientProbe:
    """The outputs and exact input derivatives of nets of depth 1 to ``depth`` on a grid of 1-D inputs."""

    kind: str  # "plain" or "residual"
    batch_norm: bool
    width: int  # units per layer
    seed: int
    inputs: np.ndarray  # (points,): the grid of inputs x
    outputs: np.ndarray  # (depth, points): row L - 1 is y(x) of the net of depth L
    gradients: np.ndarray  # (depth, points): row L - 1 is dy/dx of the net of depth L

    @property
    def depth(self) -> int:
        return self.outputs.shape[0]

    def gradient(self, depth: int) -> np.ndarray:
        """``dy/dx`` of the net of ``depth`` layers at every input."""
        arguments.require(arguments.is_int(depth) and 1 <= depth <= self.depth, "depth", depth,
                          f"an integer from 1 to {self.depth}")
        return self.gradients[depth - 1]


def input_grid(points: int = 256, low: float = -2.0, high: float = 2.0) -> np.ndarray:
    """``points`` evenly spaced inputs from ``low`` to ``high`` (Balduzzi et al.: 256 points in [-2, 2])."""
    arguments.require(arguments.is_int(points) and points >= 2, "points", points, "an integer >= 2")
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"need finite low < high, got low={low!r}, high={high!r}")
    return np.linspace(low, high, points)


def gradient_probe(kind: str, *, depth: int, width: int = 200, inputs=None, batch_norm: bool = True,
                   seed: int = 0, batch=None) -> GradientProbe:
    """Initialise a ``kind`` network of ``depth`` layers and compute ``y`` and ``dy/dx`` of every prefix depth.

    ``inputs`` (at least 2 numbers) default to :func:`input_grid`; with batch norm they are also the batch whose
    statistics normalise every unit, unless ``batch`` gives other points (as an inference-mode batch norm uses
    statistics gathered elsewhere). ``seed`` draws the weights (He-normal, read-out ``N(0, 1 / width)``), which do not
    depend on the inputs.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}, got {kind!r}")
    depth, width = arguments.positive_int(depth, "depth"), arguments.positive_int(width, "width")
    arguments.require(isinstance(batch_norm, bool), "batch_norm", batch_norm, "True or False")
    seed = arguments.non_negative_int(seed, "seed")
    x = input_grid() if inputs is None else np.asarray(inputs, dtype=np.float64)
    batch = None if batch is None else np.asarray(batch, dtype=np.float64)
    for name, points in (("inputs", x), ("batch", batch)):
        if points is not None and (points.ndim != 1 or len(points) < 2 or not np.all(np.isfinite(points))):
            raise ValueError(f"{name} must be a 1-D sequence of at least 2 finite numbers, got shape {points.shape}")
    # Batch norm's statistics are those of the first ``size`` rows: the batch's points, put before the inputs, or these.
    rows, size, offset = (x, len(x), 0) if batch is None else (np.concatenate([batch, x]), len(batch), len(batch))
    rng = np.random.default_rng(seed)
    h = rows[:, None]  # (rows, 1): the activations
    t = np.ones_like(h)  # their derivatives d h / d x
    if kind == "residual":
        embedding = rng.normal(size=(1, width))  # (1, width): unit variance per unit, no ReLU
        h, t = h @ embedding, t @ embedding
    outputs, gradients = np.zeros((depth, len(x))), np.zeros((depth, len(x)))
    for layer in range(depth):
        if kind == "plain":
            weights = rng.normal(scale=np.sqrt(2.0 / h.shape[1]), size=(h.shape[1], width))
            h, t = _normalise_relu(h @ weights, t @ weights, batch_norm, size)
        else:
            z, dz = _normalise_relu(h, t, batch_norm, size)
            weights = rng.normal(scale=np.sqrt(2.0 / width), size=(width, width))
            h, t = h + z @ weights, t + dz @ weights
        readout = rng.normal(scale=np.sqrt(1.0 / width), size=width)
        outputs[layer], gradients[layer] = h[offset:] @ readout, t[offset:] @ readout
    return GradientProbe(kind=kind, batch_norm=batch_norm, width=width, seed=seed, inputs=x, outputs=outputs,
                         gradients=gradients)


def _normalise_relu(z, dz, batch_norm, size):
    """``relu(BN(z))`` and its derivative (from ``dz``), batch norm's statistics (first ``size`` rows) held fixed."""
    if batch_norm:
        std = np.sqrt(z[:size].var(axis=0) + EPSILON)
        z, dz = (z - z[:size].mean(axis=0)) / std, dz / std
    active = z > 0
    return z * active, dz * active


def autocorrelation(values, lag: int = 1) -> np.ndarray | float:
    """The autocorrelation at ``lag`` along the last axis (a float for 1-D): 1 for smooth, near 0 for white noise.

    ``sum((v[i] - m) * (v[i + lag] - m)) / sum((v[i] - m) ** 2)``, the usual estimate (``statsmodels``' ``acf``);
    NaN for a constant sequence.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim < 1 or values.shape[-1] < 2:
        raise ValueError(f"values must have at least 2 points along the last axis, got shape {values.shape}")
    arguments.require(arguments.is_int(lag) and 1 <= lag < values.shape[-1], "lag", lag,
                      f"an integer from 1 to {values.shape[-1] - 1}")
    centred = values - values.mean(axis=-1, keepdims=True)
    variance = np.sum(centred**2, axis=-1)
    covariance = np.sum(centred[..., :-lag] * centred[..., lag:], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        result = np.where(variance > 0, covariance / np.where(variance > 0, variance, 1.0), np.nan)
    return float(result) if result.ndim == 0 else result


def autocorrelation_by_depth(kind: str, *, depth: int, seeds, width: int = 200, inputs=None,
                             batch_norm: bool = True, lag: int = 1) -> np.ndarray:
    """The gradient's autocorrelation at ``lag``, ``(len(seeds), depth)``: row s, column L - 1 is depth L, seed s."""
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    return np.stack([autocorrelation(gradient_probe(kind, depth=depth, width=width, inputs=inputs,
                                                    batch_norm=batch_norm, seed=seed).gradients, lag=lag)
                     for seed in seeds])
