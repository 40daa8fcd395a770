"""``mnist``: torchvision's MNIST reading the four IDX files, and what a damaged file says."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers.datafiles import MNIST_FILES, Written, write_idx, write_mnist
from helpers.dataset_checks import assert_contract
from helpers.paths import REAL_DATA

from raysweep.config import DatasetConfig
from raysweep.data import DataError, load_dataset


def test_mnist_reads_idx_files(mnist_files: Written) -> None:
    # MNIST has no val split: its validation split is held out of the train points outside the pool.
    dataset = load_dataset(DatasetConfig(name="mnist", root=mnist_files.path, pool_size=36, val_size=4))
    assert dataset.task == "multi-class" and dataset.num_outputs == 10
    assert dataset.pool_images.shape == (36, 1, 28, 28) and dataset.eval_images.shape == (12, 1, 28, 28)
    train_images = mnist_files.arrays["train_images"]
    np.testing.assert_array_equal(dataset.pool_images[:, 0], train_images[dataset.pool_source_indices])
    np.testing.assert_array_equal(dataset.eval_images[:, 0], mnist_files.arrays["test_images"])
    np.testing.assert_array_equal(dataset.eval_labels, mnist_files.arrays["test_labels"])
    # The four train points the pool left out are the validation split, images and labels.
    outside = np.setdiff1d(np.arange(40), dataset.pool_source_indices)
    np.testing.assert_array_equal(dataset.val_images[:, 0], train_images[outside])
    np.testing.assert_array_equal(dataset.val_labels, mnist_files.arrays["train_labels"][outside])
    assert dataset.source == str(mnist_files.path.resolve() / "MNIST" / "raw")
    assert_contract(dataset)


def test_mnist_missing_files_names_folder_files_and_download(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        load_dataset(DatasetConfig(name="mnist", root=tmp_path))
    message = str(error.value)
    assert str(tmp_path.resolve() / "MNIST" / "raw") in message
    assert all(name in message for name in MNIST_FILES.values())
    assert "dataset.download: true" in message


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda data: data[: len(data) // 2], "corrupt or truncated IDX file"),
        (lambda data: data[:6], "shorter than its header"),
        (lambda data: b"\x00\x00\x08\x01" + data[4:], "magic number 2049, expected 2051"),
    ],
    ids=["truncated", "header-only", "wrong-magic"],
)
def test_mnist_corrupt_idx_names_the_file(mnist_files: Written, damage, problem: str) -> None:
    path = mnist_files.path / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DataError, match=problem) as error:
        load_dataset(DatasetConfig(name="mnist", root=mnist_files.path, pool_size=10))
    assert str(path.resolve()) in str(error.value)


def test_mnist_image_and_label_counts_must_match(tmp_path: Path) -> None:
    write_mnist(tmp_path)
    write_idx(tmp_path / "MNIST" / "raw" / "train-labels-idx1-ubyte", np.zeros(39, np.uint8))
    with pytest.raises(DataError, match="holds 40 images but train-labels-idx1-ubyte holds 39 labels"):
        load_dataset(DatasetConfig(name="mnist", root=tmp_path, pool_size=10))


@pytest.mark.slow
@pytest.mark.skipif(not (REAL_DATA / "MNIST" / "raw").is_dir(), reason="no real MNIST in ../shared/data")
def test_real_mnist_pool_of_25000() -> None:
    dataset = load_dataset(DatasetConfig(name="mnist", root=REAL_DATA))
    assert dataset.pool_images.shape == (25_000, 1, 28, 28) and dataset.eval_images.shape == (
        10_000,
        1,
        28,
        28,
    )
    np.testing.assert_array_equal(
        np.bincount(dataset.eval_labels), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    )
    whole = load_dataset(DatasetConfig(name="mnist", root=REAL_DATA, pool_size=60_000))
    assert whole.channel_mean[0] == pytest.approx(0.13066, abs=1e-5)
    assert whole.channel_std[0] == pytest.approx(0.30811, abs=1e-5)
