"""The confirmation's figure, one per (dataset, heuristic) it reran.

``confirmed_<dataset>_<heuristic>`` (:func:`confirmation_figure`), from
:func:`analysis.confirm_stats.confirmation_curves` and :func:`analysis.confirm_stats.confirmed_tests`:
the chosen arm, its alpha-0 partner and the random floor on the fresh seeds, mean with a 95% CI band
(clipped and left out from fewer than 3 seeds, as in every figure: :mod:`analysis.plots`), the paired
gain in area and its Holm-corrected p in the title.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis import plots
from analysis.confirm_stats import FLOOR
from raysweep import schema


def confirmation_figure(
    curves: pd.DataFrame, tests: pd.DataFrame, dataset: str, heuristic: str, metric: str = schema.TEST_METRIC
) -> tuple[plt.Figure, pd.DataFrame]:
    """Chosen alpha vs alpha 0 vs random on the confirmation seeds; returns the figure and its numbers."""
    mine = tests[(tests["dataset"] == dataset) & (tests["heuristic"] == heuristic)]
    here = curves[curves["dataset"] == dataset]
    lines = [(heuristic, 0.0, here[(here["heuristic"] == heuristic) & (here["alpha"] == 0.0)])]
    for row in mine.itertuples():
        arm = here[
            (here["heuristic"] == heuristic) & (here["alpha"] == row.alpha) & (here["encoder"] == row.encoder)
        ]
        lines.append((heuristic, row.alpha, arm))
    if heuristic != FLOOR:
        lines.append((FLOOR, 0.0, here[here["heuristic"] == FLOOR]))
    bounds = plots.feasible_range(metric)
    fig, ax = plt.subplots(figsize=(6.6, 4.6))
    drawn, few_seeds = [], False
    for name, alpha, c in lines:
        c = c.sort_values("n_labels")
        if c.empty:
            continue
        if name == FLOOR:
            colour, style, label = (
                plots.heuristic_colour(FLOOR),
                "--",
                f"{plots.heuristic_name(FLOOR)} (floor)",
            )
        elif alpha == 0:
            colour, style, label = plots.PLAIN_COLOUR, "-", f"{plots.heuristic_name(name)} (plain, α = 0)"
        else:
            encoder = c["encoder"].iloc[0]
            colour, style = plots.heuristic_colour(name), "-"
            label = f"+ VAE, {plots.alpha_text(alpha)} (chosen on validation)" + (
                f", {encoder}" if encoder not in ("vae", "none") else ""
            )
        ax.plot(c["n_labels"], c["mean"], marker="o", ms=3.5, lw=1.6, ls=style, color=colour, label=label)
        low, high = plots.drawable_interval(c["ci_low"], c["ci_high"], c["n"], bounds)
        few_seeds |= bool((c["n"] < plots.MIN_SEEDS_FOR_CI).any())
        ax.fill_between(c["n_labels"], low, high, color=colour, alpha=0.18, lw=0)
        drawn.append(c)
    n_seeds = int(max((int(c["n"].max()) for c in drawn), default=0))
    ax.set_xlabel("number of labels")
    ax.set_ylabel(f"{metric} (test)")
    title = f"{metric} on {n_seeds} fresh seeds, mean and 95% CI"
    for row in mine.itertuples():
        if np.isfinite(row.gain):
            title += (
                f"\ngain in area over α = 0: {row.gain:+.4f} [{row.gain_ci_low:+.4f}, {row.gain_ci_high:+.4f}], "
                f"p = {row.p_t_holm:.2g} (t, Holm over the confirmed comparisons)"
            )
    ax.set_title(title, fontsize=9)
    if few_seeds:
        plots.mark_uninformative(ax)
    ax.grid(alpha=0.3)
    plots.legend_below(ax, ncol=1)
    fig.suptitle(
        f"{plots.dataset_name(dataset)}: {plots.heuristic_name(heuristic)}, confirmed on fresh seeds",
        fontsize=11,
    )
    fig.tight_layout()
    numbers = pd.concat(drawn, ignore_index=True) if drawn else here.iloc[0:0]
    return fig, numbers
