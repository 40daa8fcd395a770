"""Random: a uniform, seeded subset of the unlabeled points."""

from __future__ import annotations

import torch
from helpers.selection import make_context, select


def test_random_is_uniform_over_unlabeled_and_seeded():
    labeled = torch.zeros(30, dtype=torch.bool)
    labeled[:10] = True
    picks = [
        select("random", make_context(torch.zeros(30, 2), labeled, seed=s), 5).indices.tolist()
        for s in range(3)
    ]
    assert all(min(p) >= 10 for p in picks)
    assert picks[0] != picks[1]
