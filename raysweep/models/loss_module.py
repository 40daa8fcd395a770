"""Loss-prediction module and pair margin loss (Yoo & Kweon 2019, as in their reference code).

Each residual stage's output is global-average-pooled and mapped to ``hidden_dim`` units with ReLU;
the four are concatenated into c (4 x 128 = 512). With VAE augmentation the paper concatenates
alpha-scaled VAE features V(x) to c before the last layer, so the final linear layer sees
``[c ⁀ alpha V(x)]``.

With balanced alpha scaling (``raysweep.heuristics.weighting``) the caller passes alpha V(x) / s_V
(the VAE block at RMS spread alpha) and the module multiplies it by c's own RMS spread, so the VAE
block's spread is alpha times c's however large training makes c. c's spread is measured on each
training batch (detached: the scale is a normalisation, not a path for gradients) and tracked as a
running average for inference, as BatchNorm does with its statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from raysweep.models.resnet import STAGE_CHANNELS


@dataclass(frozen=True)
class LossModuleTraining:
    """How a trial trains its loss-prediction module beside the task model (learning loss asks for it)."""

    hidden_dim: int
    """Units per stage in the module."""
    margin: float
    """Pair-loss margin xi."""
    weight: float
    """Weight lambda of the module's loss term."""
    detach_epoch: int | None
    """Epoch after which the module's inputs are detached from the backbone; None: 60% of the epochs."""


class LossPredictionModule(nn.Module):
    def __init__(
        self,
        stage_channels: Sequence[int] = STAGE_CHANNELS,
        hidden_dim: int = 128,
        extra_dim: int = 0,
        balance_extra: bool = False,
        spread_momentum: float = 0.1,
    ):
        super().__init__()
        self.stage_maps = nn.ModuleList(nn.Linear(channels, hidden_dim) for channels in stage_channels)
        self.extra_dim = extra_dim
        self.head = nn.Linear(hidden_dim * len(stage_channels) + extra_dim, 1)
        self.balance_extra = bool(balance_extra and extra_dim)
        self.spread_momentum = spread_momentum
        if self.balance_extra:
            # Registered only when used, so plain and raw-mode modules keep their state dicts.
            self.register_buffer("c_spread", torch.zeros((), dtype=torch.float64))
            self.register_buffer("c_spread_batches", torch.zeros((), dtype=torch.long))

    def head_input(self, stages: Sequence[torch.Tensor], extra: torch.Tensor | None = None) -> torch.Tensor:
        """What the last layer sees: c, or [c ⁀ VAE block], shape (B, 4 * hidden_dim + extra_dim)."""
        pooled = [
            torch.relu(layer(stage.mean(dim=(2, 3))))
            for layer, stage in zip(self.stage_maps, stages, strict=True)
        ]
        c = torch.cat(pooled, dim=1)
        if not self.extra_dim:
            return c
        if extra is None or extra.shape[1] != self.extra_dim:
            raise ValueError(f"loss module expects {self.extra_dim} extra features per sample")
        extra = extra.to(c.dtype)
        if self.balance_extra:
            extra = extra * self._c_spread(c).to(c.dtype)
        return torch.cat([c, extra], dim=1)

    def forward(self, stages: Sequence[torch.Tensor], extra: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted loss, shape (B,). ``extra``: (B, extra_dim) alpha-scaled VAE features or None."""
        return self.head(self.head_input(stages, extra)).squeeze(1)

    def _c_spread(self, c: torch.Tensor) -> torch.Tensor:
        """c's RMS spread: this batch's while training (updating the running value), else the running one."""
        if not self.training:
            return self.c_spread
        with torch.no_grad():
            c64 = c.detach().to(torch.float64)
            spread = (c64 - c64.mean(0)).pow(2).sum(1).mean().sqrt()
            if int(self.c_spread_batches) == 0:
                self.c_spread.copy_(spread)
            else:
                self.c_spread.lerp_(spread, self.spread_momentum)
            self.c_spread_batches += 1
        return spread


def pair_margin_loss(predicted: torch.Tensor, target: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """Ranking loss on pairs (i, B-1-i) of the batch (reference ``LossPredLoss``).

    max(0, -sign(l_i - l_j) (p_i - p_j) + margin), averaged over pairs; target losses are detached so
    the loss module cannot move the task model's losses. An odd batch drops its last sample.
    """
    usable = (len(predicted) // 2) * 2
    if usable == 0:
        return predicted.sum() * 0.0
    predicted, target = predicted[:usable], target[:usable].detach()
    predicted_diff = (predicted - predicted.flip(0))[: usable // 2]
    target_diff = (target - target.flip(0))[: usable // 2]
    sign = 2 * torch.sign(torch.clamp(target_diff, min=0)) - 1  # +1 where l_i > l_j, else -1
    return torch.clamp(margin - sign * predicted_diff, min=0).sum() / predicted_diff.shape[0]
