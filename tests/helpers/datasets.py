"""Tiny in-memory datasets for the encoder and VAE tests: noise images, two separable clusters, and
an ALDataset around them (the loaders' own tests use real files: ``helpers.datafiles``)."""

from __future__ import annotations

import numpy as np

from raysweep.data.base import ALDataset, channel_stats


def make_dataset(images: np.ndarray, name: str = "synthetic", labels: np.ndarray | None = None) -> ALDataset:
    """A two-class ALDataset whose pool is ``images`` (labels 0 unless given) and eval its first four."""
    mean, std = channel_stats(images)
    labels = np.zeros(len(images), dtype=np.int64) if labels is None else labels
    return ALDataset(
        name=name,
        task="multi-class",
        num_outputs=2,
        pool_images=images,
        pool_labels=labels,
        eval_images=images[:4],
        eval_labels=labels[:4],
        channel_mean=mean,
        channel_std=std,
    )


def noise_images(n: int, channels: int, size: int, seed: int = 0) -> np.ndarray:
    """(n, channels, size, size) uniform uint8 noise."""
    return np.random.default_rng(seed).integers(0, 256, (n, channels, size, size), dtype=np.uint8)


def two_clusters(n_per_cluster: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """8x8 images: cluster 0 is bright on the left half, cluster 1 on the right, plus noise."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 60, (2 * n_per_cluster, 1, 8, 8))
    images[:n_per_cluster, :, :, :4] += 180
    images[n_per_cluster:, :, :, 4:] += 180
    cluster = np.repeat([0, 1], n_per_cluster)
    order = rng.permutation(len(images))
    return images[order].astype(np.uint8), cluster[order]


def mean_distances(embeddings: np.ndarray, classes: np.ndarray) -> tuple[float, float]:
    """(mean distance between points of different classes, mean distance within a class)."""
    distances = np.linalg.norm(embeddings[:, None, :] - embeddings[None, :, :], axis=-1)
    same = classes[:, None] == classes[None, :]
    off_diagonal = ~np.eye(len(embeddings), dtype=bool)
    return float(distances[~same].mean()), float(distances[same & off_diagonal].mean())
