"""BADGE (Ash et al. 2020): k-means++ seeding on the gradient embeddings of the last layer.

A point's gradient embedding is the gradient of the loss at its predicted label with respect to the
classifier's weights: for cross-entropy ``g(x) = (p - onehot(argmax p)) ⊗ h`` (p: softmax, h: the
512 penultimate features), C x 512 numbers per point. Its norm is large where the model is unsure
(p far from one-hot) and where h is large; k-means++ seeding on it picks points that are both
uncertain and spread out. As in the reference code, the first centre is the point of largest norm
and the pool's unlabeled points are the candidates.

Multi-label (ChestMNIST): the same gradient of the summed per-label binary cross-entropy at the
predicted labels (sigmoid(z) > 0.5): ``g(x) = (sigmoid(z) - 1[z > 0]) ⊗ h``, one row per label.

g(x) is never materialised (n x C*512 floats; float64 at n = 20,000, C = 100 and 768 features is the
25 GB of scikit-activeml issue #589): distances factorise into products of p and h (see
:mod:`raysweep.heuristics.kmeans`), and the seeding draws exactly from k-means++'s distribution with
a pass over the pool per few hundred centres instead of one per centre.

VAE features: the embedding is ``[g(x) ⁀ alpha V(x)]`` under the trial's alpha scaling. ``balanced``
divides each block by its RMS spread over the pool, for g computed through the same factorisation:
``s_g^2 = mean_i ||p_i||^2 ||h_i||^2 - ||mean_i p_i ⊗ h_i||^2`` with the mean a C x 512 matrix
(P^T H / n), never g itself. ``alpha = inf`` runs k-means++ on the VAE block alone.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F

from raysweep.heuristics.base import (
    Heuristic,
    HeuristicConfigBase,
    Selection,
    SelectionContext,
    check_budget,
    register_heuristic,
)
from raysweep.heuristics.kmeans import BlockEmbedding, EmbeddingBlock, check_finite, kmeans_pp_seeding
from raysweep.heuristics.weighting import block_weights, rms_spread

_ROW_CHUNK = 8192


def gradient_factor(logits: torch.Tensor, multi_label: bool) -> torch.Tensor:
    """(n, outputs) logits -> (n, outputs) p - y_hat, the left factor of the gradient embedding.

    Multi-class: softmax minus the one-hot predicted class (the cross-entropy's gradient with respect
    to the logits at the predicted label). Multi-label: sigmoid minus the predicted 0/1 labels.
    """
    logits = logits.float()
    if multi_label:
        return torch.sigmoid(logits) - (logits > 0).float()
    p = torch.softmax(logits, dim=1)
    return p - F.one_hot(p.argmax(1), p.shape[1]).float()


@torch.no_grad()
def gradient_embedding_spread(factor: torch.Tensor, features: torch.Tensor) -> float:
    """RMS distance to their centroid of the rows ``factor_i ⊗ features_i``, never materialised.

    mean ||g||^2 - ||mean g||^2 with ||g_i||^2 = ||p_i||^2 ||h_i||^2 and mean g = P^T H / n (C x d),
    accumulated in float64 over row chunks.
    """
    n = factor.shape[0]
    if n == 0:
        return 0.0
    mean_sq = 0.0
    mean_g = torch.zeros(factor.shape[1], features.shape[1], dtype=torch.float64, device=factor.device)
    for start in range(0, n, _ROW_CHUNK):
        p = factor[start : start + _ROW_CHUNK].double()
        h = features[start : start + _ROW_CHUNK].double()
        mean_sq += float(((p * p).sum(1) * (h * h).sum(1)).sum())
        mean_g += p.T @ h
    mean_g /= n
    return math.sqrt(max(mean_sq / n - float((mean_g * mean_g).sum()), 0.0))


class BadgeHeuristicConfig(HeuristicConfigBase):
    name: Literal["badge"] = "badge"


@register_heuristic
class BadgeHeuristic(Heuristic):
    config_class = BadgeHeuristicConfig
    draws_at_random = True  # k-means++ seeding draws each pick
    supports_vae = True
    supports_vae_only = True
    model_independent_of_alpha = True

    def select(self, context: SelectionContext, budget: int) -> Selection:
        candidates = context.unlabeled_indices()
        check_budget(budget, len(candidates), self.name)
        # The whole pool, as the distance heuristics do: the balanced spreads are the pool's, and the
        # alpha = 0 reference selection reuses the same (memoised) inference.
        inference = context.infer(torch.arange(context.n_pool, device=context.device))
        factor = gradient_factor(inference.logits, context.multi_label)
        features = inference.features.float()
        embeddings = context.embeddings
        check_finite(self.name, logits=inference.logits, features=features, embeddings=embeddings)

        diagnostics: dict[str, float] = {}
        task_scale, vae_scale = 1.0, 0.0
        if context.alpha != 0 and embeddings is not None:
            embeddings = embeddings.float()
            weights = block_weights(
                gradient_embedding_spread(factor, features),
                rms_spread(embeddings),
                context.alpha,
                context.alpha_scaling,
            )
            task_scale, vae_scale = weights.task_scale, weights.vae_scale
            diagnostics = weights.diagnostics()

        factor, features = factor[candidates], features[candidates]
        blocks = [EmbeddingBlock(features, factor, task_scale)]
        # ||e_i||^2 of the embedding as given (the VAE block uncentred): the first centre's criterion.
        norms = task_scale**2 * (factor * factor).sum(1) * (features * features).sum(1)
        if vae_scale != 0:
            vae = embeddings[candidates]
            blocks.append(EmbeddingBlock(vae, None, vae_scale))
            norms = norms + vae_scale**2 * (vae * vae).sum(1)
        first = int(torch.argmax(norms))  # first maximum: the lowest pool index among equals
        picks, sq_distances = kmeans_pp_seeding(BlockEmbedding(blocks), budget, context.generator, first)
        sq_distances[0] = norms[first].double()
        # Score: the distance to the nearest earlier centre when picked (the first: its norm).
        return Selection(
            indices=candidates[picks], scores=sq_distances.sqrt().float(), diagnostics=diagnostics
        )
