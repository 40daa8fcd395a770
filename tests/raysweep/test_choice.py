"""The choice rule: per group, the VAE arm with the best mean score over every seed."""

from __future__ import annotations

import math

from raysweep.choice import ArmScores, choose_arms

SEEDS = [0, 1, 2]


def arm(group: str, alpha: float, *scores: float) -> ArmScores:
    return ArmScores(group, f"{group}/{alpha:g}/*", alpha, dict(zip(SEEDS, scores, strict=True)))


def test_the_best_mean_wins_per_group_and_alpha_0_is_never_chosen() -> None:
    arms = [
        arm("mnist/coreset", 0.0, 0.99, 0.99, 0.99),  # the reference: best, but not a candidate
        arm("mnist/coreset", 0.5, 0.80, 0.82, 0.81),
        arm("mnist/coreset", 1.0, 0.85, 0.80, 0.84),  # mean 0.83: the best VAE arm
        arm("mnist/medal", 2.0, 0.70, 0.70, 0.70),
        arm("mnist/medal", math.inf, 0.60, 0.90, 0.61),  # mean 0.7033: vae_only can win
    ]
    chosen = choose_arms(arms, SEEDS)
    assert list(chosen) == ["mnist/coreset", "mnist/medal"]
    assert chosen["mnist/coreset"].alpha == 1.0
    assert math.isinf(chosen["mnist/medal"].alpha)
    assert chosen["mnist/coreset"].mean_over(SEEDS) == (0.85 + 0.80 + 0.84) / 3


def test_an_arm_missing_a_seed_or_with_a_nan_is_not_chosen() -> None:
    incomplete = ArmScores("g", "g/0.5/*", 0.5, {0: 0.99, 1: 0.99})  # seed 2 never finished
    with_nan = arm("g", 1.0, 0.99, math.nan, 0.99)
    complete = arm("g", 2.0, 0.10, 0.10, 0.10)
    assert choose_arms([incomplete, with_nan, complete], SEEDS)["g"].alpha == 2.0
    assert math.isnan(incomplete.mean_over(SEEDS)) and math.isnan(with_nan.mean_over(SEEDS))
    assert choose_arms([incomplete, with_nan], SEEDS) == {}


def test_ties_go_to_the_smaller_alpha_in_any_order() -> None:
    small, large = arm("g", 0.5, 0.8, 0.8, 0.8), arm("g", 2.0, 0.8, 0.8, 0.8)
    assert choose_arms([large, small], SEEDS)["g"] is small
    assert choose_arms([small, large], SEEDS)["g"] is small
