"""Datasets by name: ``digits``, ``mnist``, ``medmnist:<flag>``, ``npz:<path>``.

Each source module returns its raw splits (:class:`~raysweep.data.npz.RawSplits`); the code here
does what is the same for all of them: pick the eval split, draw the unlabeled pool from the train
split with the pool seed, cap the eval split, and compute the pool's channel statistics.

    >>> dataset = load_dataset(DatasetConfig(name="digits"))
    >>> dataset.pool_images.shape, dataset.task
    ((1258, 1, 8, 8), 'multi-class')
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from raysweep.config import DatasetConfig
from raysweep.data.base import ALDataset, DataError, channel_stats, check_split
from raysweep.data.digits import load_digits
from raysweep.data.medmnist import load_medmnist
from raysweep.data.mnist import load_mnist
from raysweep.data.npz import RawSplits, check_splits, load_npz
from raysweep.registry import Registry

__all__ = ["DATA_SOURCES", "ALDataset", "DataError", "load_dataset"]

DataSource = Callable[[DatasetConfig, str], RawSplits]
"""``(config, argument) -> RawSplits``; the argument is the part of the name after ``:``."""

DATA_SOURCES: Registry[DataSource] = Registry("dataset source")
DATA_SOURCES.register("digits")(load_digits)
DATA_SOURCES.register("mnist")(load_mnist)
DATA_SOURCES.register("medmnist")(load_medmnist)
DATA_SOURCES.register("npz")(load_npz)


def load_dataset(config: DatasetConfig) -> ALDataset:
    """Load the source ``config.name`` names and turn it into a pool and an eval split.

    The pool is ``pool_size`` train points drawn without replacement by
    ``np.random.default_rng(pool_seed)``, kept in ascending train-index order; the eval cap is a
    subset drawn the same way from the eval split. Raises DataError for bad files and sizes, and
    the registry's UnknownNameError for an unknown source.
    """
    source_name, _, argument = config.name.partition(":")
    raw = DATA_SOURCES.get(source_name)(config, argument)
    check_splits(raw.splits, raw.source)
    for split, (images, labels) in raw.splits.items():
        check_split(images, labels, raw.task, raw.num_outputs, f"{raw.source}: {split} split")

    if config.eval_split not in raw.splits:
        raise DataError(
            f"{raw.source}: dataset {config.name!r} has no {config.eval_split} split (it has: "
            f"{', '.join(raw.splits)}); set dataset.eval_split to one of those"
        )
    train_images, train_labels = raw.splits["train"]
    eval_images, eval_labels = raw.splits[config.eval_split]

    pool_size = config.pool_size or raw.default_pool_size or len(train_images)
    if pool_size > len(train_images):
        what = "pool_size" if config.pool_size else f"the default pool_size of {config.name!r}"
        raise DataError(
            f"{raw.source}: {what} is {pool_size:,} but the train split has only {len(train_images):,} "
            "images; set dataset.pool_size to at most that"
        )
    pool_indices = draw_subset(len(train_images), pool_size, config.pool_seed)
    if config.eval_size is not None and config.eval_size < len(eval_images):
        eval_indices = draw_subset(len(eval_images), config.eval_size, config.pool_seed)
        eval_images, eval_labels = eval_images[eval_indices], eval_labels[eval_indices]

    pool_images = np.ascontiguousarray(train_images[pool_indices])
    mean, std = channel_stats(pool_images)
    return ALDataset(
        name=config.name,
        task=raw.task,
        num_outputs=raw.num_outputs,
        pool_images=pool_images,
        pool_labels=np.ascontiguousarray(train_labels[pool_indices]),
        eval_images=np.ascontiguousarray(eval_images),
        eval_labels=np.ascontiguousarray(eval_labels),
        channel_mean=mean,
        channel_std=std,
        source=raw.source,
        pool_source_indices=pool_indices,
    )


def draw_subset(n: int, size: int, seed: int) -> np.ndarray:
    """``size`` distinct indices of ``range(n)`` drawn with ``default_rng(seed)``, ascending, int64."""
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False)).astype(np.int64)
