"""k-means++ seeding and Lloyd's k-means on embeddings made of blocks, some held implicitly.

An embedding row is a concatenation of scaled blocks ``[s_1 B_1(i) ⁀ s_2 B_2(i) ...]``. A block is
either plain rows h_i (n, d) or an outer product p_i ⊗ h_i kept as its two factors (n, C) and (n, d):
BADGE's gradient embedding, C x d numbers per point that are never materialised. Squared distances
need only inner products, and for an outer product those factorise:

    ||p_i ⊗ h_i - p_j ⊗ h_j||^2 = ||p_i||^2 ||h_i||^2 + ||p_j||^2 ||h_j||^2 - 2 (p_i . p_j)(h_i . h_j)

so distances of n points to k centres cost two (n x k) products of the factors, O(n k (C + d)),
instead of O(n k C d) on the materialised rows (and no n x C*d matrix in memory).

k-means++ seeding (Arthur & Vassilvitskii 2007) draws each next centre with probability proportional
to D^2, the squared distance to the nearest centre chosen so far. Done plainly that is one pass over
the whole embedding per centre. We draw the same distribution by rejection: ``bound`` holds every
point's D^2 as of the last refresh (an upper bound, since centres only lower it); a proposal i is
drawn proportional to ``bound``, its exact D^2 is brought up to date against the few centres chosen
since the refresh, and it is accepted with probability D^2_i / bound_i. An accepted point is thus
drawn with probability proportional to D^2_i exactly. A refresh (one blocked product over the pool
against all centres since the last one) runs when the pending centres reach ``max_pending`` or
proposals start being rejected about as often as accepted, so most passes over the pool handle
hundreds of centres at once. All random numbers come from the caller's (CPU) generator, so the picks
follow the trial's seed on every device.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

_ROW_CHUNK = 8192
"""Pool rows per blocked distance product (8,192 x 256 centres: 8 MB float32 per temporary)."""


@dataclass(frozen=True)
class EmbeddingBlock:
    rows: torch.Tensor
    """(n, d) float: the block's rows h_i, or the right factor of an outer-product block."""
    factor: torch.Tensor | None = None
    """(n, C) float or None: when given, the block is p_i ⊗ h_i with p_i = ``factor[i]``."""
    scale: float = 1.0
    """Multiplier on the block's coordinates (alpha, balanced weights); 0 leaves the block out."""


