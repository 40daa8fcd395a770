"""Loss-prediction module and pair margin loss (Yoo & Kweon 2019, as in their reference code).

Each residual stage's output is global-average-pooled and mapped to ``hidden_dim`` units with ReLU;
the four are concatenated into c (4 x 128 = 512). With VAE augmentation the paper concatenates
alpha-scaled VAE features V(x) to c before the last layer, so the final linear layer sees
``[c ⁀ alpha V(x)]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from raysweep.models.resnet import STAGE_CHANNELS


class LossPredictionModule(nn.Module):
    def __init__(
        self, stage_channels: Sequence[int] = STAGE_CHANNELS, hidden_dim: int = 128, extra_dim: int = 0
    ):
        super().__init__()
        self.stage_maps = nn.ModuleList(nn.Linear(channels, hidden_dim) for channels in stage_channels)
        self.extra_dim = extra_dim
        self.head = nn.Linear(hidden_dim * len(stage_channels) + extra_dim, 1)

    def forward(self, stages: Sequence[torch.Tensor], extra: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted loss, shape (B,). ``extra``: (B, extra_dim) alpha-scaled VAE features or None."""
        pooled = [
            torch.relu(layer(stage.mean(dim=(2, 3))))
            for layer, stage in zip(self.stage_maps, stages, strict=True)
        ]
        c = torch.cat(pooled, dim=1)
        if self.extra_dim:
            if extra is None or extra.shape[1] != self.extra_dim:
                raise ValueError(f"loss module expects {self.extra_dim} extra features per sample")
            c = torch.cat([c, extra.to(c.dtype)], dim=1)
        return self.head(c).squeeze(1)


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
