"""analysis.search_plots: the kernel trend on known points, and the search figure of the ``search-analysis``
sweep (tests/helpers/analysis_sweeps.py)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.analysis_sweeps import PEAK

from analysis import alpha_stats, load, search_plots, search_stats


def test_smoothed_trend_follows_the_settings() -> None:
    x = np.log10(np.array([0.05, 0.4, 1.3, 3.0, 12.0]))
    grid, trend = search_plots.smoothed_trend(x, np.array([0.0, 1.0, 2.0, 1.0, 0.0]))
    assert len(grid) == 200 and grid[0] == x.min() and grid[-1] == x.max()
    assert 0 < trend.max() < 2 and abs(grid[np.argmax(trend)] - np.log10(1.3)) < 0.3
    assert search_plots.smoothed_trend(x[:1], np.array([1.0]))[0].size == 0


def test_search_figure_draws_the_settings_the_trend_and_the_best(searched) -> None:
    data = searched["data"]
    tags = load.search_tags(data)
    areas = alpha_stats.trial_areas(data.frame)
    table = search_stats.setting_table(areas, tags)
    best = search_stats.best_setting_tests(areas, tags, load.settings_tried(data))
    fig, numbers = search_plots.search_figure(table, best, "digits", "coreset")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert "best: alpha=1.3" in ax.get_title() and "Bonferroni ×6 settings tried" in ax.get_title()
    labels = ax.get_legend_handles_labels()[1]
    assert {"best setting", "stopped early (seeds that finished)", "stopped before any seed finished"} <= set(
        labels
    )
    # the settings' rows and the 200 points of the trend, over the finished settings' alphas
    assert numbers["trend_area"].notna().sum() == 200
    assert numbers["setting_index"].dropna().tolist() == list(range(7))
    finished = table[(table["setting_index"] > 0) & ~table["stopped"]]
    assert numbers["trend_alpha"].min() == pytest.approx(finished["alpha"].min())
    assert numbers["trend_alpha"].max() == pytest.approx(finished["alpha"].max())  # not the stopped 20
    assert PEAK in set(numbers["alpha"])
