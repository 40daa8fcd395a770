"""Learning loss: the highest predicted losses within a random subset, and the blocks of its head input."""

from __future__ import annotations

import pytest
import torch
from helpers.selection import make_context, select

from raysweep.heuristics import PoolInference, SelectionContext, build_heuristic
from raysweep.heuristics.lloss import LLossHeuristicConfig


def test_lloss_picks_the_highest_predicted_loss_within_its_subset():
    n = 50
    loss = torch.arange(n, dtype=torch.float32)
    context = make_context(torch.zeros(n, 2), torch.zeros(n, dtype=torch.bool), predicted_loss=loss, seed=3)
    heuristic = build_heuristic(LLossHeuristicConfig(subset_size=10))
    subset = heuristic.candidates(make_context(torch.zeros(n, 2), torch.zeros(n, dtype=torch.bool), seed=3))
    assert len(subset) == 10
    selection = heuristic.select(context, 3)
    assert selection.indices.tolist() == sorted(subset.tolist(), reverse=True)[:3]
    # Fewer unlabeled points than the subset size: all are scored.
    everything = build_heuristic(LLossHeuristicConfig(subset_size=1000)).select(context, 2)
    assert everything.indices.tolist() == [49, 48]


def test_lloss_without_a_loss_module_says_so():
    context = make_context(torch.zeros(5, 2), torch.zeros(5, dtype=torch.bool))
    with pytest.raises(RuntimeError, match="loss-prediction module"):
        select("lloss", context, 2)


def test_lloss_reports_the_blocks_of_its_head_input():
    n = 30
    gen = torch.Generator().manual_seed(3)
    head_input = torch.cat([torch.randn(n, 8, generator=gen) * 3.0, torch.randn(n, 2, generator=gen)], dim=1)
    embeddings = torch.randn(n, 2, generator=gen)

    def infer(indices):
        return PoolInference(
            logits=torch.zeros(len(indices), 3),
            features=torch.zeros(len(indices), 4),
            predicted_loss=head_input[indices, 0],
            loss_head_input=head_input[indices],
        )

    labeled = torch.zeros(n, dtype=torch.bool)
    context = SelectionContext(
        labeled_mask=labeled,
        infer=infer,
        generator=torch.Generator().manual_seed(0),
        device=torch.device("cpu"),
        embeddings=embeddings,
        alpha=1.0,
    )
    selection = build_heuristic(LLossHeuristicConfig(subset_size=1000)).select(context, 5)
    task = float((head_input[:, :8] - head_input[:, :8].mean(0)).pow(2).sum(1).mean().sqrt())
    vae = float((head_input[:, 8:] - head_input[:, 8:].mean(0)).pow(2).sum(1).mean().sqrt())
    assert selection.diagnostics["task_feature_spread"] == pytest.approx(task)
    assert selection.diagnostics["vae_feature_spread"] == pytest.approx(vae)
    assert selection.diagnostics["vae_share"] == pytest.approx(vae**2 / (task**2 + vae**2))
    assert selection.indices.tolist() == torch.argsort(head_input[:, 0], descending=True)[:5].tolist()
