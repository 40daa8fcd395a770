"""``npz:<path>``: any file in MedMNIST's npz layout, and the splits form every source returns.

The layout is six arrays: ``train_images``, ``train_labels``, ``val_images``, ``val_labels``,
``test_images``, ``test_labels`` (the val pair is optional here). Images are ``(N, H, W)`` or
``(N, H, W, C)`` integers in 0..255; labels ``(N,)`` or ``(N, 1)`` class indices (multi-class, the
number of classes is the largest label + 1 over all splits) or ``(N, K)`` 0/1 with ``K > 1``
(multi-label). This is how users bring their own data.

Every source (digits, mnist, medmnist, npz) hands :func:`raysweep.data.load_dataset` the same
:class:`RawSplits`: the splits as the source holds them, already in the dataset contract's dtypes.
The helpers here that turn on-disk arrays into that form are shared with the medmnist source.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from raysweep.config import DatasetConfig
from raysweep.data.base import DataError, TaskType

SPLITS = ("train", "val", "test")
REQUIRED_KEYS = ("train_images", "train_labels", "test_images", "test_labels")
VAL_KEYS = ("val_images", "val_labels")


@dataclass(frozen=True, eq=False)
class RawSplits:
    """A source's splits before the pool is drawn.

    ``splits`` maps ``"train"``, ``"test"`` and, when the source has one, ``"val"`` to
    ``(images, labels)``: images ``(N, C, H, W)`` uint8, labels ``(N,)`` int64 (multi-class) or
    ``(N, num_outputs)`` uint8 (multi-label).
    """

    splits: dict[str, tuple[np.ndarray, np.ndarray]]
    task: TaskType
    num_outputs: int
    source: str
    """The file or folder the data came from; every error message starts with it."""
    default_pool_size: int | None = None
    """Pool size when the config leaves it unset; None: the whole train split."""


def check_splits(splits: dict[str, tuple[np.ndarray, np.ndarray]], source: str) -> None:
    """Raise DataError for empty splits, image/label count mismatches and differing image shapes."""
    for split, (images, labels) in splits.items():
        if len(images) == 0:
            raise DataError(f"{source}: the {split} split is empty (0 images)")
        if len(images) != len(labels):
            raise DataError(f"{source}: the {split} split has {len(images)} images but {len(labels)} labels")
    shapes = {split: images.shape[1:] for split, (images, _) in splits.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{split} {tuple(shape)}" for split, shape in shapes.items())
        raise DataError(f"{source}: image shapes differ between splits: {listed}")


def images_to_nchw(images: np.ndarray, what: str) -> np.ndarray:
    """``(N, H, W)`` or ``(N, H, W, C)`` integers in 0..255 -> contiguous ``(N, C, H, W)`` uint8.

    ``what`` names the file and array for errors (``"/data/x.npz: train_images"``).
    """
    if images.ndim not in (3, 4):
        raise DataError(f"{what}: images must be (N, H, W) or (N, H, W, C), got shape {images.shape}")
    if images.ndim == 4 and not 1 <= images.shape[3] <= 4:
        hint = " (channels first? the layout is channels last)" if images.shape[1] <= 4 else ""
        raise DataError(f"{what}: the last axis of (N, H, W, C) images has {images.shape[3]} channels{hint}")
    if images.dtype != np.uint8:
        if images.dtype == np.bool_ or not np.issubdtype(images.dtype, np.integer):
            raise DataError(f"{what}: images must be uint8 (or integers in 0..255), got {images.dtype}")
        if images.size and (images.min() < 0 or images.max() > 255):
            raise DataError(f"{what}: image values must lie in 0..255, got {images.min()}..{images.max()}")
        images = images.astype(np.uint8)
    images = images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(images)


def class_labels(labels: np.ndarray, what: str) -> np.ndarray:
    """``(N,)`` or ``(N, 1)`` non-negative whole numbers -> ``(N,)`` int64 class indices."""
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise DataError(f"{what}: class labels must be (N,) or (N, 1), got shape {labels.shape}")
    _check_whole_numbers(labels, what)
    if labels.size and labels.min() < 0:
        raise DataError(f"{what}: class labels must be non-negative, found {labels.min()}")
    return np.ascontiguousarray(labels, dtype=np.int64)


def binary_labels(labels: np.ndarray, what: str) -> np.ndarray:
    """``(N, K)`` 0/1 values -> ``(N, K)`` uint8."""
    if labels.ndim != 2:
        raise DataError(f"{what}: multi-label labels must be (N, K), got shape {labels.shape}")
    _check_whole_numbers(labels, what)
    if labels.size and not np.isin(labels, (0, 1)).all():
        found = np.unique(labels[~np.isin(labels, (0, 1))])[:5]
        raise DataError(f"{what}: multi-label values must be 0 or 1, found {found.tolist()}")
    return np.ascontiguousarray(labels, dtype=np.uint8)


def _check_whole_numbers(labels: np.ndarray, what: str) -> None:
    if labels.dtype == np.bool_ or np.issubdtype(labels.dtype, np.integer):
        return
    if not np.issubdtype(labels.dtype, np.floating):
        raise DataError(f"{what}: labels must be numbers, got dtype {labels.dtype}")
    if not (np.isfinite(labels).all() and (labels == np.round(labels)).all()):
        raise DataError(f"{what}: labels must be whole numbers, found non-integer {labels.dtype} values")


def check_npz_keys(path: Path, required: tuple[str, ...]) -> list[str]:
    """Open ``path`` as an npz archive and return its keys; DataError if it is not one or lacks keys."""
    with open_npz(path) as archive:
        keys = list(archive.files)
    missing = [key for key in required if key not in keys]
    if missing:
        raise DataError(
            f"{path}: missing key(s) {', '.join(missing)} (the file holds: {', '.join(keys) or 'nothing'})"
        )
    return keys


def open_npz(path: Path) -> np.lib.npyio.NpzFile:
    """``np.load`` an npz archive with every failure turned into one DataError naming the file."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        # numpy falls back to unpickling anything that is not .npy/.npz and says "pickled data"
        reason = "not a zip file" if not zipfile.is_zipfile(path) else f"numpy cannot read it: {exc}"
        raise DataError(f"{path}: not an npz archive ({reason})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: holds a single .npy array, not an npz archive of named arrays")
    return archive


