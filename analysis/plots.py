"""The paper's figures from the statistics tables (matplotlib, Agg backend), and what every figure shares.

Each figure function returns the figure and the numbers drawn in it; :func:`save` writes the figure
as PNG (150 dpi) and PDF next to the CSV of those numbers. The report's figures section
(:mod:`analysis.sections.figures`) decides which figures a sweep gets, under these stems:

- ``curves_<dataset>_<heuristic>`` (:func:`curve_figure`): figures 1-4. Left: accuracy vs number of
  labels for the plain heuristic and its VAE variants (all of them when there are at most three,
  else the plain, the chosen alpha and the largest alpha), mean over seeds with a 95% CI band,
  a star above a variant's curve where the paired t-test, Holm-corrected over every alpha and label
  count of the (dataset, heuristic), gives p < 0.05. Right: the paired difference variant - plain
  per alpha with its 95% CI, filled markers where significant.
- ``alpha_sweep_<dataset>`` (:func:`alpha_figure`): one line per heuristic against alpha: the
  normalised area under the curve (heuristics without alpha as dashed references), the paired gain
  over alpha 0 (a star on the alpha the report chose, on validation where the runs logged it),
  ``plain_overlap`` (the share of picks the plain heuristic also makes) beside its baseline (the plain
  heuristic against itself under another selection seed: a dashed bar across each arm's point; an arm
  at 0.99 of it or more picked what plain picks) and ``vae_share`` (the VAE block's share of the
  squared distances), each mean and 95% CI over seeds. Alphas are a grid, not a scale: equally spaced
  ticks, 0 (plain) first, and the VAE-only end (alpha = inf) at its own tick past a break.
- ``runtime`` (:func:`runtime_figure`): compute (train + selection), each heuristic's share of VAE
  training and wall seconds per heuristic, one panel per dataset.

The figures of :mod:`analysis.encoder_plots` and :mod:`analysis.search_plots` share this module's
names and colours of datasets and heuristics, :func:`save`, :func:`legend_below` and :func:`dodge`.

Intervals: CI bands and whiskers are clipped to what the quantity can be ([0, 1] for accuracy, AUC,
their areas, overlaps and shares; [-1, 1] for their differences); the CSVs keep the unclipped
bounds. Where fewer than :data:`MIN_SEEDS_FOR_CI` seeds back a point, a t-interval spans most of
the plot and says nothing: it is not drawn, and the panel says so.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis.diagnostic_stats import ARM_COLUMNS, SAME_PICKS_OVERLAP
from raysweep import schema

DPI = 150
HEURISTIC_NAMES = {
    "random": "random",
    "entropy": "entropy",
    "coreset": "core-set",
    "medal": "MedAL",
    "lloss": "loss prediction",
    "badge": "BADGE",
    "typiclust": "TypiClust",
}
DATASET_NAMES = {"mnist": "MNIST", "digits": "digits (sklearn)", "medmnist:chestmnist": "ChestMNIST"}
HEURISTIC_COLOURS = {
    "random": "0.45",
    "entropy": "tab:purple",
    "coreset": "tab:blue",
    "medal": "tab:green",
    "lloss": "tab:orange",
    "badge": "tab:red",
    "typiclust": "tab:brown",
}
OTHER_COLOURS = ("tab:pink", "tab:olive", "tab:cyan", "darkgoldenrod", "slateblue")
"""For heuristics without a colour of their own: picked by name, so a heuristic keeps its colour."""
PLAIN_COLOUR = "0.15"
MAX_VARIANTS = 3
FEASIBLE_RANGES = {"accuracy": (0.0, 1.0), "auc": (0.0, 1.0)}
"""metric -> the values it can take; its curves, areas (in its units) and intervals stay inside."""
FRACTION = (0.0, 1.0)
"""vae_share and plain_overlap are fractions."""
MIN_SEEDS_FOR_CI = 3
UNINFORMATIVE_NOTE = f"fewer than {MIN_SEEDS_FOR_CI} seeds: 95% intervals not informative, not drawn"
VAE_ONLY_GAP = 0.7
"""Extra space before the alpha = inf tick: a break in the axis, since inf is not one more step."""
BASELINE_HALF_WIDTH = 0.18
"""Half the width (in alpha ticks) of the dashed bar that marks an arm's plain_overlap baseline."""


def feasible_range(metric: str) -> tuple[float, float] | None:
    """What ``metric`` (and its area) can be; None for a metric without known bounds (no clipping)."""
    return FEASIBLE_RANGES.get(metric)


