"""analysis.confirm_stats on the ``confirmed`` experiment (tests/helpers/analysis_sweeps.py): core-set's chosen
alpha 1 gains +0.02 on the fresh seeds (+0.01 on the seeds that chose), MedAL's nothing, random sits 0.1
below; and the paired gain on a small hand-made table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers.analysis_sweeps import CHOOSING_SEEDS, CONFIRM_SEEDS, CONFIRMED_GAINS, FLOOR_GAIN, TEST_GAINS
from scipy import stats as sps

from analysis import confirm_stats, stats


def test_selection_and_confirmation_rows_split_the_seeds(confirmed):
    frame = confirmed.frame
    assert set(confirm_stats.confirmation_rows(frame)["seed"]) == set(CONFIRM_SEEDS)
    assert set(confirm_stats.selection_rows(frame)["seed"]) == set(CHOOSING_SEEDS)
    assert confirm_stats.selection_rows(confirmed.trials).equals(
        confirmed.trials[confirmed.trials["confirms"] == ""]
    )
    assert confirm_stats.groups_confirmed(frame) == {
        "digits/coreset": "c1",
        "digits/medal": "c1",
        "digits/random": "c1",
    }


def test_the_confirmed_gains_are_the_known_ones_holm_over_the_confirmed_comparisons(confirmed):
    areas = confirm_stats.confirmation_areas(confirmed.frame, "accuracy", confirmed.grids)
    selection = confirm_stats.areas_with_encoders(confirm_stats.selection_rows(confirmed.frame))
    tests = confirm_stats.confirmed_tests(areas, {"digits/coreset": "c1"}, selection).set_index("heuristic")
    assert list(tests.index) == ["coreset", "medal"]  # random has no VAE arm: it is the floor
    core, medal = tests.loc["coreset"], tests.loc["medal"]
    assert (core["alpha"], core["encoder"], core["n_pairs"], core["confirms"]) == (1.0, "vae", 5, "c1")
    assert core["gain"] == pytest.approx(CONFIRMED_GAINS[("coreset", 1.0)], abs=0.003)
    assert core["gain_ci_low"] < core["gain"] < core["gain_ci_high"]
    assert core["significant"] and not medal["significant"]
    assert medal["gain"] == pytest.approx(0.0, abs=0.003)
    np.testing.assert_allclose(tests["p_t_holm"], stats.holm(tests["p_t"].to_numpy()))
    assert core["p_wilcoxon"] == pytest.approx(0.0625)  # 5 seeds, every difference positive
    # random on the same seeds, 0.1 below the plain arms
    assert core["floor_area"] - core["area_alpha0"] == pytest.approx(FLOOR_GAIN, abs=0.003)
    # the same arm on the seeds that chose it: the selection result
    assert core["selection_gain"] == pytest.approx(TEST_GAINS[("coreset", 1.0)], abs=0.003)
    assert core["selection_pairs"] == 5


def test_the_floor_is_the_heuristics_without_vae_features(confirmed):
    areas = confirm_stats.confirmation_areas(confirmed.frame)
    floors = confirm_stats.floor_areas(areas)
    assert floors[["heuristic", "n"]].values.tolist() == [["random", 5]]
    assert floors.loc[0, "ci_low"] < floors.loc[0, "mean_area"] < floors.loc[0, "ci_high"]


def test_the_gain_pairs_the_seeds_both_arms_completed():
    rows = []
    for seed, (plain, chosen) in enumerate([(0.70, 0.72), (0.75, 0.78), (0.80, 0.81), (0.65, 0.69)]):
        for alpha, area in ((0.0, plain), (1.0, chosen)):
            rows.append(
                ("d", "coreset", alpha, "vae" if alpha else "none", seed, area, seed != 3 or alpha == 0)
            )
    areas = pd.DataFrame(
        rows, columns=["dataset", "heuristic", "alpha", "encoder", "seed", "area", "complete"]
    )
    areas["initial_labels_sha256"] = [f"h{s}" for s in areas["seed"]]
    [row] = confirm_stats.confirmed_tests(areas).to_dict("records")
    # seed 3's chosen arm did not finish: three pairs
    assert row["n_pairs"] == 3 and row["gain"] == pytest.approx(0.02)
    expected = sps.ttest_rel([0.72, 0.78, 0.81], [0.70, 0.75, 0.80]).pvalue
    assert row["p_t"] == pytest.approx(expected) and row["p_t_holm"] == pytest.approx(expected)
    assert np.isnan(row["floor_area"]) and np.isnan(row["selection_gain"])


def test_without_a_confirmation_there_is_nothing_to_confirm(grid):
    assert confirm_stats.confirmation_areas(grid.frame).empty
    assert confirm_stats.confirmed_tests(confirm_stats.confirmation_areas(grid.frame)).empty
    assert confirm_stats.confirmation_curves(grid.frame).empty
