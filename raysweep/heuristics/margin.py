"""Margin (smallest-margin) uncertainty sampling (Scheffer et al. 2001; DISTIL, baal, scikit-activeml).

Multi-class: the gap between the two largest softmax probabilities; the smallest gap is the most
uncertain point. Scores are ``1 - gap`` (in [0, 1], higher = select first).

Multi-label (ChestMNIST): each label is a binary problem whose two "classes" have probabilities
sigmoid(z) and 1 - sigmoid(z), so its margin is |2 sigmoid(z) - 1| = tanh(|z| / 2), the distance of
the label's probability to the decision threshold 0.5 (doubled). The per-label margins are averaged:
the mean ranks a point uncertain in many labels above one uncertain in a single label (a minimum
would rank them alike), keeps the score in [0, 1] like the multi-class one, and ranks exactly as the
sum, the aggregation the multi-label entropy uses. tanh(|z| / 2) is computed from the logit, so a
saturated label gives a margin of exactly 1, never a rounding artefact of 1 - 1e-8.
"""

from __future__ import annotations

from typing import Literal

import torch

from raysweep.heuristics.base import HeuristicConfigBase, SelectionContext, TopKHeuristic, register_heuristic


def softmax_margin(logits: torch.Tensor) -> torch.Tensor:
    """(n, classes) logits -> (n,) p_first - p_second of softmax(logits), in [0, 1]."""
    if logits.shape[1] < 2:
        raise ValueError(f"margin needs at least two classes, got logits of shape {tuple(logits.shape)}")
    top2 = torch.softmax(logits.float(), dim=1).topk(2, dim=1).values
    return top2[:, 0] - top2[:, 1]


def mean_label_margin(logits: torch.Tensor) -> torch.Tensor:
    """(n, labels) logits -> (n,) mean over labels of |2 sigmoid(z) - 1| = tanh(|z| / 2), in [0, 1]."""
    return torch.tanh(logits.float().abs() / 2).mean(1)


class MarginHeuristicConfig(HeuristicConfigBase):
    name: Literal["margin"] = "margin"


@register_heuristic
class MarginHeuristic(TopKHeuristic):
    config_class = MarginHeuristicConfig

    def score(self, context: SelectionContext, candidates: torch.Tensor) -> torch.Tensor:
        logits = context.infer(candidates).logits
        margin = mean_label_margin(logits) if context.multi_label else softmax_margin(logits)
        return 1.0 - margin
