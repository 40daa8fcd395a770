"""Learning-loss selection (Yoo & Kweon 2019): the highest predicted loss in a random subset.

The loss-prediction module is trained with the task model (raysweep.models); with VAE features it
already sees [c ⁀ alpha V(x)] inside ``context.infer``. Here we only rank: as in the reference code,
a random subset of ``subset_size`` unlabeled points (all of them when fewer) is scored. With VAE
features the selection also reports how the two blocks of the module's last-layer input weighed
over the scored points (``vae_share``: of that input's spread).
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from raysweep import schema
from raysweep.heuristics.base import (
    HeuristicConfigBase,
    PoolInference,
    Selection,
    SelectionContext,
    TopKHeuristic,
    check_budget,
    register_heuristic,
    top_k,
)
from raysweep.heuristics.weighting import rms_spread, vae_share
from raysweep.models.loss_module import LossModuleTraining


class LLossHeuristicConfig(HeuristicConfigBase):
    name: Literal["lloss"] = "lloss"
    margin: float = Field(default=1.0, ge=0)
    """Pair-loss margin xi (Yoo & Kweon reference code: 1.0)."""
    weight: float = Field(default=1.0, ge=0)
    """Weight lambda of the loss-module term (reference: 1.0)."""
    detach_epoch: int | None = Field(default=None, ge=0)
    """Epoch after which the loss module's inputs are detached from the backbone. None: 60% of the
    round's epochs, the reference's 120 of 200."""
    subset_size: int = Field(default=10_000, gt=0)
    """Random unlabeled subset scored at selection (reference: 10,000)."""
    hidden_dim: int = Field(default=128, gt=0)
    """Units per stage in the loss module (reference: 128)."""


@register_heuristic
class LearningLossHeuristic(TopKHeuristic):
    config_class = LLossHeuristicConfig
    supports_vae = True
    config: LLossHeuristicConfig

    def loss_module(self) -> LossModuleTraining:
        """Learning loss ranks by a loss-prediction module trained jointly with the task model."""
        c = self.config
        return LossModuleTraining(c.hidden_dim, c.margin, c.weight, c.detach_epoch)

    def candidates(self, context: SelectionContext) -> torch.Tensor:
        unlabeled = context.unlabeled_indices()
        if len(unlabeled) <= self.config.subset_size:
            return unlabeled
        # Drawn on the CPU generator, then moved: the same subset on every device.
        chosen = torch.randperm(len(unlabeled), generator=context.generator)[: self.config.subset_size]
        return unlabeled[torch.sort(chosen).values.to(unlabeled.device)]

    def select(self, context: SelectionContext, budget: int) -> Selection:
        candidates = self.candidates(context)
        check_budget(budget, len(candidates), self.name)
        inference = context.infer(candidates)
        selection = top_k(candidates, self.predicted_loss(inference), budget)
        if inference.loss_head_input is not None and context.embeddings is not None:
            c_width = inference.loss_head_input.shape[1] - context.embeddings.shape[1]
            task_spread = rms_spread(inference.loss_head_input[:, :c_width])
            vae_spread = rms_spread(inference.loss_head_input[:, c_width:])
            selection.diagnostics.update(
                {
                    schema.TASK_FEATURE_SPREAD: task_spread,
                    schema.VAE_FEATURE_SPREAD: vae_spread,
                    schema.VAE_SHARE: vae_share(task_spread, vae_spread),
                }
            )
        return selection

    def score(self, context: SelectionContext, candidates: torch.Tensor) -> torch.Tensor:
        return self.predicted_loss(context.infer(candidates))

    @staticmethod
    def predicted_loss(inference: PoolInference) -> torch.Tensor:
        if inference.predicted_loss is None:
            raise RuntimeError(
                "lloss: the task model has no loss-prediction module (infer returned no predicted_loss); "
                "train it with the loss module the heuristic asks for (LearningLossHeuristic.loss_module)"
            )
        return inference.predicted_loss.reshape(-1)
