"""BADGE: k-means++ on the gradient embeddings, never materialised, and its VAE blocks weighed as
core-set's are."""

from __future__ import annotations

import math

import pytest
import torch
from helpers.selection import make_context, select

from raysweep.heuristics.badge import gradient_embedding_spread, gradient_factor
from raysweep.heuristics.weighting import rms_spread


def materialised_gradient_embedding(logits: torch.Tensor, features: torch.Tensor, multi_label: bool):
    factor = gradient_factor(logits, multi_label).double()
    return (factor[:, :, None] * features.double()[:, None, :]).reshape(len(logits), -1)


@pytest.mark.parametrize("multi_label", [False, True])
def test_badge_distances_equal_the_materialised_gradient_embedding(multi_label):
    gen = torch.Generator().manual_seed(3)
    n = 50
    logits, features = 3 * torch.randn(n, 4, generator=gen), torch.relu(torch.randn(n, 6, generator=gen))
    labeled = torch.zeros(n, dtype=torch.bool)
    labeled[::5] = True
    context = make_context(features, labeled, logits=logits, multi_label=multi_label, seed=4)
    selection = select("badge", context, 20)
    g = materialised_gradient_embedding(logits, features, multi_label)
    picks = selection.indices
    assert not labeled[picks].any() and len(set(picks.tolist())) == 20
    # The first centre: the largest gradient-embedding norm among the unlabeled points.
    norms = g.norm(dim=1).masked_fill(labeled, -1)
    assert picks[0].item() == int(norms.argmax())
    assert selection.scores[0].item() == pytest.approx(norms.max().item(), rel=1e-5)
    # Every later score is the pick's distance to its nearest earlier pick in the materialised space.
    for step in range(1, 20):
        nearest = (g[picks[:step]] - g[picks[step]]).norm(dim=1).min()
        assert selection.scores[step].item() == pytest.approx(
            nearest.item(), rel=1e-4, abs=1e-3 * norms.max().item()
        )


def test_gradient_factor_known_values():
    multi_class = gradient_factor(torch.tensor([[0.0, 0.0], [math.log(3), 0.0]]), multi_label=False)
    assert multi_class.tolist() == [pytest.approx([-0.5, 0.5]), pytest.approx([-0.25, 0.25])]
    multi_label = gradient_factor(torch.tensor([[math.log(3), -math.log(3), 0.0]]), multi_label=True)
    assert multi_label.tolist() == [pytest.approx([-0.25, 0.25, 0.5])]  # 0 is predicted negative


def test_gradient_embedding_spread_is_the_materialised_one():
    gen = torch.Generator().manual_seed(8)
    logits, features = torch.randn(300, 5, generator=gen), torch.randn(300, 7, generator=gen) + 2
    g = materialised_gradient_embedding(logits, features, multi_label=False)
    assert gradient_embedding_spread(gradient_factor(logits, False), features) == pytest.approx(
        rms_spread(g), rel=1e-9
    )


def test_badge_vae_blocks_weigh_like_core_set_s():
    gen = torch.Generator().manual_seed(11)
    n = 60
    logits, features = torch.randn(n, 3, generator=gen), torch.relu(torch.randn(n, 5, generator=gen))
    embeddings = torch.randn(n, 2, generator=gen)
    labeled = torch.zeros(n, dtype=torch.bool)
    labeled[:6] = True

    def badge(**kwargs):
        return select("badge", make_context(features, labeled, logits=logits, seed=1, **kwargs), 10)

    plain = badge()
    zero = badge(embeddings=embeddings * 100, alpha=0.0)
    assert torch.equal(plain.indices, zero.indices) and zero.diagnostics == {}
    balanced = badge(embeddings=embeddings, alpha=2.0)
    assert balanced.diagnostics["vae_share"] == pytest.approx(0.8)
    assert balanced.diagnostics["task_feature_spread"] == pytest.approx(1.0)
    # Balanced: the same picks whatever the blocks' own scales (the point of balancing).
    rescaled = select(
        "badge",
        make_context(features * 30, labeled, logits=logits, seed=1, embeddings=embeddings * 0.05, alpha=2.0),
        10,
    )
    assert torch.equal(balanced.indices, rescaled.indices)
    # The VAE end: k-means++ on V alone, first centre the largest ||V|| among the unlabeled.
    vae_only = badge(embeddings=embeddings, alpha=math.inf)
    assert vae_only.diagnostics["vae_share"] == 1.0
    assert vae_only.indices[0].item() == int(embeddings.norm(dim=1).masked_fill(labeled, -1).argmax())
    raw = badge(embeddings=embeddings, alpha=0.5, alpha_scaling="raw")
    assert raw.diagnostics["equivalent_raw_alpha"] == 0.5
