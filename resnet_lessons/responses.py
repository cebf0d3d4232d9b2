"""The strength of each layer's response in a trained network: the paper's Fig. 7 (chapter 4).

Sec. 4.2 tests whether residual functions are "generally closer to zero than the non-residual functions": Fig. 7
plots the standard deviation of every 3x3 layer's response, its output "after BN and before other nonlinearity
(ReLU/addition)", in plain and residual CIFAR-10 nets; the paper finds it smaller in ResNets, and smaller the deeper.
:func:`response_stds` measures it in inference mode over every element (images, positions, channels): the paper does
not say what it pools over, and pooling all measures the overall size of the output, which its argument is about.
"""

from __future__ import annotations

import dataclasses
import pathlib

import keras
import matplotlib.pyplot as plt
import numpy as np

from resnet_lessons import graph, pipeline
from resnet_lessons.figure6 import Finding
from resnet_lessons.run_report import read_report_file
from resnet_lessons.checkpoints import write_json_atomically


def response_layer_names(model: keras.Model) -> list[str]:
    """Names of the batch-norm layers right after a 3x3 convolution (all ``6n + 1`` of a CIFAR net), in order."""
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a Keras model, got {type(model).__name__}")
    parents = graph.layer_parents(model)
    names = []
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        producers = [model.get_layer(name) for name in parents.get(layer.name, [])]
        if (len(producers) == 1 and isinstance(producers[0], keras.layers.Conv2D)
                and tuple(producers[0].kernel_size) == (3, 3)):
            names.append(layer.name)
    if not names:
        raise ValueError(f"model {model.name!r} has no 3x3 convolution followed by batch norm to measure")
    return names


def response_stds(model: keras.Model, images: np.ndarray, *, mean, std, batch_size: int = 500) -> np.ndarray:
    """The standard deviation (float64) of every layer of :func:`response_layer_names` on ``images``, in layer order.

    ``images`` are in pixel units (0 to 255) at the network's input size; ``mean`` and ``std`` are the normalisation it
    was trained with (:class:`resnet_lessons.train.PreparedData`); ``batch_size`` only changes the memory used.
    """
    images = np.asarray(images)
    expected = tuple(model.input_shape[1:])
    if images.ndim != 4 or tuple(images.shape[1:]) != expected or len(images) == 0:
        raise ValueError(f"images must be a non-empty batch of shape (N, {', '.join(map(str, expected))}) for model "
                         f"{model.name!r}, got shape {images.shape}")
    names = response_layer_names(model)
    probe = keras.Model(model.input, {name: model.get_layer(name).output for name in names})
    labels = np.zeros(len(images), dtype=np.int64)  # the pipeline wants labels; the probe ignores them
    count, sums, squares = 0, np.zeros(len(names)), np.zeros(len(names))
    for batch, _ in pipeline.eval_pipeline(images, labels, batch_size=batch_size, mean=mean, std=std):
        outputs = probe(batch, training=False)
        for index, name in enumerate(names):
            values = np.asarray(outputs[name], dtype=np.float64)
            sums[index] += values.sum()
            squares[index] += np.square(values).sum()
        count += int(batch.shape[0])
    elements = count * np.array([np.prod(model.get_layer(name).output.shape[1:]) for name in names])
    return np.sqrt(np.maximum(squares / elements - np.square(sums / elements), 0.0))


@dataclasses.dataclass(frozen=True)
class NetworkResponses:
    """The measured response of every 3x3 layer of one trained network."""

    name: str  # "plain-20", "resnet-56", ...
    depth: int
    residual: bool
    seed: int
    layers: list[str]  # the batch-norm layers measured, in the network's order
    stds: list[float]  # one standard deviation per layer


@dataclasses.dataclass
class ResponseReport:
    """Fig. 7's measurements of the trained networks of a stored benchmark, with where they came from."""

    command: str  # the command that made the file
    source: str  # the run report whose networks were measured, and the images measured on
    environment: dict  # hardware.describe_environment() when the measurement ran
    networks: list[NetworkResponses]

    def network(self, name: str) -> NetworkResponses:
        """The measurements of ``name`` (e.g. ``"resnet-56"``); a ValueError names the networks there are."""
        for network in self.networks:
            if network.name == name:
                return network
        raise ValueError(f"no network {name!r} in the report; it has {', '.join(n.name for n in self.networks)}")

    def save(self, path) -> None:
        write_json_atomically(pathlib.Path(path), dataclasses.asdict(self))

    @classmethod
    def load(cls, path) -> "ResponseReport":
        """Read a report written by :meth:`save`; a ValueError says what is wrong with a missing or foreign file."""
        values = read_report_file(path, kind="response report", required="networks",
                                  remedy="make it with benchmarks/figure7.py")
        return cls(command=values["command"], source=values["source"], environment=values["environment"],
                   networks=[NetworkResponses(**network) for network in values["networks"]])


def findings(report: ResponseReport) -> list[Finding]:
    """The paper's two readings of Fig. 7, checked on the networks the report has (the median layer for "generally").

    "ResNets have generally smaller responses than their plain counterparts" (at every depth measured both ways) and
    "the deeper ResNet has smaller magnitudes of responses" (with every step in depth).
    """
    by_name = {network.name: network for network in report.networks}
    result = []
    paired = sorted(network.depth for network in report.networks
                    if network.residual and f"plain-{network.depth}" in by_name)
    if paired:
        evidence, holds = [], True
        for depth in paired:
            plain, resnet = np.array(by_name[f"plain-{depth}"].stds), np.array(by_name[f"resnet-{depth}"].stds)
            holds &= bool(np.median(resnet) < np.median(plain))
            evidence.append(f"{depth} layers: median {np.median(resnet):.2f} against {np.median(plain):.2f}, "
                            f"smaller at {int(np.sum(resnet < plain))} of {len(resnet)} layers")
        result.append(Finding(statement="ResNets respond less than the plain nets of the same depth (median layer)",
                              holds=holds, evidence="; ".join(evidence)))
    residual = sorted((network.depth, float(np.median(network.stds))) for network in report.networks
                      if network.residual)
    if len(residual) >= 2:
        medians = [median for _, median in residual]
        result.append(Finding(
            statement="the deeper the ResNet, the smaller its median layer response",
            holds=all(deep < shallow for shallow, deep in zip(medians, medians[1:])),
            evidence=", ".join(f"resnet-{depth} {median:.2f}" for depth, median in residual)))
    return result


def plot(report: ResponseReport, *, title: str | None = None):
    """Fig. 7's layout: response std per layer in order (top) and sorted (bottom); plain nets dashed."""
    depths = sorted({network.depth for network in report.networks})
    colours = {depth: f"C{index}" for index, depth in enumerate(depths)}
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 8))
    for network in sorted(report.networks, key=lambda n: (n.residual, n.depth)):
        style = {"color": colours[network.depth], "linestyle": "-" if network.residual else "--",
                 "linewidth": 1.8 if network.residual else 1.2, "label": network.name}
        positions = np.arange(1, len(network.stds) + 1)
        top.plot(positions, network.stds, **style)
        bottom.plot(positions, sorted(network.stds, reverse=True), **style)
    top.set(xlabel="layer index (original order)", ylabel="std of response")
    bottom.set(xlabel="layer index (sorted by magnitude)", ylabel="std of response")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    top.legend(ncol=2, title="dashed: plain, solid: ResNet")
    figure.suptitle(title or "Fig. 7's layout: responses of each 3x3 layer, after batch norm")
    figure.tight_layout()
    return figure
