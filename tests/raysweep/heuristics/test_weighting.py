"""Weighing the VAE block against the task block: known answers on tiny arrays."""

from __future__ import annotations

import math

import pytest
import torch

from raysweep.heuristics.weighting import (
    block_weights,
    loss_module_vae_block,
    pick_overlap,
    rms_spread,
    vae_share,
    weigh_features,
)

TASK = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0], [2.0, 4.0]])  # spread sqrt(1 + 4) = sqrt(5)
VAE = torch.tensor([[1.0], [1.0], [3.0], [3.0]])  # spread 1


def test_rms_spread_is_the_rms_distance_to_the_centroid():
    assert rms_spread(TASK) == pytest.approx(math.sqrt(5))
    assert rms_spread(VAE) == pytest.approx(1.0)
    assert rms_spread(torch.full((7, 3), 4.0)) == 0.0
    assert rms_spread(torch.zeros(0, 3)) == 0.0
    big = torch.randn(40_000, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert rms_spread(big) == pytest.approx(float((big - big.mean(0)).pow(2).sum(1).mean().sqrt()), rel=1e-12)


def test_vae_share_known_answers():
    assert vae_share(1.0, 1.0) == 0.5
    assert vae_share(3.0, 4.0) == pytest.approx(16 / 25)
    assert vae_share(0.0, 0.0) == 0.0


@pytest.mark.parametrize("alpha", [0.25, 1.0, 2.0])
def test_balanced_weights_put_the_vae_block_at_alpha_times_the_task_block(alpha):
    weights = block_weights(583.0**0.5, 27.0**0.5, alpha, "balanced")
    assert weights.task_spread == pytest.approx(1.0)
    assert weights.vae_spread == pytest.approx(alpha)
    assert weights.vae_share == pytest.approx(alpha**2 / (1 + alpha**2))
    assert weights.equivalent_raw_alpha == pytest.approx(alpha * (583 / 27) ** 0.5)


def test_raw_weights_are_the_paper_s_and_the_issue_s_table():
    # REFERENCE.md: trained ResNet-18 spread 583, VAE 27 (traces of covariance). The VAE block's share
    # at raw alpha 1 is 27 / (583 + 27) = 4.4%, at alpha 4 43%.
    spread_t, spread_v = 583.0**0.5, 27.0**0.5
    assert block_weights(spread_t, spread_v, 1.0, "raw").vae_share == pytest.approx(0.0443, abs=1e-4)
    assert block_weights(spread_t, spread_v, 4.0, "raw").vae_share == pytest.approx(0.4256, abs=1e-4)
    assert block_weights(spread_t, spread_v, 1.0, "raw").equivalent_raw_alpha == 1.0


@pytest.mark.parametrize("scaling", ["raw", "balanced"])
def test_vae_only_end_drops_the_task_block(scaling):
    weights = block_weights(5.0, 2.0, math.inf, scaling)
    assert weights.task_scale == 0 and weights.task_spread == 0 and weights.vae_share == 1.0
    assert math.isinf(weights.equivalent_raw_alpha)
    weighted = weigh_features(TASK, VAE, math.inf, scaling)
    assert weighted.features.shape == (4, 1)
    expected = VAE if scaling == "raw" else VAE / 1.0
    assert torch.allclose(weighted.features, expected)


@pytest.mark.parametrize("scaling", ["raw", "balanced"])
def test_alpha_zero_returns_the_task_features_themselves(scaling):
    weighted = weigh_features(TASK, VAE, 0.0, scaling)
    assert weighted.features is TASK and not weighted.uses_vae and weighted.diagnostics() == {}
    assert weigh_features(TASK, None, 1.0, scaling).features is TASK


def test_raw_is_the_literal_concatenation_bit_for_bit():
    gen = torch.Generator().manual_seed(2)
    task, vae = torch.randn(50, 6, generator=gen), torch.randn(50, 3, generator=gen)
    weighted = weigh_features(task, vae, 0.37, "raw")
    assert torch.equal(weighted.features, torch.cat([task, 0.37 * vae], dim=1))


def test_balanced_blocks_have_spreads_one_and_alpha():
    weighted = weigh_features(TASK, VAE, 2.0, "balanced")
    assert torch.allclose(weighted.features[:, :2], TASK / math.sqrt(5))
    assert torch.allclose(weighted.features[:, 2:], 2.0 * VAE)
    assert rms_spread(weighted.features[:, :2]) == pytest.approx(1.0)
    assert rms_spread(weighted.features[:, 2:]) == pytest.approx(2.0)
    diagnostics = weighted.diagnostics()
    assert diagnostics["vae_share"] == pytest.approx(0.8)
    assert diagnostics["task_feature_spread"] == pytest.approx(1.0)
    assert diagnostics["vae_feature_spread"] == pytest.approx(2.0)


def test_a_constant_block_is_not_divided_by_zero():
    weighted = weigh_features(TASK, torch.ones(4, 2), 1.0, "balanced")
    assert torch.isfinite(weighted.features).all()
    assert weighted.diagnostics()["vae_share"] == 0.0


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="scaling"):
        block_weights(1.0, 1.0, 1.0, "bogus")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="alpha"):
        block_weights(1.0, 1.0, float("nan"), "raw")
    with pytest.raises(ValueError, match="finite"):
        loss_module_vae_block(VAE, math.inf, "balanced")


def test_pick_overlap():
    assert pick_overlap(torch.tensor([1, 2, 3, 4]), torch.tensor([4, 3, 9, 8])) == 0.5
    assert pick_overlap(torch.tensor([5]), torch.tensor([5])) == 1.0
    assert pick_overlap(torch.tensor([], dtype=torch.long), torch.tensor([1])) == 1.0


def test_loss_module_vae_block():
    assert torch.equal(loss_module_vae_block(VAE, 0.5, "raw"), 0.5 * VAE)
    assert rms_spread(loss_module_vae_block(VAE * 7, 0.5, "balanced")) == pytest.approx(0.5)