class BlockEmbedding:
    """The rows ``[scale_b * block_b(i)]_b`` of ``n`` points, for squared distances between them.

    Plain blocks are centred first (distances do not change under translation, and the expansion
    ||x||^2 + ||y||^2 - 2 x.y cancels less); outer-product blocks cannot be and are used as given.
    """

    def __init__(self, blocks: Sequence[EmbeddingBlock]) -> None:
        blocks = [block for block in blocks if block.scale != 0]
        if not blocks:
            raise ValueError("an embedding needs at least one block with a non-zero scale")
        n = blocks[0].rows.shape[0]
        for block in blocks:
            if block.rows.ndim != 2 or block.rows.shape[0] != n:
                raise ValueError(f"every block needs (n={n}, d) rows, got {tuple(block.rows.shape)}")
            if block.factor is not None and (block.factor.ndim != 2 or block.factor.shape[0] != n):
                raise ValueError(f"a block's factor needs (n={n}, C) rows, got {tuple(block.factor.shape)}")
        self.n = n
        self.device = blocks[0].rows.device
        self.rows: list[torch.Tensor] = []
        self.factors: list[torch.Tensor | None] = []
        self.weights: list[float] = []  # scale^2: what the block's inner products are multiplied by
        self.sq_norms = torch.zeros(n, dtype=torch.float32, device=self.device)
        for block in blocks:
            rows = block.rows.float()
            factor = block.factor.float() if block.factor is not None else None
            if factor is None:
                rows = rows - rows.mean(0)
            self.rows.append(rows)
            self.factors.append(factor)
            self.weights.append(float(block.scale) ** 2)
            sq = (rows * rows).sum(1)
            if factor is not None:
                sq = sq * (factor * factor).sum(1)
            self.sq_norms += self.weights[-1] * sq

    def gather(self, index: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        """The blocks' rows (and factors) of the points ``index`` (k,): centres to measure against."""
        return [
            (rows[index], factor[index] if factor is not None else None)
            for rows, factor in zip(self.rows, self.factors, strict=True)
        ]

    def sq_dists(
        self,
        rows: slice | torch.Tensor,
        centres: Sequence[tuple[torch.Tensor, torch.Tensor | None]],
        centre_sq_norms: torch.Tensor,
    ) -> torch.Tensor:
        """(m, k) squared distances of the points ``rows`` to ``centres`` (from :meth:`gather`), >= 0."""
        out = self.sq_norms[rows].unsqueeze(1) + centre_sq_norms.unsqueeze(0)
        for weight, own_rows, own_factor, (centre_rows, centre_factor) in zip(
            self.weights, self.rows, self.factors, centres, strict=True
        ):
            inner = own_rows[rows] @ centre_rows.T
            if own_factor is not None:
                inner *= own_factor[rows] @ centre_factor.T
            out.sub_(inner, alpha=2 * weight)
        return out.clamp_min_(0)


def _uniforms(generator: torch.Generator) -> Iterator[float]:
    """An endless stream of float64 uniforms in [0, 1) from ``generator``, drawn in growing batches
    (a short seeding draws few numbers, a long one few batches)."""
    batch = 64
    while True:
        yield from torch.rand(batch, generator=generator, dtype=torch.float64).tolist()
        batch = min(2 * batch, 8192)


@torch.no_grad()
def kmeans_pp_seeding(
    embedding: BlockEmbedding,
    k: int,
    generator: torch.Generator,
    first: int,
    *,
    max_pending: int = 256,
) -> tuple[torch.Tensor, torch.Tensor]:
    """k-means++ centres: (k,) int64 row indices in pick order (on the embedding's device) and each
    one's squared distance to its nearest earlier centre when drawn, (k,) float64 (``first``: 0).

    ``first`` is the first centre (uniform at random in the original; BADGE takes the largest norm).
    Each later one is drawn with probability proportional to D^2 (see the module docstring). When
    every remaining point coincides with a centre (all D^2 = 0), the rest are drawn uniformly among
    the points not yet chosen, so ``k`` distinct rows come back whenever ``k <= n``.
    """
    n = embedding.n
    if not 0 < k <= n:
        raise ValueError(f"k-means++ needs 0 < k <= {n} points, got k={k}")
    if not 0 <= first < n:
        raise ValueError(f"first centre {first} is not a row of the {n} points")
    uniforms = _uniforms(generator)
    chosen = np.zeros(n, dtype=bool)
    picks, values = [first], [0.0]
    chosen[first] = True
    # Pending centres (chosen since the last refresh): their rows, in buffers filled in place.
    first_parts = embedding.gather(torch.tensor([first], device=embedding.device))
    pending_parts = [
        (
            torch.empty((max_pending, rows.shape[1]), dtype=rows.dtype, device=rows.device),
            None if factor is None else torch.empty((max_pending, factor.shape[1]), device=rows.device),
        )
        for rows, factor in first_parts
    ]
    pending_sq = torch.empty(max_pending, dtype=torch.float32, device=embedding.device)
    n_pending = 0
    bound = np.full(n, np.inf)

    def add_pending(index: int) -> None:
        nonlocal n_pending
        for (rows_buf, factor_buf), rows, factor in zip(
            pending_parts, embedding.rows, embedding.factors, strict=True
        ):
            rows_buf[n_pending] = rows[index]
            if factor_buf is not None:
                factor_buf[n_pending] = factor[index]
        pending_sq[n_pending] = embedding.sq_norms[index]
        n_pending += 1

    def pending_view() -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        return [
            (rows[:n_pending], None if factor is None else factor[:n_pending])
            for rows, factor in pending_parts
        ]

    def refresh() -> tuple[np.ndarray, float]:
        """Apply the pending centres to every point's bound; the cumulative weights to draw from."""
        nonlocal n_pending, bound
        if n_pending:
            centres, centre_sq = pending_view(), pending_sq[:n_pending]
            nearest = torch.cat(
                [
                    embedding.sq_dists(slice(start, start + _ROW_CHUNK), centres, centre_sq).amin(1)
                    for start in range(0, n, _ROW_CHUNK)
                ]
            )
            bound = np.minimum(bound, nearest.double().cpu().numpy())
            n_pending = 0
        bound[chosen] = 0.0
        cumulative = np.cumsum(bound)
        return cumulative, float(cumulative[-1])

    add_pending(first)
    cumulative, total = refresh()
    accepted = rejected = 0  # since the last refresh
    while len(picks) < k:
        if total <= 0:
            # Every point left sits on a centre: D^2 is 0 everywhere, k-means++ has no preference.
            left = np.flatnonzero(~chosen)
            pick = int(left[min(int(next(uniforms) * len(left)), len(left) - 1)])
            picks.append(pick)
            values.append(0.0)
            chosen[pick] = True
            continue
        proposal = min(int(np.searchsorted(cumulative, next(uniforms) * total, side="right")), n - 1)
        exact = 0.0
        if not chosen[proposal]:
            exact = bound[proposal]
            if n_pending:
                row = torch.tensor([proposal], device=embedding.device)
                exact = min(
                    exact, float(embedding.sq_dists(row, pending_view(), pending_sq[:n_pending]).min())
                )
        if next(uniforms) * bound[proposal] < exact:
            picks.append(proposal)
            values.append(exact)
            chosen[proposal] = True
            add_pending(proposal)
            accepted += 1
        else:
            rejected += 1
        # A refresh costs about what a hundred proposals do: refresh once proposals are rejected
        # about as often as accepted (the bounds have gone stale), or when the buffers are full.
        if n_pending == max_pending or rejected > accepted + 8:
            cumulative, total = refresh()
            accepted = rejected = 0
    device = embedding.device
    return (
        torch.tensor(picks, dtype=torch.long, device=device),
        torch.tensor(values, dtype=torch.float64, device=device),
    )


@torch.no_grad()
def nearest_centre(features: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """(n,) int64 index of each row's nearest centre (ties: the lower centre index)."""
    centre_sq = (centres * centres).sum(1)
    return torch.cat(
        [
            # ||x||^2 is the same for every centre of a row: argmin of ||c||^2 - 2 x.c suffices.
            torch.addmm(
                centre_sq.unsqueeze(0), features[start : start + _ROW_CHUNK], centres.T, alpha=-2
            ).argmin(1)
            for start in range(0, len(features), _ROW_CHUNK)
        ]
    )


def cluster_sums(x: torch.Tensor, assignment: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """(k, d) float64 sum of the rows of each cluster, in a fixed order on every device.

    Rows sorted by cluster, one float64 running sum, differences at the cluster boundaries: unlike a
    scatter-add (atomic on a GPU) the result does not depend on thread timing.
    """
    order = torch.argsort(assignment, stable=True)
    prefix = torch.cat([x.new_zeros(1, x.shape[1], dtype=torch.float64), x[order].double().cumsum(0)])
    ends = torch.cumsum(counts, 0)
    return prefix[ends] - prefix[ends - counts]


@torch.no_grad()
def kmeans(features: torch.Tensor, k: int, generator: torch.Generator, max_iterations: int) -> torch.Tensor:
    """Lloyd's k-means with k-means++ seeding: (n,) int64 cluster of each row of (n, d) ``features``.

    The first seed is uniform at random (``generator``), the rest k-means++. Iterations stop when no
    row changes cluster, or after ``max_iterations``. A cluster left empty keeps its centre.
    """
    x = features.float() - features.float().mean(0)
    first = int(torch.randint(0, len(x), (1,), generator=generator))
    seeds, _ = kmeans_pp_seeding(BlockEmbedding([EmbeddingBlock(x)]), k, generator, first)
    centres = x[seeds].clone()
    assignment = nearest_centre(x, centres)
    for _ in range(max_iterations):
        counts = torch.bincount(assignment, minlength=k)
        sums = cluster_sums(x, assignment, counts)
        filled = counts > 0
        centres[filled] = (sums[filled] / counts[filled].unsqueeze(1)).to(x.dtype)
        updated = nearest_centre(x, centres)
        if torch.equal(updated, assignment):
            break
        assignment = updated
    return assignment


def check_finite(name: str, **tensors: torch.Tensor) -> None:
    """Refuse NaN or inf inputs by name: k-means++ on a NaN distance would draw garbage silently."""
    for what, tensor in tensors.items():
        if tensor is not None and not bool(torch.isfinite(tensor).all()):
            raise ValueError(f"{name}: {what} contain NaN or inf values")
