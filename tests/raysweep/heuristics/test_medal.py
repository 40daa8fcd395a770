"""MedAL: the greedy farthest-from-the-labeled-centroid selection, known answers and exactly the
brute-force greedy on random data, for every block size and both float types."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.selection import line

from raysweep.heuristics.medal import greedy_centroid, greedy_centroid_with_distances


def brute_force_centroid(features: np.ndarray, labeled: np.ndarray, budget: int) -> list[int]:
    x = features.astype(np.float64)
    selectable = ~labeled
    picks = []
    if labeled.any():
        total, count = x[labeled].sum(0), int(labeled.sum())
    else:
        first = int(np.argmax(((x - x.mean(0)) ** 2).sum(1)))
        picks, selectable[first], total, count = [first], False, x[first].copy(), 1
    while len(picks) < budget:
        dist = ((x - total / count) ** 2).sum(1)
        pick = int(np.argmax(np.where(selectable, dist, -np.inf)))
        picks.append(pick)
        selectable[pick] = False
        total, count = total + x[pick], count + 1
    return picks


CASES = [(seed, n, d) for seed, (n, d) in enumerate([(60, 2), (200, 5), (300, 16), (150, 1), (250, 40)])]


@pytest.mark.parametrize(("seed", "n", "d"), CASES)
@pytest.mark.parametrize("block_size", [2, 16, 1024])
@pytest.mark.parametrize("empty", [False, True])
def test_centroid_equals_brute_force(seed: int, n: int, d: int, block_size: int, empty: bool):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, d)) * rng.uniform(0.2, 3, size=d)
    labeled = np.zeros(n, dtype=bool) if empty else rng.random(n) < 0.3
    budget = min(int((~labeled).sum()), n // 2)
    expected = brute_force_centroid(features, labeled, budget)
    for dtype in (torch.float64, torch.float32):
        got = greedy_centroid(
            torch.tensor(features, dtype=dtype), torch.tensor(labeled), budget, block_size=block_size
        )
        assert got.tolist() == expected, dtype


def test_duplicates_resolve_ties_exactly():
    # Many exact duplicates: blocks keep ending on ties until the exact global fallback step runs.
    rng = np.random.default_rng(11)
    features = np.repeat(rng.normal(size=(6, 3)), 10, axis=0)[rng.permutation(60)]
    labeled = np.zeros(60, dtype=bool)
    labeled[:5] = True
    expected = brute_force_centroid(features, labeled, 40)
    for dtype in (torch.float64, torch.float32):
        got = greedy_centroid(torch.tensor(features, dtype=dtype), torch.tensor(labeled), 40, block_size=2)
        assert got.tolist() == expected, dtype


def test_centroid_moves_with_each_pick():
    # Labeled centroid 0. The farthest point is 10; the centroid then moves to 5 and -6 wins over 9.
    features = line([-1, 1, 10, 9, -6])
    labeled = torch.tensor([True, True, False, False, False])
    indices, distances = greedy_centroid_with_distances(features, labeled, 3)
    assert indices.tolist() == [2, 4, 3]
    assert distances.tolist() == pytest.approx([10.0, 6 + 10 / 3, 9 - 1.0])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_picks_equal_cpu_picks():
    rng = np.random.default_rng(7)
    features = torch.tensor(
        rng.normal(size=(3000, 64)) + 3 * rng.normal(size=(8, 64))[rng.integers(0, 8, 3000)]
    )
    labeled = torch.tensor(rng.random(3000) < 0.2)
    for dtype in (torch.float64, torch.float32):
        cpu = greedy_centroid(features.to(dtype), labeled, 300, block_size=64)
        gpu = greedy_centroid(features.to(dtype).cuda(), labeled.cuda(), 300, block_size=64)
        assert gpu.device.type == "cuda"
        assert torch.equal(cpu, gpu.cpu()), dtype
