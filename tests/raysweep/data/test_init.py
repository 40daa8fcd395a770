"""Datasets by name (``raysweep.data``): the registry of sources, the pool drawn with the pool seed,
the eval split and its cap, and the errors for sizes and splits that do not fit."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.datafiles import Written
from helpers.dataset_checks import expected_subset

from raysweep.config import DatasetConfig
from raysweep.data import DATA_SOURCES, DataError, draw_subset, load_dataset
from raysweep.registry import UnknownNameError


def test_unknown_source_lists_the_known_ones() -> None:
    with pytest.raises(UnknownNameError, match="known: digits, medmnist, mnist, npz"):
        load_dataset(DatasetConfig(name="cifar"))
    assert DATA_SOURCES.names() == ["digits", "medmnist", "mnist", "npz"]


def test_draw_subset_is_the_documented_draw() -> None:
    drawn = draw_subset(100, 10, seed=3)
    assert drawn.dtype == np.int64 and drawn.tolist() == expected_subset(100, 10, seed=3).tolist()
    assert draw_subset(5, 5, seed=0).tolist() == [0, 1, 2, 3, 4]


def test_pool_is_the_seeded_subset_and_repeats(mnist_files: Written) -> None:
    config = DatasetConfig(name="mnist", root=mnist_files.path, pool_size=25, pool_seed=7)
    first, again = load_dataset(config), load_dataset(config)
    other = load_dataset(config.model_copy(update={"pool_seed": 8}))

    indices = expected_subset(40, 25, seed=7)
    np.testing.assert_array_equal(first.pool_source_indices, indices)
    np.testing.assert_array_equal(again.pool_images, first.pool_images)
    assert not np.array_equal(other.pool_source_indices, indices)
    np.testing.assert_array_equal(first.pool_images[:, 0], mnist_files.arrays["train_images"][indices])
    np.testing.assert_array_equal(first.pool_labels, mnist_files.arrays["train_labels"][indices])


def test_eval_size_caps_with_a_fixed_subset(chestmnist_file: Written) -> None:
    config = DatasetConfig(
        name="medmnist:chestmnist", root=chestmnist_file.path.parent, pool_size=20, eval_size=4
    )
    dataset = load_dataset(config)
    rows = expected_subset(10, 4, seed=0)
    np.testing.assert_array_equal(dataset.eval_labels, chestmnist_file.arrays["test_labels"][rows])
    np.testing.assert_array_equal(load_dataset(config).eval_images, dataset.eval_images)
    # a cap above the split's size keeps the whole split
    assert load_dataset(config.model_copy(update={"eval_size": 50})).n_eval == 10


def test_pool_larger_than_train_split_names_both_numbers(mnist_files: Written) -> None:
    with pytest.raises(DataError, match=r"pool_size is 41 but the train split has only 40"):
        load_dataset(DatasetConfig(name="mnist", root=mnist_files.path, pool_size=41))
    # the default (the paper's 25,000) does not fit a tiny file either
    with pytest.raises(DataError, match=r"default pool_size of 'mnist' is 25,000 .* only 40"):
        load_dataset(DatasetConfig(name="mnist", root=mnist_files.path))


def test_eval_split_missing_lists_the_splits(mnist_files: Written) -> None:
    with pytest.raises(DataError, match=r"no val split \(it has: train, test\)"):
        load_dataset(DatasetConfig(name="mnist", root=mnist_files.path, pool_size=10, eval_split="val"))


def test_a_dataset_without_a_val_split_holds_one_out_of_the_train_points_outside_the_pool(
    mnist_files: Written,
) -> None:
    config = DatasetConfig(name="mnist", root=mnist_files.path, pool_size=25, pool_seed=7, val_size=6)
    dataset = load_dataset(config)
    images = mnist_files.arrays["train_images"]
    rows = [int(np.flatnonzero((images == image).all(axis=(1, 2)))[0]) for image in dataset.val_images[:, 0]]
    assert len(set(rows)) == 6 and not set(rows) & set(dataset.pool_source_indices.tolist())
    np.testing.assert_array_equal(dataset.val_labels, mnist_files.arrays["train_labels"][rows])
    # Seeded: the same hold-out every time; the pool does not depend on the hold-out's size.
    np.testing.assert_array_equal(load_dataset(config).val_images, dataset.val_images)
    bigger = load_dataset(config.model_copy(update={"val_size": 15}))
    np.testing.assert_array_equal(bigger.pool_source_indices, dataset.pool_source_indices)
    assert bigger.val_images.shape[0] == 15


def test_a_dataset_with_its_own_val_split_uses_it_capped_at_val_size(chestmnist_file: Written) -> None:
    root = chestmnist_file.path.parent
    whole = load_dataset(DatasetConfig(name="medmnist:chestmnist", root=root, pool_size=20))
    np.testing.assert_array_equal(whole.val_labels, chestmnist_file.arrays["val_labels"])
    capped = load_dataset(DatasetConfig(name="medmnist:chestmnist", root=root, pool_size=20, val_size=3))
    rows = expected_subset(8, 3, seed=0)
    np.testing.assert_array_equal(capped.val_labels, chestmnist_file.arrays["val_labels"][rows])


def test_a_hold_out_larger_than_what_the_pool_leaves_is_refused(mnist_files: Written) -> None:
    with pytest.raises(DataError, match=r"0 are left by a pool of 40, but the validation split needs 4"):
        load_dataset(DatasetConfig(name="mnist", root=mnist_files.path, pool_size=40))
    with pytest.raises(DataError, match=r"15 are left by a pool of 25, but the validation split needs 16"):
        load_dataset(DatasetConfig(name="mnist", root=mnist_files.path, pool_size=25, val_size=16))
