"""analysis.confirm_plots on a small hand-made confirmation: the chosen arm, alpha 0 and random, and the gain
in the title."""

from __future__ import annotations

import pandas as pd
from matplotlib.collections import PolyCollection

from analysis import confirm_plots, plots


def curves_and_tests(n_seeds: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    arms = [("coreset", 0.0, "none", 0.80), ("coreset", 1.0, "vae", 0.82), ("random", 0.0, "none", 0.70)]
    curves = pd.DataFrame(
        [("d", h, a, e, n, m + 0.01 * i, 0.01, n_seeds, m + 0.01 * i - 0.01, m + 0.01 * i + 0.01)
         for h, a, e, m in arms for i, n in enumerate((100, 200))],
        columns=["dataset", "heuristic", "alpha", "encoder", "n_labels", "mean", "std", "n", "ci_low", "ci_high"],
    )  # fmt: skip
    tests = pd.DataFrame(
        [("d", "coreset", 1.0, "vae", 0.02, 0.01, 0.03, 0.004)],
        columns=[
            "dataset",
            "heuristic",
            "alpha",
            "encoder",
            "gain",
            "gain_ci_low",
            "gain_ci_high",
            "p_t_holm",
        ],
    )
    return curves, tests


def test_the_figure_draws_the_chosen_arm_alpha_zero_and_the_floor_with_the_gain_in_its_title():
    curves, tests = curves_and_tests()
    other = curves.assign(dataset="other")  # another dataset's rows are not this figure's
    fig, numbers = confirm_plots.confirmation_figure(pd.concat([curves, other]), tests, "d", "coreset")
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == [
        "core-set (plain, α = 0)",
        "+ VAE, α = 1 (chosen on validation)",
        "random (floor)",
    ]
    assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 3  # one band per line
    assert "on 5 fresh seeds" in ax.get_title()
    assert "+0.0200 [+0.0100, +0.0300], p = 0.004 (t, Holm over the confirmed comparisons)" in ax.get_title()
    assert len(numbers) == 6 and set(numbers["dataset"]) == {"d"}
    assert plots.UNINFORMATIVE_NOTE not in ax.get_title()


def test_with_two_seeds_the_bands_are_not_drawn_and_the_title_says_why():
    curves, tests = curves_and_tests(n_seeds=2)
    fig, _ = confirm_plots.confirmation_figure(curves, tests, "d", "coreset")
    assert plots.UNINFORMATIVE_NOTE in fig.axes[0].get_title()
