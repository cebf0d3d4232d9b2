"""Unit tests run in a known data environment, whatever the machine (or CI) has set for the notebooks."""

import pytest

from resnet_lessons import cifar10


@pytest.fixture(autouse=True)
def no_image_folder_copy_from_the_environment(monkeypatch):
    """CI points $RESNET_LESSONS_CIFAR10_FOLDER at a CIFAR-10 copy for the notebooks; unit tests choose their own data."""
    monkeypatch.delenv(cifar10.FOLDER_ENVIRONMENT_VARIABLE, raising=False)


pytest_plugins = ["pytester"]  # tests/test_notebook_data_guard.py runs pytest on small projects it writes