def difference_range(metric: str) -> tuple[float, float] | None:
    bounds = feasible_range(metric)
    return None if bounds is None else (bounds[0] - bounds[1], bounds[1] - bounds[0])


def drawable_interval(
    low: np.ndarray, high: np.ndarray, n: np.ndarray, bounds: tuple[float, float] | None
) -> tuple[np.ndarray, np.ndarray]:
    """The interval to draw: clipped to ``bounds``, NaN where fewer than MIN_SEEDS_FOR_CI seeds back it."""
    low, high = np.asarray(low, dtype=float).copy(), np.asarray(high, dtype=float).copy()
    if bounds is not None:
        low, high = np.clip(low, *bounds), np.clip(high, *bounds)
    few = np.asarray(n, dtype=float) < MIN_SEEDS_FOR_CI
    low[few], high[few] = np.nan, np.nan
    return low, high


def whiskers(y: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """(2, n) error-bar lengths from a drawable interval (0 where it is not drawn)."""
    return np.nan_to_num(np.vstack([y - low, high - y]), nan=0.0).clip(min=0.0)


def mark_uninformative(ax: plt.Axes) -> None:
    """Say under the panel's title that its intervals are not drawn (a box in the panel would cover data)."""
    ax.set_title(f"{ax.get_title()}\n({UNINFORMATIVE_NOTE})", fontsize=9)


def alpha_text(alpha: float) -> str:
    return "VAE only (α = ∞)" if np.isinf(alpha) else f"α = {alpha:g}"


def heuristic_colour(name: str) -> str:
    """The heuristic's colour in every figure (one of :data:`OTHER_COLOURS` for one not listed)."""
    if name in HEURISTIC_COLOURS:
        return HEURISTIC_COLOURS[name]
    return OTHER_COLOURS[zlib.crc32(name.encode()) % len(OTHER_COLOURS)]


def heuristic_name(name: str) -> str:
    return HEURISTIC_NAMES.get(name, name)


def dataset_name(name: str) -> str:
    if name in DATASET_NAMES:
        return DATASET_NAMES[name]
    return name.split(":", 1)[1] if name.startswith("medmnist:") else name


def slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)


