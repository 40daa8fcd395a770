"""Learning-loss selection (Yoo & Kweon 2019): the highest predicted loss in a random subset.

The loss-prediction module is trained with the task model (raysweep.models); with VAE features it
already sees [c ⁀ alpha V(x)] inside ``context.infer``. Here we only rank: as in the reference code,
a random subset of ``subset_size`` unlabeled points (all of them when fewer) is scored.
"""

from __future__ import annotations

import torch

from raysweep.config import LLossHeuristicConfig
from raysweep.heuristics.base import HEURISTICS, SelectionContext, TopKHeuristic


@HEURISTICS.register("lloss")
class LearningLossHeuristic(TopKHeuristic):
    name = "lloss"
    supports_vae = True
    trains_loss_module = True
    config: LLossHeuristicConfig

    def candidates(self, context: SelectionContext) -> torch.Tensor:
        unlabeled = context.unlabeled_indices()
        if len(unlabeled) <= self.config.subset_size:
            return unlabeled
        # Drawn on the CPU generator, then moved: the same subset on every device.
        chosen = torch.randperm(len(unlabeled), generator=context.generator)[: self.config.subset_size]
        return unlabeled[torch.sort(chosen).values.to(unlabeled.device)]

    def score(self, context: SelectionContext, candidates: torch.Tensor) -> torch.Tensor:
        predicted = context.infer(candidates).predicted_loss
        if predicted is None:
            raise RuntimeError(
                "lloss: the task model has no loss-prediction module (infer returned no predicted_loss); "
                "train it with the loss module (the heuristic's trains_loss_module is True)"
            )
        return predicted.reshape(-1)
