"""analysis.plots on small hand-made tables: intervals clipped to what a quantity can be, none drawn
from fewer than 3 seeds, and the alpha figure's axis (0 first, the VAE-only end past a break)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection, PathCollection, PolyCollection

from analysis import plots


def whisker_segments(ax) -> list[np.ndarray]:
    """The (2, 2) segments of every error-bar whisker drawn in ``ax``."""
    return [s for c in ax.collections if isinstance(c, LineCollection) for s in c.get_segments()]


def test_drawable_interval_clips_and_hides_what_few_seeds_cannot_say():
    low, high = plots.drawable_interval(
        np.array([0.7, -0.2, 0.1]), np.array([1.3, 0.4, 0.2]), np.array([5, 3, 2]), (0.0, 1.0)
    )
    np.testing.assert_array_equal(low[:2], [0.7, 0.0])
    np.testing.assert_array_equal(high[:2], [1.0, 0.4])
    assert np.isnan(low[2]) and np.isnan(high[2])  # 2 seeds: not drawn
    assert plots.difference_range("accuracy") == (-1.0, 1.0) and plots.feasible_range("loss") is None
    np.testing.assert_allclose(
        plots.whiskers(np.array([0.9, 0.1]), low[:2], high[:2]), [[0.2, 0.1], [0.1, 0.3]]
    )


def summary_and_tests(n_seeds: int, ci_half: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A curve near accuracy 1 whose t-interval leaves [0, 1], and its paired differences."""
    rows, diffs = [], []
    for alpha in (0.0, 1.0):
        for n, mean in ((100, 0.95), (200, 0.98)):
            rows.append(("d", "coreset", alpha, n, mean, 0.01, n_seeds, mean - ci_half, mean + ci_half))
            if alpha > 0:
                diffs.append(("d", "coreset", alpha, n, n_seeds, 0.0, -1.4, 1.2, False))
    summary = pd.DataFrame(
        rows, columns=["dataset", "heuristic", "alpha", "n_labels", "mean", "std", "n", "ci_low", "ci_high"]
    )
    tests = pd.DataFrame(
        diffs,
        columns=["dataset", "heuristic", "alpha", "n_labels", "n_pairs", "mean_diff", "diff_ci_low",
                 "diff_ci_high", "significant"],
    )  # fmt: skip
    for column in ("p_t", "p_t_holm", "p_t_holm_all", "p_wilcoxon", "p_wilcoxon_holm", "p_wilcoxon_holm_all"):
        tests[column] = 0.5
    return summary, tests


