"""analysis.search_stats on the ``search-analysis`` sweep (tests/helpers/analysis_sweeps.py): curves carry a
known gain per alpha, so the best setting is a known answer; and a hand-made search whose validation and test
areas disagree."""

from __future__ import annotations

import pandas as pd
import pytest
from helpers.analysis_sweeps import PEAK, SEARCH_ALPHAS

from analysis import alpha_stats, load, search_stats, stats


def test_setting_table_lists_every_setting_in_the_searchers_order(searched) -> None:
    data = searched["data"]
    tags = load.search_tags(data)
    areas = alpha_stats.trial_areas(data.frame)
    table = search_stats.setting_table(areas, tags)
    assert table["setting_index"].tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert table["alpha"].tolist() == [0.0, *SEARCH_ALPHAS, 20.0]
    assert table["n_seeds"].tolist() == [4, 4, 4, 4, 4, 4, 0]
    assert table["stopped"].tolist() == [False] * 6 + [True]
    peak = table.loc[table["alpha"] == PEAK].iloc[0]
    plain = table.loc[table["alpha"] == 0].iloc[0]
    assert peak["mean_area"] - plain["mean_area"] == pytest.approx(0.02, abs=0.002)
    assert peak["ci_low"] < peak["mean_area"] < peak["ci_high"]


def test_best_setting_is_tested_against_alpha_0_and_corrected_for_the_settings_tried(searched) -> None:
    data = searched["data"]
    tags = load.search_tags(data)
    areas = alpha_stats.trial_areas(data.frame)
    [row] = search_stats.best_setting_tests(areas, tags, load.settings_tried(data)).to_dict("records")
    assert (row["best_alpha"], row["best_index"], row["settings_tried"]) == (PEAK, 3, 6)
    assert row["gain"] == pytest.approx(0.02, abs=0.002) and row["n_pairs"] == 4
    assert row["p_t_corrected"] == pytest.approx(min(1.0, 6 * row["p_t"]))
    assert row["significant"] == (row["p_t_corrected"] < 0.05)
    # without the parent's count, the settings seen in the runs are the number tried
    [seen] = search_stats.best_setting_tests(areas, tags).to_dict("records")
    assert seen["settings_tried"] == 6


def test_partial_curves_stay_out_of_paired_tests(searched) -> None:
    data = searched["data"]
    tags = load.search_tags(data)
    everything = stats.paired_tests(data.frame)
    paired = stats.paired_tests(search_stats.without_partial_curves(data.frame, tags))
    assert 20.0 in set(everything["alpha"]) and 20.0 not in set(paired["alpha"])
    assert set(paired["alpha"]) == set(SEARCH_ALPHAS)


def hand_made(gains: dict[float, list[float]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Areas of a search over 4 seeds (alpha -> per-seed area gain over a seed effect) and its tags."""
    rows, tags = [], []
    for index, (alpha, per_seed) in enumerate(gains.items()):
        for seed, gain in enumerate(per_seed):
            key = f"d/coreset/{alpha:g}/{seed}"
            rows.append(("d", "coreset", alpha, seed, key, f"h{seed}", 0.7 + 0.05 * seed + gain, True))
            tags.append((key, "d/coreset", f"alpha={alpha:g}", index, False))
    areas = pd.DataFrame(
        rows,
        columns=[
            "dataset",
            "heuristic",
            "alpha",
            "seed",
            "trial_key",
            "initial_labels_sha256",
            "area",
            "complete",
        ],
    )
    return areas, pd.DataFrame(tags, columns=load.SEARCH_COLUMNS)


def test_the_best_setting_is_chosen_on_validation_and_tested_on_test() -> None:
    # test areas favour alpha 2 (+0.03), validation areas alpha 0.5 (+0.02): the search reports alpha 0.5
    test_areas, tags = hand_made(
        {0.0: [0] * 4, 0.5: [0.01, 0.012, 0.009, 0.011], 2.0: [0.03, 0.031, 0.029, 0.03]}
    )
    validation, _ = hand_made({0.0: [0] * 4, 0.5: [0.02, 0.021, 0.019, 0.02], 2.0: [0.0, 0.001, -0.001, 0.0]})
    [row] = search_stats.best_setting_tests(test_areas, tags, {"d/coreset": 5}, validation).to_dict("records")
    assert (row["best_alpha"], row["best_index"], row["chosen_on"]) == (0.5, 1, "validation")
    assert row["gain"] == pytest.approx(0.0105)
    assert row["best_choice_area"] - 0.775 == pytest.approx(0.02)  # the mean validation area of alpha 0.5
    expected = stats.paired_test(test_areas["area"][4:8].to_numpy(), test_areas["area"][:4].to_numpy())
    assert row["p_t"] == pytest.approx(expected["p_t"]) and row["p_t_corrected"] == pytest.approx(
        5 * row["p_t"]
    )
    # without validation areas the test areas choose, and the reported gain is the test winner's
    [on_test] = search_stats.best_setting_tests(test_areas, tags).to_dict("records")
    assert (on_test["best_alpha"], on_test["chosen_on"]) == (2.0, "test")
