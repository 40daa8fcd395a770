"""Random selection: uniform over the unlabeled pool, the baseline every heuristic is compared to."""

from __future__ import annotations

import torch

from raysweep.heuristics.base import HEURISTICS, SelectionContext, TopKHeuristic


@HEURISTICS.register("random")
class RandomHeuristic(TopKHeuristic):
    """Scores are uniform draws; the top ``budget`` are a uniform random subset."""

    name = "random"

    def score(self, context: SelectionContext, candidates: torch.Tensor) -> torch.Tensor:
        # Drawn on the CPU generator, then moved: the same picks on every device.
        return torch.rand(len(candidates), generator=context.generator).to(context.device)
