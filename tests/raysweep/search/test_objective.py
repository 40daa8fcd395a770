"""What a search judges by: a trial's curve summarised, the mean over seeds, the median rule."""

from __future__ import annotations

import math

import pytest

from raysweep.loop import RoundResult
from raysweep.search.config import Objective
from raysweep.search.objective import behind_median, is_better, mean_objective, trial_objective


def test_trial_objective_area_and_final() -> None:
    curve = [
        RoundResult(0, 100, {"accuracy": 0.5, "vae_share": 0.2}),
        RoundResult(1, 200, {"accuracy": 0.7, "vae_share": 0.4}),
        RoundResult(2, 400, {"accuracy": 0.8}),
    ]
    # trapezoid: (0.5+0.7)/2*100 + (0.7+0.8)/2*200 = 60 + 150 = 210, over 300 labels
    assert trial_objective(curve, Objective(metric="accuracy")) == pytest.approx(0.7)
    assert trial_objective(curve, Objective(metric="accuracy", summary="final")) == pytest.approx(0.8)
    # The default reads validation, which this curve does not log: no number rather than test's.
    assert math.isnan(trial_objective(curve, Objective()))
    assert trial_objective(curve, Objective(metric="vae_share", summary="final")) == pytest.approx(0.4)
    assert math.isnan(trial_objective(curve, Objective(metric="plain_overlap")))
    assert trial_objective(curve[:1], Objective(metric="accuracy")) == 0.5  # one round: its value


def test_mean_objective_over_the_finite_seeds() -> None:
    assert mean_objective([0.6, 0.7, 0.8]) == pytest.approx(0.7)
    assert mean_objective([0.6, math.nan]) == 0.6
    assert math.isnan(mean_objective([math.nan])) and math.isnan(mean_objective([]))


def test_better_and_behind_the_median_in_both_modes() -> None:
    assert is_better(0.8, 0.7, "max") and is_better(0.7, 0.8, "min") and not is_better(0.7, 0.7, "max")
    assert behind_median(0.5, [0.4, 0.6, 0.7], "max") and not behind_median(0.65, [0.4, 0.6, 0.7], "max")
    assert behind_median(0.7, [0.4, 0.6, 0.7], "min") and not behind_median(0.5, [], "max")
    assert not behind_median(0.6, [0.4, 0.6, 0.7], "max")  # at the median is not behind it
    assert not behind_median(math.nan, [0.4], "max") and behind_median(0.3, [0.4, math.nan], "max")
