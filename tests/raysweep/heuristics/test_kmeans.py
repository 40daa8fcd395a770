"""k-means++ on implicit embeddings (exactly the D^2 distribution, rejection-sampled), and Lloyd's
k-means with its cluster sums."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from helpers.selection import blobs

from raysweep.heuristics.kmeans import BlockEmbedding, EmbeddingBlock, cluster_sums, kmeans, kmeans_pp_seeding


def exact_kmeans_pp_distribution(points: np.ndarray, first: int, k: int) -> dict[tuple[int, ...], float]:
    """Probability of every ordered sequence of k-means++ picks after ``first`` (brute force)."""
    n = len(points)
    sq = ((points[:, None] - points[None]) ** 2).sum(2)
    result = {}
    for sequence in itertools.permutations([i for i in range(n) if i != first], k - 1):
        chosen, probability = [first], 1.0
        for pick in sequence:
            d2 = sq[:, chosen].min(1)
            probability *= d2[pick] / d2.sum()
            chosen.append(pick)
        result[sequence] = probability
    return result


@pytest.mark.parametrize("max_pending", [1, 2, 256])
def test_kmeans_pp_draws_exactly_from_the_d2_distribution(max_pending):
    """Stale bounds, pending centres and refreshes must not bias the draws (total variation < .04)."""
    points = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [3.0, 2.0], [0.0, 2.5]])
    expected = exact_kmeans_pp_distribution(points, first=0, k=3)
    embedding = BlockEmbedding([EmbeddingBlock(torch.tensor(points, dtype=torch.float64))])
    runs = 3000
    counts: dict[tuple[int, ...], int] = {}
    for seed in range(runs):
        picks, _ = kmeans_pp_seeding(
            embedding, 3, torch.Generator().manual_seed(seed), first=0, max_pending=max_pending
        )
        key = tuple(picks.tolist()[1:])
        counts[key] = counts.get(key, 0) + 1
    total_variation = 0.5 * sum(abs(counts.get(key, 0) / runs - p) for key, p in expected.items())
    assert set(counts) <= set(expected)
    assert total_variation < 0.04


def test_kmeans_pp_never_picks_a_point_on_a_centre_while_others_remain_and_ends_uniformly():
    points = torch.tensor([[5.0], [5.0], [0.0], [0.0], [5.0]])  # two places, three and two points
    embedding = BlockEmbedding([EmbeddingBlock(points)])
    for seed in range(30):
        picks, values = kmeans_pp_seeding(embedding, 5, torch.Generator().manual_seed(seed), first=0)
        assert picks[1].item() in (2, 3) and values[1].item() == pytest.approx(25.0)
        assert sorted(picks.tolist()) == [0, 1, 2, 3, 4] and values[2:].abs().max() < 1e-6
    # One candidate left: it is the pick, at its exact distance.
    line = BlockEmbedding([EmbeddingBlock(torch.tensor([[0.0], [1.0], [3.0]]))])
    for seed in range(10):
        picks, values = kmeans_pp_seeding(line, 3, torch.Generator().manual_seed(seed), first=0)
        assert sorted(picks.tolist()) == [0, 1, 2]
        assert values[2].item() == pytest.approx(1.0 if picks[2].item() == 1 else 4.0)


def test_kmeans_finds_separated_blobs_and_is_seeded():
    points, membership = blobs()
    clusters = kmeans(points, 3, torch.Generator().manual_seed(0), max_iterations=50)
    # Each blob is one cluster, a different one each (ids may be permuted).
    assert all(len(set(clusters[membership == b].tolist())) == 1 for b in range(3))
    assert len(set(clusters.tolist())) == 3
    assert torch.equal(clusters, kmeans(points, 3, torch.Generator().manual_seed(0), max_iterations=50))


def test_cluster_sums_known_answer_with_an_empty_cluster():
    x = torch.tensor([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])
    assignment = torch.tensor([2, 0, 2])
    sums = cluster_sums(x, assignment, torch.bincount(assignment, minlength=3))
    assert sums.tolist() == [[2.0, 20.0], [0.0, 0.0], [4.0, 40.0]]
