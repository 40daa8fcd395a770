"""The paper's figures from the statistics tables (matplotlib, Agg backend).

Every figure is written as PNG (150 dpi) and PDF, next to the CSV of the numbers drawn in it:

- ``curves_<dataset>_<heuristic>``: figures 1-4. Left: accuracy vs number of labels for the plain
  heuristic and its VAE variants (all of them when there are at most three, else the plain, the
  best alpha by area and the largest alpha), mean over seeds with a 95% CI band, a star above a
  variant's curve where the Holm-corrected paired t-test gives p < 0.05. Right: the paired
  difference variant - plain per alpha with its 95% CI, filled markers where significant.
- ``alpha_sweep_<dataset>``: left, normalised area under the curve vs alpha with 95% CI, one line
  per heuristic (heuristics without alpha as dashed references); right, the paired gain over alpha 0.
- ``runtime``: compute (train + selection) and wall seconds per heuristic, one panel per dataset.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

DPI = 150
HEURISTIC_NAMES = {
    "random": "random",
    "entropy": "entropy",
    "coreset": "core-set",
    "medal": "MedAL",
    "lloss": "loss prediction",
}
DATASET_NAMES = {"mnist": "MNIST", "digits": "digits (sklearn)", "medmnist:chestmnist": "ChestMNIST"}
HEURISTIC_COLOURS = {
    "random": "0.45",
    "entropy": "tab:purple",
    "coreset": "tab:blue",
    "medal": "tab:green",
    "lloss": "tab:orange",
}
PLAIN_COLOUR = "0.15"
MAX_VARIANTS = 3


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
    metric: str = "accuracy",
) -> tuple[plt.Figure, pd.DataFrame]:
    """Figures 1-4 for one (dataset, heuristic). Returns the figure and the numbers behind it."""
    curves = summary[(summary["dataset"] == dataset) & (summary["heuristic"] == heuristic)]
    diffs = tests[(tests["dataset"] == dataset) & (tests["heuristic"] == heuristic)]
    alphas = sorted(a for a in curves["alpha"].unique() if a > 0)
    shown = alphas
    if len(alphas) > MAX_VARIANTS:
        shown = sorted({a for a in (best_alpha, alphas[-1]) if a is not None and a > 0} or {alphas[-1]})
    colours = _variant_colours(alphas)
    n_seeds = int(curves["n"].max())
    bounded = bool(curves["mean"].between(0.0, 1.0).all())  # accuracy, AUC: a fraction

    has_diff = not diffs.empty
    fig, axes = plt.subplots(1, 2 if has_diff else 1, figsize=(11.5 if has_diff else 6.2, 4.3), squeeze=False)
    ax = axes[0, 0]
    for alpha in [0.0, *shown]:
        c = curves[curves["alpha"] == alpha].sort_values("n_labels")
        if c.empty:
            continue
        colour = PLAIN_COLOUR if alpha == 0 else colours[alpha]
        label = f"{heuristic_name(heuristic)} (plain)" if alpha == 0 else f"+ VAE, α = {alpha:g}"
        if alpha > 0 and alpha == best_alpha and len(alphas) > 1:
            label += " (best area)"
        ax.plot(c["n_labels"], c["mean"], marker="o", ms=3.5, lw=1.6, color=colour, label=label)
        low, high = c["ci_low"], c["ci_high"]
        if bounded:  # a t-interval of few seeds can leave [0, 1]; the CSV keeps the raw bounds
            low, high = low.clip(lower=0.0), high.clip(upper=1.0)
        ax.fill_between(c["n_labels"], low, high, color=colour, alpha=0.18, lw=0)
        sig = diffs[(diffs["alpha"] == alpha) & diffs["significant"]] if alpha > 0 else diffs.iloc[0:0]
        if not sig.empty:
            top = c.set_index("n_labels").loc[sig["n_labels"], "ci_high"].to_numpy()
            ax.scatter(sig["n_labels"], top + 0.01 * _span(curves), marker="*", s=70, color=colour, zorder=5)
    if diffs["significant"].any() if has_diff else False:
        ax.scatter([], [], marker="*", s=70, color="0.3", label="p < 0.05 (paired t, Holm)")
    ax.set_xlabel("number of labels")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} (mean of {n_seeds} seeds, 95% CI)", fontsize=10)
    ax.grid(alpha=0.3)
    _legend_below(ax)

    if has_diff:
        ax = axes[0, 1]
        ax.axhline(0.0, color=PLAIN_COLOUR, lw=1, ls="--")
        offsets = _dodge(sorted(diffs["n_labels"].unique()), len(alphas))
        for i, alpha in enumerate(alphas):
            d = diffs[diffs["alpha"] == alpha].sort_values("n_labels")
            x = d["n_labels"].to_numpy() + offsets[i]
            y = d["mean_diff"].to_numpy()
            err = np.vstack([y - d["diff_ci_low"].to_numpy(), d["diff_ci_high"].to_numpy() - y])
            ax.errorbar(x, y, yerr=err, color=colours[alpha], lw=1.3, capsize=2.5, label=f"α = {alpha:g}")
            sig = d["significant"].to_numpy(dtype=bool)
            ax.scatter(x[~sig], y[~sig], facecolors="white", edgecolors=colours[alpha], s=22, zorder=4)
            ax.scatter(x[sig], y[sig], color=colours[alpha], s=26, zorder=4)
        ax.scatter([], [], color="0.3", s=26, label="filled: p < 0.05 (Holm)")
        ax.set_xlabel("number of labels")
        ax.set_ylabel(f"{metric} difference (VAE − plain)")
        ax.set_title("paired difference by seed, 95% CI", fontsize=10)
        ax.grid(alpha=0.3)
        _legend_below(ax, ncol=4)
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
                "p_wilcoxon",
                "p_wilcoxon_holm",
                "significant",
            ]
        ],
        on=["alpha", "n_labels"],
        how="left",
    )
    return fig, numbers


def alpha_figure(
    curve: pd.DataFrame, dataset: str, metric: str = "accuracy"
) -> tuple[plt.Figure, pd.DataFrame]:
    """Normalised area vs alpha (left) and paired gain over alpha 0 (right), one line per heuristic."""
    data = curve[curve["dataset"] == dataset]
    alphas = sorted(data["alpha"].unique())
    position = {a: i for i, a in enumerate(alphas)}  # alphas are a grid, not a scale: equal spacing
    swept = [h for h, g in data.groupby("heuristic") if g["alpha"].nunique() > 1]
    fixed = [h for h, g in data.groupby("heuristic") if g["alpha"].nunique() == 1]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.5, 4.3))
    offsets = _dodge_positions(len(swept))
    for k, heuristic in enumerate(swept):
        g = data[data["heuristic"] == heuristic].sort_values("alpha")
        x = g["alpha"].map(position).to_numpy() + offsets[k]
        colour = HEURISTIC_COLOURS.get(heuristic)
        for ax, mean, low, high in (
            (left, "mean_area", "ci_low", "ci_high"),
            (right, "mean_gain", "gain_ci_low", "gain_ci_high"),
        ):
            y = g[mean].to_numpy()
            err = np.vstack([y - g[low].to_numpy(), g[high].to_numpy() - y])
            ax.errorbar(
                x,
                y,
                yerr=np.nan_to_num(err),
                marker="o",
                ms=4,
                capsize=3,
                color=colour,
                label=heuristic_name(heuristic),
            )
        best = g.loc[g["mean_area"].idxmax()]
        left.scatter(
            position[best["alpha"]] + offsets[k],
            best["mean_area"],
            marker="*",
            s=160,
            color=colour,
            edgecolors="black",
            lw=0.6,
            zorder=5,
        )
    for heuristic in fixed:
        g = data[data["heuristic"] == heuristic].iloc[0]
        colour = HEURISTIC_COLOURS.get(heuristic, "0.5")
        # mean only: CI bands of several references would cover the panel (the CIs are in the CSV)
        label = f"{heuristic_name(heuristic)} (no α), mean"
        left.axhline(g["mean_area"], color=colour, ls="--", lw=1.2, label=label)
    if swept:
        left.scatter(
            [], [], marker="*", s=120, color="white", edgecolors="black", label="best α (largest mean)"
        )
    right.axhline(0.0, color=PLAIN_COLOUR, lw=1, ls="--")
    for ax in (left, right):
        ax.set_xticks(range(len(alphas)), [f"{a:g}" for a in alphas])
        ax.set_xlabel("α (weight of the VAE features; 0 = plain heuristic)")
        ax.grid(alpha=0.3)
    left.set_ylabel(f"normalised area under the curve ({metric})")
    left.set_title("area under the learning curve, mean and 95% CI", fontsize=10)
    right.set_ylabel(f"gain over α = 0 ({metric})")
    right.set_title("paired gain over the plain heuristic, 95% CI", fontsize=10)
    _legend_below(left)
    if swept:
        _legend_below(right)
    n_seeds = int(data["n"].max()) if not data.empty else 0
    fig.suptitle(f"{dataset_name(dataset)}: effect of the VAE weight α ({n_seeds} seeds)", fontsize=12)
    fig.tight_layout()
    return fig, data


def runtime_figure(by_heuristic: pd.DataFrame) -> tuple[plt.Figure, pd.DataFrame]:
    """Compute (train + selection, stacked) and summed trial wall time per heuristic, per dataset."""
    datasets = sorted(by_heuristic["dataset"].unique())
    peak = float(
        np.nanmax(by_heuristic[["compute_seconds", "wall_seconds"]].to_numpy(dtype=float), initial=0)
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
        wall = d["wall_seconds"].to_numpy(dtype=float) / scale
        ax.bar(x - width / 2, train, width, color="tab:blue", label="training")
        ax.bar(x - width / 2, select, width, bottom=train, color="tab:orange", label="selection")
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
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, bbox_to_anchor=(0.5, -0.06))
    fig.suptitle("runtime per heuristic (all variants and seeds summed)", fontsize=12)
    fig.tight_layout()
    return fig, by_heuristic


def write_figures(
    out_dir: Path,
    summary: pd.DataFrame,
    tests: pd.DataFrame,
    curve: pd.DataFrame,
    alpha_table: pd.DataFrame,
    runtime_by_heuristic: pd.DataFrame,
    metric: str = "accuracy",
) -> dict[str, list[Path]]:
    """Write every figure of a report; returns name -> [png, pdf, csv]."""
    figures: dict[str, list[Path]] = {}
    best = {(r.dataset, r.heuristic): r.best_alpha for r in alpha_table.itertuples()}
    for (dataset, heuristic), group in summary.groupby(["dataset", "heuristic"]):
        if group["alpha"].nunique() < 2:
            continue  # no VAE variant: nothing to compare (random, entropy)
        fig, numbers = curve_figure(
            summary, tests, dataset, heuristic, best.get((dataset, heuristic)), metric
        )
        stem = f"curves_{slug(dataset)}_{slug(heuristic)}"
        figures[stem] = save(fig, numbers, out_dir, stem)
    for dataset in sorted(curve["dataset"].unique()):
        if curve[curve["dataset"] == dataset].groupby("heuristic")["alpha"].nunique().max() < 2:
            continue
        fig, numbers = alpha_figure(curve, dataset, metric)
        stem = f"alpha_sweep_{slug(dataset)}"
        figures[stem] = save(fig, numbers, out_dir, stem)
    if not runtime_by_heuristic.empty:
        fig, numbers = runtime_figure(runtime_by_heuristic)
        figures["runtime"] = save(fig, numbers, out_dir, "runtime")
    return figures


def _legend_below(ax: plt.Axes, ncol: int = 2) -> None:
    """A legend under the axes, so it never covers data."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=ncol, fontsize=8, frameon=False)


def _span(curves: pd.DataFrame) -> float:
    values = curves[["ci_low", "ci_high", "mean"]].to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    return float(values.max() - values.min()) if len(values) else 1.0


def _dodge(n_labels: list[int], k: int) -> np.ndarray:
    """Small horizontal offsets (in labels) so k error bars at one label count do not overlap."""
    step = float(np.min(np.diff(n_labels))) if len(n_labels) > 1 else 1.0
    return _dodge_positions(k) * step


def _dodge_positions(k: int) -> np.ndarray:
    return (np.arange(k) - (k - 1) / 2) * (0.4 / k) if k > 1 else np.zeros(max(k, 1))


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"
