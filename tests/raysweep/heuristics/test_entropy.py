"""Entropy: the softmax's entropy, and for multi-label data the sum of the labels' binary entropies."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.selection import make_context, select


def test_entropy_picks_the_uniform_row():
    logits = torch.tensor([[5.0, 0.0, 0.0], [0.0, 0.0, 0.0], [2.0, 1.0, 0.0], [100.0, -100.0, 0.0]])
    context = make_context(torch.zeros(4, 2), torch.zeros(4, dtype=torch.bool), logits=logits)
    selection = select("entropy", context, 4)
    assert selection.indices.tolist() == [1, 2, 0, 3]
    assert selection.scores[0].item() == pytest.approx(np.log(3))
    assert torch.isfinite(selection.scores).all()


def test_entropy_multi_label_sums_binary_entropies():
    # Row 0: two labels at p = 0.5 (2 ln 2). Row 1: one at 0.5, one saturated (ln 2). Row 2: sure.
    logits = torch.tensor([[0.0, 0.0], [0.0, 200.0], [-200.0, 200.0]])
    context = make_context(
        torch.zeros(3, 2), torch.zeros(3, dtype=torch.bool), logits=logits, multi_label=True
    )
    selection = select("entropy", context, 3)
    assert selection.indices.tolist() == [0, 1, 2]
    assert selection.scores.tolist() == pytest.approx([2 * np.log(2), np.log(2), 0.0], abs=1e-6)