def save(fig: plt.Figure, numbers: pd.DataFrame, out_dir: Path, stem: str) -> list[Path]:
    """Write ``stem``.png, .pdf and .csv into ``out_dir``; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.pdf", out_dir / f"{stem}.csv"]
    fig.savefig(paths[0], dpi=DPI, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    plt.close(fig)
    numbers.to_csv(paths[2], index=False)
    return paths


def _variant_colours(alphas: list[float]) -> dict[float, tuple]:
    cmap = plt.get_cmap("plasma")
    positions = np.linspace(0.15, 0.8, max(len(alphas), 1))
    return {a: cmap(p) for a, p in zip(sorted(alphas), positions, strict=False)}


def curve_figure(
    summary: pd.DataFrame,
    tests: pd.DataFrame,
    dataset: str,
    heuristic: str,
    best_alpha: float | None,
    metric: str = schema.TEST_METRIC,
    chosen_on: str = "validation",
) -> tuple[plt.Figure, pd.DataFrame]:
    """Figures 1-4 for one (dataset, heuristic). Returns the figure and the numbers behind it.

    ``best_alpha``: the alpha the report chose (on ``chosen_on``'s split), shown among the variants."""
    curves = summary[(summary["dataset"] == dataset) & (summary["heuristic"] == heuristic)]
    diffs = tests[(tests["dataset"] == dataset) & (tests["heuristic"] == heuristic)]
    alphas = sorted(a for a in curves["alpha"].unique() if a > 0)
    shown = alphas
    if len(alphas) > MAX_VARIANTS:
        shown = sorted({a for a in (best_alpha, alphas[-1]) if a is not None and a > 0} or {alphas[-1]})
    colours = _variant_colours(alphas)
    n_seeds = int(curves["n"].max())
    bounds = feasible_range(metric)
    few_seeds = False

    has_diff = not diffs.empty
    fig, axes = plt.subplots(1, 2 if has_diff else 1, figsize=(11.5 if has_diff else 6.2, 4.3), squeeze=False)
    ax = axes[0, 0]
    for alpha in [0.0, *shown]:
        c = curves[curves["alpha"] == alpha].sort_values("n_labels")
        if c.empty:
            continue
        colour = PLAIN_COLOUR if alpha == 0 else colours[alpha]
        label = f"{heuristic_name(heuristic)} (plain)" if alpha == 0 else f"+ VAE, {alpha_text(alpha)}"
        if np.isinf(alpha):
            label = alpha_text(alpha)
        if alpha > 0 and alpha == best_alpha and len(alphas) > 1:
            label += f" (chosen on {chosen_on})"
        ax.plot(c["n_labels"], c["mean"], marker="o", ms=3.5, lw=1.6, color=colour, label=label)
        # a t-interval of few seeds can leave [0, 1] or span the plot; the CSV keeps the raw bounds
        low, high = drawable_interval(c["ci_low"], c["ci_high"], c["n"], bounds)
        few_seeds |= bool((c["n"] < MIN_SEEDS_FOR_CI).any())
        ax.fill_between(c["n_labels"], low, high, color=colour, alpha=0.18, lw=0)
        sig = diffs[(diffs["alpha"] == alpha) & diffs["significant"]] if alpha > 0 else diffs.iloc[0:0]
        if not sig.empty:
            top = pd.Series(np.fmax(high, c["mean"].to_numpy()), index=c["n_labels"])
            top = top.loc[sig["n_labels"]].to_numpy()
            ax.scatter(sig["n_labels"], top + 0.01 * _span(curves), marker="*", s=70, color=colour, zorder=5)
    if diffs["significant"].any() if has_diff else False:
        ax.scatter([], [], marker="*", s=70, color="0.3", label="p < 0.05 (paired t, Holm over α × labels)")
    ax.set_xlabel("number of labels")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} (mean of {n_seeds} seeds, 95% CI)", fontsize=10)
    if few_seeds:
        mark_uninformative(ax)
    ax.grid(alpha=0.3)
    legend_below(ax)

    if has_diff:
        ax = axes[0, 1]
        ax.axhline(0.0, color=PLAIN_COLOUR, lw=1, ls="--")
        offsets = dodge(sorted(diffs["n_labels"].unique()), len(alphas))
        for i, alpha in enumerate(alphas):
            d = diffs[diffs["alpha"] == alpha].sort_values("n_labels")
            x = d["n_labels"].to_numpy() + offsets[i]
            y = d["mean_diff"].to_numpy()
            low, high = drawable_interval(
                d["diff_ci_low"], d["diff_ci_high"], d["n_pairs"], difference_range(metric)
            )
            err = whiskers(y, low, high)
            ax.errorbar(x, y, yerr=err, color=colours[alpha], lw=1.3, capsize=2.5, label=alpha_text(alpha))
            sig = d["significant"].to_numpy(dtype=bool)
            ax.scatter(x[~sig], y[~sig], facecolors="white", edgecolors=colours[alpha], s=22, zorder=4)
            ax.scatter(x[sig], y[sig], color=colours[alpha], s=26, zorder=4)
        ax.scatter([], [], color="0.3", s=26, label="filled: p < 0.05 (Holm over α × labels)")
        ax.set_xlabel("number of labels")
        ax.set_ylabel(f"{metric} difference (VAE − plain)")
        ax.set_title("paired difference by seed, 95% CI", fontsize=10)
        if (diffs["n_pairs"] < MIN_SEEDS_FOR_CI).any():
            mark_uninformative(ax)
        ax.grid(alpha=0.3)
        legend_below(ax, ncol=4)
    fig.suptitle(
        f"{dataset_name(dataset)}: {heuristic_name(heuristic)} with and without VAE features", fontsize=12
    )
    fig.tight_layout()

    numbers = curves.merge(
        diffs[
            [
                "alpha",
                "n_labels",
                "n_pairs",
                "mean_diff",
                "diff_ci_low",
                "diff_ci_high",
                "p_t",
                "p_t_holm",
                "p_t_holm_all",
                "p_wilcoxon",
                "p_wilcoxon_holm",
                "p_wilcoxon_holm_all",
                "significant",
            ]
        ],
        on=["alpha", "n_labels"],
        how="left",
    )
    return fig, numbers


def alpha_positions(alphas: list[float]) -> dict[float, float]:
    """x position per alpha: finite alphas equally spaced (a grid, not a scale), inf past a break."""
    finite = sorted(a for a in alphas if np.isfinite(a))
    position = {a: float(i) for i, a in enumerate(finite)}
    if any(np.isinf(a) for a in alphas):
        position[np.inf] = len(finite) + VAE_ONLY_GAP if finite else 0.0
    return position


def alpha_tick(alpha: float) -> str:
    if alpha == 0:
        return "0\n(plain)"
    return "∞\n(VAE only)" if np.isinf(alpha) else f"{alpha:g}"