def test_curve_bands_and_difference_whiskers_stay_in_the_feasible_range():
    summary, tests = summary_and_tests(n_seeds=5, ci_half=0.1)
    fig, numbers = plots.curve_figure(summary, tests, "d", "coreset", best_alpha=1.0)
    curves_ax, diff_ax = fig.axes[:2]
    bands = [c for c in curves_ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2
    for band in bands:
        y = np.concatenate([path.vertices[:, 1] for path in band.get_paths()])
        assert y.max() == pytest.approx(1.0) and y.min() == pytest.approx(0.85)  # 0.98 + 0.1 clipped to 1
    ys = np.concatenate([s[:, 1] for s in whisker_segments(diff_ax)])
    assert ys.min() == pytest.approx(-1.0) and ys.max() == pytest.approx(1.0)  # -1.4 and 1.2 clipped
    assert numbers["ci_high"].max() == pytest.approx(1.08)  # the CSV keeps the raw bound
    assert plots.UNINFORMATIVE_NOTE not in curves_ax.get_title()


def test_with_two_seeds_no_interval_is_drawn_and_the_figure_says_why():
    summary, tests = summary_and_tests(n_seeds=2, ci_half=0.4)
    fig, _ = plots.curve_figure(summary, tests, "d", "coreset", best_alpha=1.0)
    curves_ax, diff_ax = fig.axes[:2]
    bands = [c for c in curves_ax.collections if isinstance(c, PolyCollection)]
    assert all(len(band.get_paths()) == 0 or not band.get_paths()[0].vertices.size for band in bands)
    segments = whisker_segments(diff_ax)
    assert segments and all(np.ptp(s[:, 1]) == 0 for s in segments)  # whiskers of zero length
    assert (
        plots.UNINFORMATIVE_NOTE in curves_ax.get_title() and plots.UNINFORMATIVE_NOTE in diff_ax.get_title()
    )


def test_alpha_axis_puts_plain_first_and_vae_only_past_a_break():
    position = plots.alpha_positions([0.0, 0.5, 2.0, np.inf])
    assert position == {0.0: 0.0, 0.5: 1.0, 2.0: 2.0, np.inf: 3.0 + plots.VAE_ONLY_GAP}
    assert plots.alpha_tick(0.0) == "0\n(plain)" and plots.alpha_tick(np.inf) == "∞\n(VAE only)"
    assert plots.alpha_tick(0.5) == "0.5"


def test_alpha_figure_draws_overlap_and_share_clipped_to_fractions():
    curve = pd.DataFrame(
        [("d", "coreset", a, 0.8, 0.01, 5, 0.7, 0.9, 0.01 * i, -0.01, 0.03, 5) for i, a in enumerate((0.0, 1.0, np.inf))],
        columns=["dataset", "heuristic", "alpha", "mean_area", "std", "n", "ci_low", "ci_high", "mean_gain",
                 "gain_ci_low", "gain_ci_high", "n_pairs"],
    )  # fmt: skip
    arms = pd.DataFrame(
        [("d", "coreset", 1.0, 5, 0.5, 0.45, 0.55, 0.97, 0.9, 1.04, 5), ("d", "coreset", np.inf, 5, 1.0, 1.0, 1.0, 0.2, 0.1, 0.3, 5)],
        columns=["dataset", "heuristic", "alpha", "n", "vae_share", "vae_share_ci_low", "vae_share_ci_high",
                 "plain_overlap", "plain_overlap_ci_low", "plain_overlap_ci_high", "n_overlap"],
    )  # fmt: skip
    fig, numbers = plots.alpha_figure(curve, "d", arms=arms, scaling="balanced")
    overlap_ax = fig.axes[2]
    assert [t.get_text() for t in overlap_ax.get_xticklabels()] == ["0\n(plain)", "1", "∞\n(VAE only)"]
    ys = np.concatenate([s[:, 1] for s in whisker_segments(overlap_ax)])
    assert ys.max() == pytest.approx(1.0) and ys.min() == pytest.approx(0.1)  # 1.04 clipped
    assert set(numbers.columns) >= {"mean_area", "plain_overlap", "vae_share"} and len(numbers) == 3
    assert "balanced" in overlap_ax.get_xlabel()
    # runs from before the diagnostics: the bottom row says there is nothing to show
    fig, _ = plots.alpha_figure(curve, "d")
    assert "these runs logged no pick diagnostics" in [t.get_text() for t in fig.axes[2].texts]


def test_alpha_figure_stars_the_chosen_alpha_and_draws_each_overlap_baseline():
    curve = pd.DataFrame(
        [("d", "badge", a, 0.8 - 0.01 * i, 0.01, 5, 0.7, 0.9, 0.01, -0.01, 0.03, 5) for i, a in enumerate((0.0, 1.0, 2.0))],
        columns=["dataset", "heuristic", "alpha", "mean_area", "std", "n", "ci_low", "ci_high", "mean_gain",
                 "gain_ci_low", "gain_ci_high", "n_pairs"],
    )  # fmt: skip
    arms = pd.DataFrame(
        [("d", "badge", a, 5, 0.5, 0.4, 0.6, 0.5, 0.4, 0.6, 5, b) for a, b in ((1.0, 0.5), (2.0, 0.8))],
        columns=["dataset", "heuristic", "alpha", "n", "vae_share", "vae_share_ci_low", "vae_share_ci_high",
                 "plain_overlap", "plain_overlap_ci_low", "plain_overlap_ci_high", "n_overlap",
                 "plain_overlap_baseline"],
    )  # fmt: skip
    # alpha 2 is chosen although alpha 1 has the larger area: the star follows the choice, not the area
    fig, _ = plots.alpha_figure(curve, "d", arms=arms, chosen={"badge": 2.0})
    area_ax, _, overlap_ax, _ = fig.axes
    stars = [c for c in area_ax.collections if isinstance(c, PathCollection) and list(c.get_sizes()) == [160]]
    assert [tuple(c.get_offsets()[0]) for c in stars] == [(2.0, pytest.approx(0.78))]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "chosen α (on validation)" in labels
    assert any(label.startswith("baseline: plain vs itself, another seed") for label in labels)
    dashed = [
        line for line in overlap_ax.get_lines() if line.get_linestyle() == "--" and len(line.get_xdata()) == 2
    ]
    assert sorted(line.get_ydata()[0] for line in dashed) == [0.5, 0.8]  # one bar per arm, at its baseline
    assert dashed[0].get_xdata() == pytest.approx(
        [1 - plots.BASELINE_HALF_WIDTH, 1 + plots.BASELINE_HALF_WIDTH]
    )
    # without a choice, no star; chosen on test, the legend says so
    fig, _ = plots.alpha_figure(curve, "d", arms=arms)
    assert not [
        c for c in fig.axes[0].collections if isinstance(c, PathCollection) and list(c.get_sizes()) == [160]
    ]
    fig, _ = plots.alpha_figure(curve, "d", arms=arms, chosen={"badge": 1.0}, chosen_on="test")
    assert "chosen α (on test: biased upward)" in [t.get_text() for t in fig.legends[0].get_texts()]


def test_every_heuristic_keeps_one_colour():
    assert plots.heuristic_colour("coreset") == "tab:blue" and plots.heuristic_colour("badge") == "tab:red"
    assert plots.heuristic_colour("margin") == plots.heuristic_colour("margin") in plots.OTHER_COLOURS
