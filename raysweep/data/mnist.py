"""``mnist``: torchvision's MNIST, read from ``<root>/MNIST/raw`` (the four uncompressed IDX files).

We read the dataset's ``.data``/``.targets`` tensors directly (no per-item PIL transforms). Before
torchvision parses a file we check its IDX header and size ourselves, because torchvision reports a
bad file with a bare assert or a reshape error that does not say which file is wrong.

MNIST has no val split. The paper's pool is a 25,000-point subset of the 60,000 train images.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from raysweep.config import DatasetConfig
from raysweep.data.base import DataError
from raysweep.data.npz import RawSplits

DEFAULT_POOL_SIZE = 25_000
"""Paper: a 25,000-point random subset of MNIST's train split."""

# file name -> (IDX magic number, number of dimensions); magic 0x08NN: unsigned bytes, NN dimensions
IDX_FILES = {
    "train-images-idx3-ubyte": (2051, 3),
    "train-labels-idx1-ubyte": (2049, 1),
    "t10k-images-idx3-ubyte": (2051, 3),
    "t10k-labels-idx1-ubyte": (2049, 1),
}


def check_idx_file(path: Path, magic: int, ndim: int) -> tuple[int, ...]:
    """Check an uncompressed IDX file's header against its size; return its shape."""
    header_size = 4 * (1 + ndim)
    with path.open("rb") as file:
        header = file.read(header_size)
    if len(header) < header_size:
        raise DataError(f"{path}: truncated IDX file ({len(header)} bytes, shorter than its header)")
    found_magic, *shape = struct.unpack(f">{1 + ndim}I", header)
    if found_magic != magic:
        raise DataError(
            f"{path}: not an MNIST IDX file of unsigned bytes: magic number {found_magic}, expected {magic}"
        )
    expected = header_size + int(np.prod(shape))
    actual = path.stat().st_size
    if actual != expected:
        raise DataError(
            f"{path}: corrupt or truncated IDX file: header says shape {tuple(shape)} "
            f"({expected} bytes), file has {actual} bytes"
        )
    return tuple(shape)


def missing_files_message(raw_folder: Path, missing: list[str]) -> str:
    names = ", ".join(IDX_FILES)
    what = (
        f"all four IDX files ({names})"
        if len(missing) == len(IDX_FILES)
        else f"{', '.join(missing)} (of {names})"
    )
    return (
        f"MNIST not found: {raw_folder} lacks {what}. torchvision reads the four uncompressed IDX files "
        "from <dataset.root>/MNIST/raw"
    )


def load_mnist(config: DatasetConfig, argument: str) -> RawSplits:
    from torchvision.datasets import MNIST

    if argument:
        raise DataError(f"dataset 'mnist' takes no ':' argument, got {config.name!r}")
    root = Path(config.root).expanduser().resolve()
    raw_folder = root / "MNIST" / "raw"
    missing = [name for name in IDX_FILES if not (raw_folder / name).is_file()]
    if missing and config.download:
        try:
            MNIST(root=str(root), train=True, download=True)
        except Exception as exc:  # torchvision raises RuntimeError/URLError/OSError offline
            reason = " ".join(str(exc).split())[:300] or type(exc).__name__
            raise DataError(
                f"{missing_files_message(raw_folder, missing)}; downloading them failed (no internet?): {reason}"
            ) from None
        missing = [name for name in IDX_FILES if not (raw_folder / name).is_file()]
    if missing:
        raise DataError(
            f"{missing_files_message(raw_folder, missing)}; set dataset.download: true to download them "
            "(needs internet), or point dataset.root at the folder that holds MNIST/raw"
        )

    shapes = {
        name: check_idx_file(raw_folder / name, magic, ndim) for name, (magic, ndim) in IDX_FILES.items()
    }
    splits = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images_file, labels_file = f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"
        if shapes[images_file][0] != shapes[labels_file][0]:
            raise DataError(
                f"{raw_folder}: {images_file} holds {shapes[images_file][0]} images but {labels_file} "
                f"holds {shapes[labels_file][0]} labels"
            )
        try:
            dataset = MNIST(root=str(root), train=split == "train", download=False)
        except Exception as exc:  # headers were checked above; anything left is still one clear error
            raise DataError(f"{raw_folder}: torchvision cannot read the {split} files: {exc}") from None
        images = dataset.data.numpy()[:, None]  # (N, 28, 28) -> (N, 1, 28, 28), no copy
        labels = dataset.targets.numpy().astype(np.int64, copy=False)
        if labels.size and labels.max() > 9:
            raise DataError(f"{raw_folder / labels_file}: labels must be digits 0..9, found {labels.max()}")
        splits[split] = (images, labels)
    return RawSplits(
        splits=splits,
        task="multi-class",
        num_outputs=10,
        source=str(raw_folder),
        default_pool_size=DEFAULT_POOL_SIZE,
    )
