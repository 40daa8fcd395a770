"""What the tests expect of a loaded dataset, computed independently of the loaders: the documented
pool draw, images channels first, and the ALDataset contract (layouts, dtypes, channel statistics)."""

from __future__ import annotations

import numpy as np

from raysweep.data.base import ALDataset


def expected_subset(n: int, size: int, seed: int) -> np.ndarray:
    """The documented pool draw: ``size`` of ``range(n)`` by ``default_rng(seed)``, ascending."""
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def to_nchw(images: np.ndarray) -> np.ndarray:
    """(N, H, W) or (N, H, W, C) images as (N, C, H, W)."""
    return images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)


def assert_channel_stats(dataset: ALDataset) -> None:
    pixels = dataset.pool_images.astype(np.float64) / 255
    np.testing.assert_allclose(dataset.channel_mean, pixels.mean(axis=(0, 2, 3)), rtol=1e-10)
    np.testing.assert_allclose(dataset.channel_std, pixels.std(axis=(0, 2, 3)), rtol=1e-8)


def assert_contract(dataset: ALDataset) -> None:
    """C-contiguous uint8 images; int64 (N,) class labels or uint8 (N, outputs) multi-labels."""
    for array in (dataset.pool_images, dataset.pool_labels, dataset.eval_images, dataset.eval_labels):
        assert array.flags["C_CONTIGUOUS"]
    assert dataset.pool_images.dtype == dataset.eval_images.dtype == np.uint8
    if dataset.multi_label:
        assert dataset.pool_labels.dtype == dataset.eval_labels.dtype == np.uint8
        assert dataset.pool_labels.shape == (dataset.n_pool, dataset.num_outputs)
    else:
        assert dataset.pool_labels.dtype == dataset.eval_labels.dtype == np.int64
        assert dataset.pool_labels.shape == (dataset.n_pool,)
    assert_channel_stats(dataset)
