"""analysis.diagnostic_stats: pick diagnostics per trial and per arm, overlap baselines, the training
criterion. Known answers on small hand-made frames, then on MLflow stores written with the real mlflow
client (tests/analysis/conftest.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers.analysis_sweeps import ARMS, BASELINE_ARMS, UNDERFIT
from helpers.tidy_frames import tidy
from scipy import stats as sps

from analysis import diagnostic_stats


def diagnostics_frame(heuristic: str, alpha: float, per_seed: dict[int, list[tuple[int, float, float]]]):
    """(seed -> [(n_labels, vae_share, plain_overlap)]) plus an accuracy point at every step and one past."""
    rows = []
    for seed, points in per_seed.items():
        steps = [n for n, _, _ in points]
        for n, share, overlap in points:
            rows += [
                (heuristic, alpha, seed, n, "vae_share", share),
                (heuristic, alpha, seed, n, "plain_overlap", overlap),
            ]
        rows += [(heuristic, alpha, seed, n, "accuracy", 0.5) for n in [*steps, steps[-1] + 300]]
    frame = pd.DataFrame(rows, columns=["heuristic", "alpha", "seed", "n_labels", "metric", "value"])
    frame["dataset"] = "d"
    frame["trial_key"] = [f"d/{heuristic}/{alpha:g}/{s}" for s in frame.seed]
    return frame


def test_plain_overlap_is_weighted_by_the_labels_each_round_bought():
    # rounds at 100, 200, 400 labels, then 700: they bought 100, 200 and 300 labels
    frame = diagnostics_frame("coreset", 1.0, {0: [(100, 0.2, 1.0), (200, 0.4, 0.5), (400, 0.6, 0.0)]})
    trial = diagnostic_stats.trial_diagnostics(frame).iloc[0]
    assert trial["plain_overlap"] == pytest.approx((100 * 1.0 + 200 * 0.5 + 300 * 0.0) / 600)
    assert trial["vae_share"] == pytest.approx(0.4) and trial["rounds"] == 3


def test_arms_at_or_above_0_99_overlap_are_flagged():
    frames = [
        diagnostics_frame("coreset", 0.1, {s: [(100, 0.01, 0.99), (200, 0.01, 0.99)] for s in range(3)}),
        diagnostics_frame("coreset", 1.0, {s: [(100, 0.5, 0.989), (200, 0.5, 0.989)] for s in range(3)}),
        diagnostics_frame(
            "medal", 1.0, {s: [(100, 0.5, o), (200, 0.5, o)] for s, o in enumerate((0.6, 0.7, 0.8))}
        ),
    ]
    arms = diagnostic_stats.arm_diagnostics(diagnostic_stats.trial_diagnostics(pd.concat(frames))).set_index(
        ["heuristic", "alpha"]
    )
    assert arms.loc[("coreset", 0.1), "same_picks_as_plain"]
    assert not arms.loc[("coreset", 1.0), "same_picks_as_plain"]
    medal = arms.loc[("medal", 1.0)]
    expected = sps.t.interval(0.95, 2, loc=0.7, scale=sps.sem([0.6, 0.7, 0.8]))
    assert medal["plain_overlap"] == pytest.approx(0.7) and medal["n"] == 3
    assert (medal["plain_overlap_ci_low"], medal["plain_overlap_ci_high"]) == pytest.approx(expected)


def test_arm_diagnostics_from_the_store_flag_the_arm_with_the_plain_picks(alphas):
    arms = diagnostic_stats.arm_diagnostics(diagnostic_stats.trial_diagnostics(alphas.frame)).set_index(
        ["heuristic", "alpha"]
    )
    assert sorted(arms.index) == sorted(ARMS)
    for key, expected in ARMS.items():
        assert arms.loc[key, "vae_share"] == pytest.approx(expected.vae_share) and arms.loc[key, "n"] == 3
    assert arms.loc[("coreset", 0.25), "plain_overlap"] == pytest.approx(0.995)
    assert np.isnan(arms.loc[("lloss", 1.0), "plain_overlap"])  # its model depends on alpha: not logged
    assert arms["same_picks_as_plain"].to_dict() == {key: key == ("coreset", 0.25) for key in ARMS}


# ---------------------------------------------------------------------------------------------
# Overlap baselines
# ---------------------------------------------------------------------------------------------


def overlap_frame(heuristic: str, overlap: float, baseline: float | None, seeds: int = 3) -> pd.DataFrame:
    rows = []
    for seed in range(seeds):
        for n in (100, 200):
            rows += [(seed, n, "plain_overlap", overlap), (seed, n, "vae_share", 0.5)]
            if baseline is not None:
                rows.append((seed, n, "plain_overlap_baseline", baseline))
        rows += [(seed, n, "accuracy", 0.5) for n in (100, 200, 300)]
    frame = pd.DataFrame(rows, columns=["seed", "n_labels", "metric", "value"])
    frame["dataset"], frame["heuristic"], frame["alpha"] = "d", heuristic, 1.0
    frame["trial_key"] = [f"d/{heuristic}/1/{s}" for s in frame.seed]
    return frame


def test_same_picks_is_relative_to_the_plain_heuristics_agreement_with_itself():
    frames = [
        overlap_frame("badge", 0.5, 0.5),  # plain agrees with itself no more than with this arm
        overlap_frame("typiclust", 0.5, 1.0),
        overlap_frame("coreset", 0.99, None),  # deterministic: baseline 1, the old rule
        overlap_frame("medal", 0.989, None),
    ]
    arms = diagnostic_stats.arm_diagnostics(diagnostic_stats.trial_diagnostics(pd.concat(frames))).set_index(
        "heuristic"
    )
    assert arms["same_picks_as_plain"].to_dict() == {
        "badge": True,
        "coreset": True,
        "medal": False,
        "typiclust": False,
    }
    assert arms["plain_overlap_baseline"].to_dict() == {
        "badge": 0.5,
        "coreset": 1.0,
        "medal": 1.0,
        "typiclust": 1.0,
    }
    assert arms.loc["badge", "overlap_ratio"] == pytest.approx(1.0)
    assert arms.loc["typiclust", "overlap_ratio"] == pytest.approx(0.5)


def test_the_baseline_is_weighted_like_the_overlap():
    # rounds at 100 and 200 labels, then 400: they bought 100 and 200 labels
    frame = overlap_frame("badge", 0.5, None, seeds=1)
    frame = frame[~((frame["metric"] == "accuracy") & (frame["n_labels"] == 300))]
    extra = pd.DataFrame(
        [
            (0, 100, "plain_overlap_baseline", 0.9),
            (0, 200, "plain_overlap_baseline", 0.3),
            (0, 400, "accuracy", 0.5),
        ],
        columns=["seed", "n_labels", "metric", "value"],
    ).assign(dataset="d", heuristic="badge", alpha=1.0, trial_key="d/badge/1/0")
    trial = diagnostic_stats.trial_diagnostics(pd.concat([frame, extra])).iloc[0]
    assert trial["plain_overlap_baseline"] == pytest.approx((100 * 0.9 + 200 * 0.3) / 300)


def test_overlap_baselines_from_the_store_flag_badge_not_typiclust(baselines):
    arms = diagnostic_stats.arm_diagnostics(diagnostic_stats.trial_diagnostics(baselines.frame)).set_index(
        "heuristic"
    )
    for (heuristic, _), expected in BASELINE_ARMS.items():
        assert arms.loc[heuristic, "plain_overlap"] == pytest.approx(expected.plain_overlap)
        assert arms.loc[heuristic, "plain_overlap_baseline"] == pytest.approx(expected.baseline)
    assert arms["same_picks_as_plain"].to_dict() == {"badge": True, "typiclust": False}


# ---------------------------------------------------------------------------------------------
# The training criterion
# ---------------------------------------------------------------------------------------------


def test_rounds_under_0_99_train_accuracy_are_counted_per_arm(confirmed):
    fit = diagnostic_stats.training_fit(confirmed.frame).set_index(["heuristic", "alpha", "confirms"])
    medal = fit.loc[("medal", 1.0, "")]
    [values] = UNDERFIT.values()
    assert medal["rounds"] == 5 * 5 and medal["rounds_under"] == len(values) and medal["trials_under"] == 1
    assert medal["min_train_accuracy"] == pytest.approx(min(values.values()))
    assert medal["under_at"] == "100, 200" and not medal["fits"]
    assert fit.drop(index=("medal", 1.0, ""))["fits"].all()
    assert fit.loc[("medal", 1.0, "c1"), "rounds"] == 25  # the confirmation's arm on its own row
    # no train_accuracy logged
    assert diagnostic_stats.training_fit(tidy([("coreset", 0.0, 0, 10, 0.5)])).empty


def test_a_float32_0_99_fits():
    rows = tidy([("coreset", 0.0, 0, 10, float(np.float32(0.99))), ("coreset", 0.0, 0, 20, 0.9899)])
    rows["metric"], rows["encoder"], rows["confirms"] = "train_accuracy", "none", ""
    fit = diagnostic_stats.training_fit(rows).iloc[0]
    assert fit["rounds_under"] == 1 and fit["under_at"] == "20"
