"""Shared fixtures. Data-file fixtures write tiny datasets in the real formats (see tests/helpers/datafiles.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from helpers.datafiles import Written, write_chestmnist, write_mnist, write_pathmnist

if TYPE_CHECKING:  # the cluster helpers import Ray: only the type is needed here
    from helpers.cluster import Driver


@pytest.fixture
def mnist_files(tmp_path: Path) -> Written:
    """A tiny MNIST (40 train, 12 test) as the four IDX files in ``tmp_path/MNIST/raw``."""
    return write_mnist(tmp_path)


@pytest.fixture
def chestmnist_file(tmp_path: Path) -> Written:
    """A tiny ``tmp_path/chestmnist.npz`` (30/8/10 images, 14 binary labels)."""
    return write_chestmnist(tmp_path)


@pytest.fixture
def pathmnist_file(tmp_path: Path) -> Written:
    """A tiny ``tmp_path/pathmnist.npz`` (30/8/10 RGB images, 9 classes)."""
    return write_pathmnist(tmp_path)


@pytest.fixture
def drivers() -> Iterator[list[Driver]]:
    """Every sweep driver a test starts; whatever is left of them is killed when the test ends,
    also when it fails."""
    started: list[Driver] = []
    yield started
    for driver in started:
        driver.kill()
