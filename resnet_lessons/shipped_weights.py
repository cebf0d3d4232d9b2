"""Trained CIFAR-10 networks that ship with the book (``book/data/weights/``), loaded with one call and checked.

The chapters that study a trained network rather than train one (lesions, path gradients, layer responses) read these
files: networks trained for hours with the medium recipe (:mod:`benchmarks.training_budget`), where a chapter could
afford a few minutes. Each network is a Keras weights file stored in float16, which halves the size; the benchmark
``benchmarks/shipped_weights.py`` checks that the reloaded network still gives the manifest's test error within 0.1
point. ``manifest.json`` beside the files records, per network, what it is, how it was trained (recipe, data, seed,
epochs, the command), its final errors, and the file's SHA-256, which :func:`load` checks before it trusts a file.

The networks were trained and measured on the JPEG copy of CIFAR-10 these machines have (quality 75); on the
official release the same weights see slightly different pixels and channel statistics, so expect test errors close
to, not equal to, the manifest's.

In a checkout of the repository the files are read where they are. Elsewhere (the package installed from git, as
in Colab) they are downloaded from the repository on first use into the Keras cache, never hanging when offline
(:mod:`resnet_lessons.downloads`).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import pathlib
import tempfile

import h5py
import keras
import numpy as np

from resnet_lessons import data, downloads, models, profiles
from resnet_lessons.checkpoints import write_json_atomically

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
# The repository's copy of book/data/weights/, for readers without a checkout.
REPOSITORY_URL = "https://raw.githubusercontent.com/resnet-lessons/resnet-lessons/main/book/data/weights/"
CACHE_SUBDIR = "resnet_lessons_weights"  # the Keras cache's folder for downloaded copies
TOLERANCE_POINTS = 0.1  # how far float16 storage may move a network's test error


class WeightsUnavailable(downloads.Unavailable):
    """The shipped weights are neither in a checkout nor in the Keras cache, and cannot be downloaded now."""


@dataclasses.dataclass(frozen=True)
class ShippedNetwork:
    """One entry of the manifest: a trained network, how it was made, and how well it does."""

    name: str  # the key a reader passes to load(), e.g. "resnet-56"
    depth: int  # weighted layers
    residual: bool  # a ResNet (True) or the plain net of the same depth
    file: str  # the weights file, beside the manifest
    sha256: str  # of that file
    config: dict  # the recipe it was trained with (profiles.TrainConfig as a dict)
    data: str  # the data it was trained and tested on
    seed: int
    epochs: int
    errors: dict  # percent: final "train_error", "val_error", "test_error" as training measured them, and
    # "test_error_first_1000", the reloaded network's on the first 1,000 test images (a quick check for the tests)
    mean: list  # per-channel mean of the training images (0-255 units): the network expects (x - mean) / std
    std: list  # per-channel standard deviation, likewise
    command: str  # how to train it again
    created: str  # ISO date the file was written
    dtype: str = "float16"  # how the weights are stored; the network computes in float32

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return profiles.TrainConfig.from_dict(self.config).input_shape

    def normalise(self, images) -> np.ndarray:
        """``images`` (N, size, size, 3) in 0-255 units, normalised as the network was trained: (x - mean) / std."""
        images = np.asarray(images, dtype=np.float32)
        return ((images - np.float32(self.mean)) / np.float32(self.std)).astype(np.float32)

    def reproduces(self, test_error: float) -> bool:
        """Whether ``test_error`` (percent, measured on the reloaded network) is within ``TOLERANCE_POINTS`` of the
        manifest's."""
        return abs(test_error - self.errors["test_error"]) <= TOLERANCE_POINTS

    def describe(self) -> str:
        """One line for a chapter: the network, its recipe and its test error."""
        return (f"{self.name}: {self.epochs} epochs of the {self.config.get('name')!r} recipe, seed {self.seed}, "
                f"{self.errors['test_error']:.1f} % test error")


def default_folder() -> pathlib.Path:
    """``book/data/weights`` of the checkout this package lives in (it need not exist)."""
    return pathlib.Path(__file__).resolve().parent.parent / "book" / "data" / "weights"


def read_manifest(folder=None, *, download: bool = True, timeout: float = 3.0) -> dict[str, ShippedNetwork]:
    """The manifest's networks by name, from ``folder`` (None: the checkout's, else a download)."""
    path = _locate(MANIFEST_NAME, folder, sha256=None, download=download, timeout=timeout)
    try:
        values = json.loads(path.read_text())
        return {entry["name"]: ShippedNetwork(**entry) for entry in values["networks"]}
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"{str(path)!r} is not a manifest of shipped weights ({error!r})") from None


def load(name: str, *, folder=None, download: bool = True, timeout: float = 3.0) -> keras.Model:
    """The shipped network ``name`` (e.g. ``"resnet-56"``), built and loaded, its file checked against the manifest.

    A ``ValueError`` names the networks there are if ``name`` is not one of them, and says so if the file's SHA-256
    is not the manifest's (a damaged or replaced file); :class:`WeightsUnavailable` if the files cannot be had.
    """
    shipped = manifest_entry(name, folder=folder, download=download, timeout=timeout)
    path = _locate(shipped.file, folder, sha256=shipped.sha256, download=download, timeout=timeout)
    if file_sha256(path) != shipped.sha256:
        raise ValueError(f"{str(path)!r} does not match its manifest (SHA-256 differs): the file is damaged or was "
                         "replaced; restore it from the repository")
    model = models.cifar_network(shipped.depth, residual=shipped.residual, input_shape=shipped.input_shape)
    model.load_weights(path)
    return model


