"""analysis.alpha_stats: areas under the curves and the alpha choice. Known answers on small hand-made
frames, then on MLflow stores written with the real mlflow client (tests/analysis/conftest.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers.analysis_sweeps import GAIN, TEST_GAINS, VAL_GAINS
from helpers.tidy_frames import tidy

from analysis import alpha_stats, stats
from raysweep.schema import VALIDATION_METRIC


def test_incomplete_trials_are_left_out_of_area_comparisons():
    rows = [("coreset", a, s, n, 0.5 + a * 0.01) for a in (0.0, 1.0) for s in range(3) for n in (10, 20, 30)]
    rows = [r for r in rows if not (r[1] == 1.0 and r[2] == 2 and r[3] == 30)]  # one trial stopped early
    areas = alpha_stats.trial_areas(tidy(rows))
    assert areas["complete"].sum() == 5
    assert alpha_stats.alpha_curve(areas).set_index("alpha").loc[1.0, "n_pairs"] == 2
    # the only VAE arm did not finish every seed: the choice rule (raysweep.choice) chooses nothing
    summary = alpha_stats.alpha_summary(areas)
    assert np.isnan(summary.loc[0, "best_alpha"]) and "nothing chosen" in summary.loc[0, "note"]


def test_a_gap_in_the_middle_makes_a_trial_incomplete_and_is_listed():
    rows = [
        ("coreset", a, s, n, 0.5 + a * 0.01) for a in (0.0, 1.0) for s in range(3) for n in (10, 20, 30, 40)
    ]
    rows = [r for r in rows if not (r[1] == 1.0 and r[2] == 1 and r[3] == 20)]  # round 20 never logged
    areas = alpha_stats.trial_areas(tidy(rows)).set_index("trial_key")
    assert not areas.loc["d/coreset/1.0/1", "complete"]  # first and last are there: still incomplete
    assert areas.loc["d/coreset/1.0/1", "missing_n_labels"] == "20"
    assert areas["complete"].sum() == 5
    gaps = alpha_stats.label_gaps(areas.reset_index())
    assert gaps[["trial_key", "n_points", "missing_n_labels"]].values.tolist() == [
        ["d/coreset/1.0/1", 3, "20"]
    ]
    # left out, not interpolated
    assert alpha_stats.alpha_curve(areas.reset_index()).set_index("alpha").loc[1.0, "n_pairs"] == 2


def test_choose_alphas_follows_the_choice_rule():
    # alpha 1 and 2 tie on validation: the smaller wins; alpha 3 is better but missed seed 2
    rows = [("coreset", 0.0, s, n, 0.6) for s in range(3) for n in (10, 20)]
    rows += [("coreset", a, s, n, 0.7) for a in (1.0, 2.0) for s in range(3) for n in (10, 20)]
    rows += [("coreset", 3.0, s, n, 0.9) for s in range(2) for n in (10, 20)]
    choice = alpha_stats.choose_alphas(alpha_stats.trial_areas(tidy(rows))).iloc[0]
    assert choice["alpha"] == 1.0
    assert choice["choice_area"] == pytest.approx(0.7) and choice["choice_area_alpha0"] == pytest.approx(0.6)


def test_a_chosen_alpha_below_alpha_zero_on_validation_says_so():
    rows = [
        ("coreset", a, s, n, 0.5 + 0.01 * s - 0.02 * a)
        for a in (0.0, 1.0)
        for s in range(3)
        for n in (10, 20)
    ]
    areas = alpha_stats.trial_areas(tidy(rows))
    summary = alpha_stats.alpha_summary(areas, areas).iloc[0]  # alpha 0 is never chosen, even when best
    assert summary["best_alpha"] == 1.0 and summary["gain"] == pytest.approx(-0.02)
    assert summary["note"].startswith("alpha 0 (no VAE) has the larger validation area")


# ---------------------------------------------------------------------------------------------
# On MLflow stores
# ---------------------------------------------------------------------------------------------


def test_best_alpha_is_the_one_with_the_injected_gain(study):
    areas = alpha_stats.trial_areas(study.frame)
    assert areas["complete"].all() and len(areas) == 30
    summary = alpha_stats.alpha_summary(areas).set_index("heuristic")
    core = summary.loc["coreset"]
    assert core["best_alpha"] == 0.5
    assert core["gain"] == pytest.approx(GAIN, abs=0.003)
    assert core["p_t_holm"] < 0.05 and core["significant"]
    assert summary.loc["random", "note"] == "no VAE variants"


def test_area_of_a_logged_curve_equals_the_hand_computed_value(study):
    trial = study.frame[(study.frame.trial_key == "digits/lloss/1/3") & (study.frame.metric == "accuracy")]
    n, y = trial["n_labels"].to_numpy(float), trial["value"].to_numpy()
    by_hand = sum((n[i + 1] - n[i]) * (y[i] + y[i + 1]) / 2 for i in range(len(n) - 1)) / (n[-1] - n[0])
    areas = alpha_stats.trial_areas(study.frame).set_index("trial_key")
    assert areas.loc["digits/lloss/1/3", "area"] == pytest.approx(by_hand, rel=1e-12)


def test_a_sweep_stopped_before_its_last_round_leaves_every_trial_incomplete(stopped):
    areas = alpha_stats.trial_areas(stopped.frame, grids=stopped.grids)
    assert not areas["complete"].any() and set(areas["missing_n_labels"]) == {"500"}
    # from the logged points alone, the same trials look complete
    assert alpha_stats.trial_areas(stopped.frame)["complete"].all()


# ---------------------------------------------------------------------------------------------
# Choose on validation, report on test
# ---------------------------------------------------------------------------------------------


def test_alpha_is_chosen_on_validation_and_its_gain_reported_on_test(confirmed):
    selection = confirmed.frame[confirmed.frame["confirms"] == ""]
    areas = alpha_stats.trial_areas(selection, "accuracy", confirmed.grids)
    validation = alpha_stats.trial_areas(selection, VALIDATION_METRIC, confirmed.grids)
    core = alpha_stats.alpha_summary(areas, validation).set_index("heuristic").loc["coreset"]
    # validation favours alpha 1 (+0.03), test alpha 2 (+0.03): chosen 1, its test gain (+0.01) reported
    assert core["best_alpha"] == 1.0 and core["chosen_on"] == "validation"
    assert core["gain"] == pytest.approx(TEST_GAINS[("coreset", 1.0)], abs=0.003)
    assert core["choice_area"] - core["choice_area_alpha0"] == pytest.approx(
        VAL_GAINS[("coreset", 1.0)], abs=0.003
    )
    assert core["best_area"] - core["area_alpha0"] == pytest.approx(core["gain"], abs=1e-9)
    # p corrected over the alphas tried, as before
    tests = {a: stats.paired_test(*paired_areas(areas, "coreset", a)) for a in (1.0, 2.0)}
    holm = stats.holm(np.array([tests[1.0]["p_t"], tests[2.0]["p_t"]]))
    assert core["p_t"] == pytest.approx(tests[1.0]["p_t"]) and core["p_t_holm"] == pytest.approx(holm[0])
    # runs without validation curves: chosen on test, the larger (biased) gain
    on_test = alpha_stats.alpha_summary(areas).set_index("heuristic").loc["coreset"]
    assert on_test["best_alpha"] == 2.0 and on_test["chosen_on"] == "test"
    assert on_test["gain"] == pytest.approx(TEST_GAINS[("coreset", 2.0)], abs=0.003)


def paired_areas(areas: pd.DataFrame, heuristic: str, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    wide = areas[areas["heuristic"] == heuristic].pivot_table(index="seed", columns="alpha", values="area")
    return wide[alpha].to_numpy(), wide[0.0].to_numpy()
