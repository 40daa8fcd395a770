"""Core-set selection (Sener & Savarese 2018): exact greedy k-center.

Each pick is the selectable point whose distance to its nearest labeled-or-already-picked point is
largest (ties: lowest pool index). The plain algorithm keeps a running minimum distance per pool
point and does one full pass over the pool per pick; that is memory-bandwidth bound (3,000 passes
over a 51 MB matrix). We compute the same picks with matrix products instead:

* ``bound[i]`` is an upper bound on point i's squared distance to the current centers. It starts
  as the distance to one nearby labeled center (a "witness", found through an inverted-file split
  of the labeled set; any center gives a true bound, a close one a tight bound). Adding centers
  only lowers a minimum, so a stale bound stays an upper bound.
* Each block takes the ``block_size`` selectable points of largest bound as candidates S, brings them
  up to date against the centers they have not been compared with (``applied[i]`` counts a prefix
  of the center list; float GEMMs), and recomputes their value exactly as the distance to their
  nearest center with direct differences in float64 (no cancellation).
* Inside S the greedy runs exactly on an S x S float64 distance matrix (one GEMM). A pick inside S
  is the global argmax as long as its value beats the largest bound outside S (values only
  decrease); when it does not, the block ends. A block without a pick doubles the candidate set, so
  ties and near-ties are resolved exactly rather than by luck.

Points whose bound never reaches the top are never compared with all centers, so the work is far
below a full ``pool x centers`` product (and there is never a ``pool x pool`` matrix). Picks equal
the plain algorithm's in float64 (tests compare with a brute-force reference; the benchmark replays
every pick in float64).
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
from raysweep.heuristics.weighting import nearest_centre_differences

_ROW_CHUNK = 8192
_CENTER_CHUNK = 8192
_MARGIN = {torch.float64: 1e-12, torch.float32: 1e-5, torch.float16: 1e-2, torch.bfloat16: 1e-2}
"""Relative margin by which a candidate must beat a stale bound computed in the features' dtype."""


def greedy_k_center(
    features: torch.Tensor,
    labeled_mask: torch.Tensor,
    budget: int,
    *,
    block_size: int = 1024,
) -> torch.Tensor:
    """Exact greedy k-center picks: (budget,) int64 pool indices in pick order, on features' device.

    features: (n, d) float; labeled_mask: (n,) bool. With no labeled point the first pick is the
    point farthest from the pool mean (ties: lowest index). ``block_size`` (candidates per block)
    and ``warm_centers`` (labeled centers applied to every point up front) change speed only.
    """
    indices, _ = greedy_k_center_with_distances(features, labeled_mask, budget, block_size=block_size)
    return indices


