"""TypiClust: clusters visited fewest labels first, the most typical point of each, and on the VAE
features alone the typical point of each unlabeled blob."""

from __future__ import annotations

import math

import pytest
import torch
from helpers.selection import blobs, make_context

from raysweep.heuristics import build_heuristic
from raysweep.heuristics.typiclust import (
    TypiclustHeuristicConfig,
    mean_neighbour_sq_distances,
    typical_picks,
    visiting_order,
)


def test_visiting_order_fewest_labels_then_largest_then_small_clusters_last():
    sizes = torch.tensor([10, 30, 3, 30, 20])
    labeled = torch.tensor([0, 1, 0, 0, 0])
    # Large clusters (> 5) without labels, largest first (3: 30, 4: 20, 0: 10), then cluster 1
    # (one label); the 3-point cluster 2 comes last.
    assert visiting_order(sizes, labeled, min_cluster_size=5).tolist() == [3, 4, 0, 1, 2]


def test_typicality_is_the_mean_squared_distance_to_the_nearest_half():
    features = torch.tensor([[0.0], [1.0], [2.0], [10.0], [7.0], [100.0], [101.0]])
    groups = torch.tensor([0, 0, 0, 0, 1, 2, 2])
    # Group 0 (4 points): 2 neighbours each. 0: {1, 4} -> 2.5; 1: {1, 1} -> 1; 2: {1, 4} -> 2.5;
    # 10: {64, 81} -> 72.5. Group 1: a lone point, 0. Group 2: one neighbour, 1 each.
    means = mean_neighbour_sq_distances(features, groups, neighbours=20)
    assert means.tolist() == pytest.approx([2.5, 1.0, 2.5, 72.5, 0.0, 1.0, 1.0])
    # The cap: at most ``neighbours`` neighbours.
    assert mean_neighbour_sq_distances(features[:4], groups[:4], neighbours=1).tolist() == pytest.approx(
        [1.0, 1.0, 1.0, 64.0]
    )


def test_typical_picks_visit_unlabeled_clusters_first_and_take_their_densest_point():
    # Cluster 0 (indices 0-6): 7 points, 3 neighbours each; 4 is the most typical (1 + 4 + 16) / 3 = 7,
    # and once it is gone 6 is ((1 + 36 + 36) / 3 against 5's (1 + 25 + 49) / 3). Cluster 1 (7-14):
    # 50..57 with 50 labeled; 52..56 tie at 2, the lowest index (9, i.e. 52) wins. Cluster 2: 2 points.
    features = torch.tensor([0.0, 4, 5, 6, 12, 20, 30, 50, 51, 52, 53, 54, 55, 56, 57, 200, 201])[:, None]
    clusters = torch.tensor([0] * 7 + [1] * 8 + [2] * 2)
    labeled = torch.zeros(17, dtype=torch.bool)
    labeled[7] = True
    picks, scores = typical_picks(features, clusters, labeled, 3, neighbours=20, min_cluster_size=5)
    # Pass 1: cluster 0 (no labels), then cluster 1; pass 2: cluster 0 again (cluster 2 is small).
    assert picks.tolist() == [1, 9, 3]
    assert scores.tolist() == pytest.approx([1 / (7 + 1e-5), 1 / (2 + 1e-5), 1 / (73 / 3 + 1e-5)])
    # Every unlabeled point, in the end: the small cluster is used once the others run out.
    everything, _ = typical_picks(features, clusters, labeled, 16, neighbours=20, min_cluster_size=5)
    assert sorted(everything.tolist()) == [i for i in range(17) if i != 7]
    assert everything[-2:].tolist() == [15, 16]


def test_typiclust_on_vae_features_alone_picks_the_typical_point_of_each_unlabeled_blob():
    embeddings, membership = blobs(seed=1)
    labeled = torch.zeros(90, dtype=torch.bool)
    labeled[0] = True  # blob 0 has a label
    # Task features that would mislead (noise); alpha = inf must ignore them.
    features = torch.randn(90, 4, generator=torch.Generator().manual_seed(2)) * 100
    context = make_context(features, labeled, embeddings=embeddings, alpha=math.inf)
    selection = build_heuristic(TypiclustHeuristicConfig()).select(context, 2)
    assert sorted(membership[selection.indices].tolist()) == [1, 2]
    for pick in selection.indices.tolist():
        blob = membership == membership[pick]
        sq = ((embeddings[blob][:, None] - embeddings[blob][None]) ** 2).sum(2)
        mean_nearest = sq.sort(dim=1).values[:, 1:16].mean(1)  # 30 points: 15 neighbours
        assert embeddings[pick].tolist() == embeddings[blob][mean_nearest.argmin()].tolist()
    assert selection.diagnostics["vae_share"] == 1.0
