"""MedAL selection (Smailagic et al. 2018) in the paper's form: argmax mean squared distance to L.

The mean of squared distances to the labeled set equals the squared distance to the labeled
centroid plus a constant (REFERENCE.md), so each pick is the selectable point farthest from the
running centroid of labeled-and-already-picked points; the centroid moves with every pick.

Per pick that is one pass ``||x||^2 - 2 x.m + ||m||^2`` over the pool. We batch picks instead: at
the start of a block one matvec gives every point's exact value for the current centroid m0; while
the block runs, the centroid moves by ``delta`` and a point's value can rise by at most
``2 ||x|| ||delta||``. The top ``block_size`` points are the candidates, tracked exactly in float64
through their Gram matrix; a candidate pick stands while it beats that bound for every other point.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from raysweep.heuristics.base import (
    GreedyFeatureHeuristic,
    HeuristicConfigBase,
    check_greedy_inputs,
    register_heuristic,
)
from raysweep.heuristics.weighting import running_centroid_differences

_MARGIN = {torch.float64: 1e-12, torch.float32: 1e-5, torch.float16: 1e-2, torch.bfloat16: 1e-2}


def greedy_centroid(
    features: torch.Tensor, labeled_mask: torch.Tensor, budget: int, *, block_size: int = 1024
) -> torch.Tensor:
    """MedAL picks: (budget,) int64 pool indices in pick order, on features' device.

    features: (n, d) float; labeled_mask: (n,) bool. Each pick maximises the squared distance to the
    centroid of labeled and earlier picks (ties: lowest index). With no labeled point the first pick
    is the point farthest from the pool mean. ``block_size`` changes speed only.
    """
    indices, _ = greedy_centroid_with_distances(features, labeled_mask, budget, block_size=block_size)
    return indices


@torch.no_grad()
def greedy_centroid_with_distances(
    features: torch.Tensor, labeled_mask: torch.Tensor, budget: int, *, block_size: int = 1024
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`greedy_centroid` plus each pick's Euclidean distance to the centroid when picked."""
    labeled_mask = check_greedy_inputs(features, labeled_mask, budget, "medal")
    margin = _MARGIN.get(features.dtype, 1e-5)
    # Centred coordinates (the same origin in both precisions): the expansion cancels less.
    origin = features.to(torch.float64).mean(0).to(features.dtype)
    x = features - origin
    mean = origin.to(torch.float64)
    sqn = (x * x).sum(1)
    norms = sqn.to(torch.float64).sqrt()
    selectable = ~labeled_mask
    # Running sum and count of the centre set in float64, in centred coordinates.
    total = (features[labeled_mask].to(torch.float64) - mean).sum(0)
    count = int(labeled_mask.sum())
    picks: list[torch.Tensor] = []
    values: list[torch.Tensor] = []
    if count == 0:
        first = torch.argmax(sqn).reshape(1)  # farthest from the pool mean; first max wins
        picks.append(first)
        values.append(sqn[first].to(torch.float64))
        selectable[first] = False
        total = features[first[0]].to(torch.float64) - mean
        count = 1
    n_picked = len(picks)
    size = block_size
    while n_picked < budget:
        centroid = total / count
        if size > 4 * block_size:
            # Ties (duplicate points) kept every block empty: one exact global step instead of an
            # ever larger candidate matrix.
            exact = torch.cat(
                [
                    ((features[r0 : r0 + 8192].to(torch.float64) - mean - centroid) ** 2).sum(1)
                    for r0 in range(0, len(features), 8192)
                ]
            ).masked_fill(~selectable, -math.inf)
            pick = torch.argmax(exact).reshape(1)  # first max = lowest index
            picks.append(pick)
            values.append(exact[pick])
            selectable[pick] = False
            total = total + features[pick[0]].to(torch.float64) - mean
            count += 1
            n_picked += 1
            size = block_size
            continue
        # value_i - ||m||^2 = ||x_i||^2 - 2 x_i.m, exact for the block's starting centroid.
        base = sqn.to(torch.float64) - 2 * (x @ centroid.to(x.dtype)).to(torch.float64)
        base = base.masked_fill(~selectable, -math.inf)
        n_selectable = int(selectable.sum())
        if n_selectable <= size:
            cand = torch.nonzero(selectable).squeeze(1)
            out_base, out_norm = -math.inf, 0.0
        else:
            top_vals, top_idx = torch.topk(base, size + 1)
            cand = top_idx[:size]
            out_base = float(top_vals[size])
            rest = selectable.clone()
            rest[cand] = False
            out_norm = float(norms[rest].max())
        cand = torch.sort(cand).values  # ascending index: first maximum = lowest index
        xc = features[cand].to(torch.float64) - mean
        gram = xc @ xc.T
        sq_c = gram.diagonal().clone()
        dot0 = xc @ centroid  # exact x_c . m0 in float64
        tol = margin * (float(sqn.max()) + 2 * float(norms.max()) * float(centroid.norm()))
        acc = torch.zeros_like(dot0)  # sum over block picks p of x_c . x_p
        picked_mask = torch.zeros(len(cand), dtype=torch.bool, device=cand.device)
        block_total = torch.zeros_like(centroid)
        chosen: list[int] = []
        chosen_values: list[torch.Tensor] = []
        k = 0
        while n_picked + k < budget:
            n_now = count + k
            value = sq_c - 2 * (count * dot0 + acc) / n_now
            value = value.masked_fill(picked_mask, -math.inf)
            best, pos = value.max(0)
            shift = float(((total + block_total) / n_now - centroid).norm())
            if float(best) <= out_base + 2 * out_norm * shift + tol:
                break
            j = int(pos)
            centroid_now = (total + block_total) / n_now
            chosen.append(j)
            chosen_values.append(best + centroid_now @ centroid_now)
            picked_mask[j] = True
            acc += gram[j]
            block_total += xc[j]
            k += 1
        if k == 0:
            size *= 2
            continue
        size = block_size
        positions = torch.tensor(chosen, dtype=torch.long, device=cand.device)
        block = cand[positions]
        selectable[block] = False
        total = total + block_total
        count += k
        picks.append(block)
        values.append(torch.stack(chosen_values))
        n_picked += k
    indices = torch.cat(picks)
    distances = torch.cat(values).clamp_min(0).sqrt()
    return indices, distances


class MedalHeuristicConfig(HeuristicConfigBase):
    name: Literal["medal"] = "medal"


@register_heuristic
class MedalHeuristic(GreedyFeatureHeuristic):
    """Farthest from the running labeled centroid, on [T_f(x) ⁀ alpha V(x)] of the whole pool."""

    config_class = MedalHeuristicConfig
    greedy = staticmethod(greedy_centroid_with_distances)
    deciding_differences = staticmethod(running_centroid_differences)
