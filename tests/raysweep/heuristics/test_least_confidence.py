"""Least confidence: one minus the top class's probability; for multi-label data the mean over labels
of min(p, 1 - p)."""

from __future__ import annotations

import math

import pytest
import torch
from helpers.selection import make_context, no_labels, select


def test_least_confidence_ranks_by_the_top_probability():
    # Row 0: p = (.5, .5, 0): confidence .5. Row 1: p = (.4, .3, .3): confidence .4, the least
    # confident (margin ranks rows 0 and 1 the other way round). Row 2: p = (.9, .05, .05): sure.
    probabilities = torch.tensor([[0.5, 0.5, 1e-9], [0.4, 0.3, 0.3], [0.9, 0.05, 0.05]])
    context = make_context(torch.zeros(3, 2), no_labels(3), logits=probabilities.log())
    least = select("least_confidence", context, 3)
    assert least.indices.tolist() == [1, 0, 2]
    assert least.scores.tolist() == pytest.approx([0.6, 0.5, 0.1], abs=1e-6)


def test_multi_label_least_confidence_averages_per_label_scores():
    # Per-label min(p, 1 - p) = sigmoid(-|z|), averaged. Row 0: both labels at p = .5. Row 1: one at
    # .5, one at logit -1. Row 2: one at .5, one saturated. Row 3: both saturated.
    logits = torch.tensor([[0.0, 0.0], [0.0, -1.0], [0.0, 200.0], [-200.0, 200.0]])
    context = make_context(torch.zeros(4, 2), no_labels(4), logits=logits, multi_label=True)
    selection = select("least_confidence", context, 4)
    assert selection.indices.tolist() == [0, 1, 2, 3]
    assert selection.scores.tolist() == pytest.approx(
        [0.5, (0.5 + 1 / (1 + math.e)) / 2, 0.25, 0.0], abs=1e-6
    )
