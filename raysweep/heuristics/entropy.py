"""Entropy (max-uncertainty) selection on the task model's predictions.

Multi-class: Shannon entropy of the softmax. Multi-label (ChestMNIST): the sum over labels of each
label's binary entropy under its sigmoid, the multi-label form REFERENCE.md asks for. Both work in
log space (log_softmax, logsigmoid) so saturated logits give 0, never NaN.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from raysweep.heuristics.base import HeuristicConfigBase, SelectionContext, TopKHeuristic, register_heuristic


def softmax_entropy(logits: torch.Tensor) -> torch.Tensor:
    """(n, classes) logits -> (n,) entropy in nats of softmax(logits)."""
    log_p = F.log_softmax(logits.float(), dim=1)
    return -(log_p.exp() * log_p).sum(1)


def binary_entropy_sum(logits: torch.Tensor) -> torch.Tensor:
    """(n, labels) logits -> (n,) sum over labels of the binary entropy of sigmoid(logit), in nats."""
    logits = logits.float()
    log_p, log_q = F.logsigmoid(logits), F.logsigmoid(-logits)
    return -(log_p.exp() * log_p + log_q.exp() * log_q).sum(1)


class EntropyHeuristicConfig(HeuristicConfigBase):
    name: Literal["entropy"] = "entropy"


@register_heuristic
class EntropyHeuristic(TopKHeuristic):
    config_class = EntropyHeuristicConfig

    def score(self, context: SelectionContext, candidates: torch.Tensor) -> torch.Tensor:
        logits = context.infer(candidates).logits
        return binary_entropy_sum(logits) if context.multi_label else softmax_entropy(logits)
