"""TypiClust (Hacohen et al. 2022): typical points of the clusters with the fewest labels.

The pool is clustered by k-means into ``min(|labeled| + budget, max_clusters)`` clusters. Clusters
are visited with the fewest labeled points first, larger ones first among equals (then the lower
cluster id), and round-robin until the budget is spent: each visit takes the cluster's most typical
point still unlabeled, typicality being the inverse mean squared distance to its ``neighbours``
nearest neighbours among the cluster's remaining unlabeled points (half of them in a small cluster),
plus 1e-5 as in the reference. As in the reference code, clusters of at most ``min_cluster_size``
points are not visited; unlike it, we fall back to them (same order) once the larger clusters have
no point left, so every budget up to the unlabeled pool can be met.

It is the task-agnostic baseline of the low-budget regime: the original clusters self-supervised
features, and the VAE trained once per dataset is this project's task-agnostic representation, so
``alpha = vae_only`` (the VAE block alone) is TypiClust as published. Finite alphas cluster
``[T_f(x) ⁀ alpha V(x)]`` under the trial's alpha scaling like core-set does, and ``alpha = 0`` the
task model's features alone. Labels are never read, so multi-label data need no other form.

Each round-robin pass is one batched computation over all visited clusters (padded to the largest,
in chunks); a pass only changes the clusters it picks from, so the passes reproduce the reference's
pick-by-pick order exactly.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import Field

from raysweep.heuristics.base import (
    Heuristic,
    HeuristicConfigBase,
    Selection,
    SelectionContext,
    check_budget,
    register_heuristic,
)
from raysweep.heuristics.kmeans import check_finite, kmeans
from raysweep.heuristics.weighting import weigh_features

TYPICALITY_EPSILON = 1e-5
"""Added to the mean neighbour distance before inverting (reference code), so duplicates stay finite."""
_ELEMENTS_PER_CHUNK = 1 << 22
"""Padded distance entries computed at once (clusters x rows x columns): 16 MB of float32."""


def visiting_order(sizes: torch.Tensor, labeled_counts: torch.Tensor, min_cluster_size: int) -> torch.Tensor:
    """Cluster ids in visiting order: clusters above ``min_cluster_size`` first; within each group
    fewest labeled points first, then larger first, then lower id."""
    n = int(sizes.sum()) + 1
    small = (sizes <= min_cluster_size).long()
    key = (small * n + labeled_counts) * n + (n - sizes)
    return torch.sort(key, stable=True).indices


@torch.no_grad()
def mean_neighbour_sq_distances(
    features: torch.Tensor, groups: torch.Tensor, neighbours: int
) -> torch.Tensor:
    """(m,) mean squared distance of each point to its nearest neighbours within its group.

    ``features`` (m, d) sorted by ``groups`` (m,) int64 in 0..G-1, all groups non-empty. A group of c
    points uses min(neighbours, c // 2) neighbours; a lone point gets 0 (no neighbour to measure).
    """
    m = features.shape[0]
    device = features.device
    counts = torch.bincount(groups)
    n_groups = len(counts)
    starts = torch.cumsum(counts, 0) - counts
    position = torch.arange(m, device=device) - starts[groups]
    result = torch.zeros(m, dtype=torch.float32, device=device)
    width = int(counts.max())
    if width < 2:
        return result
    # Groups in chunks whose padded coordinates (groups x width x d) and distances (groups x rows x
    # width) fit the element budget; a group wider than the budget allows is done in row steps.
    rows_per_step = max(1, min(width, _ELEMENTS_PER_CHUNK // width))
    groups_per_chunk = max(
        1,
        min(
            _ELEMENTS_PER_CHUNK // (rows_per_step * width), _ELEMENTS_PER_CHUNK // (width * features.shape[1])
        ),
    )
    for g0 in range(0, n_groups, groups_per_chunk):
        chunk = torch.arange(g0, min(g0 + groups_per_chunk, n_groups), device=device)
        in_chunk = (groups >= g0) & (groups < g0 + len(chunk))
        members = torch.nonzero(in_chunk).squeeze(1)
        chunk_counts = counts[chunk]
        size = int(chunk_counts.max())
        if size < 2:
            continue  # lone points only: they keep 0
        # Padded (G, size, d) coordinates, centred per group (less cancellation in the expansion).
        padded = torch.zeros(len(chunk), size, features.shape[1], dtype=torch.float32, device=device)
        padded[groups[members] - g0, position[members]] = features[members].float()
        valid = torch.arange(size, device=device).unsqueeze(0) < chunk_counts.unsqueeze(1)
        padded -= padded.sum(1, keepdim=True) / chunk_counts.view(-1, 1, 1)
        padded *= valid.unsqueeze(2)
        sq = (padded * padded).sum(2)
        k_used = torch.clamp(torch.minimum(chunk_counts // 2, torch.tensor(neighbours, device=device)), min=1)
        k_max = min(neighbours, size - 1)
        means = torch.zeros(len(chunk), size, dtype=torch.float32, device=device)
        for r0 in range(0, size, rows_per_step):
            rows = slice(r0, min(r0 + rows_per_step, size))
            dist = sq[:, rows].unsqueeze(2) + sq.unsqueeze(1) - 2 * padded[:, rows] @ padded.transpose(1, 2)
            dist.clamp_min_(0)
            own = torch.arange(rows.start, rows.stop, device=device)
            dist[:, torch.arange(len(own), device=device), own] = math.inf  # not its own neighbour
            dist.masked_fill_(~valid.unsqueeze(1), math.inf)
            nearest = torch.topk(dist, k_max, dim=2, largest=False).values  # ascending
            total = torch.cumsum(nearest, dim=2).gather(
                2, (k_used - 1).view(-1, 1, 1).expand(-1, nearest.shape[1], 1)
            )
            means[:, rows] = total.squeeze(2) / k_used.view(-1, 1).float()
        lone = chunk_counts == 1
        means[lone] = 0.0
        result[members] = means[groups[members] - g0, position[members]]
    return result


@torch.no_grad()
def typical_picks(
    features: torch.Tensor,
    clusters: torch.Tensor,
    labeled_mask: torch.Tensor,
    budget: int,
    *,
    neighbours: int,
    min_cluster_size: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """TypiClust's round-robin over clusters: ((budget,) int64 pool indices, (budget,) typicalities)."""
    n_clusters = int(clusters.max()) + 1
    sizes = torch.bincount(clusters, minlength=n_clusters)
    labeled_counts = torch.bincount(clusters[labeled_mask], minlength=n_clusters)
    order = visiting_order(sizes, labeled_counts, min_cluster_size)
    large = sizes > min_cluster_size
    remaining = ~labeled_mask
    picks: list[torch.Tensor] = []
    scores: list[torch.Tensor] = []
    n_picked = 0
    while n_picked < budget:
        left = torch.bincount(clusters[remaining], minlength=n_clusters) > 0
        visit = left & large if bool((left & large).any()) else left
        visited = order[visit[order]][: budget - n_picked]  # the clusters of this pass, in order
        # Rank of each visited cluster in the pass; the points of those clusters, grouped by rank.
        rank = torch.full((n_clusters,), -1, dtype=torch.long, device=clusters.device)
        rank[visited] = torch.arange(len(visited), device=clusters.device)
        points = torch.nonzero(remaining & (rank[clusters] >= 0)).squeeze(1)
        points = points[torch.sort(rank[clusters[points]], stable=True).indices]  # index order within
        groups = rank[clusters[points]]
        mean_distance = mean_neighbour_sq_distances(features[points], groups, neighbours)
        # Per group, the smallest mean distance; ties: the first point, i.e. the lowest pool index.
        best = torch.full((len(visited),), math.inf, device=features.device).scatter_reduce(
            0, groups, mean_distance, reduce="amin"
        )
        is_best = mean_distance == best[groups]
        first_best = torch.full((len(visited),), len(points), dtype=torch.long, device=features.device)
        first_best = first_best.scatter_reduce(
            0,
            groups,
            torch.where(is_best, torch.arange(len(points), device=features.device), len(points)),
            reduce="amin",
        )
        chosen = points[first_best]
        picks.append(chosen)
        scores.append(1.0 / (best.double() + TYPICALITY_EPSILON))
        remaining[chosen] = False
        n_picked += len(chosen)
    return torch.cat(picks), torch.cat(scores)


class TypiclustHeuristicConfig(HeuristicConfigBase):
    name: Literal["typiclust"] = "typiclust"
    max_clusters: int = Field(default=500, gt=0)
    """k-means clusters: |labeled| + budget, capped here (reference code: 500)."""
    min_cluster_size: int = Field(default=5, ge=0)
    """Clusters of at most this many points come last (reference code: 5, where they are dropped)."""
    neighbours: int = Field(default=20, gt=0)
    """Typicality: inverse mean squared distance to this many nearest neighbours in the cluster, fewer
    (half the cluster's remaining points) in small clusters (reference code: 20)."""
    kmeans_iterations: int = Field(default=100, gt=0)
    """Cap on Lloyd iterations after k-means++ seeding; they stop earlier once no point changes
    cluster (scikit-learn's MiniBatchKMeans, which the reference calls, caps at 100)."""


@register_heuristic
class TypiclustHeuristic(Heuristic):
    config_class = TypiclustHeuristicConfig
    draws_at_random = True  # k-means++ seeding of its clusters
    supports_vae = True
    supports_vae_only = True
    model_independent_of_alpha = True
    config: TypiclustHeuristicConfig

    def select(self, context: SelectionContext, budget: int) -> Selection:
        labeled_mask = context.labeled_mask.to(device=context.device, dtype=torch.bool)
        check_budget(budget, int((~labeled_mask).sum()), self.name)
        pool = torch.arange(context.n_pool, device=context.device)
        weighted = weigh_features(
            context.infer(pool).features, context.embeddings, context.alpha, context.alpha_scaling
        )
        check_finite(self.name, features=weighted.features)
        n_clusters = min(int(labeled_mask.sum()) + budget, self.config.max_clusters, context.n_pool)
        clusters = kmeans(weighted.features, n_clusters, context.generator, self.config.kmeans_iterations)
        indices, typicality = typical_picks(
            weighted.features,
            clusters,
            labeled_mask,
            budget,
            neighbours=self.config.neighbours,
            min_cluster_size=self.config.min_cluster_size,
        )
        return Selection(indices=indices, scores=typicality.float(), diagnostics=weighted.diagnostics())