def alpha_figure(
    curve: pd.DataFrame,
    dataset: str,
    metric: str = schema.TEST_METRIC,
    arms: pd.DataFrame | None = None,
    scaling: str | None = None,
    chosen: dict[str, float] | None = None,
    chosen_on: str = "validation",
) -> tuple[plt.Figure, pd.DataFrame]:
    """Against alpha, one line per heuristic: area, paired gain, plain_overlap (beside its baseline) and
    vae_share.

    ``curve``: :func:`analysis.alpha_stats.alpha_curve`; ``arms``:
    :func:`analysis.diagnostic_stats.arm_diagnostics` (the bottom row stays empty with a note when the
    runs logged no diagnostics); ``scaling``: the VAE arms' alpha scaling, for the axis label;
    ``chosen``: heuristic -> the alpha the report chose (starred on the area panel; on ``chosen_on``'s
    split), none starred without it.
    """
    data = curve[curve["dataset"] == dataset]
    if arms is None:
        arms = pd.DataFrame(columns=ARM_COLUMNS)
    diag = arms[arms["dataset"] == dataset]
    alphas = sorted(set(data["alpha"]) | set(diag["alpha"]))
    position = alpha_positions(alphas)
    swept = [h for h, g in data.groupby("heuristic") if g["alpha"].nunique() > 1]
    fixed = [h for h, g in data.groupby("heuristic") if g["alpha"].nunique() == 1]
    fig, axes = plt.subplots(2, 2, figsize=(11.5, 8.6))
    (area_ax, gain_ax), (overlap_ax, share_ax) = axes
    bounds, diff_bounds = feasible_range(metric), difference_range(metric)
    offsets = _dodge_positions(max(len(swept), 1))
    few_seeds = {id(ax): False for ax in axes.flat}

    def series(ax, frame, k, heuristic, mean, low, high, n, limits, label=None):
        g = frame.sort_values("alpha")
        if g.empty:
            return
        x = g["alpha"].map(position).to_numpy() + offsets[k]
        y = g[mean].to_numpy(dtype=float)
        lo, hi = drawable_interval(g[low], g[high], g[n], limits)
        few_seeds[id(ax)] |= bool((g[n] < MIN_SEEDS_FOR_CI).any())
        colour = heuristic_colour(heuristic)
        finite = np.isfinite(g["alpha"].to_numpy())
        ax.errorbar(x, y, yerr=whiskers(y, lo, hi), fmt="o", ms=4, capsize=3, color=colour, label=label)
        ax.plot(x[finite], y[finite], color=colour, lw=1.4)
        if (~finite).any() and finite.any():  # across the break: dotted, inf is not the next step
            ax.plot(
                [x[finite][-1], x[~finite][0]], [y[finite][-1], y[~finite][0]], color=colour, lw=1.2, ls=":"
            )

    for k, heuristic in enumerate(swept):
        g = data[data["heuristic"] == heuristic]
        name = heuristic_name(heuristic)
        series(area_ax, g, k, heuristic, "mean_area", "ci_low", "ci_high", "n", bounds, name)
        vae = g[g["alpha"] > 0]
        series(
            gain_ax,
            vae,
            k,
            heuristic,
            "mean_gain",
            "gain_ci_low",
            "gain_ci_high",
            "n_pairs",
            diff_bounds,
            name,
        )
        d = diag[diag["heuristic"] == heuristic]
        series(
            share_ax,
            d,
            k,
            heuristic,
            "vae_share",
            "vae_share_ci_low",
            "vae_share_ci_high",
            "n",
            FRACTION,
            name,
        )
        d = d[d["n_overlap"] > 0]
        series(
            overlap_ax,
            d,
            k,
            heuristic,
            "plain_overlap",
            "plain_overlap_ci_low",
            "plain_overlap_ci_high",
            "n_overlap",
            FRACTION,
            name,
        )
        if not d.empty and "plain_overlap_baseline" in d:
            # each arm's baseline, how much the plain heuristic agrees with itself, as a dashed bar across
            # the arm's point (a deterministic heuristic's baseline is 1)
            colour = heuristic_colour(heuristic)
            for alpha, baseline in zip(d["alpha"], d["plain_overlap_baseline"], strict=True):
                if not np.isfinite(baseline):
                    continue
                x = position[alpha] + offsets[k]
                span = [x - BASELINE_HALF_WIDTH, x + BASELINE_HALF_WIDTH]
                overlap_ax.plot(span, [baseline] * 2, color=colour, lw=1.3, ls="--")
        best = (chosen or {}).get(heuristic)
        at_best = g[g["alpha"] == best] if best is not None else g.iloc[0:0]
        if not at_best.empty:
            area_ax.scatter(
                position[best] + offsets[k],
                at_best["mean_area"].iloc[0],
                marker="*",
                s=160,
                color=heuristic_colour(heuristic),
                edgecolors="black",
                lw=0.6,
                zorder=5,
            )
    for heuristic in fixed:
        g = data[data["heuristic"] == heuristic].iloc[0]
        colour = heuristic_colour(heuristic)
        # mean only: CI bands of several references would cover the panel (the CIs are in the CSV)
        area_ax.axhline(
            g["mean_area"], color=colour, ls="--", lw=1.2, label=f"{heuristic_name(heuristic)} (no α), mean"
        )
    if swept and chosen:
        star = (
            "chosen α (on validation)" if chosen_on == "validation" else "chosen α (on test: biased upward)"
        )
        area_ax.scatter([], [], marker="*", s=120, color="white", edgecolors="black", label=star)

    gain_ax.axhline(0.0, color=PLAIN_COLOUR, lw=1, ls="--")
    if not diag.empty and (diag["n_overlap"] > 0).any():
        overlap_ax.plot(
            [],
            [],
            color="0.3",
            lw=1.3,
            ls="--",
            label=f"baseline: plain vs itself, another seed (≥ {SAME_PICKS_OVERLAP:g} × it: the plain picks)",
        )
    if 0.0 in position:  # alpha 0 is the plain heuristic itself: overlap 1, VAE share 0
        for axis, value_by_definition in ((overlap_ax, 1.0), (share_ax, 0.0)):
            axis.scatter(
                [position[0.0]],
                [value_by_definition],
                marker="o",
                s=30,
                facecolors="white",
                edgecolors="0.3",
                zorder=4,
                label="α = 0: by definition",
            )
    without_overlap = sorted(set(diag["heuristic"]) - set(diag.loc[diag["n_overlap"] > 0, "heuristic"]))
    if without_overlap:
        names = ", ".join(heuristic_name(h) for h in without_overlap)
        overlap_ax.text(
            0.02,
            0.04,
            f"no plain_overlap for {names}: its model depends on α",
            fontsize=7.5,
            transform=overlap_ax.transAxes,
            color="0.3",
        )
    if diag.empty:
        for ax in (overlap_ax, share_ax):
            ax.text(
                0.5,
                0.5,
                "these runs logged no pick diagnostics",
                ha="center",
                va="center",
                transform=ax.transAxes,
                color="0.3",
            )

    xlabels = {
        "balanced": "α, weight of the VAE block relative to the task block (balanced scaling)",
        "raw": "α, factor on the raw VAE features (raw scaling: the paper's [T_f ⁀ αV])",
    }
    xlabel = xlabels.get(scaling, "α, weight of the VAE features" + (f" ({scaling})" if scaling else ""))
    ticks = sorted(position.items(), key=lambda item: item[1])
    for ax in axes.flat:
        ax.set_xticks([x for _, x in ticks], [alpha_tick(a) for a, _ in ticks])
        ax.set_xlabel(xlabel, fontsize=9)
        ax.grid(alpha=0.3)
        if np.inf in position and len(position) > 1:  # the axis break before the VAE-only end
            ax.axvline(position[np.inf] - (1 + VAE_ONLY_GAP) / 2, color="0.6", lw=0.8, ls=(0, (2, 3)))
    for ax in (overlap_ax, share_ax):
        ax.set_ylim(-0.03, 1.05)
    area_ax.set_ylabel(f"normalised area under the curve ({metric})")
    area_ax.set_title("area under the learning curve, mean and 95% CI", fontsize=10)
    gain_ax.set_ylabel(f"gain over α = 0 ({metric})")
    gain_ax.set_title("paired gain over the plain heuristic, 95% CI", fontsize=10)
    overlap_ax.set_ylabel("plain_overlap (share of picks plain also makes)")
    overlap_ax.set_title("did the arm pick anything else? mean and 95% CI", fontsize=10)
    share_ax.set_ylabel("vae_share (VAE block's share of distances)")
    share_ax.set_title("weight the VAE block carried, mean and 95% CI", fontsize=10)
    for ax in axes.flat:
        if few_seeds[id(ax)]:
            mark_uninformative(ax)
    # one legend for the four panels, under them: per-panel legends would cover the tick labels
    legend: dict[str, object] = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    n_seeds = int(data["n"].max()) if not data.empty else 0
    fig.suptitle(f"{dataset_name(dataset)}: effect of the VAE weight α ({n_seeds} seeds)", fontsize=12)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.legend(legend.values(), legend.keys(), loc="lower center", ncol=4, fontsize=8, frameon=False)
    numbers = data.merge(
        diag, on=["dataset", "heuristic", "alpha"], how="outer", suffixes=("", "_diagnostics")
    )
    return fig, numbers


