"""Margin: one minus the gap between the two most probable classes; for multi-label data the mean
over labels of each label's margin."""

from __future__ import annotations

import math

import pytest
import torch
from helpers.selection import make_context, no_labels, select


def test_margin_ranks_by_the_gap_of_the_top_two():
    # Row 0: p = (.5, .5, 0): top-2 tie (margin 0). Row 1: p = (.4, .3, .3): margin .1. Row 2:
    # p = (.9, .05, .05): sure. (Least confidence ranks rows 0 and 1 the other way round.)
    probabilities = torch.tensor([[0.5, 0.5, 1e-9], [0.4, 0.3, 0.3], [0.9, 0.05, 0.05]])
    context = make_context(torch.zeros(3, 2), no_labels(3), logits=probabilities.log())
    margin = select("margin", context, 3)
    assert margin.indices.tolist() == [0, 1, 2]
    assert margin.scores.tolist() == pytest.approx([1.0, 0.9, 0.15], abs=1e-6)


def test_margin_picks_the_closest_top_two_and_breaks_ties_by_index():
    logits = torch.tensor(
        [[3.0, 0.0, 0.0], [1.0, 1.0, -5.0], [2.0, 1.5, 0.0], [0.0, 0.0, 0.0], [80.0, -80.0, 0.0]]
    )
    selection = select("margin", make_context(torch.zeros(5, 2), no_labels(5), logits=logits), 5)
    assert selection.indices.tolist() == [1, 3, 2, 0, 4]  # rows 1 and 3 both have margin 0
    assert selection.scores[-1].item() == 0.0 and torch.isfinite(selection.scores).all()


def test_multi_label_margin_averages_per_label_margins():
    # Per-label margin |2 sigmoid(z) - 1| = tanh(|z| / 2), averaged; the score is 1 - the mean.
    # Row 0: both labels at p = .5. Row 1: one at .5, one at logit -1. Row 2: one at .5, one
    # saturated. Row 3: both saturated.
    logits = torch.tensor([[0.0, 0.0], [0.0, -1.0], [0.0, 200.0], [-200.0, 200.0]])
    context = make_context(torch.zeros(4, 2), no_labels(4), logits=logits, multi_label=True)
    selection = select("margin", context, 4)
    assert selection.indices.tolist() == [0, 1, 2, 3]
    assert selection.scores.tolist() == pytest.approx([1.0, 1 - math.tanh(0.5) / 2, 0.5, 0.0], abs=1e-6)