def read_array(archive: np.lib.npyio.NpzFile, key: str, path: Path) -> np.ndarray:
    """One array of an open archive; a corrupt member becomes a DataError naming file and key."""
    try:
        return archive[key]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: cannot read {key}: {exc}") from None


def load_npz(config: DatasetConfig, argument: str) -> RawSplits:
    """Read ``npz:<path>`` (absolute or relative to the working directory)."""
    if not argument:
        raise DataError("dataset 'npz' needs a file: name it npz:<path>")
    path = Path(argument).expanduser().resolve()
    keys = check_npz_keys(path, REQUIRED_KEYS)
    present_val = [key for key in VAL_KEYS if key in keys]
    if len(present_val) == 1:
        missing = next(key for key in VAL_KEYS if key not in keys)
        raise DataError(f"{path}: has {present_val[0]} but not {missing}; give both or neither")
    names = [split for split in SPLITS if f"{split}_images" in keys]

    with open_npz(path) as archive:
        images = {split: read_array(archive, f"{split}_images", path) for split in names}
        raw_labels = {split: read_array(archive, f"{split}_labels", path) for split in names}
    images = {split: images_to_nchw(images[split], f"{path}: {split}_images") for split in names}

    widths = {
        split: 1 if y.ndim == 1 else y.shape[1] if y.ndim == 2 else -1 for split, y in raw_labels.items()
    }
    if -1 in widths.values():
        split = next(split for split, width in widths.items() if width == -1)
        raise DataError(
            f"{path}: {split}_labels must be (N,), (N, 1) or (N, K), got {raw_labels[split].shape}"
        )
    check_splits({split: (images[split], raw_labels[split]) for split in names}, str(path))
    if len(set(widths.values())) > 1:
        listed = ", ".join(f"{split}_labels {raw_labels[split].shape}" for split in names)
        raise DataError(f"{path}: label shapes differ between splits: {listed}")

    if widths["train"] == 1:
        task: TaskType = "multi-class"
        labels = {split: class_labels(raw_labels[split], f"{path}: {split}_labels") for split in names}
        num_outputs = int(max(split_labels.max() for split_labels in labels.values())) + 1
        if num_outputs < 2:
            raise DataError(f"{path}: every label is 0; a classification task needs at least two classes")
    else:
        task = "multi-label"
        labels = {split: binary_labels(raw_labels[split], f"{path}: {split}_labels") for split in names}
        num_outputs = widths["train"]
    return RawSplits(
        splits={split: (images[split], labels[split]) for split in names},
        task=task,
        num_outputs=num_outputs,
        source=str(path),
    )
