"""The in-memory dataset every source produces, and the errors for bad data files.

Images are uint8 ``(N, C, H, W)`` numpy arrays and stay uint8 until a batch reaches the device, where
:func:`normalise_batch` turns it into float. Numpy (not torch) so that the Ray shell can put the
arrays in the object store and trials read them zero-copy; the core only ever indexes batches out
of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

TaskType = Literal["multi-class", "multi-label"]


class DataError(ValueError):
    """A data file is missing, corrupt or inconsistent. The message names the file and the problem."""


@dataclass(frozen=True, eq=False)
class ALDataset:
    """A pool to label and a split to evaluate on.

    ``pool_labels``/``eval_labels`` are ``(N,)`` int64 class indices for multi-class tasks (binary
    tasks are two-class multi-class, as in medmnist) and ``(N, num_outputs)`` uint8 0/1 for
    multi-label tasks.
    """

    name: str
    task: TaskType
    num_outputs: int
    """Classes (multi-class) or labels (multi-label): the width of the model's logits."""
    pool_images: np.ndarray
    """(n_pool, C, H, W) uint8."""
    pool_labels: np.ndarray
    eval_images: np.ndarray
    """(n_eval, C, H, W) uint8."""
    eval_labels: np.ndarray
    channel_mean: tuple[float, ...]
    """Per-channel mean of the pool in [0, 1], used to normalise batches."""
    channel_std: tuple[float, ...]
    source: str = ""
    """Where the data came from (file or folder), for messages and the MLflow params."""
    pool_source_indices: np.ndarray | None = field(default=None, repr=False)
    """Index of each pool point in the source's train split (for provenance)."""
    val_images: np.ndarray | None = None
    """(n_val, C, H, W) uint8: the validation split, disjoint from the pool and the eval split (what
    a search and the report choose by). None for a dataset built without one (a notebook, a benchmark)."""
    val_labels: np.ndarray | None = None

    def __post_init__(self) -> None:
        check_split(self.pool_images, self.pool_labels, self.task, self.num_outputs, f"{self.name} pool")
        check_split(self.eval_images, self.eval_labels, self.task, self.num_outputs, f"{self.name} eval")
        if (self.val_images is None) != (self.val_labels is None):
            raise DataError(f"{self.name}: give both val_images and val_labels, or neither")
        if self.val_images is not None:
            check_split(self.val_images, self.val_labels, self.task, self.num_outputs, f"{self.name} val")
        for split, images in (("eval", self.eval_images), ("val", self.val_images)):
            if images is not None and self.pool_images.shape[1:] != images.shape[1:]:
                raise DataError(
                    f"{self.name}: pool images {self.pool_images.shape[1:]} and {split} images "
                    f"{images.shape[1:]} differ in shape"
                )

    @property
    def n_pool(self) -> int:
        return int(self.pool_images.shape[0])

    @property
    def n_eval(self) -> int:
        return int(self.eval_images.shape[0])

    @property
    def n_val(self) -> int:
        return 0 if self.val_images is None else int(self.val_images.shape[0])

    @property
    def in_channels(self) -> int:
        return int(self.pool_images.shape[1])

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.pool_images.shape[2]), int(self.pool_images.shape[3])

    @property
    def multi_label(self) -> bool:
        return self.task == "multi-label"


def check_split(images: np.ndarray, labels: np.ndarray, task: TaskType, num_outputs: int, what: str) -> None:
    """Raise DataError when a split's arrays do not fit the dataset contract."""
    if images.dtype != np.uint8 or images.ndim != 4:
        raise DataError(f"{what}: images must be uint8 (N, C, H, W), got {images.dtype} {images.shape}")
    if len(images) == 0:
        raise DataError(f"{what}: the split is empty")
    if len(images) != len(labels):
        raise DataError(f"{what}: {len(images)} images but {len(labels)} labels")
    if task == "multi-class":
        if labels.ndim != 1:
            raise DataError(f"{what}: multi-class labels must be (N,), got {labels.shape}")
        if labels.min() < 0 or labels.max() >= num_outputs:
            raise DataError(
                f"{what}: class labels must lie in [0, {num_outputs}), got [{labels.min()}, {labels.max()}]"
            )
    else:
        if labels.ndim != 2 or labels.shape[1] != num_outputs:
            raise DataError(f"{what}: multi-label labels must be (N, {num_outputs}), got {labels.shape}")


def channel_stats(images: np.ndarray, chunk: int = 8192) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images scaled to [0, 1], in float64 for stability."""
    channels = images.shape[1]
    total = np.zeros(channels)
    total_sq = np.zeros(channels)
    for start in range(0, len(images), chunk):
        block = images[start : start + chunk].astype(np.float64) / 255.0
        total += block.sum(axis=(0, 2, 3))
        total_sq += (block**2).sum(axis=(0, 2, 3))
    count = images.shape[0] * images.shape[2] * images.shape[3]
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 1e-12))
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)


def normalise_batch(
    images_uint8: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """uint8 (B, C, H, W) on the device -> normalised float (B, C, H, W).

    ``mean``/``std`` are (1, C, 1, 1) tensors on the same device, in [0, 1] units.
    """
    return (images_uint8.to(dtype) / 255.0 - mean) / std
