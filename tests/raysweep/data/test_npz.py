"""``npz:<path>``: the user's own files in MedMNIST's layout, and one clear error per kind of damage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers.datafiles import medmnist_arrays, write_npz
from helpers.dataset_checks import assert_contract, expected_subset, to_nchw

from raysweep.config import DatasetConfig
from raysweep.data import DataError, load_dataset


def test_npz_multi_class_counts_classes_over_all_splits(tmp_path: Path, monkeypatch) -> None:
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (12, 10, 12), dtype=np.int64),  # ints in range are cast
        "train_labels": np.array([0, 1, 2, 3] * 3),
        "test_images": rng.integers(0, 256, (5, 10, 12), dtype=np.uint8),
        "test_labels": np.array([[0], [1], [4], [2], [3]]),  # class 4 only appears in test
    }
    write_npz(tmp_path / "mine.npz", arrays)
    monkeypatch.chdir(tmp_path)  # relative paths are relative to the working directory
    dataset = load_dataset(DatasetConfig(name="npz:mine.npz", pool_size=8, pool_seed=2))

    indices = expected_subset(12, 8, seed=2)
    assert dataset.task == "multi-class" and dataset.num_outputs == 5
    assert dataset.pool_images.shape == (8, 1, 10, 12)
    np.testing.assert_array_equal(dataset.pool_images[:, 0], arrays["train_images"][indices])
    np.testing.assert_array_equal(dataset.pool_labels, arrays["train_labels"][indices])
    np.testing.assert_array_equal(dataset.eval_labels, [0, 1, 4, 2, 3])
    assert dataset.source == str(tmp_path.resolve() / "mine.npz")
    assert_contract(dataset)

    with pytest.raises(DataError, match=r"mine.npz: .*no val split \(it has: train, test\)"):
        load_dataset(DatasetConfig(name="npz:mine.npz", eval_split="val"))


def test_npz_multi_label_with_channels_last(tmp_path: Path) -> None:
    arrays = medmnist_arrays((6, 6, 2), 3, 2, {"train": 9, "val": 3, "test": 4}, seed=5)
    written = write_npz(tmp_path / "multi.npz", arrays)
    dataset = load_dataset(DatasetConfig(name=f"npz:{written.path}", eval_split="val"))
    assert dataset.task == "multi-label" and dataset.num_outputs == 3
    np.testing.assert_array_equal(dataset.pool_images, to_nchw(arrays["train_images"]))
    np.testing.assert_array_equal(dataset.eval_labels, arrays["val_labels"])
    assert_contract(dataset)


def good_arrays() -> dict[str, np.ndarray]:
    return medmnist_arrays((4, 4), 1, 3, {"train": 6, "val": 2, "test": 3}, seed=9)


def with_changes(**changes: np.ndarray | None) -> dict[str, np.ndarray]:
    arrays = good_arrays()
    arrays.update(changes)
    return {key: value for key, value in arrays.items() if value is not None}


BAD_NPZ = {
    "missing-keys": (
        with_changes(test_images=None, test_labels=None),
        "missing key(s) test_images, test_labels",
    ),
    "half-val": (with_changes(val_labels=None), "has val_images but not val_labels"),
    "flat-images": (
        with_changes(train_images=np.zeros((6, 16), np.uint8)),
        "train_images: images must be (N, H, W)",
    ),
    "length-mismatch": (
        with_changes(test_labels=np.zeros((2, 1), np.uint8)),
        "test split has 3 images but 2 labels",
    ),
    "empty-split": (
        with_changes(val_images=np.zeros((0, 4, 4), np.uint8), val_labels=np.zeros((0, 1), np.uint8)),
        "the val split is empty",
    ),
    "shape-mismatch": (
        with_changes(test_images=np.zeros((3, 5, 5), np.uint8)),
        "image shapes differ between splits: train (1, 4, 4), val (1, 4, 4), test (1, 5, 5)",
    ),
    "negative-label": (
        with_changes(val_labels=np.array([[0], [-1]])),
        "val_labels: class labels must be non-negative",
    ),
    "fractional-label": (with_changes(train_labels=np.full((6, 1), 0.5)), "labels must be whole numbers"),
    "label-widths": (
        with_changes(test_labels=np.zeros((3, 2), np.uint8)),
        "label shapes differ between splits",
    ),
    "multi-label-value": (
        with_changes(
            train_labels=np.array([[0, 1]] * 5 + [[2, 0]]),
            val_labels=np.zeros((2, 2), np.uint8),
            test_labels=np.zeros((3, 2), np.uint8),
        ),
        "train_labels: multi-label values must be 0 or 1, found [2]",
    ),
    "float-images": (with_changes(train_images=np.zeros((6, 4, 4), np.float32)), "images must be uint8"),
    "out-of-range-images": (
        with_changes(train_images=np.full((6, 4, 4), 300, np.int16)),
        "image values must lie in 0..255, got 300..300",
    ),
    "channels-first": (with_changes(train_images=np.zeros((6, 1, 5, 5), np.uint8)), "channels first?"),
}


@pytest.mark.parametrize(("arrays", "problem"), BAD_NPZ.values(), ids=BAD_NPZ.keys())
def test_bad_npz_names_the_file_and_the_problem(tmp_path: Path, arrays, problem: str) -> None:
    path = write_npz(tmp_path / "bad.npz", arrays).path
    with pytest.raises(DataError) as error:
        load_dataset(DatasetConfig(name=f"npz:{path}", pool_size=2))
    message = str(error.value)
    assert str(path.resolve()) in message
    assert problem in message


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"these are not arrays\n", "not an npz archive"), (b"PK\x03\x04broken", "not an npz archive")],
    ids=["text", "broken-zip"],
)
def test_npz_that_is_not_an_archive(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(DataError, match=problem) as error:
        load_dataset(DatasetConfig(name=f"npz:{path}"))
    assert str(path) in str(error.value)


def test_npz_single_array_and_missing_file(tmp_path: Path) -> None:
    np.save(tmp_path / "one.npy", np.zeros((3, 4, 4), np.uint8))
    with pytest.raises(DataError, match=r"one.npy: holds a single .npy array"):
        load_dataset(DatasetConfig(name=f"npz:{tmp_path / 'one.npy'}"))
    with pytest.raises(DataError, match=r"absent.npz: file not found"):
        load_dataset(DatasetConfig(name=f"npz:{tmp_path / 'absent.npz'}"))
    with pytest.raises(DataError, match=r"name it npz:<path>"):
        load_dataset(DatasetConfig(name="npz"))
