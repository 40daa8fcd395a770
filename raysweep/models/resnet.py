"""ResNet-18 task model for small images (28x28 MNIST/MedMNIST, 8x8 digits).

torchvision's resnet18 unchanged (so ImageNet weights load as they are), with the input mapped to
the three channels the pretrained stem expects (REFERENCE.md): one-channel images are repeated
(``stem: repeat``) or passed through a learnt 1x1 convolution (``stem: conv1x1``). The forward pass
returns what every heuristic needs in one go: logits, the 512-d penultimate features T_f(x), and the
four residual stages' outputs for the loss-prediction module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, NamedTuple

import torch
from torch import nn
from torchvision.models import resnet18

IMAGENET_WEIGHTS_FILE = "resnet18-f37072fd.pth"
"""File name torchvision's ``ResNet18_Weights.IMAGENET1K_V1`` downloads into torch's hub cache."""

STAGE_CHANNELS = (64, 128, 256, 512)
FEATURE_DIM = 512


class WeightsError(FileNotFoundError):
    """Pretrained weights were asked for but cannot be read."""


class TaskOutput(NamedTuple):
    logits: torch.Tensor
    """(B, num_outputs)."""
    features: torch.Tensor
    """(B, 512) penultimate features."""
    stages: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]
    """Outputs of layer1..layer4, (B, 64|128|256|512, h, w)."""


def default_weights_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / IMAGENET_WEIGHTS_FILE


def load_imagenet_state_dict(weights_path: Path | None) -> dict[str, torch.Tensor]:
    """Read torchvision's resnet18 ImageNet state dict from a file (never downloads)."""
    path = Path(weights_path) if weights_path is not None else default_weights_path()
    if not path.is_file():
        raise WeightsError(
            f"ImageNet weights for resnet18 not found at {path}. Put torchvision's {IMAGENET_WEIGHTS_FILE} "
            "there (or set model.weights_path to it), or set model.pretrained: false to train from scratch."
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: say which, not torch's internals
        raise WeightsError(
            f"{path}: not a readable resnet18 state dict ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(state, dict) or "conv1.weight" not in state:
        raise WeightsError(f"{path}: not a resnet18 state dict (no conv1.weight)")
    return state


class ResNet18Task(nn.Module):
    def __init__(
        self,
        in_channels: int,
        num_outputs: int,
        stem: Literal["repeat", "conv1x1"] = "repeat",
        imagenet_state: dict[str, torch.Tensor] | None = None,
        dropout: float = 0.0,
    ) -> None:
        """``dropout``: rate of a dropout layer before the classifier (MC-dropout BALD). 0 leaves the
        layer out altogether (an identity: no random draw, the same state dict), so models without it
        train bit for bit as they did before it existed."""
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        backbone = resnet18(weights=None)
        if imagenet_state is not None:
            backbone.load_state_dict(imagenet_state)
        backbone.fc = nn.Linear(FEATURE_DIM, num_outputs)
        self.backbone = backbone
        self.dropout_rate = dropout
        self.dropout: nn.Module = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.repeat_channels = in_channels == 1 and stem == "repeat"
        if in_channels == 3 or self.repeat_channels:
            self.input_map: nn.Module = nn.Identity()
        else:
            # A learnt mix into RGB; initialised to an average so a pretrained stem sees grey images.
            self.input_map = nn.Conv2d(in_channels, 3, kernel_size=1, bias=False)
            nn.init.constant_(self.input_map.weight, 1.0 / in_channels)

    def forward(self, x: torch.Tensor) -> TaskOutput:
        if self.repeat_channels:
            x = x.expand(-1, 3, -1, -1)
        x = self.input_map(x)
        net = self.backbone
        x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
        stage1 = net.layer1(x)
        stage2 = net.layer2(stage1)
        stage3 = net.layer3(stage2)
        stage4 = net.layer4(stage3)
        features = torch.flatten(net.avgpool(stage4), 1)
        # T_f(x) is the features before the dropout: what distance-based heuristics and MC passes read.
        return TaskOutput(net.fc(self.dropout(features)), features, (stage1, stage2, stage3, stage4))
