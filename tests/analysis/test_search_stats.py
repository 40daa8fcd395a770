"""analysis.search_stats on the ``search-analysis`` sweep (tests/helpers/analysis_sweeps.py): curves carry a
known gain per alpha, so the best setting is a known answer."""

from __future__ import annotations

import pytest
from helpers.analysis_sweeps import PEAK, SEARCH_ALPHAS

from analysis import load, search_stats, stats


def test_setting_table_lists_every_setting_in_the_searchers_order(searched) -> None:
    data = searched["data"]
    tags = load.search_tags(data)
    areas = stats.trial_areas(data.frame)
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
    areas = stats.trial_areas(data.frame)
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
