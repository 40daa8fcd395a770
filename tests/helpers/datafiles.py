"""Writers for tiny data files in the real on-disk formats (IDX for torchvision MNIST, MedMNIST npz).

The tests load these through the same code paths as the real files, so the writers follow the
formats exactly: IDX is big-endian with magic 2049 (labels, 1 dimension) or 2051 (images, 3
dimensions) followed by the dimension sizes and the raw unsigned bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MNIST_FILES = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class Written:
    """What a writer put on disk, so tests can compare what the loader returns with it."""

    path: Path
    """The file (npz) or the dataset root (MNIST)."""
    arrays: dict[str, np.ndarray]
    """``train_images``, ``train_labels``, ... exactly as written."""


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an uncompressed IDX file (magic 0x0800 + ndim, big-endian sizes)."""
    assert array.dtype == np.uint8
    header = struct.pack(f">{1 + array.ndim}I", 0x0800 + array.ndim, *array.shape)
    path.write_bytes(header + np.ascontiguousarray(array).tobytes())


def random_images(rng: np.random.Generator, n: int, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)


def write_mnist(root: Path, n_train: int = 40, n_test: int = 12, seed: int = 0) -> Written:
    """``root/MNIST/raw`` with the four IDX files of a tiny 28x28 MNIST."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": random_images(rng, n_train, (28, 28)),
        "train_labels": rng.integers(0, 10, size=n_train, dtype=np.uint8),
        "test_images": random_images(rng, n_test, (28, 28)),
        "test_labels": rng.integers(0, 10, size=n_test, dtype=np.uint8),
    }
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for (split, kind), name in MNIST_FILES.items():
        write_idx(raw / name, arrays[f"{split}_{kind}"])
    return Written(path=root, arrays=arrays)


def medmnist_arrays(
    image_shape: tuple[int, ...],
    label_width: int,
    num_classes: int,
    sizes: dict[str, int],
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Arrays in MedMNIST's layout: ``(N, *image_shape)`` uint8 images and ``(N, label_width)`` uint8
    labels (0/1 when ``label_width > 1``, else class indices below ``num_classes``)."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in sizes.items():
        arrays[f"{split}_images"] = random_images(rng, n, image_shape)
        high = 2 if label_width > 1 else num_classes
        arrays[f"{split}_labels"] = rng.integers(0, high, size=(n, label_width), dtype=np.uint8)
    return arrays


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> Written:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return Written(path=path, arrays=arrays)


SMALL_SPLITS = {"train": 30, "val": 8, "test": 10}


def write_chestmnist(root: Path, sizes: dict[str, int] = SMALL_SPLITS) -> Written:
    """``root/chestmnist.npz``: one channel, 14 binary labels, as the real file."""
    return write_npz(root / "chestmnist.npz", medmnist_arrays((28, 28), 14, 2, sizes, seed=1))


def write_pathmnist(root: Path, sizes: dict[str, int] = SMALL_SPLITS) -> Written:
    """``root/pathmnist.npz``: (N, 28, 28, 3) RGB images, 9 classes as (N, 1) labels."""
    return write_npz(root / "pathmnist.npz", medmnist_arrays((28, 28, 3), 1, 9, sizes, seed=2))
