"""analysis.encoder_stats on the ``encoders`` sweep (tests/helpers/analysis_sweeps.py): vae +0.01 over plain,
gmvae +0.03, cvae +0.01 (the same as vae); cvae 2.0 s per selecting round, the others 0.1 s; and the Holm
family of a heuristic's encoder comparisons on a small hand-made frame with known p-values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from analysis import encoder_stats, stats


def test_a_sweep_with_other_encoders_is_told_apart_and_its_reference_arms_kept(encoder_sweep, grid) -> None:
    assert encoder_stats.has_encoders(encoder_sweep.frame)
    assert set(encoder_stats.reference_rows(encoder_sweep.frame)["encoder"]) == {"none", "vae"}
    assert encoder_stats.reference_encoder(encoder_sweep.frame) == "vae"
    assert not encoder_stats.has_encoders(grid.frame)


def test_paired_tests_against_alpha_zero_and_vae_find_the_injected_gains(encoder_sweep) -> None:
    frame = encoder_sweep.frame
    tests = encoder_stats.encoder_tests(frame)
    summary = encoder_stats.encoder_summary(tests, encoder_stats.encoder_areas(frame)).set_index(
        ["encoder", "baseline"]
    )
    assert sorted(summary.index) == [
        ("cvae", "alpha 0"),
        ("cvae", "vae"),
        ("gmvae", "alpha 0"),
        ("gmvae", "vae"),
        ("vae", "alpha 0"),
    ]
    for arm, expected in {
        ("vae", "alpha 0"): 0.01,
        ("gmvae", "alpha 0"): 0.03,
        ("gmvae", "vae"): 0.02,
        ("cvae", "alpha 0"): 0.01,
        ("cvae", "vae"): 0.0,
    }.items():
        row = summary.loc[arm]
        assert row["mean_diff_avg"] == pytest.approx(expected, abs=0.003), arm
        assert row["area_gain"] == pytest.approx(expected, abs=0.003), arm
        assert row["n_pairs"] == 5 and row["label_counts"] == 4
        assert (row["n_significant"] == 4) == (expected > 0), arm  # 0.01 with 0.002 noise: every count
    assert summary.loc[("cvae", "vae"), "min_p_t_holm"] > 0.05


def test_encoder_seconds_per_round_and_per_trial(encoder_sweep) -> None:
    seconds = encoder_stats.encoder_seconds(encoder_sweep.frame).set_index("encoder")
    assert seconds.loc["cvae", "seconds_per_round"] == pytest.approx(2.0)
    assert seconds.loc["cvae", "seconds_per_trial"] == pytest.approx(6.0)  # three selecting rounds
    assert seconds.loc["vae", "rounds"] == 15


def test_comparisons_pair_each_arm_with_alpha_zero_and_other_encoders_with_vae() -> None:
    arms = [(0.0, "none"), (1.0, "vae"), (1.0, "cvae"), (2.0, "gmvae")]
    assert encoder_stats.comparisons(arms) == [
        ((1.0, "cvae"), "alpha 0", (0.0, "none")),
        ((1.0, "cvae"), "vae", (1.0, "vae")),
        ((1.0, "vae"), "alpha 0", (0.0, "none")),
        ((2.0, "gmvae"), "alpha 0", (0.0, "none")),  # no vae arm at alpha 2: no second baseline
    ]


def encoder_frame(arms: dict[tuple[float, str], list[float]], label_counts=(10, 20)) -> pd.DataFrame:
    """(alpha, encoder) -> per-seed offsets over a big seed effect, the same at every label count."""
    rows = []
    for (alpha, encoder), offsets in arms.items():
        for seed, offset in enumerate(offsets):
            for n in label_counts:
                key = f"d/coreset/{alpha:g}/{seed}" + ("" if encoder in ("vae", "none") else f"/{encoder}")
                rows.append((alpha, encoder, seed, n, key, 0.5 + 0.1 * seed + offset))
    frame = pd.DataFrame(rows, columns=["alpha", "encoder", "seed", "n_labels", "trial_key", "value"])
    frame["dataset"], frame["heuristic"], frame["metric"] = "d", "coreset", "accuracy"
    frame["initial_labels_sha256"] = [f"h{s}" for s in frame["seed"]]
    return frame


def test_holm_runs_over_every_comparison_and_label_count_of_a_heuristic() -> None:
    # vae - plain: 0.01 .. 0.05 over five seeds (p_t = 0.0132 at each of 2 label counts): Holm over one
    # comparison's 2 label counts gives 2 x 0.0132 = 0.026 < 0.05; over the family of 3 comparisons
    # (vae and gmvae against alpha 0, gmvae against vae) x 2 label counts, 6 x 0.0132 = 0.079: not
    # significant. gmvae: no effect against plain.
    noise = [0.004, -0.003, 0.001, -0.004, 0.002]
    frame = encoder_frame(
        {
            (0.0, "none"): [0.0] * 5,
            (1.0, "vae"): [0.01 * (s + 1) for s in range(5)],
            (1.0, "gmvae"): noise,
        }
    )
    tests = encoder_stats.encoder_tests(frame)
    vae = tests[(tests["encoder"] == "vae") & (tests["baseline"] == "alpha 0")]
    p = sps.ttest_rel(np.arange(1, 6) * 0.01 + 0.5, np.full(5, 0.5)).pvalue
    assert vae["p_t"].to_numpy() == pytest.approx([p, p])
    assert vae["p_t_holm"].to_numpy() == pytest.approx([2 * p, 2 * p])
    assert len(tests) == 6
    np.testing.assert_allclose(tests["p_t_holm_all"], stats.holm(tests["p_t"].to_numpy()))
    assert vae["p_t_holm_all"].to_numpy() == pytest.approx([6 * p, 6 * p])
    assert not tests["significant"].any()  # the markers follow the family
    summary = encoder_stats.encoder_summary(tests, encoder_stats.encoder_areas(frame)).set_index(
        ["encoder", "baseline"]
    )
    assert summary.loc[("vae", "alpha 0"), "min_p_t_holm"] == pytest.approx(2 * p)
    assert summary.loc[("vae", "alpha 0"), "min_p_t_holm_all"] == pytest.approx(6 * p)
    assert summary.loc[("vae", "alpha 0"), "n_significant"] == 0
    # the area p-values: one family of the 3 comparisons
    np.testing.assert_allclose(summary["area_p_t_holm"], stats.holm(summary["area_p_t"].to_numpy()))
    assert summary.loc[("vae", "alpha 0"), "area_p_t"] == pytest.approx(p)
    assert summary.loc[("vae", "alpha 0"), "area_p_t_holm"] == pytest.approx(3 * p)
