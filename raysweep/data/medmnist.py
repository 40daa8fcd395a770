"""``medmnist:<flag>``: the medmnist package's 2D datasets at size 28, read from ``ROOT/<flag>.npz``.

The task type, label count and channel count come from medmnist's ``INFO[flag]``. We instantiate
medmnist's own class per split and read its ``.imgs``/``.labels`` arrays directly (no per-item PIL
conversion). medmnist 3.0.2 checks the file's md5 only when it downloads; with ``download=False`` it
opens whatever ``ROOT/<flag>.npz`` holds, so a file in the same layout (e.g. a small test file) loads
through the same code as the real one. We check the archive's keys first, because medmnist reports a
missing file or key with a message that does not say which.
"""

from __future__ import annotations

from pathlib import Path

from raysweep.config import DatasetConfig
from raysweep.data.base import DataError, TaskType
from raysweep.data.npz import (
    REQUIRED_KEYS,
    VAL_KEYS,
    RawSplits,
    binary_labels,
    check_npz_keys,
    class_labels,
    images_to_nchw,
)

IMAGE_SIZE = 28
DEFAULT_POOL_SIZES = {"chestmnist": 30_000}
"""Paper: a 30,000-point random subset of ChestMNIST's train split; other flags use all of it."""

# medmnist's INFO task strings -> our task types. Binary and ordinal tasks are trained as
# multi-class with len(INFO["label"]) outputs, as medmnist's own examples do.
TASKS: dict[str, TaskType] = {
    "multi-label, binary-class": "multi-label",
    "multi-class": "multi-class",
    "binary-class": "multi-class",
    "ordinal-regression": "multi-class",
}


def known_flags() -> list[str]:
    """The medmnist 2D flags this source can read (3D volumes are not images)."""
    import medmnist

    return sorted(
        flag
        for flag, info in medmnist.INFO.items()
        if issubclass(getattr(medmnist, info["python_class"]), medmnist.dataset.MedMNIST2D)
    )


def load_medmnist(config: DatasetConfig, flag: str) -> RawSplits:
    import medmnist

    if flag not in known_flags():
        raise DataError(
            f"unknown medmnist flag {flag!r} in dataset name {config.name!r}; known: {', '.join(known_flags())}"
        )
    info = medmnist.INFO[flag]
    dataset_class = getattr(medmnist, info["python_class"])
    root = Path(config.root).expanduser().resolve()
    path = root / f"{flag}.npz"

    if config.download and not path.is_file():
        root.mkdir(parents=True, exist_ok=True)  # medmnist refuses a root that does not exist
        try:
            dataset_class(split="train", root=str(root), size=IMAGE_SIZE, download=True)
        except Exception as exc:  # medmnist wraps every download failure in a long RuntimeError
            raise DataError(
                f"{path}: medmnist could not download {flag}.npz (needs internet); "
                f"download it from {info['url']} and put it there. ({type(exc).__name__})"
            ) from None
    elif not path.is_file():
        raise DataError(
            f"{path}: file not found. medmnist:{flag} reads ROOT/{flag}.npz with ROOT = dataset.root; "
            "set dataset.download: true to download it (needs internet)"
        )
    check_npz_keys(path, REQUIRED_KEYS + VAL_KEYS)

    task = TASKS[info["task"]]
    num_outputs = len(info["label"])
    channels = int(info["n_channels"])
    splits = {}
    for split in ("train", "val", "test"):
        try:
            dataset = dataset_class(split=split, root=str(root), size=IMAGE_SIZE, download=False)
            images, labels = dataset.imgs, dataset.labels
        except Exception as exc:  # keys were checked; a corrupt member is all that is left
            raise DataError(f"{path}: medmnist cannot read the {split} split: {exc}") from None
        images = images_to_nchw(images, f"{path}: {split}_images")
        if images.shape[1:] != (channels, IMAGE_SIZE, IMAGE_SIZE):
            raise DataError(
                f"{path}: {split}_images have shape {images.shape[1:]} as (C, H, W), but {flag} has "
                f"{channels} channel(s) of {IMAGE_SIZE}x{IMAGE_SIZE}"
            )
        what = f"{path}: {split}_labels"
        if task == "multi-label":
            labels = binary_labels(labels, what)
            if labels.shape[1] != num_outputs:
                raise DataError(
                    f"{what}: {flag} has {num_outputs} labels per image, got shape {labels.shape}"
                )
        else:
            labels = class_labels(labels, what)
            if labels.size and labels.max() >= num_outputs:
                raise DataError(
                    f"{what}: {flag} has classes 0..{num_outputs - 1}, found label {labels.max()}"
                )
        splits[split] = (images, labels)
    return RawSplits(
        splits=splits,
        task=task,
        num_outputs=num_outputs,
        source=str(path),
        default_pool_size=DEFAULT_POOL_SIZES.get(flag),
    )
