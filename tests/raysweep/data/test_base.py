"""The in-memory dataset every source produces: its contract, checked on construction, the channel
statistics, and the batch normalisation on the device."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from raysweep.data.base import ALDataset, DataError, channel_stats, check_split, normalise_batch


def images(n: int, channels: int = 1, size: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, channels, size, size), dtype=np.uint8)


def dataset(**changes) -> ALDataset:
    fields = {
        "name": "tiny",
        "task": "multi-class",
        "num_outputs": 3,
        "pool_images": images(6),
        "pool_labels": np.array([0, 1, 2, 0, 1, 2]),
        "eval_images": images(2, seed=1),
        "eval_labels": np.array([2, 0]),
        "channel_mean": (0.5,),
        "channel_std": (0.25,),
        **changes,
    }
    return ALDataset(**fields)


def test_properties() -> None:
    tiny = dataset()
    assert (tiny.n_pool, tiny.n_eval, tiny.in_channels, tiny.image_size) == (6, 2, 1, (4, 4))
    assert not tiny.multi_label
    multi = dataset(
        task="multi-label",
        num_outputs=2,
        pool_labels=np.zeros((6, 2), np.uint8),
        eval_labels=np.ones((2, 2), np.uint8),
    )
    assert multi.multi_label


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"pool_images": images(6).astype(np.float32)}, "tiny pool: images must be uint8 (N, C, H, W)"),
        ({"pool_images": images(6)[:, 0]}, "images must be uint8 (N, C, H, W)"),
        ({"eval_images": images(0), "eval_labels": np.array([], np.int64)}, "tiny eval: the split is empty"),
        ({"eval_labels": np.array([0])}, "tiny eval: 2 images but 1 labels"),
        ({"pool_labels": np.zeros((6, 3), np.int64)}, "multi-class labels must be (N,)"),
        ({"pool_labels": np.array([0, 1, 2, 3, 0, 1])}, "class labels must lie in [0, 3), got [0, 3]"),
        ({"task": "multi-label"}, "multi-label labels must be (N, 3)"),
        ({"eval_images": images(2, size=5)}, "pool images (1, 4, 4) and eval images (1, 5, 5) differ"),
    ],
)
def test_a_dataset_that_breaks_the_contract_is_refused(changes: dict, problem: str) -> None:
    with pytest.raises(DataError) as raised:
        dataset(**changes)
    assert problem in str(raised.value)


def test_check_split_accepts_multi_label_of_the_right_width() -> None:
    check_split(images(3), np.zeros((3, 5), np.uint8), "multi-label", 5, "x")


def test_channel_stats_in_chunks_are_the_whole_arrays() -> None:
    rgb = images(50, channels=3, seed=2)
    mean, std = channel_stats(rgb, chunk=7)
    pixels = rgb.astype(np.float64) / 255
    np.testing.assert_allclose(mean, pixels.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(std, pixels.std(axis=(0, 2, 3)), rtol=1e-9)
    flat_mean, flat_std = channel_stats(np.full((4, 1, 2, 2), 255, np.uint8))
    assert flat_mean == (1.0,) and flat_std[0] == pytest.approx(1e-6)  # a constant image: no zero std


def test_normalise_batch() -> None:
    batch = torch.tensor([[[[0, 255]]]], dtype=torch.uint8)  # (1, 1, 1, 2)
    mean, std = torch.full((1, 1, 1, 1), 0.5), torch.full((1, 1, 1, 1), 0.25)
    out = normalise_batch(batch, mean, std)
    assert out.dtype == torch.float32 and out.flatten().tolist() == [-2.0, 2.0]
    assert normalise_batch(batch, mean, std, torch.float64).dtype == torch.float64
