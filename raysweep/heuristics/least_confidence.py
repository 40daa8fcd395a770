"""Least-confidence uncertainty sampling (Lewis & Gale 1994; DISTIL, scikit-activeml).

Multi-class: ``1 - max_c p_c`` of the softmax, the probability mass the predicted class misses.

Multi-label (ChestMNIST): each label's prediction is the likelier of its two outcomes, with
confidence max(p, 1 - p); its least-confidence score is 1 - max(p, 1 - p) = min(p, 1 - p) =
sigmoid(-|z|). The per-label scores are averaged, as margin does and for the same reasons: every
uncertain label counts (a maximum would look at one label only), the score stays in the multi-class
range ([0, 1/2] per label), and the mean ranks as the sum the multi-label entropy uses. sigmoid(-|z|)
is computed from the logit, so saturated labels give exactly 0.
"""

from __future__ import annotations

from typing import Literal

import torch

from raysweep.heuristics.base import HeuristicConfigBase, SelectionContext, TopKHeuristic, register_heuristic


def softmax_least_confidence(logits: torch.Tensor) -> torch.Tensor:
    """(n, classes) logits -> (n,) 1 - max softmax probability, in [0, 1 - 1/classes]."""
    return 1.0 - torch.softmax(logits.float(), dim=1).amax(1)


def mean_label_least_confidence(logits: torch.Tensor) -> torch.Tensor:
    """(n, labels) logits -> (n,) mean over labels of min(p, 1 - p) = sigmoid(-|z|), in [0, 1/2]."""
    return torch.sigmoid(-logits.float().abs()).mean(1)


class LeastConfidenceHeuristicConfig(HeuristicConfigBase):
    name: Literal["least_confidence"] = "least_confidence"


@register_heuristic
class LeastConfidenceHeuristic(TopKHeuristic):
    config_class = LeastConfidenceHeuristicConfig

    def score(self, context: SelectionContext, candidates: torch.Tensor) -> torch.Tensor:
        logits = context.infer(candidates).logits
        if context.multi_label:
            return mean_label_least_confidence(logits)
        return softmax_least_confidence(logits)
