"""The encoders side by side in one figure per (dataset, heuristic) (issue 15).

``encoders_<dataset>_<heuristic>`` (:func:`encoder_figure`), from :func:`analysis.encoder_stats.encoder_curves`
and :func:`analysis.encoder_stats.encoder_tests`: left, the plain arm and every (encoder, alpha) arm;
right, each arm minus alpha 0, paired by seed.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis import plots
from analysis.encoder_stats import PLAIN
from raysweep import schema

ENCODER_COLOURS = {"vae": "tab:blue", "gmvae": "tab:green", "cvae": "tab:red"}


def encoder_figure(
    curves: pd.DataFrame, tests: pd.DataFrame, dataset: str, heuristic: str, metric: str = schema.TEST_METRIC
) -> tuple[plt.Figure, pd.DataFrame]:
    """Left: the plain arm and every (encoder, alpha) arm, mean over seeds with a 95% CI band. Right: each
    arm minus alpha 0, paired by seed, 95% CI, filled where the paired t-test p < 0.05, Holm-corrected
    over every comparison x label count of the (dataset, heuristic) (``significant``)."""
    mine = curves[(curves["dataset"] == dataset) & (curves["heuristic"] == heuristic)]
    diffs = tests[
        (tests["dataset"] == dataset) & (tests["heuristic"] == heuristic) & (tests["baseline"] == "alpha 0")
    ]
    arms = sorted({(a, e) for a, e in zip(mine["alpha"], mine["encoder"], strict=True) if e != PLAIN})
    alphas = sorted({a for a, _ in arms})
    styles = dict(zip(alphas, ["-", "--", ":", "-."] * len(alphas), strict=False))
    bounded = bool(mine["mean"].between(0.0, 1.0).all())
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.3))
    ax = axes[0]
    for alpha, encoder in [(0.0, PLAIN), *arms]:
        c = mine[(mine["alpha"] == alpha) & (mine["encoder"] == encoder)].sort_values("n_labels")
        if c.empty:
            continue
        colour = plots.PLAIN_COLOUR if encoder == PLAIN else ENCODER_COLOURS.get(encoder, "tab:purple")
        label = "plain (α = 0)" if encoder == PLAIN else f"{encoder}, α = {alpha:g}"
        ax.plot(
            c["n_labels"],
            c["mean"],
            marker="o",
            ms=3.5,
            lw=1.6,
            color=colour,
            ls=styles.get(alpha, "-"),
            label=label,
        )
        low, high = c["ci_low"], c["ci_high"]
        if bounded:
            low, high = low.clip(lower=0.0), high.clip(upper=1.0)
        ax.fill_between(c["n_labels"], low, high, color=colour, alpha=0.15, lw=0)
    ax.set_xlabel("number of labels")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} (mean of {int(mine['n'].max())} seeds, 95% CI)", fontsize=10)
    ax.grid(alpha=0.3)
    plots.legend_below(ax)

    ax = axes[1]
    ax.axhline(0.0, color=plots.PLAIN_COLOUR, lw=1, ls="--")
    offsets = plots.dodge(sorted(diffs["n_labels"].unique()), len(arms)) if len(diffs) else []
    for i, (alpha, encoder) in enumerate(arms):
        d = diffs[(diffs["alpha"] == alpha) & (diffs["encoder"] == encoder)].sort_values("n_labels")
        if d.empty:
            continue
        colour = ENCODER_COLOURS.get(encoder, "tab:purple")
        x = d["n_labels"].to_numpy() + offsets[i]
        y = d["mean_diff"].to_numpy()
        err = np.vstack([y - d["diff_ci_low"].to_numpy(), d["diff_ci_high"].to_numpy() - y])
        ax.errorbar(
            x,
            y,
            yerr=err,
            color=colour,
            lw=1.3,
            capsize=2.5,
            ls=styles[alpha],
            label=f"{encoder}, α = {alpha:g}",
        )
        sig = d["significant"].to_numpy(dtype=bool)
        ax.scatter(x[~sig], y[~sig], facecolors="white", edgecolors=colour, s=22, zorder=4)
        ax.scatter(x[sig], y[sig], color=colour, s=26, zorder=4)
    ax.set_xlabel("number of labels")
    ax.set_ylabel(f"{metric} difference (encoder arm − plain)")
    ax.set_title(
        "paired difference by seed, 95% CI;\nfilled: p < 0.05 (Holm over comparisons × labels)", fontsize=10
    )
    ax.grid(alpha=0.3)
    plots.legend_below(ax, ncol=3)
    fig.suptitle(
        f"{plots.dataset_name(dataset)}: {plots.heuristic_name(heuristic)} with features of each encoder",
        fontsize=12,
    )
    fig.tight_layout()
    return fig, mine
