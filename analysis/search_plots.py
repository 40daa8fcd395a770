"""A search's settings in one figure per (dataset, heuristic): area against alpha, any set of alphas.

``search_<dataset>_<heuristic>`` (:func:`search_figure`), from
:func:`analysis.search_stats.setting_table` and :func:`analysis.search_stats.best_setting_tests`:
area against alpha on a log axis, every setting as a point with its 95% CI, coloured and numbered in
the searcher's order, a kernel-smoothed trend (:func:`smoothed_trend`), the alpha-0 reference as a
band, stopped settings hollow, the best (chosen on validation where the runs logged it) starred.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd

from analysis import plots
from raysweep import schema


def smoothed_trend(
    log_alpha: np.ndarray, values: np.ndarray, points: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """A Gaussian-kernel (Nadaraya-Watson) trend of ``values`` over log10 alpha, on a grid.

    Bandwidth: Silverman's rule on the settings' log alphas, at least 0.15 decades, so a handful of
    settings gives a gentle curve and a dense search follows its data.
    """
    x, y = np.asarray(log_alpha, dtype=float), np.asarray(values, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 2:
        return np.array([]), np.array([])
    bandwidth = max(0.15, 1.06 * float(np.std(x)) * len(x) ** (-1 / 5))
    grid = np.linspace(x.min(), x.max(), points)
    weights = np.exp(-0.5 * ((grid[:, None] - x[None, :]) / bandwidth) ** 2)
    return grid, (weights @ y) / weights.sum(axis=1)


def search_figure(
    table: pd.DataFrame, tests: pd.DataFrame, dataset: str, heuristic: str, metric: str = schema.TEST_METRIC
) -> tuple[plt.Figure, pd.DataFrame]:
    """Area vs alpha (log axis) for one group: settings in the searcher's order, trend, reference, best."""
    data = table[(table["dataset"] == dataset) & (table["heuristic"] == heuristic)]
    reference = data[data["setting_index"] == 0]
    settings = data[data["setting_index"] > 0].sort_values("setting_index")
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    if not reference.empty:
        ref = reference.iloc[0]
        ax.axhline(ref["mean_area"], color=plots.PLAIN_COLOUR, ls="--", lw=1.2, label="α = 0 (plain), mean")
        if math.isfinite(ref["ci_low"]):
            ax.axhspan(
                ref["ci_low"], ref["ci_high"], color=plots.PLAIN_COLOUR, alpha=0.08, label="α = 0, 95% CI"
            )
    order = settings["setting_index"].to_numpy()
    cmap = plt.get_cmap("viridis")
    norm = matplotlib.colors.Normalize(vmin=1, vmax=max(int(order.max()) if len(order) else 1, 2))
    log_alpha = np.log10(settings["alpha"].to_numpy())
    finished = settings[~settings["stopped"]]
    grid, trend = smoothed_trend(np.log10(finished["alpha"].to_numpy()), finished["mean_area"].to_numpy())
    if len(grid):
        ax.plot(10**grid, trend, color="0.35", lw=1.5, label="smoothed trend (kernel, finished settings)")
    for row, x in zip(settings.itertuples(), 10**log_alpha, strict=True):
        colour = cmap(norm(row.setting_index))
        y = row.mean_area
        if not math.isfinite(y):
            # stopped before any seed finished: no comparable area, its place on the alpha axis only
            ax.plot(
                x, 0.03, marker="x", ms=7, color=colour, transform=ax.get_xaxis_transform(), clip_on=False
            )
            ax.annotate(
                str(row.setting_index),
                (x, 0.03),
                xycoords=ax.get_xaxis_transform(),
                xytext=(4, 4),
                textcoords="offset points",
                fontsize=7,
            )
            continue
        err = [[y - row.ci_low], [row.ci_high - y]] if math.isfinite(row.ci_low) else None
        ax.errorbar(
            x,
            y,
            yerr=err,
            fmt="o",
            ms=6,
            capsize=3,
            color=colour,
            mfc="white" if row.stopped else colour,
            zorder=3,
        )
        ax.annotate(str(row.setting_index), (x, y), xytext=(4, 4), textcoords="offset points", fontsize=7)
    best = tests[(tests["dataset"] == dataset) & (tests["heuristic"] == heuristic)]
    title_note = ""
    if not best.empty and pd.notna(best.iloc[0].get("best_alpha")):
        b = best.iloc[0]
        ax.scatter(
            b["best_alpha"], b["best_area"], marker="*", s=220, color="gold", edgecolors="black", zorder=5
        )
        ax.scatter([], [], marker="*", s=120, color="gold", edgecolors="black", label="best setting")
        chosen_on = f" (chosen on {b['chosen_on']})" if isinstance(b.get("chosen_on"), str) else ""
        title_note = (
            f"\nbest: {b['best_setting']}{chosen_on}, gain over α = 0 {b['gain']:+.4f}, "
            f"paired t p = {b['p_t_corrected']:.2g} (Bonferroni ×{b['settings_tried']} settings tried)"
        )
    ax.errorbar([], [], fmt="o", color="0.4", label="setting, mean and 95% CI (number: searcher's order)")
    if settings["stopped"].any():
        ax.errorbar([], [], fmt="o", color="0.4", mfc="white", label="stopped early (seeds that finished)")
    if settings["mean_area"].isna().any():
        ax.plot([], [], "x", color="0.4", label="stopped before any seed finished")
    ax.set_xscale("log")
    ax.margins(x=0.08)
    # plain numbers at 1, 2 and 5 times the decades; none between (a narrow range would stack them)
    ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("α (weight of the VAE features), log scale")
    ax.set_ylabel(f"normalised area under the curve ({metric})")
    ax.grid(alpha=0.3, which="both")
    colourbar = fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, pad=0.02)
    colourbar.set_label("searcher's order")
    colourbar.locator = matplotlib.ticker.MaxNLocator(integer=True)
    colourbar.update_ticks()
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, fontsize=8, frameon=False)
    ax.set_title(
        f"{plots.dataset_name(dataset)}, {plots.heuristic_name(heuristic)}: search over α{title_note}",
        fontsize=9,
    )
    fig.tight_layout()
    numbers = data.copy()
    if len(grid):
        numbers = pd.concat(
            [
                numbers,
                pd.DataFrame(
                    {"dataset": dataset, "heuristic": heuristic, "trend_alpha": 10**grid, "trend_area": trend}
                ),
            ],
            ignore_index=True,
        )
    return fig, numbers
