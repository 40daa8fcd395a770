"""analysis.stats: known answers on small hand-made frames, then on MLflow stores written with the real
mlflow client (tests/analysis/conftest.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers.analysis_sweeps import ARMS, BASELINE_ARMS, GAIN, INF, TEST_GAINS, UNDERFIT, VAL_GAINS
from helpers.mlflow_runs import T0_MS, write_sweep
from scipy import stats as sps

from analysis import stats
from analysis.load import AnalysisError, load_sweep
from raysweep.schema import VALIDATION_METRIC


def tidy(rows: list[tuple], sha: str | None = "h") -> pd.DataFrame:
    """rows: (heuristic, alpha, seed, n_labels, value) -> a tidy accuracy frame for dataset 'd'."""
    frame = pd.DataFrame(rows, columns=["heuristic", "alpha", "seed", "n_labels", "value"])
    frame["dataset"] = "d"
    frame["metric"] = "accuracy"
    frame["trial_key"] = [
        f"d/{h}/{a}/{s}" for h, a, s in zip(frame.heuristic, frame.alpha, frame.seed, strict=True)
    ]
    frame["initial_labels_sha256"] = [f"{sha}{s}" if sha else None for s in frame.seed]
    return frame


def test_holm_matches_hand_computation_and_keeps_nan():
    p = np.array([0.01, 0.04, np.nan, 0.03])
    # sorted finite: 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> running max 0.03, 0.06, 0.06
    np.testing.assert_allclose(stats.holm(p), [0.03, 0.06, np.nan, 0.06])
    assert np.isnan(stats.holm(np.array([np.nan]))).all()


def test_t_interval_matches_scipy():
    values = np.array([0.1, 0.2, 0.4, 0.3])
    mean, std, low, high = stats.t_interval(values)
    expected = sps.t.interval(0.95, 3, loc=values.mean(), scale=sps.sem(values))
    assert mean == pytest.approx(0.25)
    assert std == pytest.approx(values.std(ddof=1))
    assert (low, high) == pytest.approx(expected)
    assert np.isnan(stats.t_interval(np.array([0.5]))[2])


def test_paired_test_degenerate_inputs_do_not_crash():
    same = stats.paired_test(np.array([0.5, 0.6, 0.7]), np.array([0.5, 0.6, 0.7]))
    assert same["p_t"] == 1.0 and same["p_wilcoxon"] == 1.0 and "identical" in same["note"]
    one = stats.paired_test(np.array([0.5]), np.array([0.4]))
    assert np.isnan(one["p_t"]) and "n=1" in one["note"]
    constant = stats.paired_test(np.array([0.6, 0.7, 0.8]), np.array([0.5, 0.6, 0.7]))
    assert np.isnan(constant["p_t"]) and constant["note"].startswith("constant difference")
    assert constant["mean_diff"] == pytest.approx(0.1)


def test_paired_test_matches_scipy_on_ordinary_data():
    rng = np.random.default_rng(1)
    plain = rng.normal(0.8, 0.02, 6)
    variant = plain + rng.normal(0.01, 0.005, 6)
    result = stats.paired_test(variant, plain)
    assert result["p_t"] == pytest.approx(sps.ttest_rel(variant, plain).pvalue)
    assert result["p_wilcoxon"] == pytest.approx(sps.wilcoxon(variant - plain).pvalue)
    assert result["n_pairs"] == 6


def test_paired_tests_pair_by_seed_and_holm_across_label_counts():
    rows = []
    for seed in range(5):
        for n in (10, 20, 30):
            base = 0.5 + 0.01 * n / 10 + 0.05 * seed  # big seed effect, cancelled by pairing
            rows.append(("coreset", 0.0, seed, n, base))
            rows.append(("coreset", 1.0, seed, n, base + 0.02 + 0.001 * ((seed * 3) % 5)))
    tests = stats.paired_tests(tidy(rows))
    assert list(tests["n_labels"]) == [10, 20, 30]
    assert (tests["n_pairs"] == 5).all()
    assert tests["mean_diff"].to_numpy() == pytest.approx([0.022] * 3)
    assert tests["significant"].all()
    assert (tests["p_t_holm"] >= tests["p_t"]).all()
    # 5 pairs: the exact two-sided Wilcoxon p cannot go below 2 / 2**5
    assert tests["p_wilcoxon"].min() == pytest.approx(0.0625)


def test_paired_tests_refuse_differing_initial_labels():
    rows = [(h, a, s, 10, 0.5) for h, a in (("coreset", 0.0), ("coreset", 1.0)) for s in range(3)]
    frame = tidy(rows)
    frame.loc[(frame.alpha == 1.0) & (frame.seed == 1), "initial_labels_sha256"] = "other"
    with pytest.raises(stats.UnpairedError, match="initial-label hashes differ for d seed 1"):
        stats.paired_tests(frame)


def test_unknown_metric_is_an_analysis_error():
    with pytest.raises(AnalysisError, match=r"metric 'loss' was not logged.*accuracy"):
        stats.curve_summary(tidy([("random", 0.0, 0, 10, 0.5)]), "loss")


def test_incomplete_trials_are_left_out_of_area_comparisons():
    rows = [("coreset", a, s, n, 0.5 + a * 0.01) for a in (0.0, 1.0) for s in range(3) for n in (10, 20, 30)]
    rows = [r for r in rows if not (r[1] == 1.0 and r[2] == 2 and r[3] == 30)]  # one trial stopped early
    areas = stats.trial_areas(tidy(rows))
    assert areas["complete"].sum() == 5
    assert stats.alpha_curve(areas).set_index("alpha").loc[1.0, "n_pairs"] == 2
    # the only VAE arm did not finish every seed: the choice rule (raysweep.choice) chooses nothing
    summary = stats.alpha_summary(areas)
    assert np.isnan(summary.loc[0, "best_alpha"]) and "nothing chosen" in summary.loc[0, "note"]


def test_figure_markers_are_holm_corrected_over_alphas_and_label_counts():
    # alpha 1: the same five differences (0.01..0.05, p_t = 0.0132) at each of 3 label counts;
    # alpha 2: no effect. Over one comparison's 3 label counts Holm gives 3 x 0.0132 = 0.040 < 0.05;
    # over the figure's 6 tests (2 alphas x 3 label counts) 6 x 0.0132 = 0.079: not significant.
    rows = []
    for seed in range(5):
        for n in (10, 20, 30):
            base = 0.5 + 0.1 * seed
            rows.append(("coreset", 0.0, seed, n, base))
            rows.append(("coreset", 1.0, seed, n, base + 0.01 * (seed + 1)))
            rows.append(("coreset", 2.0, seed, n, base + 0.01 * (-1) ** seed * (n / 10)))
    tests = stats.paired_tests(tidy(rows))
    one = tests[tests["alpha"] == 1.0]
    p = sps.ttest_rel(np.arange(1, 6) * 0.01 + 0.5, np.full(5, 0.5)).pvalue
    assert one["p_t"].to_numpy() == pytest.approx([p] * 3)
    assert one["p_t_holm"].to_numpy() == pytest.approx([3 * p] * 3)
    assert (one["p_t_holm"] < 0.05).all()
    np.testing.assert_allclose(tests["p_t_holm_all"], stats.holm(tests["p_t"].to_numpy()))
    assert one["p_t_holm_all"].to_numpy() == pytest.approx([6 * p] * 3)
    assert not tests["significant"].any()  # the figures' stars follow the family over alphas x labels
    summary = stats.significance_summary(tests).set_index("alpha")
    assert summary.loc[1.0, "min_p_t_holm"] == pytest.approx(3 * p)
    assert summary.loc[1.0, "min_p_t_holm_all"] == pytest.approx(6 * p)
    assert summary.loc[1.0, "n_significant"] == 0


def test_a_gap_in_the_middle_makes_a_trial_incomplete_and_is_listed():
    rows = [
        ("coreset", a, s, n, 0.5 + a * 0.01) for a in (0.0, 1.0) for s in range(3) for n in (10, 20, 30, 40)
    ]
    rows = [r for r in rows if not (r[1] == 1.0 and r[2] == 1 and r[3] == 20)]  # round 20 never logged
    areas = stats.trial_areas(tidy(rows)).set_index("trial_key")
    assert not areas.loc["d/coreset/1.0/1", "complete"]  # first and last are there: still incomplete
    assert areas.loc["d/coreset/1.0/1", "missing_n_labels"] == "20"
    assert areas["complete"].sum() == 5
    gaps = stats.label_gaps(areas.reset_index())
    assert gaps[["trial_key", "n_points", "missing_n_labels"]].values.tolist() == [
        ["d/coreset/1.0/1", 3, "20"]
    ]
    # left out, not interpolated
    assert stats.alpha_curve(areas.reset_index()).set_index("alpha").loc[1.0, "n_pairs"] == 2


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
    trial = stats.trial_diagnostics(frame).iloc[0]
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
    arms = stats.arm_diagnostics(stats.trial_diagnostics(pd.concat(frames))).set_index(["heuristic", "alpha"])
    assert arms.loc[("coreset", 0.1), "same_picks_as_plain"]
    assert not arms.loc[("coreset", 1.0), "same_picks_as_plain"]
    medal = arms.loc[("medal", 1.0)]
    expected = sps.t.interval(0.95, 2, loc=0.7, scale=sps.sem([0.6, 0.7, 0.8]))
    assert medal["plain_overlap"] == pytest.approx(0.7) and medal["n"] == 3
    assert (medal["plain_overlap_ci_low"], medal["plain_overlap_ci_high"]) == pytest.approx(expected)


def test_a_shared_vae_is_split_over_the_trials_that_used_it_and_counted_once():
    vaes = pd.DataFrame(
        [
            # sweep 1 trained the VAE (60 s) for 3 trials; sweep 2 read it from the cache for 1 more
            ("s1", "d", "k1", True, 60.0, ["d/coreset/1/0", "d/coreset/1/1", "d/lloss/1/0"]),
            ("s2", "d", "k1", False, 60.0, ["d/coreset/1/2"]),
            # an old cache file: its seconds are unknown
            ("s2", "e", "k2", False, np.nan, ["e/coreset/1/0"]),
        ],
        columns=["sweep_id", "dataset", "cache_key", "trained_this_run", "seconds", "trials"],
    )
    shares = stats.vae_seconds_per_trial(vaes)
    assert shares[[f"d/coreset/1/{s}" for s in range(3)]].tolist() == [15.0] * 3
    assert shares["d/lloss/1/0"] == 15.0 and np.isnan(shares["e/coreset/1/0"])


# ---------------------------------------------------------------------------------------------
# On MLflow stores
# ---------------------------------------------------------------------------------------------


def test_injected_gain_is_significant_and_no_gain_is_not(study):
    tests = stats.paired_tests(study.frame)
    gain = tests[(tests.heuristic == "coreset") & (tests.alpha == 0.5)]
    assert len(gain) == 5 and (gain["n_pairs"] == 5).all()
    assert gain["mean_diff"].to_numpy() == pytest.approx([GAIN] * 5, abs=0.005)
    assert (gain["p_t_holm"] < 0.05).all() and gain["significant"].all()
    assert (gain["diff_ci_low"] > 0).all()
    # nothing was injected into loss prediction or core-set alpha 1
    assert not tests[(tests.heuristic == "lloss") | (tests.alpha == 1.0)]["significant"].any()
    # random has no VAE variant: no comparison
    assert "random" not in set(tests["heuristic"])


def test_best_alpha_is_the_one_with_the_injected_gain(study):
    areas = stats.trial_areas(study.frame)
    assert areas["complete"].all() and len(areas) == 30
    summary = stats.alpha_summary(areas).set_index("heuristic")
    core = summary.loc["coreset"]
    assert core["best_alpha"] == 0.5
    assert core["gain"] == pytest.approx(GAIN, abs=0.003)
    assert core["p_t_holm"] < 0.05 and core["significant"]
    assert summary.loc["random", "note"] == "no VAE variants"


def test_area_of_a_logged_curve_equals_the_hand_computed_value(study):
    trial = study.frame[(study.frame.trial_key == "digits/lloss/1/3") & (study.frame.metric == "accuracy")]
    n, y = trial["n_labels"].to_numpy(float), trial["value"].to_numpy()
    by_hand = sum((n[i + 1] - n[i]) * (y[i] + y[i + 1]) / 2 for i in range(len(n) - 1)) / (n[-1] - n[0])
    areas = stats.trial_areas(study.frame).set_index("trial_key")
    assert areas.loc["digits/lloss/1/3", "area"] == pytest.approx(by_hand, rel=1e-12)


def test_runtime_tables_sum_the_logged_seconds(study):
    runtime = stats.runtime_tables(study.frame, study.trials, study.sweeps)
    per_trial = runtime["per_trial"].set_index("trial_key")
    # helper: 2 s training at each of 5 label counts, 0.5 s selection in 4 rounds, 60 s wall
    assert per_trial.loc["digits/coreset/0.5/0", "compute_seconds"] == pytest.approx(5 * 2.0 + 4 * 0.5)
    assert per_trial.loc["digits/coreset/0.5/0", "wall_seconds"] == pytest.approx(60.0)
    assert (per_trial["eval_seconds"] == 0.0).all()  # runs from before eval_seconds was logged
    core = runtime["by_heuristic"].set_index("heuristic").loc["coreset"]
    assert core["trials"] == 15 and core["wall_seconds"] == pytest.approx(15 * 60.0)
    sweep = runtime["per_sweep"].iloc[0]
    assert sweep["trials"] == 30 and sweep["vae_trainings"] == 1.0
    assert sweep["compute_seconds"] == pytest.approx(30 * 12.0)


def test_runtime_totals_count_the_evaluation_seconds(store):
    uri, art = store["uri"], store["art"]
    write_sweep(uri, "evaluated", sweep_id="v1", artifact_root=art, seeds=[0, 1], eval_s_per_round=0.3)
    data = load_sweep(uri, "evaluated")
    runtime = stats.runtime_tables(data.frame, data.trials, data.sweeps, data.vaes)
    per_trial = runtime["per_trial"].set_index("trial_key")
    # 5 label counts, each evaluated: 1.5 s beside the 10 s training and 2 s selection
    assert per_trial.loc["digits/coreset/0/1", "eval_seconds"] == pytest.approx(5 * 0.3)
    assert per_trial.loc["digits/coreset/0/1", "compute_seconds"] == pytest.approx(10.0 + 2.0 + 1.5)
    core = runtime["by_heuristic"].set_index("heuristic").loc["coreset"]
    assert core["eval_seconds"] == pytest.approx(6 * 1.5)
    # 4 VAE trials share the helper's 12.5-s VAE
    assert core["total_seconds"] == pytest.approx(6 * 13.5 + 12.5)
    assert runtime["per_sweep"].iloc[0]["compute_seconds"] == pytest.approx(6 * 13.5)


def test_identical_curves_give_no_significance_and_no_crash(store, identical):
    data = load_sweep(store["uri"], "identical")
    tests = stats.paired_tests(data.frame)
    assert len(tests) == 5
    assert (tests["p_t"] == 1.0).all() and (tests["p_wilcoxon"] == 1.0).all()
    assert not tests["significant"].any() and tests["note"].str.contains("identical").all()
    summary = stats.alpha_summary(stats.trial_areas(data.frame))
    assert not summary["significant"].any()


def test_unpaired_runs_are_refused(unpaired):
    with pytest.raises(stats.UnpairedError, match="initial-label hashes differ"):
        stats.paired_tests(unpaired.frame)
    with pytest.raises(stats.UnpairedError):
        stats.alpha_summary(stats.trial_areas(unpaired.frame))


def test_the_vae_only_end_is_compared_with_plain(alphas):
    tests = stats.paired_tests(alphas.frame)
    vae_only = tests[(tests.heuristic == "coreset") & (tests.alpha == INF)]
    assert vae_only["mean_diff"].to_numpy() == pytest.approx([-0.05] * 5, abs=0.005)
    assert vae_only["significant"].all()


def test_arm_diagnostics_from_the_store_flag_the_arm_with_the_plain_picks(alphas):
    arms = stats.arm_diagnostics(stats.trial_diagnostics(alphas.frame)).set_index(["heuristic", "alpha"])
    assert sorted(arms.index) == sorted(ARMS)
    for key, expected in ARMS.items():
        assert arms.loc[key, "vae_share"] == pytest.approx(expected.vae_share) and arms.loc[key, "n"] == 3
    assert arms.loc[("coreset", 0.25), "plain_overlap"] == pytest.approx(0.995)
    assert np.isnan(arms.loc[("lloss", 1.0), "plain_overlap"])  # its model depends on alpha: not logged
    assert arms["same_picks_as_plain"].to_dict() == {key: key == ("coreset", 0.25) for key in ARMS}


def test_a_sweep_stopped_before_its_last_round_leaves_every_trial_incomplete(stopped):
    areas = stats.trial_areas(stopped.frame, grids=stopped.grids)
    assert not areas["complete"].any() and set(areas["missing_n_labels"]) == {"500"}
    # from the logged points alone, the same trials look complete
    assert stats.trial_areas(stopped.frame)["complete"].all()


def test_vae_seconds_of_a_reused_vae_count_once_and_unknown_ones_are_said(store):
    uri, art = store["uri"], store["art"]
    # e1 trains the VAE (20 s) for seed 0; e2 reads it from the cache for seed 1: 20 s over 4 trials
    write_sweep(uri, "reused", sweep_id="e1", artifact_root=art, seeds=[0], vae_seconds=20.0)
    write_sweep(
        uri, "reused", sweep_id="e2", artifact_root=art, seeds=[1], vae_seconds=20.0, start_ms=T0_MS + 10**7
    )
    data = load_sweep(uri, "reused")
    runtime = stats.runtime_tables(data.frame, data.trials, data.sweeps, data.vaes)
    shares = runtime["per_trial"].set_index("trial_key")["vae_seconds"]
    assert shares[[f"digits/coreset/{a:g}/{s}" for a in (0.5, 1.0) for s in (0, 1)]].tolist() == [5.0] * 4
    assert shares["digits/coreset/0/0"] == 0.0
    # an older launcher logged no vae_trainings.json: no VAE seconds, no total, and a note
    write_sweep(uri, "old", sweep_id="o1", artifact_root=art, seeds=[0], vae_seconds=None)
    old = load_sweep(uri, "old")
    assert any("logged no vae_trainings.json" in note for note in old.notes)
    by_heuristic = stats.runtime_tables(old.frame, old.trials, old.sweeps, old.vaes)["by_heuristic"].iloc[0]
    assert by_heuristic["vae_seconds_unknown"] == 2 and np.isnan(by_heuristic["total_seconds"])


# ---------------------------------------------------------------------------------------------
# Choose on validation, report on test; overlap baselines; the training criterion
# ---------------------------------------------------------------------------------------------


def test_alpha_is_chosen_on_validation_and_its_gain_reported_on_test(confirmed):
    selection = confirmed.frame[confirmed.frame["confirms"] == ""]
    areas = stats.trial_areas(selection, "accuracy", confirmed.grids)
    validation = stats.trial_areas(selection, VALIDATION_METRIC, confirmed.grids)
    core = stats.alpha_summary(areas, validation).set_index("heuristic").loc["coreset"]
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
    on_test = stats.alpha_summary(areas).set_index("heuristic").loc["coreset"]
    assert on_test["best_alpha"] == 2.0 and on_test["chosen_on"] == "test"
    assert on_test["gain"] == pytest.approx(TEST_GAINS[("coreset", 2.0)], abs=0.003)


def paired_areas(areas: pd.DataFrame, heuristic: str, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    wide = areas[areas["heuristic"] == heuristic].pivot_table(index="seed", columns="alpha", values="area")
    return wide[alpha].to_numpy(), wide[0.0].to_numpy()


def test_choose_alphas_follows_the_choice_rule():
    # alpha 1 and 2 tie on validation: the smaller wins; alpha 3 is better but missed seed 2
    rows = [("coreset", 0.0, s, n, 0.6) for s in range(3) for n in (10, 20)]
    rows += [("coreset", a, s, n, 0.7) for a in (1.0, 2.0) for s in range(3) for n in (10, 20)]
    rows += [("coreset", 3.0, s, n, 0.9) for s in range(2) for n in (10, 20)]
    choice = stats.choose_alphas(stats.trial_areas(tidy(rows))).iloc[0]
    assert choice["alpha"] == 1.0
    assert choice["choice_area"] == pytest.approx(0.7) and choice["choice_area_alpha0"] == pytest.approx(0.6)


def test_a_chosen_alpha_below_alpha_zero_on_validation_says_so():
    rows = [
        ("coreset", a, s, n, 0.5 + 0.01 * s - 0.02 * a)
        for a in (0.0, 1.0)
        for s in range(3)
        for n in (10, 20)
    ]
    areas = stats.trial_areas(tidy(rows))
    summary = stats.alpha_summary(areas, areas).iloc[0]  # alpha 0 is never chosen, even when best
    assert summary["best_alpha"] == 1.0 and summary["gain"] == pytest.approx(-0.02)
    assert summary["note"].startswith("alpha 0 (no VAE) has the larger validation area")


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
    arms = stats.arm_diagnostics(stats.trial_diagnostics(pd.concat(frames))).set_index("heuristic")
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
    trial = stats.trial_diagnostics(pd.concat([frame, extra])).iloc[0]
    assert trial["plain_overlap_baseline"] == pytest.approx((100 * 0.9 + 200 * 0.3) / 300)


def test_overlap_baselines_from_the_store_flag_badge_not_typiclust(baselines):
    arms = stats.arm_diagnostics(stats.trial_diagnostics(baselines.frame)).set_index("heuristic")
    for (heuristic, _), expected in BASELINE_ARMS.items():
        assert arms.loc[heuristic, "plain_overlap"] == pytest.approx(expected.plain_overlap)
        assert arms.loc[heuristic, "plain_overlap_baseline"] == pytest.approx(expected.baseline)
    assert arms["same_picks_as_plain"].to_dict() == {"badge": True, "typiclust": False}


def test_rounds_under_0_99_train_accuracy_are_counted_per_arm(confirmed):
    fit = stats.training_fit(confirmed.frame).set_index(["heuristic", "alpha", "confirms"])
    medal = fit.loc[("medal", 1.0, "")]
    [values] = UNDERFIT.values()
    assert medal["rounds"] == 5 * 5 and medal["rounds_under"] == len(values) and medal["trials_under"] == 1
    assert medal["min_train_accuracy"] == pytest.approx(min(values.values()))
    assert medal["under_at"] == "100, 200" and not medal["fits"]
    assert fit.drop(index=("medal", 1.0, ""))["fits"].all()
    assert fit.loc[("medal", 1.0, "c1"), "rounds"] == 25  # the confirmation's arm on its own row
    assert stats.training_fit(tidy([("coreset", 0.0, 0, 10, 0.5)])).empty  # no train_accuracy logged


def test_a_float32_0_99_fits():
    rows = tidy([("coreset", 0.0, 0, 10, float(np.float32(0.99))), ("coreset", 0.0, 0, 20, 0.9899)])
    rows["metric"], rows["encoder"], rows["confirms"] = "train_accuracy", "none", ""
    fit = stats.training_fit(rows).iloc[0]
    assert fit["rounds_under"] == 1 and fit["under_at"] == "20"
