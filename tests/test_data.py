"""Dataset sources: tiny files in the real formats, loaded through the real code paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers.datafiles import (
    MNIST_FILES,
    Written,
    medmnist_arrays,
    write_idx,
    write_mnist,
    write_npz,
)
from sklearn.datasets import load_digits

from raysweep.config import DatasetConfig
from raysweep.data import DATA_SOURCES, ALDataset, DataError, load_dataset
from raysweep.registry import UnknownNameError

REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def expected_subset(n: int, size: int, seed: int) -> np.ndarray:
    """The documented pool draw: ``size`` of ``range(n)`` by ``default_rng(seed)``, ascending."""
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def to_nchw(images: np.ndarray) -> np.ndarray:
    return images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)


def assert_channel_stats(dataset: ALDataset) -> None:
    pixels = dataset.pool_images.astype(np.float64) / 255
    np.testing.assert_allclose(dataset.channel_mean, pixels.mean(axis=(0, 2, 3)), rtol=1e-10)
    np.testing.assert_allclose(dataset.channel_std, pixels.std(axis=(0, 2, 3)), rtol=1e-8)


def assert_contract(dataset: ALDataset) -> None:
    for array in (dataset.pool_images, dataset.pool_labels, dataset.eval_images, dataset.eval_labels):
        assert array.flags["C_CONTIGUOUS"]
    assert dataset.pool_images.dtype == dataset.eval_images.dtype == np.uint8
    if dataset.multi_label:
        assert dataset.pool_labels.dtype == dataset.eval_labels.dtype == np.uint8
        assert dataset.pool_labels.shape == (dataset.n_pool, dataset.num_outputs)
    else:
        assert dataset.pool_labels.dtype == dataset.eval_labels.dtype == np.int64
        assert dataset.pool_labels.shape == (dataset.n_pool,)


# --------------------------------------------------------------------------------------------
# Registry and shared pool/eval logic
# --------------------------------------------------------------------------------------------


def test_unknown_source_lists_the_known_ones() -> None:
    with pytest.raises(UnknownNameError, match="known: digits, medmnist, mnist, npz"):
        load_dataset(DatasetConfig(name="cifar"))
    assert DATA_SOURCES.names() == ["digits", "medmnist", "mnist", "npz"]


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
    assert_channel_stats(dataset)

    whole = load_dataset(DatasetConfig(name="digits", eval_split="val"))
    assert whole.n_pool == 1258 and whole.n_eval == 180
    np.testing.assert_array_equal(whole.pool_source_indices, np.arange(1258))


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


# --------------------------------------------------------------------------------------------
# mnist: torchvision reading IDX files
# --------------------------------------------------------------------------------------------


def test_mnist_reads_idx_files(mnist_files: Written) -> None:
    dataset = load_dataset(DatasetConfig(name="mnist", root=mnist_files.path, pool_size=40))
    assert dataset.task == "multi-class" and dataset.num_outputs == 10
    assert dataset.pool_images.shape == (40, 1, 28, 28) and dataset.eval_images.shape == (12, 1, 28, 28)
    np.testing.assert_array_equal(dataset.pool_images[:, 0], mnist_files.arrays["train_images"])
    np.testing.assert_array_equal(dataset.eval_images[:, 0], mnist_files.arrays["test_images"])
    np.testing.assert_array_equal(dataset.eval_labels, mnist_files.arrays["test_labels"])
    assert dataset.source == str(mnist_files.path.resolve() / "MNIST" / "raw")
    assert_contract(dataset)
    assert_channel_stats(dataset)


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


# --------------------------------------------------------------------------------------------
# medmnist:<flag>: medmnist's own classes reading ROOT/<flag>.npz
# --------------------------------------------------------------------------------------------


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
    assert_channel_stats(dataset)

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
    assert_channel_stats(dataset)


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


# --------------------------------------------------------------------------------------------
# npz:<path>: the user's own files
# --------------------------------------------------------------------------------------------


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
    assert_channel_stats(dataset)

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
    assert_channel_stats(dataset)


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


# --------------------------------------------------------------------------------------------
# Real data (outside CI)
# --------------------------------------------------------------------------------------------


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
