"""Core-set: the greedy k-center on [T_f ⁀ alpha V], known answers on a line and exactly the
brute-force greedy on clustered data, for every block size and both float types."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.selection import line

from raysweep.heuristics.coreset import greedy_k_center, greedy_k_center_with_distances


def test_k_center_farthest_point_is_index_3():
    features = line([0.0, 1.0, 2.0, 10.0, 3.0])
    labeled = torch.tensor([True, False, False, False, False])
    assert greedy_k_center(features, labeled, 1).tolist() == [3]


def test_k_center_order_on_a_line():
    # Centre at 0; points 1..8 and 16. Picks: 16, then 8 (8 from both 0 and 16), then 4, then 2 and
    # 6 tie at 2 -> the lower index (2).
    features = line([0, 1, 2, 3, 4, 5, 6, 7, 8, 16])
    labeled = torch.zeros(10, dtype=torch.bool)
    labeled[0] = True
    indices, distances = greedy_k_center_with_distances(features, labeled, 4)
    assert indices.tolist() == [9, 8, 4, 2]
    assert distances.tolist() == pytest.approx([16.0, 8.0, 4.0, 2.0])


def test_k_center_without_labels_starts_farthest_from_the_mean():
    features = line([0, 1, 2, 3, 10])  # mean 3.2: index 4 is farthest, then 0
    indices, distances = greedy_k_center_with_distances(features, torch.zeros(5, dtype=torch.bool), 2)
    assert indices.tolist() == [4, 0]
    assert distances.tolist() == pytest.approx([6.8, 10.0])


def test_k_center_ties_go_to_the_lowest_index():
    features = line([0, -5, 5, -5, 5])  # duplicates: four points at distance 5
    labeled = torch.tensor([True, False, False, False, False])
    assert greedy_k_center(features, labeled, 4, block_size=2).tolist() == [1, 2, 3, 4]


def brute_force_k_center(features: np.ndarray, labeled: np.ndarray, budget: int) -> list[int]:
    x = features.astype(np.float64)
    selectable = ~labeled
    picks = []
    if labeled.any():
        dist = ((x[:, None, :] - x[labeled][None]) ** 2).sum(2).min(1)
    else:
        first = int(np.argmax(((x - x.mean(0)) ** 2).sum(1)))
        picks, selectable[first] = [first], False
        dist = ((x - x[first]) ** 2).sum(1)
    while len(picks) < budget:
        pick = int(np.argmax(np.where(selectable, dist, -np.inf)))
        picks.append(pick)
        selectable[pick] = False
        dist = np.minimum(dist, ((x - x[pick]) ** 2).sum(1))
    return picks


CASES = [(seed, n, d) for seed, (n, d) in enumerate([(60, 2), (200, 5), (300, 16), (150, 1), (250, 40)])]


@pytest.mark.parametrize(("seed", "n", "d"), CASES)
@pytest.mark.parametrize("block_size", [3, 16, 1024])
@pytest.mark.parametrize("empty", [False, True])
def test_k_center_equals_brute_force(seed: int, n: int, d: int, block_size: int, empty: bool):
    rng = np.random.default_rng(seed)
    # Clustered data so the bounds prune and blocks end early with small block sizes.
    features = rng.normal(size=(n, d)) + 4 * rng.normal(size=(5, d))[rng.integers(0, 5, n)]
    labeled = np.zeros(n, dtype=bool) if empty else rng.random(n) < 0.3
    budget = min(int((~labeled).sum()), n // 3)
    expected = brute_force_k_center(features, labeled, budget)
    for dtype in (torch.float64, torch.float32):
        got = greedy_k_center(
            torch.tensor(features, dtype=dtype),
            torch.tensor(labeled),
            budget,
            block_size=block_size,
        )
        assert got.tolist() == expected, dtype


def test_duplicates_resolve_ties_exactly():
    # Many exact duplicates: blocks keep ending on ties until the exact global fallback step runs.
    rng = np.random.default_rng(11)
    features = np.repeat(rng.normal(size=(6, 3)), 10, axis=0)[rng.permutation(60)]
    labeled = np.zeros(60, dtype=bool)
    labeled[:5] = True
    expected = brute_force_k_center(features, labeled, 40)
    for dtype in (torch.float64, torch.float32):
        got = greedy_k_center(torch.tensor(features, dtype=dtype), torch.tensor(labeled), 40, block_size=2)
        assert got.tolist() == expected, dtype


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_picks_equal_cpu_picks():
    rng = np.random.default_rng(7)
    features = torch.tensor(
        rng.normal(size=(3000, 64)) + 3 * rng.normal(size=(8, 64))[rng.integers(0, 8, 3000)]
    )
    labeled = torch.tensor(rng.random(3000) < 0.2)
    for dtype in (torch.float64, torch.float32):
        cpu = greedy_k_center(features.to(dtype), labeled, 300, block_size=64)
        gpu = greedy_k_center(features.to(dtype).cuda(), labeled.cuda(), 300, block_size=64)
        assert gpu.device.type == "cuda"
        assert torch.equal(cpu, gpu.cpu()), dtype
