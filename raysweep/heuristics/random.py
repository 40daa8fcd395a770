"""Random selection: uniform over the unlabeled pool, the baseline every heuristic is compared to."""

from __future__ import annotations

from typing import Literal

import torch

from raysweep.heuristics.base import HeuristicConfigBase, SelectionContext, TopKHeuristic, register_heuristic


class RandomHeuristicConfig(HeuristicConfigBase):
    name: Literal["random"] = "random"


@register_heuristic
class RandomHeuristic(TopKHeuristic):
    """Scores are uniform draws; the top ``budget`` are a uniform random subset."""

    config_class = RandomHeuristicConfig

    def score(self, context: SelectionContext, candidates: torch.Tensor) -> torch.Tensor:
        # Drawn on the CPU generator, then moved: the same picks on every device.
        return torch.rand(len(candidates), generator=context.generator).to(context.device)
