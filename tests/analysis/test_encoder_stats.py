"""analysis.encoder_stats on the ``encoders`` sweep (tests/helpers/analysis_sweeps.py): vae +0.01 over plain,
gmvae +0.03, cvae +0.01 (the same as vae); cvae 2.0 s per selecting round, the others 0.1 s."""

from __future__ import annotations

import pytest

from analysis import encoder_stats


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
