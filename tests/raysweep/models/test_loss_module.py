"""The loss-prediction module (Yoo & Kweon): its pair margin loss, and the VAE block it concatenates
to c, balanced to alpha times c's spread however large c grows."""

from __future__ import annotations

import pytest
import torch

from raysweep.heuristics.weighting import loss_module_vae_block, rms_spread
from raysweep.models.loss_module import LossPredictionModule, pair_margin_loss

VAE = torch.tensor([[1.0], [1.0], [3.0], [3.0]])  # spread 1


def stages(batch: int, scale: float, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.rand(batch, c, 2, 2, generator=gen) * scale for c in (64, 128, 256, 512)]


def test_pair_margin_loss_known_answers() -> None:
    # Pairs (0, 3) and (1, 2). Pair 0: l0 > l3 and p0 - p3 = 2 >= margin: 0. Pair 1: l1 < l2, so the
    # sign is -1 and p1 - p2 = 0.5 costs 1 + 0.5 = 1.5. Mean over the two pairs: 0.75.
    predicted = torch.tensor([3.0, 1.0, 0.5, 1.0])
    target = torch.tensor([2.0, 0.0, 1.0, 1.0])
    assert pair_margin_loss(predicted, target).item() == pytest.approx(0.75)
    assert pair_margin_loss(predicted, target, margin=0.0).item() == pytest.approx(0.25)
    # An odd batch drops its last sample; one sample has no pair: zero, still on the graph.
    assert pair_margin_loss(
        torch.cat([predicted, torch.tensor([9.0])]), torch.cat([target, torch.tensor([0.0])])
    ).item() == pytest.approx(0.75)
    single = torch.tensor([1.0], requires_grad=True)
    loss = pair_margin_loss(single, torch.tensor([1.0]))
    assert loss.item() == 0.0 and loss.requires_grad


def test_head_input_width_and_the_extra_block_it_needs() -> None:
    torch.manual_seed(0)
    plain = LossPredictionModule()
    assert plain.head_input(stages(3, 1.0)).shape == (3, 4 * 128)
    assert plain(stages(3, 1.0)).shape == (3,)
    with_vae = LossPredictionModule(extra_dim=2)
    assert with_vae.head_input(stages(3, 1.0), torch.ones(3, 2)).shape == (3, 4 * 128 + 2)
    with pytest.raises(ValueError, match="expects 2 extra features per sample"):
        with_vae.head_input(stages(3, 1.0))


def test_balanced_loss_module_scales_the_vae_block_to_alpha_times_c():
    torch.manual_seed(0)
    module = LossPredictionModule(extra_dim=1, balance_extra=True)
    extra = loss_module_vae_block(VAE.repeat(4, 1), 0.5, "balanced")  # spread 0.5
    for scale in (1.0, 50.0):  # however large c gets, the VAE block follows it
        module.train()
        head_input = module.head_input(stages(16, scale), extra)
        c_spread, vae_spread = rms_spread(head_input[:, :512]), rms_spread(head_input[:, 512:])
        assert vae_spread == pytest.approx(0.5 * c_spread, rel=1e-5)
    # Inference uses the running value: deterministic, independent of the batch it scores.
    module.eval()
    batch = stages(16, 50.0, seed=1)
    with torch.no_grad():
        whole = module.head_input(batch, extra)[:3]
        first_three = module.head_input([s[:3] for s in batch], extra[:3])
    assert torch.allclose(whole, first_three, rtol=1e-5, atol=1e-5)
    assert torch.allclose(whole[:, 512:], extra[:3] * float(module.c_spread))
    assert float(module.c_spread) > 0 and int(module.c_spread_batches) == 2


def test_plain_and_raw_loss_modules_keep_their_state_dicts():
    assert set(LossPredictionModule(extra_dim=4).state_dict()) == set(
        LossPredictionModule(extra_dim=4, balance_extra=False).state_dict()
    )
    balanced = set(LossPredictionModule(extra_dim=4, balance_extra=True).state_dict())
    assert balanced - set(LossPredictionModule(extra_dim=4).state_dict()) == {"c_spread", "c_spread_batches"}
    assert "c_spread" not in LossPredictionModule(extra_dim=0, balance_extra=True).state_dict()
