"""``medmnist:<flag>``: medmnist's own classes reading ROOT/<flag>.npz (multi-label ChestMNIST, RGB
PathMNIST), and what a missing or malformed file says."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers.datafiles import Written, medmnist_arrays, write_npz
from helpers.dataset_checks import assert_contract, expected_subset, to_nchw

from raysweep.config import DatasetConfig
from raysweep.data import DataError, load_dataset


def test_chestmnist_is_multi_label_with_14_outputs(chestmnist_file: Written) -> None:
    config = DatasetConfig(
        name="medmnist:chestmnist", root=chestmnist_file.path.parent, pool_size=20, pool_seed=1
    )
    dataset = load_dataset(config)
    indices = expected_subset(30, 20, seed=1)
    assert dataset.task == "multi-label" and dataset.num_outputs == 14
    assert dataset.pool_images.shape == (20, 1, 28, 28) and dataset.eval_labels.shape == (10, 14)
    np.testing.assert_array_equal(dataset.pool_images[:, 0], chestmnist_file.arrays["train_images"][indices])
    np.testing.assert_array_equal(dataset.pool_labels, chestmnist_file.arrays["train_labels"][indices])
    assert dataset.source == str(chestmnist_file.path.resolve())
    assert_contract(dataset)

    on_val = load_dataset(config.model_copy(update={"eval_split": "val"}))
    np.testing.assert_array_equal(on_val.eval_labels, chestmnist_file.arrays["val_labels"])


def test_chestmnist_default_pool_is_the_papers_30000(chestmnist_file: Written) -> None:
    with pytest.raises(DataError, match=r"default pool_size of 'medmnist:chestmnist' is 30,000"):
        load_dataset(DatasetConfig(name="medmnist:chestmnist", root=chestmnist_file.path.parent))


def test_pathmnist_has_three_channels_and_nine_classes(pathmnist_file: Written) -> None:
    dataset = load_dataset(DatasetConfig(name="medmnist:pathmnist", root=pathmnist_file.path.parent))
    assert dataset.task == "multi-class" and dataset.num_outputs == 9
    assert dataset.pool_images.shape == (30, 3, 28, 28) and dataset.in_channels == 3
    np.testing.assert_array_equal(dataset.pool_images, to_nchw(pathmnist_file.arrays["train_images"]))
    np.testing.assert_array_equal(dataset.pool_labels, pathmnist_file.arrays["train_labels"][:, 0])
    assert len(dataset.channel_mean) == 3
    assert_contract(dataset)


def test_medmnist_unknown_flag_lists_the_flags(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"unknown medmnist flag 'chest'.*chestmnist.*pathmnist"):
        load_dataset(DatasetConfig(name="medmnist:chest", root=tmp_path))


def test_medmnist_missing_file_names_path_and_download(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="download: true") as error:
        load_dataset(DatasetConfig(name="medmnist:chestmnist", root=tmp_path / "nowhere"))
    assert str(tmp_path.resolve() / "nowhere" / "chestmnist.npz") in str(error.value)


def test_medmnist_wrong_channels_and_missing_keys(tmp_path: Path) -> None:
    gray = medmnist_arrays((28, 28), 1, 9, {"train": 5, "val": 2, "test": 2})
    write_npz(tmp_path / "pathmnist.npz", gray)
    with pytest.raises(DataError, match=r"pathmnist.npz: train_images have shape \(1, 28, 28\).*3 channel"):
        load_dataset(DatasetConfig(name="medmnist:pathmnist", root=tmp_path))

    no_val = medmnist_arrays((28, 28), 14, 2, {"train": 5, "test": 2})
    write_npz(tmp_path / "chestmnist.npz", no_val)
    with pytest.raises(DataError, match=r"chestmnist.npz: missing key\(s\) val_images, val_labels"):
        load_dataset(DatasetConfig(name="medmnist:chestmnist", root=tmp_path))
