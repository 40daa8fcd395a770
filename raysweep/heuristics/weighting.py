"""How the VAE block is weighed against the task block: ``[T_f(x) ⁀ alpha V(x)]`` and its diagnostics.

The paper concatenates alpha-scaled VAE features to the task features. Taken literally (``raw``),
alpha's meaning depends on the two blocks' sizes: a trained ResNet-18's features spread over the pool
about 20x more (in squared distance) than a VAE's posterior means, whose KL term keeps each latent
dimension's variance near 1, and the task block's spread grows with every round of training. So one
raw alpha is a different weight in every round and on every dataset, and small alphas change no pick.

``balanced`` divides each block by its own RMS spread over the pool in that round before alpha
applies: alpha is then the VAE block's weight relative to the task block (alpha = 1: equal spread,
the VAE block holds half the squared distances), the same in every round and on every dataset.

``alpha = inf`` is the task-agnostic end of the same axis: the VAE block alone. ``alpha = 0`` is the
plain heuristic: the task features untouched, bit for bit, in every mode.

Diagnostics (per round, logged by the shell): the RMS spread of each block as the heuristic sees it
(after scaling and alpha) and ``vae_share``, the VAE block's fraction of the squared distances to the
centroid, which is also its fraction of the mean squared pairwise distance the heuristic uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import torch

from raysweep import schema

AlphaScaling = Literal["raw", "balanced"]
"""How alpha weighs the VAE block against the task block (the trial config's ``alpha_scaling``)."""
ALPHA_SCALINGS: tuple[str, ...] = get_args(AlphaScaling)
_ROW_CHUNK = 16384


@torch.no_grad()
def rms_spread(block: torch.Tensor) -> float:
    """RMS distance of the rows of ``block`` (n, d) to their centroid, accumulated in float64.

    sqrt(mean_i ||x_i - mean(x)||^2) = sqrt(trace of the covariance). Row chunks keep a float64 copy
    of a (100,000 x 512) block out of memory.
    """
    if block.shape[0] == 0:
        return 0.0
    centroid = block.to(torch.float64).mean(0)
    total = 0.0
    for start in range(0, block.shape[0], _ROW_CHUNK):
        diff = block[start : start + _ROW_CHUNK].to(torch.float64) - centroid
        total += float((diff * diff).sum())
    return math.sqrt(total / block.shape[0])


def vae_share(task_spread: float, vae_spread: float) -> float:
    """The VAE block's fraction of the squared distances: s_V^2 / (s_T^2 + s_V^2) (0 when both are 0)."""
    total = task_spread**2 + vae_spread**2
    return vae_spread**2 / total if total > 0 else 0.0


@dataclass(frozen=True)
class BlockWeights:
    """Multipliers that turn the raw blocks into what the heuristic sees, and the resulting spreads."""

    task_scale: float
    """Multiplier on T_f (0: the task block is left out, the VAE-only end)."""
    vae_scale: float
    """Multiplier on V, alpha included (0: the plain heuristic)."""
    task_spread: float
    """RMS spread of the task block as the heuristic sees it."""
    vae_spread: float
    """RMS spread of the VAE block as the heuristic sees it."""

    @property
    def vae_share(self) -> float:
        return vae_share(self.task_spread, self.vae_spread)

    @property
    def equivalent_raw_alpha(self) -> float:
        """The raw-mode alpha that gives the same picks (the blocks' ratio; inf for the VAE-only end)."""
        if self.task_scale == 0:
            return math.inf
        return self.vae_scale / self.task_scale

    def diagnostics(self) -> dict[str, float]:
        return {
            schema.TASK_FEATURE_SPREAD: self.task_spread,
            schema.VAE_FEATURE_SPREAD: self.vae_spread,
            schema.VAE_SHARE: self.vae_share,
            schema.EQUIVALENT_RAW_ALPHA: self.equivalent_raw_alpha,
        }


def _unit(spread: float) -> float:
    """1 / spread, or 1 for a block with no spread (a constant block moves no distance either way)."""
    return 1.0 / spread if spread > 0 else 1.0


def block_weights(
    task_spread_raw: float, vae_spread_raw: float, alpha: float, scaling: AlphaScaling
) -> BlockWeights:
    """The two blocks' multipliers for ``alpha`` under ``scaling``, from the raw blocks' spreads."""
    if scaling not in ALPHA_SCALINGS:
        raise ValueError(f"alpha scaling must be one of {', '.join(ALPHA_SCALINGS)}, not {scaling!r}")
    if not alpha >= 0:
        raise ValueError(f"alpha must be >= 0 (inf: the VAE features alone), not {alpha}")
    if math.isinf(alpha):
        task_scale, vae_scale = 0.0, (_unit(vae_spread_raw) if scaling == "balanced" else 1.0)
    elif scaling == "balanced":
        task_scale, vae_scale = _unit(task_spread_raw), alpha * _unit(vae_spread_raw)
    else:
        task_scale, vae_scale = 1.0, alpha
    return BlockWeights(
        task_scale=task_scale,
        vae_scale=vae_scale,
        task_spread=task_scale * task_spread_raw,
        vae_spread=vae_scale * vae_spread_raw,
    )


@dataclass(frozen=True)
class WeightedFeatures:
    features: torch.Tensor
    """(n, d_task + d_vae), (n, d_task) or (n, d_vae) float: what the heuristic computes distances on."""
    weights: BlockWeights | None
    """None when no VAE features are used (alpha = 0): the task features, untouched."""

    @property
    def uses_vae(self) -> bool:
        return self.weights is not None

    def diagnostics(self) -> dict[str, float]:
        return self.weights.diagnostics() if self.weights is not None else {}


def weigh_features(
    task_features: torch.Tensor,
    embeddings: torch.Tensor | None,
    alpha: float,
    scaling: AlphaScaling = "balanced",
) -> WeightedFeatures:
    """``[task_scale T_f(x) ⁀ vae_scale V(x)]`` over the pool rows given (the spreads come from them).

    alpha == 0 (or no embeddings) returns ``task_features`` itself: no zero columns, no rescaling, so
    the plain heuristic's picks come out bit for bit. In ``raw`` mode the result is the paper's
    ``[T_f ⁀ alpha V]`` exactly (same operations as before the scaling modes existed).
    """
    if alpha == 0 or embeddings is None:
        return WeightedFeatures(task_features, None)
    embeddings = embeddings.to(task_features.dtype)
    weights = block_weights(rms_spread(task_features), rms_spread(embeddings), alpha, scaling)
    # Multiplying by 1.0 would not change a bit, but skipping it saves a copy of the pool's features.
    vae_block = embeddings if weights.vae_scale == 1.0 else weights.vae_scale * embeddings
    if weights.task_scale == 0:
        return WeightedFeatures(vae_block, weights)
    task_block = task_features if weights.task_scale == 1.0 else weights.task_scale * task_features
    return WeightedFeatures(torch.cat([task_block, vae_block], dim=1), weights)


def loss_module_vae_block(embeddings: torch.Tensor, alpha: float, scaling: AlphaScaling) -> torch.Tensor:
    """The VAE block loss prediction concatenates to its loss module's c, before the module's own scaling.

    ``raw``: alpha V(x), the paper's. ``balanced``: alpha V(x) / s_V, a block of RMS spread alpha that the
    loss module multiplies by c's running RMS spread (``LossPredictionModule(balance_extra=True)``), so
    the VAE block weighs alpha times c in every round, however large training makes c.
    """
    if not math.isfinite(alpha):
        raise ValueError("loss prediction needs a finite alpha: its loss module always reads the task model")
    if scaling == "raw":
        return alpha * embeddings
    return (alpha * _unit(rms_spread(embeddings))) * embeddings


def vae_share_of_differences(differences: torch.Tensor, vae_width: int) -> float:
    """The VAE block's share of the summed squared lengths of (k, d) difference vectors whose last
    ``vae_width`` columns are the VAE block: what the block contributed to the distances that decided."""
    squared = differences.to(torch.float64).square()
    total = float(squared.sum())
    return float(squared[:, differences.shape[1] - vae_width :].sum()) / total if total > 0 else 0.0


@torch.no_grad()
def nearest_centre_differences(
    features: torch.Tensor, labeled_mask: torch.Tensor, picks: torch.Tensor, chunk: int = 4096
) -> torch.Tensor:
    """(k, d) float64: each pick minus its nearest centre when it was picked (the labeled points and
    the earlier picks), the distance that decided a core-set pick.

    Nearest centres are found with matrix products in chunks (no picks x pool matrix); the difference
    to the chosen centre is then taken directly, in float64.
    """
    x = features.to(torch.float64)
    chosen = x[picks]
    centres = x[labeled_mask.to(features.device)]
    best = torch.full((len(picks),), math.inf, dtype=torch.float64, device=x.device)
    nearest = torch.zeros((len(picks), x.shape[1]), dtype=torch.float64, device=x.device)
    sq_chosen = (chosen * chosen).sum(1)

    def absorb(candidates: torch.Tensor, allowed: torch.Tensor | None) -> None:
        distances = sq_chosen[:, None] - 2 * chosen @ candidates.T + (candidates * candidates).sum(1)[None, :]
        if allowed is not None:
            distances = distances.masked_fill(~allowed, math.inf)
        values, where = distances.min(1)
        better = values < best
        best[better] = values[better]
        nearest[better] = candidates[where[better]]

    for start in range(0, len(centres), chunk):
        absorb(centres[start : start + chunk], None)
    for start in range(0, len(picks), chunk):
        earlier = torch.arange(start, min(start + chunk, len(picks)), device=x.device)
        # Pick j is a centre for pick i only when it came first (j < i).
        absorb(
            chosen[start : start + chunk],
            earlier[None, :] < torch.arange(len(picks), device=x.device)[:, None],
        )
    return chosen - nearest


@torch.no_grad()
def running_centroid_differences(
    features: torch.Tensor, labeled_mask: torch.Tensor, picks: torch.Tensor
) -> torch.Tensor:
    """(k, d) float64: each pick minus the centroid of the labeled points and the earlier picks when it
    was picked, the distance that decided a MedAL pick."""
    x = features.to(torch.float64)
    chosen = x[picks]
    labeled = x[labeled_mask.to(features.device)]
    before = torch.cumsum(chosen, 0) - chosen  # the picks before each pick, summed
    counts = len(labeled) + torch.arange(len(picks), device=x.device, dtype=torch.float64)
    centroids = (labeled.sum(0)[None, :] + before) / counts.clamp_min(1)[:, None]
    return chosen - centroids


def pick_overlap(picks: torch.Tensor, reference: torch.Tensor) -> float:
    """Fraction of ``picks`` that ``reference`` also holds (order ignored), e.g. the plain picks."""
    if len(picks) == 0:
        return 1.0
    return float(torch.isin(picks, reference.to(picks.device)).float().mean())
