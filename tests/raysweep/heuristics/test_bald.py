"""BALD: the mutual information of MC-dropout passes over the classifier, known answers, and passes
that follow the trial's generator."""

from __future__ import annotations

import math

import pytest
import torch
from helpers.selection import make_context, no_labels, select

from raysweep.heuristics import ClassifierHead, build_heuristic
from raysweep.heuristics.bald import BaldHeuristicConfig, mc_dropout_logits, mutual_information


def two_class_head(w: float, dropout: float = 0.5, labels: int | None = None) -> ClassifierHead:
    """d = 1 feature; logits (w h, -w h) for two classes, or ``labels`` labels of logit w h each."""
    rows = labels if labels is not None else 2
    weight = torch.full((rows, 1), w) if labels is not None else torch.tensor([[w], [-w]])
    return ClassifierHead(weight=weight, bias=torch.zeros(rows), dropout=dropout)


def test_bald_is_zero_for_a_deterministic_model():
    # A classifier that ignores its input: every pass gives the same prediction, no disagreement.
    head = ClassifierHead(weight=torch.zeros(3, 4), bias=torch.tensor([1.0, 0.0, -1.0]), dropout=0.5)
    gen = torch.Generator().manual_seed(0)
    logits = mc_dropout_logits(torch.randn(6, 4, generator=gen), head, 20, torch.Generator().manual_seed(1))
    assert mutual_information(logits, multi_label=False).abs().max() < 1e-12
    assert mutual_information(logits, multi_label=True).abs().max() < 1e-12
    context = make_context(torch.randn(6, 4, generator=gen), no_labels(6), head=head)
    selection = select("bald", context, 6)
    assert selection.indices.tolist() == list(range(6))  # all zero: the index breaks the ties
    assert selection.scores.abs().max() < 1e-6


@pytest.mark.parametrize("multi_label", [False, True])
def test_bald_known_mutual_information(multi_label):
    """Dropout 0.5 on one feature h = 1 with a large weight: half the passes are sure of class 0, half
    see logit 0 (p = 1/2). MI = H(3/4, 1/4) - ln(2)/2 = 0.2158 nats; per label for multi-label, summed.
    A point with h = 0 never changes its prediction: MI 0."""
    labels = 2 if multi_label else None
    head = two_class_head(50.0, labels=labels)
    features = torch.tensor([[0.0], [1.0]])
    logits = mc_dropout_logits(features, head, 20_000, torch.Generator().manual_seed(0))
    scores = mutual_information(logits, multi_label)
    per_point = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25)) - math.log(2) / 2
    assert scores[0].item() == pytest.approx(0.0, abs=1e-12)
    assert scores[1].item() == pytest.approx(per_point * (2 if multi_label else 1), abs=0.01)
    context = make_context(
        features, no_labels(2), logits=torch.zeros(2, 2), head=head, multi_label=multi_label
    )
    assert build_heuristic(BaldHeuristicConfig(mc_passes=200)).select(context, 1).indices.tolist() == [1]


def test_bald_passes_follow_the_trial_s_generator():
    gen = torch.Generator().manual_seed(5)
    features, logits = torch.randn(30, 6, generator=gen), torch.randn(30, 4, generator=gen)
    heuristic = build_heuristic(BaldHeuristicConfig(mc_passes=3))

    def scores(seed: int) -> torch.Tensor:
        context = make_context(features, no_labels(30), logits=logits, seed=seed)
        return heuristic.score(context, context.unlabeled_indices())

    assert torch.equal(scores(0), scores(0))
    assert not torch.equal(scores(0), scores(1))


def test_bald_without_dropout_says_so():
    head = ClassifierHead(weight=torch.ones(3, 2), bias=torch.zeros(3), dropout=0.0)
    with pytest.raises(RuntimeError, match="no dropout"):
        select("bald", make_context(torch.zeros(4, 2), no_labels(4), head=head), 2)