def manifest_entry(name: str, *, folder=None, download: bool = True, timeout: float = 3.0) -> ShippedNetwork:
    """The manifest's record of network ``name``; a ``ValueError`` naming the others if there is none."""
    manifest = read_manifest(folder, download=download, timeout=timeout)
    if name not in manifest:
        raise ValueError(f"no shipped network {name!r}; there are: {', '.join(sorted(manifest)) or 'none'}")
    return manifest[name]


def ship(model: keras.Model, *, name: str, folder, config: profiles.TrainConfig, data: str, seed: int, epochs: int,
         errors: dict, mean, std, command: str, residual: bool, depth: int) -> ShippedNetwork:
    """Store ``model``'s weights in float16 as ``folder/<name>.weights.h5`` and record them in the manifest there
    (replacing an entry of the same name); returns the entry."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    file_name = f"{name}.weights.h5"
    save_float16_weights(model, folder / file_name)
    shipped = ShippedNetwork(
        name=name, depth=int(depth), residual=bool(residual), file=file_name, sha256=file_sha256(folder / file_name),
        # the recipe as JSON gives it back (lists for tuples), so that an entry read back compares equal
        config=json.loads(json.dumps(dataclasses.asdict(config))), data=data, seed=int(seed), epochs=int(epochs),
        errors={key: round(float(value), 2) for key, value in errors.items()},
        mean=[round(float(value), 4) for value in mean], std=[round(float(value), 4) for value in std],
        command=command, created=datetime.date.today().isoformat())
    manifest_path = folder / MANIFEST_NAME
    networks = json.loads(manifest_path.read_text())["networks"] if manifest_path.is_file() else []
    networks = [network for network in networks if network["name"] != name] + [dataclasses.asdict(shipped)]
    write_json_atomically(manifest_path, {"manifest_version": MANIFEST_VERSION,
                                          "networks": sorted(networks, key=lambda network: network["name"])})
    return shipped


def measure_test_error(model: keras.Model, shipped: ShippedNetwork, dataset: data.ImageDataset, *,
                       limit: int | None = None, batch_size: int = 500) -> float:
    """The percentage of ``dataset``'s test images (the first ``limit``, or all) that ``model`` gets wrong, the
    images downsampled and normalised as ``shipped`` was trained."""
    images = dataset.x_test[:limit]
    size = shipped.input_shape[0]
    if images.shape[1] != size:
        images = data.downsample_images(images, size)
    predictions = model.predict(shipped.normalise(images), batch_size=batch_size, verbose=0).argmax(axis=1)
    return 100.0 * float(np.mean(predictions != np.asarray(dataset.y_test[:limit]).reshape(-1)))


def save_float16_weights(model: keras.Model, path) -> None:
    """``model.save_weights(path)``, with every float32 array that fits stored as float16 (Keras casts them back on
    loading)."""
    path = pathlib.Path(path)
    with tempfile.TemporaryDirectory() as scratch:
        full = pathlib.Path(scratch) / path.name
        model.save_weights(full)
        with h5py.File(full, "r") as source, h5py.File(path, "w") as target:
            _copy_as_float16(source, target)


def _copy_as_float16(source: h5py.Group, target: h5py.Group) -> None:
    target.attrs.update(source.attrs)
    for key, item in source.items():
        if isinstance(item, h5py.Group):
            _copy_as_float16(item, target.create_group(key))
        else:
            values = item[()]
            # kept in float32 where float16 would overflow (a plain net's batch-norm variances can be that large)
            if (isinstance(values, np.ndarray) and values.dtype == np.float32
                    and np.all(np.abs(values) <= np.finfo(np.float16).max)):
                values = values.astype(np.float16)
            target.create_dataset(key, data=values)
            target[key].attrs.update(item.attrs)


def file_sha256(path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _locate(file_name: str, folder, *, sha256: str | None, download: bool, timeout: float) -> pathlib.Path:
    """``file_name`` in ``folder`` if given (it must be there), else in the checkout, else cached or downloaded."""
    if folder is not None:
        path = pathlib.Path(folder) / file_name
        if not path.is_file():
            raise ValueError(f"no {file_name} in {str(folder)!r}: give the folder that holds the shipped weights")
        return path
    checkout = default_folder() / file_name
    if checkout.is_file():
        return checkout
    cached = downloads.find_in_keras_cache(CACHE_SUBDIR, file_name)
    if cached is not None and (sha256 is None or file_sha256(cached) == sha256):
        return cached
    return downloads.fetch(REPOSITORY_URL + file_name, what=f"the shipped weights' {file_name}",
                           advice="clone the repository (the files are in book/data/weights/) or run where GitHub "
                           "can be reached", cache_subdir=CACHE_SUBDIR, download=download, timeout=timeout,
                           error=WeightsUnavailable, fname=file_name, file_hash=sha256,
                           force_download=cached is not None)  # a cached copy that fails its digest is replaced
