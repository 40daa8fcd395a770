"""The ResNet-18 task model: any channel count into the pretrained stem, one forward pass giving
logits, features and the four stages, dropout only where asked, and the ImageNet weights' errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torchvision.models import resnet18

from raysweep.models.resnet import (
    FEATURE_DIM,
    IMAGENET_WEIGHTS_FILE,
    STAGE_CHANNELS,
    ResNet18Task,
    WeightsError,
    load_imagenet_state_dict,
)


@pytest.mark.parametrize(
    ("channels", "stem", "mapped"),
    [(1, "repeat", False), (1, "conv1x1", True), (3, "repeat", False), (2, "repeat", True)],
)
def test_forward_gives_logits_features_and_stages(channels: int, stem: str, mapped: bool) -> None:
    torch.manual_seed(0)
    model = ResNet18Task(channels, 7, stem=stem).eval()
    out = model(torch.randn(2, channels, 28, 28))
    assert out.logits.shape == (2, 7) and out.features.shape == (2, FEATURE_DIM)
    assert [s.shape[1] for s in out.stages] == list(STAGE_CHANNELS)
    assert isinstance(model.input_map, torch.nn.Conv2d) == mapped
    if mapped:  # a learnt mix into RGB, starting as the channels' average
        assert torch.allclose(model.input_map.weight, torch.full((3, channels, 1, 1), 1 / channels))


def test_dropout_is_in_the_model_only_when_asked_and_only_in_training():
    torch.manual_seed(0)
    plain = ResNet18Task(1, 10)
    torch.manual_seed(0)
    with_dropout = ResNet18Task(1, 10, dropout=0.5)
    assert isinstance(plain.dropout, torch.nn.Identity) and plain.dropout_rate == 0.0
    # The dropout layer has no parameters: the same initial weights, the same state dict keys.
    assert plain.state_dict().keys() == with_dropout.state_dict().keys()
    assert all(
        torch.equal(a, b)
        for a, b in zip(plain.state_dict().values(), with_dropout.state_dict().values(), strict=True)
    )
    x = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    with_dropout.eval()
    plain.eval()
    first, second = with_dropout(x), with_dropout(x)
    assert torch.equal(first.logits, second.logits) and torch.equal(first.logits, plain(x).logits)
    with_dropout.train()
    plain.train()
    a, b = with_dropout(x), with_dropout(x)
    assert torch.equal(a.features, b.features)  # T_f is taken before the dropout
    assert not torch.equal(a.logits, b.logits)
    with pytest.raises(ValueError, match="dropout"):
        ResNet18Task(1, 10, dropout=1.0)


def test_imagenet_weights_load_from_a_file_and_say_what_is_wrong(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.pth"
    with pytest.raises(WeightsError, match="pretrained: false") as raised:
        load_imagenet_state_dict(missing)
    assert str(missing) in str(raised.value) and IMAGENET_WEIGHTS_FILE in str(raised.value)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a state dict")
    with pytest.raises(WeightsError, match="not a readable resnet18 state dict"):
        load_imagenet_state_dict(garbage)
    foreign = tmp_path / "foreign.pth"
    torch.save({"weight": torch.zeros(1)}, foreign)
    with pytest.raises(WeightsError, match=r"not a resnet18 state dict \(no conv1.weight\)"):
        load_imagenet_state_dict(foreign)
    torch.manual_seed(0)
    state = resnet18(weights=None).state_dict()  # ImageNet's shapes: 1000 classes
    saved = tmp_path / IMAGENET_WEIGHTS_FILE
    torch.save(state, saved)
    loaded = load_imagenet_state_dict(saved)
    model = ResNet18Task(1, 10, imagenet_state=loaded)
    assert torch.equal(model.backbone.conv1.weight, state["conv1.weight"])
    assert model.backbone.fc.out_features == 10  # the classifier is the task's, not ImageNet's