@torch.no_grad()
def greedy_k_center_with_distances(
    features: torch.Tensor,
    labeled_mask: torch.Tensor,
    budget: int,
    *,
    block_size: int = 1024,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`greedy_k_center` plus each pick's Euclidean distance to its nearest center when picked.

    Returns ((budget,) int64, (budget,) float64). The first pick of an unlabeled-only pool gets its
    distance to the pool mean.
    """
    labeled_mask = check_greedy_inputs(features, labeled_mask, budget, "coreset")
    return _KCenter(features, labeled_mask, block_size).run(budget)


class _KCenter:
    """State of one greedy k-center run (see the module docstring for the algorithm)."""

    def __init__(self, features: torch.Tensor, labeled_mask: torch.Tensor, block_size: int):
        n = features.shape[0]
        device = features.device
        self.features = features
        self.block_size = max(1, block_size)
        self.refreshed_rows = 0  # diagnostics: rows brought up to date (a row may count more than once)
        self.margin = _MARGIN.get(features.dtype, 1e-5)
        # Distances do not change under translation; centering keeps ||x||^2 + ||c||^2 - 2 x.c
        # from cancelling large norms in the bulk (bound) computations.
        self.x = features - features.mean(0)
        self.sqn = (self.x * self.x).sum(1)
        self.bound = torch.full((n,), math.inf, dtype=torch.float64, device=device)
        self.nearest = torch.full((n,), -1, dtype=torch.long, device=device)
        self.applied = torch.zeros(n, dtype=torch.long, device=device)
        self.selectable = ~labeled_mask
        self.bound[labeled_mask] = -math.inf  # never a candidate
        # The centers' rows, contiguous (labeled first, then picks), so GEMMs read slices, not gathers.
        self.centers = torch.nonzero(labeled_mask).squeeze(1)
        self.center_x = self.x[self.centers]
        self.center_sqn = self.sqn[self.centers]

    def run(self, budget: int) -> tuple[torch.Tensor, torch.Tensor]:
        picks: list[torch.Tensor] = []
        values: list[torch.Tensor] = []
        if len(self.centers) == 0:
            first = torch.argmax(self.sqn).reshape(1)  # farthest from the pool mean; first max wins
            picks.append(first)
            values.append(_sq_dist(self.features[first], self.features.mean(0, keepdim=True)))
            self._add_picks(first)
        self._witness_bounds()
        n_picked = len(picks)
        size = self.block_size
        while n_picked < budget:
            if size > 4 * self.block_size:
                # Ties (duplicate points) kept every block empty: one exact global step instead of an
                # ever larger candidate matrix.
                block, block_values = self._exact_step()
            else:
                block, block_values = self._block(budget - n_picked, size)
            if len(block) == 0:
                size *= 2
                continue
            size = self.block_size
            picks.append(block)
            values.append(block_values)
            n_picked += len(block)
        indices = torch.cat(picks)
        distances = torch.cat(values).clamp_min(0).sqrt()
        return indices, distances

    def _witness_bounds(self) -> None:
        """Start every selectable point with the exact distance to a nearby center (its witness).

        Any center's distance is a true upper bound; a close one keeps most points from ever needing
        the exact minimum over all centers. The witness is found like an inverted-file index: the
        centers are split into about sqrt(#centers) groups (two Lloyd steps from evenly spaced
        seeds), each point searches only the centers of its nearest group. That is
        O(pool x sqrt(#centers) x dim) work instead of O(pool x #centers x dim).
        """
        rows = torch.nonzero(self.selectable).squeeze(1)
        cx = self.center_x
        n_centers = len(cx)
        groups = max(1, min(n_centers, round(math.sqrt(n_centers))))
        seeds = cx[torch.linspace(0, n_centers - 1, groups, device=cx.device).long()]
        for _ in range(2):
            assign = _nearest(cx, seeds)
            counts = torch.bincount(assign, minlength=len(seeds))
            sums = torch.zeros_like(seeds).index_add_(0, assign, cx)
            seeds = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], seeds)
        counts = torch.bincount(_nearest(cx, seeds), minlength=len(seeds))
        seeds = seeds[counts > 0]  # an empty group would leave its points without a witness
        center_group = _nearest(cx, seeds)
        point_group = _nearest(self.x, seeds)[rows]
        # Sort centers and points by group; a chunk of sorted points spans a few consecutive groups,
        # whose centers are one contiguous slice: one GEMM per chunk, other groups' entries masked.
        center_group, center_order = torch.sort(center_group, stable=True)
        point_group, point_order = torch.sort(point_group, stable=True)
        rows = rows[point_order]
        group_end = torch.cumsum(torch.bincount(center_group, minlength=len(seeds)), 0)
        chunk_starts = list(range(0, len(rows), _ROW_CHUNK // 2))
        first_group = point_group[chunk_starts].tolist()
        last_group = point_group[[min(r + _ROW_CHUNK // 2, len(rows)) - 1 for r in chunk_starts]].tolist()
        ends = group_end.tolist()
        for r0, g0, g1 in zip(chunk_starts, first_group, last_group, strict=True):
            points = rows[r0 : r0 + _ROW_CHUNK // 2]
            c0, c1 = (ends[g0 - 1] if g0 else 0), ends[g1]
            members = center_order[c0:c1]
            xg = self.x[points]
            partial = torch.addmm(self.center_sqn[members][None], xg, cx[members].T, alpha=-2)
            other = point_group[r0 : r0 + _ROW_CHUNK // 2, None] != center_group[None, c0:c1]
            witness = members[partial.masked_fill_(other, math.inf).argmin(1)]
            # The distance to the witness by direct differences: a true bound, no cancellation.
            diff = xg - cx[witness]
            self.bound[points] = (diff * diff).sum(1).to(torch.float64)
            self.nearest[points] = self.centers[witness]

    def _exact_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One pick from exact values of every selectable point (O(pool x dim) after the refresh)."""
        rows = torch.nonzero(self.selectable).squeeze(1)
        self._refresh(rows)
        for r0 in range(0, len(rows), _ROW_CHUNK):
            chunk = rows[r0 : r0 + _ROW_CHUNK]
            self.bound[chunk] = _sq_dist(self.features[chunk], self.features[self.nearest[chunk]])
        pick = torch.argmax(self.bound).reshape(1)  # non-selectable hold -inf; first max = lowest index
        value = self.bound[pick]
        self._add_picks(pick)
        return pick, value

    def _add_picks(self, picks: torch.Tensor) -> None:
        self.centers = torch.cat([self.centers, picks])
        self.center_x = torch.cat([self.center_x, self.x[picks]])
        self.center_sqn = torch.cat([self.center_sqn, self.sqn[picks]])
        self.selectable[picks] = False
        self.bound[picks] = -math.inf

    def _refresh(self, rows: torch.Tensor) -> None:
        """Make each row exact against every center: apply centers[applied[r]:] in float GEMMs."""
        upto = len(self.centers)
        stale = rows[self.applied[rows] < upto]
        self.refreshed_rows += len(stale)
        if len(stale) == 0:
            return
        # Two waves: rows never refreshed need every center; the rest only the recent ones, from the
        # oldest among them (re-applying a center a row has seen changes nothing: min is idempotent).
        fresh = self.applied[stale] == 0
        for group in (stale[fresh], stale[~fresh]):
            if len(group) == 0:
                continue
            start = int(self.applied[group].min())
            for r0 in range(0, len(group), _ROW_CHUNK):
                chunk = group[r0 : r0 + _ROW_CHUNK]
                xr = self.x[chunk]
                best = self.bound[chunk]
                arg = self.nearest[chunk]
                for c0 in range(start, upto, _CENTER_CHUNK):
                    c1 = min(c0 + _CENTER_CHUNK, upto)
                    # ||c||^2 - 2 x.c; the row's ||x||^2 is added after the min.
                    partial = torch.addmm(self.center_sqn[None, c0:c1], xr, self.center_x[c0:c1].T, alpha=-2)
                    val, pos = partial.min(1)
                    val = (val + self.sqn[chunk]).to(torch.float64)
                    closer = val < best
                    best = torch.where(closer, val, best)
                    arg = torch.where(closer, self.centers[c0:c1][pos], arg)
                self.bound[chunk] = best.clamp_min(0)
                self.nearest[chunk] = arg
            self.applied[group] = upto

    def _block(self, remaining: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One block of exact greedy picks among the top-``size`` candidates (maybe none)."""
        n_selectable = int(self.selectable.sum())
        if n_selectable <= size:
            cand = torch.nonzero(self.selectable).squeeze(1)
            outside = -math.inf
        else:
            top_vals, top_idx = torch.topk(self.bound, size + 1)  # non-selectable points hold -inf
            cand = top_idx[:size]
            outside = float(top_vals[size])
        cand = torch.sort(cand).values  # ascending index: first maximum = lowest index
        self._refresh(cand)
        # Exact values: squared distance to the nearest center, by direct differences in float64.
        exact = _sq_dist(self.features[cand], self.features[self.nearest[cand]])
        self.bound[cand] = exact
        threshold = outside + self.margin * abs(outside) if math.isfinite(outside) else outside
        if float(exact.max()) <= threshold:
            return cand[:0], exact[:0]
        # Greedy inside the candidate set on exact float64 distances.
        xc = self.features[cand].to(torch.float64)
        xc = xc - xc.mean(0)
        sq = (xc * xc).sum(1)
        within = torch.addmm(sq[:, None] + sq[None, :], xc, xc.T, alpha=-2).clamp_min_(0)
        value = exact.clone()
        chosen: list[int] = []
        chosen_values: list[float] = []
        while len(chosen) < remaining:
            best, pos = value.max(0)
            best_value = float(best)
            if best_value <= threshold:
                break
            j = int(pos)
            chosen.append(j)
            chosen_values.append(best_value)
            torch.minimum(value, within[j], out=value)
            value[j] = -math.inf
        positions = torch.tensor(chosen, dtype=torch.long, device=cand.device)
        picks = cand[positions]
        # The remaining candidates are now exact against every center, block picks included.
        from_block, which = within[:, positions].min(1)
        closer = from_block < exact
        self.nearest[cand] = torch.where(closer, picks[which], self.nearest[cand])
        self.bound[cand] = value
        self.applied[cand] = len(self.centers) + len(chosen)
        self._add_picks(picks)
        return picks, torch.tensor(chosen_values, dtype=torch.float64, device=cand.device)


def _nearest(points: torch.Tensor, seeds: torch.Tensor) -> torch.Tensor:
    """(n,) index of each point's nearest seed (squared-distance expansion, row chunks)."""
    seed_sqn = (seeds * seeds).sum(1)
    out = [
        torch.addmm(seed_sqn[None], points[r0 : r0 + _ROW_CHUNK], seeds.T, alpha=-2).argmin(1)
        for r0 in range(0, len(points), _ROW_CHUNK)
    ]
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long, device=points.device)


def _sq_dist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise squared distance, in float64."""
    diff = a.to(torch.float64) - b.to(torch.float64)
    return (diff * diff).sum(1)


class CoresetHeuristicConfig(HeuristicConfigBase):
    name: Literal["coreset"] = "coreset"


@register_heuristic
class CoresetHeuristic(GreedyFeatureHeuristic):
    """Greedy k-center on [T_f(x) ⁀ alpha V(x)] of the whole pool (labeled points are the centers)."""

    config_class = CoresetHeuristicConfig
    greedy = staticmethod(greedy_k_center_with_distances)
    deciding_differences = staticmethod(nearest_centre_differences)
