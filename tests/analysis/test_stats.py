"""analysis.stats: the paired statistics. Known answers on small hand-made frames, then on MLflow stores
written with the real mlflow client (tests/analysis/conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.analysis_sweeps import GAIN, INF
from helpers.tidy_frames import tidy
from scipy import stats as sps

from analysis import alpha_stats, stats
from analysis.load import AnalysisError, load_sweep


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


def test_identical_curves_give_no_significance_and_no_crash(store, identical):
    data = load_sweep(store["uri"], "identical")
    tests = stats.paired_tests(data.frame)
    assert len(tests) == 5
    assert (tests["p_t"] == 1.0).all() and (tests["p_wilcoxon"] == 1.0).all()
    assert not tests["significant"].any() and tests["note"].str.contains("identical").all()
    summary = alpha_stats.alpha_summary(alpha_stats.trial_areas(data.frame))
    assert not summary["significant"].any()


def test_unpaired_runs_are_refused(unpaired):
    with pytest.raises(stats.UnpairedError, match="initial-label hashes differ"):
        stats.paired_tests(unpaired.frame)
    with pytest.raises(stats.UnpairedError):
        alpha_stats.alpha_summary(alpha_stats.trial_areas(unpaired.frame))


def test_the_vae_only_end_is_compared_with_plain(alphas):
    tests = stats.paired_tests(alphas.frame)
    vae_only = tests[(tests.heuristic == "coreset") & (tests.alpha == INF)]
    assert vae_only["mean_diff"].to_numpy() == pytest.approx([-0.05] * 5, abs=0.005)
    assert vae_only["significant"].all()
