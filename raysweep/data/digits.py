"""``digits``: scikit-learn's 8x8 handwritten digits (1,797 images, offline), the embedded default.

Pixel values 0..16 are scaled to uint8 0..255 (``round(x * 255 / 16)``). The data set has no
official split, so we split it once with a fixed seed: 70% train, 10% val, 20% test.
"""

from __future__ import annotations

import numpy as np

from raysweep.config import DatasetConfig
from raysweep.data.base import DataError
from raysweep.data.npz import RawSplits

SPLIT_SEED = 0
TRAIN_FRACTION, VAL_FRACTION = 0.7, 0.1


def split_indices(n: int) -> dict[str, np.ndarray]:
    """The fixed train/val/test indices into sklearn's order, each sorted ascending."""
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    n_train, n_val = round(TRAIN_FRACTION * n), round(VAL_FRACTION * n)
    return {
        "train": np.sort(order[:n_train]),
        "val": np.sort(order[n_train : n_train + n_val]),
        "test": np.sort(order[n_train + n_val :]),
    }


def load_digits(config: DatasetConfig, argument: str) -> RawSplits:
    from sklearn.datasets import load_digits as sklearn_load_digits

    if argument:
        raise DataError(f"dataset 'digits' takes no ':' argument, got {config.name!r}")
    digits = sklearn_load_digits()
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)[:, None]  # (1797, 1, 8, 8)
    labels = digits.target.astype(np.int64)
    splits = {split: (images[index], labels[index]) for split, index in split_indices(len(images)).items()}
    return RawSplits(splits=splits, task="multi-class", num_outputs=10, source="sklearn.datasets.load_digits")
