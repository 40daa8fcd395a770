"""Tiny data files in the real formats (``helpers.datafiles``), one fresh set per test."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.datafiles import Written, write_chestmnist, write_mnist, write_pathmnist


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