def runtime_figure(by_heuristic: pd.DataFrame) -> tuple[plt.Figure, pd.DataFrame]:
    """Compute (train + selection + evaluation + share of VAE training, stacked) and summed trial wall
    time per heuristic, per dataset."""
    datasets = sorted(by_heuristic["dataset"].unique())
    stacked = by_heuristic["compute_seconds"] + by_heuristic.get("vae_seconds", 0.0).fillna(0.0)
    peak = float(
        np.nanmax(np.r_[stacked.to_numpy(dtype=float), by_heuristic["wall_seconds"].to_numpy(dtype=float), 0])
    )
    unit, scale = (
        ("hours", 3600.0) if peak > 4 * 3600 else ("minutes", 60.0) if peak > 300 else ("seconds", 1.0)
    )
    fig, axes = plt.subplots(1, len(datasets), figsize=(max(5.5, 4.2 * len(datasets)), 4.2), squeeze=False)
    width = 0.38
    for ax, dataset in zip(axes[0], datasets, strict=True):
        d = by_heuristic[by_heuristic["dataset"] == dataset].reset_index(drop=True)
        x = np.arange(len(d))
        train = d["train_seconds"].to_numpy() / scale
        select = d["selection_seconds"].to_numpy() / scale
        evaluate = d["eval_seconds"].to_numpy() / scale if "eval_seconds" in d else 0 * train
        vae = (
            np.nan_to_num(d["vae_seconds"].to_numpy(dtype=float)) / scale if "vae_seconds" in d else 0 * train
        )
        wall = d["wall_seconds"].to_numpy(dtype=float) / scale
        ax.bar(x - width / 2, train, width, color="tab:blue", label="training")
        ax.bar(x - width / 2, select, width, bottom=train, color="tab:orange", label="selection")
        ax.bar(x - width / 2, evaluate, width, bottom=train + select, color="tab:purple", label="evaluation")
        ax.bar(
            x - width / 2,
            vae,
            width,
            bottom=train + select + evaluate,
            color="tab:green",
            label="VAE training (share)",
        )
        ax.bar(
            x + width / 2,
            wall,
            width,
            color="0.75",
            edgecolor="0.4",
            hatch="//",
            label="wall time (sum of trials)",
        )
        for xi, total in zip(x + width / 2, wall, strict=True):
            if np.isfinite(total):
                ax.annotate(
                    _fmt(total),
                    (xi, total),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    xytext=(0, 2),
                    textcoords="offset points",
                )
        labels = [
            f"{heuristic_name(h)}\n({int(n)} trials)"
            for h, n in zip(d["heuristic"], d["trials"], strict=True)
        ]
        ax.set_xticks(x, labels, fontsize=8)
        ax.set_ylabel(f"time ({unit})")
        ax.set_title(dataset_name(dataset), fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.margins(y=0.15)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=5, fontsize=8, bbox_to_anchor=(0.5, -0.06))
    fig.suptitle(
        "runtime per heuristic (all variants and seeds summed, shared VAEs split over their trials)",
        fontsize=11,
    )
    fig.tight_layout()
    return fig, by_heuristic


def legend_below(ax: plt.Axes, ncol: int = 2) -> None:
    """A legend under the axes, so it never covers data."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=ncol, fontsize=8, frameon=False)


def _span(curves: pd.DataFrame) -> float:
    values = curves[["ci_low", "ci_high", "mean"]].to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    return float(values.max() - values.min()) if len(values) else 1.0


def dodge(n_labels: list[int], k: int) -> np.ndarray:
    """Small horizontal offsets (in labels) so k error bars at one label count do not overlap."""
    step = float(np.min(np.diff(n_labels))) if len(n_labels) > 1 else 1.0
    return _dodge_positions(k) * step


def _dodge_positions(k: int) -> np.ndarray:
    return (np.arange(k) - (k - 1) / 2) * (0.4 / k) if k > 1 else np.zeros(max(k, 1))


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"
