"""Datasets by name: ``digits``, ``mnist``, ``medmnist:<flag>``, ``npz:<path>``.

Each source module returns its raw splits (:class:`~raysweep.data.npz.RawSplits`); the code here
does what is the same for all of them: pick the eval split, draw the unlabeled pool from the train
split with the pool seed, cap the eval split, find the validation split (the source's own, or a
hold-out of train points outside the pool), and compute the pool's channel statistics.

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
    val_images, val_labels = validation_split(raw, config, pool_indices)

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
        val_images=np.ascontiguousarray(val_images),
        val_labels=np.ascontiguousarray(val_labels),
    )


DEFAULT_HOLDOUT = 5_000
"""Validation hold-out of a dataset without a val split: at most this many train points..."""
DEFAULT_HOLDOUT_FRACTION = 0.1
"""...and at most this fraction of the train split (MNIST: 5,000 of 60,000)."""


def validation_split(
    raw: RawSplits, config: DatasetConfig, pool_indices: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The validation split: the source's own (capped at ``val_size``), else ``val_size`` train points
    outside the pool, drawn with the pool seed (the pool itself does not depend on it)."""
    if "val" in raw.splits:
        images, labels = raw.splits["val"]
        if config.val_size is not None and config.val_size < len(images):
            chosen = draw_subset(len(images), config.val_size, config.pool_seed)
            images, labels = images[chosen], labels[chosen]
        return images, labels
    train_images, train_labels = raw.splits["train"]
    outside = np.setdiff1d(np.arange(len(train_images)), pool_indices, assume_unique=True)
    size = config.val_size or min(DEFAULT_HOLDOUT, int(DEFAULT_HOLDOUT_FRACTION * len(train_images)))
    if size > len(outside) or size == 0:
        raise DataError(
            f"{raw.source}: dataset {config.name!r} has no val split, so the validation split is held out "
            f"from the train points outside the pool: {len(outside):,} are left by a pool of "
            f"{len(pool_indices):,}, but the validation split needs {max(size, 1):,}; lower dataset.pool_size "
            "or dataset.val_size"
        )
    # A purpose of its own in the seed: the hold-out is not the pool draw's first points again.
    rng = np.random.default_rng([config.pool_seed, 0x76616C])
    held_out = np.sort(rng.choice(outside, size=size, replace=False)).astype(np.int64)
    return train_images[held_out], train_labels[held_out]


def draw_subset(n: int, size: int, seed: int) -> np.ndarray:
    """``size`` distinct indices of ``range(n)`` drawn with ``default_rng(seed)``, ascending, int64."""
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False)).astype(np.int64)
