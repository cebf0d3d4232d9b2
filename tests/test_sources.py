"""The data sources plug into data.load_dataset through one table, and know nothing of its container."""

import ast
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from resnet_lessons import data, downloads

PACKAGE = pathlib.Path(data.__file__).parent


def imported_modules(module_name):
    """The ``resnet_lessons`` modules but ``arguments`` that ``module_name`` imports, at its top level or in a function."""
    tree = ast.parse((PACKAGE / f"{module_name}.py").read_text())
    names = set()
    for statement in ast.walk(tree):
        if isinstance(statement, ast.ImportFrom) and statement.module == "resnet_lessons":
            names.update(alias.name for alias in statement.names)
        elif isinstance(statement, ast.ImportFrom) and (statement.module or "").startswith("resnet_lessons."):
            names.add(statement.module.split(".")[1])
        elif isinstance(statement, ast.Import):
            names.update(alias.name.split(".")[1] for alias in statement.names
                         if alias.name.startswith("resnet_lessons."))
    # ``arguments`` (the argument checkers) imports nothing of the package, so any module may import it.
    return names - {"arguments"}


def test_the_imports_run_one_way():
    assert imported_modules("downloads") == set()
    assert imported_modules("image_folder") == {"downloads"}
    assert imported_modules("synthetic") == set()
    assert imported_modules("cifar10") == {"downloads", "image_folder"}
    assert imported_modules("data") == {"cifar10", "downloads", "synthetic"}
    assert "data" not in imported_modules("pretrained")


def test_loading_a_source_does_not_load_the_container():
    code = ("import sys; from resnet_lessons import cifar10, synthetic; synthetic.load_data(2, 2); "
            "print('resnet_lessons.data' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def tiny_source(*, num_train, num_test, seed, **_):
    """A source in the table's format: four 2x2 images a split, three classes, the seed in every pixel."""
    images = np.full((4, 2, 2, 3), seed, np.uint8)
    labels = np.array([0, 1, 2, 0], np.int32)
    return (images, labels), (images.copy(), labels.copy()), ("a", "b", "c"), "tiny data"


def test_a_new_source_is_one_entry_in_the_table(monkeypatch, capsys):
    monkeypatch.setitem(data._LOADERS, "tiny", tiny_source)
    dataset = data.load_dataset("tiny", num_train=3, seed=7)
    assert isinstance(dataset, data.ImageDataset) and dataset.name == "tiny"
    assert (dataset.num_train, dataset.num_test, dataset.num_classes, dataset.image_size) == (3, 4, 3, 2)
    assert int(dataset.x_train[0, 0, 0, 0]) == 7
    assert capsys.readouterr().out == "Data: tiny data; using the first 3 train / 4 test images\n"
    with pytest.raises(ValueError, match="source must be one of 'auto', 'cifar10', 'synthetic', 'tiny'"):
        data.load_dataset("tiny2")


def test_auto_falls_back_on_any_unavailable_download(monkeypatch):
    def offline(**_):
        raise downloads.Unavailable("no network in this test", reason="offline in this test")

    monkeypatch.setitem(data._LOADERS, "cifar10", offline)
    dataset = data.load_dataset(num_train=5, num_test=5, verbose=False)
    assert dataset.name == "synthetic"
    assert dataset.description.endswith("CIFAR-10 was not available: offline in this test")
    with pytest.raises(downloads.Unavailable, match="no network"):
        data.load_dataset("cifar10", verbose=False)
