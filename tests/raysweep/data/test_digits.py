"""``digits``: scikit-learn's 8x8 digits, split once with a fixed seed, scaled to uint8."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.dataset_checks import assert_contract, expected_subset
from sklearn.datasets import load_digits

from raysweep.config import DatasetConfig
from raysweep.data import DataError, load_dataset
from raysweep.data.digits import split_indices


def test_digits_split_scaling_and_pool() -> None:
    dataset = load_dataset(DatasetConfig(name="digits", pool_size=100, pool_seed=3))
    digits = load_digits()
    train = np.sort(np.random.default_rng(0).permutation(1797)[:1258])
    pool_rows = train[expected_subset(1258, 100, seed=3)]

    assert dataset.task == "multi-class" and dataset.num_outputs == 10
    assert dataset.pool_images.shape == (100, 1, 8, 8) and dataset.eval_images.shape == (359, 1, 8, 8)
    np.testing.assert_array_equal(dataset.pool_source_indices, expected_subset(1258, 100, seed=3))
    np.testing.assert_array_equal(dataset.pool_images[:, 0], np.round(digits.images[pool_rows] * 255 / 16))
    np.testing.assert_array_equal(dataset.pool_labels, digits.target[pool_rows])
    assert dataset.pool_images.max() == 255
    assert_contract(dataset)

    whole = load_dataset(DatasetConfig(name="digits", eval_split="val"))
    assert whole.n_pool == 1258 and whole.n_eval == 180
    np.testing.assert_array_equal(whole.pool_source_indices, np.arange(1258))


def test_split_is_a_partition_of_every_image() -> None:
    splits = split_indices(1797)
    assert [len(splits[s]) for s in ("train", "val", "test")] == [1258, 180, 359]
    assert np.array_equal(np.sort(np.concatenate(list(splits.values()))), np.arange(1797))
    assert all(np.array_equal(index, np.sort(index)) for index in splits.values())


def test_digits_takes_no_argument() -> None:
    with pytest.raises(DataError, match="takes no ':' argument"):
        load_dataset(DatasetConfig(name="digits:8x8"))
