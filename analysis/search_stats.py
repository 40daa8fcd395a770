"""A search sweep (``sweep.search``) in the analysis: settings in the searcher's order, the best one tested.

A search's trial runs carry tags ``raysweep.search_group`` (``dataset/heuristic``),
``raysweep.setting`` (``alpha=0.371326,vae.latent_dim=16``), ``raysweep.setting_index`` (1, 2, ...
in the order the searcher proposed them; 0 for the alpha-0 reference) and, for trials stopped by
early stopping, ``raysweep.stopped_early``. From them:

- :func:`setting_table`: every setting's mean normalised area under the curve over its seeds, with a
  t-based 95% CI, its alpha, its place in the searcher's order, and whether it was stopped early;
- :func:`best_setting_tests`: per (dataset, heuristic) the setting with the largest mean area and its
  paired test against alpha 0 on the areas, seed by seed. The best of m settings is the largest of m
  noisy estimates, so its p-value is Bonferroni-corrected for the m settings tried (``p_t_corrected``
  = min(1, m p)); that is the one to claim significance with;
- :func:`search_figure`: area against alpha on a log axis, any set of alphas: every setting as a
  point with its 95% CI, coloured and numbered in the searcher's order, a kernel-smoothed trend, the
  alpha-0 reference as a band, stopped settings hollow, the best starred;
- :func:`without_partial_curves`: the tidy frame minus trials stopped early, for the paired tests at
  each label count (their curves end early; the figures still show them, hollow).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd

from analysis import plots, stats
from analysis.load import SweepData
from raysweep.schema import (
    ROLE_TAG,
    ROLE_TRIAL,
    SEARCH_GROUP_METRIC_PREFIXES,
    SEARCH_GROUP_TAG,
    SETTING_INDEX_TAG,
    SETTING_TAG,
    STOPPED_EARLY_TAG,
    SWEEP_ID_TAG,
    TRIAL_KEY_TAG,
)

SETTINGS_TRIED_PREFIX = SEARCH_GROUP_METRIC_PREFIXES[0]

SEARCH_TAGS = {
    SEARCH_GROUP_TAG: "search_group",
    SETTING_TAG: "setting",
    SETTING_INDEX_TAG: "setting_index",
    STOPPED_EARLY_TAG: "stopped_early_round",
}
SEARCH_COLUMNS = ["trial_key", "search_group", "setting", "setting_index", "stopped_early"]


def search_tags(data: SweepData) -> pd.DataFrame:
    """One row per trial key of ``data`` with its search tags (empty for a grid).

    Columns: trial_key, search_group, setting, setting_index (int), stopped_early (bool).
    """
    from mlflow import MlflowClient

    client = MlflowClient(data.tracking_uri)
    wanted = set(data.trials["run_id"])
    rows, token = [], None
    while True:
        page = client.search_runs(
            [data.experiment_id],
            filter_string=f"tags.`{ROLE_TAG}` = '{ROLE_TRIAL}'",
            max_results=1000,
            page_token=token,
        )
        for run in page:
            tags = run.data.tags
            if run.info.run_id not in wanted or SETTING_INDEX_TAG not in tags:
                continue
            rows.append(
                {
                    "run_id": run.info.run_id,
                    "sweep_id": tags.get(SWEEP_ID_TAG, ""),
                    "trial_key": tags.get(TRIAL_KEY_TAG),
                    **{column: tags.get(tag) for tag, column in SEARCH_TAGS.items()},
                }
            )
        token = page.token
        if not token:
            break
    if not rows:
        return pd.DataFrame(columns=SEARCH_COLUMNS)
    table = pd.DataFrame(rows)
    table["setting_index"] = table["setting_index"].astype(int)
    table["stopped_early"] = table["stopped_early_round"].notna()
    # a trial key with several runs (a rerun) is stopped if any of them was
    table = table.groupby("trial_key", as_index=False).agg(
        search_group=("search_group", "first"),
        setting=("setting", "first"),
        setting_index=("setting_index", "first"),
        stopped_early=("stopped_early", "any"),
    )
    return table[SEARCH_COLUMNS]


def without_partial_curves(frame: pd.DataFrame, tags: pd.DataFrame) -> pd.DataFrame:
    """The tidy frame without the trials stopped early: partial curves stay out of paired tests."""
    stopped = set(tags.loc[tags["stopped_early"], "trial_key"]) if not tags.empty else set()
    return frame[~frame["trial_key"].isin(stopped)]


def setting_table(areas: pd.DataFrame, tags: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, heuristic, setting): mean area over seeds with its 95% CI, in the searcher's order.

    ``areas``: :func:`analysis.stats.trial_areas`. Only complete curves enter the mean; a setting
    with a trial stopped early is ``stopped`` and its mean covers the seeds that finished, if any.
    """
    columns = [
        "dataset",
        "heuristic",
        "setting_index",
        "setting",
        "alpha",
        "mean_area",
        "ci_low",
        "ci_high",
        "n_seeds",
        "seeds_stopped",
        "stopped",
    ]
    merged = areas.merge(tags, on="trial_key", how="inner")
    rows = []
    for (dataset, heuristic, index, setting), group in merged.groupby(
        ["dataset", "heuristic", "setting_index", "setting"], sort=True
    ):
        complete = group[group["complete"] & ~group["stopped_early"]]
        mean, _, low, high = stats.t_interval(complete["area"].to_numpy())
        stopped = int(group["stopped_early"].sum())
        rows.append(
            (
                dataset,
                heuristic,
                int(index),
                setting,
                float(group["alpha"].iloc[0]),
                mean,
                low,
                high,
                len(complete),
                stopped,
                stopped > 0,
            )
        )
    return pd.DataFrame(rows, columns=columns)


def best_setting_tests(
    areas: pd.DataFrame, tags: pd.DataFrame, settings_tried: dict[str, int] | None = None
) -> pd.DataFrame:
    """Per (dataset, heuristic): the best setting by mean area, paired against alpha 0 over seeds.

    ``settings_tried``: group -> settings the searcher tried (the parent run's count); the settings
    seen in the runs are used where it is missing or smaller. ``p_t_corrected`` = min(1, m p_t) with
    m the settings tried (Bonferroni: the best of m is picked after looking at all of them).
    """
    stats.check_pairing(areas)
    table = setting_table(areas, tags)
    merged = areas.merge(tags, on="trial_key", how="inner")
    rows = []
    for (dataset, heuristic), group in table.groupby(["dataset", "heuristic"]):
        name = f"{dataset}/{heuristic}"
        searched = group[group["setting_index"] > 0]
        tried = max(len(searched), (settings_tried or {}).get(name, 0))
        reference = merged[(merged["dataset"] == dataset) & (merged["heuristic"] == heuristic)]
        plain = reference[(reference["setting_index"] == 0) & reference["complete"]].set_index("seed")["area"]
        base = {
            "dataset": dataset,
            "heuristic": heuristic,
            "settings_tried": tried,
            "area_alpha0": float(plain.mean()) if len(plain) else np.nan,
        }
        eligible = searched[~searched["stopped"] & searched["mean_area"].notna()]
        if eligible.empty or plain.empty:
            rows.append({**base, "note": "no finished setting" if plain.size else "no alpha-0 reference"})
            continue
        best = eligible.loc[eligible["mean_area"].idxmax()]
        variant = reference[(reference["setting_index"] == best["setting_index"]) & reference["complete"]]
        variant = variant.set_index("seed")["area"]
        seeds = sorted(set(plain.index) & set(variant.index))
        test = stats.paired_test(variant.loc[seeds].to_numpy(), plain.loc[seeds].to_numpy())
        rows.append(
            {
                **base,
                "best_index": int(best["setting_index"]),
                "best_setting": best["setting"],
                "best_alpha": float(best["alpha"]),
                "best_area": float(best["mean_area"]),
                "gain": test["mean_diff"],
                "gain_ci_low": test["diff_ci_low"],
                "gain_ci_high": test["diff_ci_high"],
                "n_pairs": test["n_pairs"],
                "p_t": test["p_t"],
                "p_t_corrected": min(1.0, test["p_t"] * tried) if math.isfinite(test["p_t"]) else np.nan,
                "p_wilcoxon": test["p_wilcoxon"],
                "note": test["note"],
            }
        )
    columns = [
        "dataset",
        "heuristic",
        "settings_tried",
        "area_alpha0",
        "best_index",
        "best_setting",
        "best_alpha",
        "best_area",
        "gain",
        "gain_ci_low",
        "gain_ci_high",
        "n_pairs",
        "p_t",
        "p_t_corrected",
        "p_wilcoxon",
        "note",
    ]
    out = pd.DataFrame(rows).reindex(columns=columns)
    out["significant"] = out["p_t_corrected"] < stats.ALPHA_LEVEL
    return out


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
    table: pd.DataFrame, tests: pd.DataFrame, dataset: str, heuristic: str, metric: str = "accuracy"
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
        title_note = (
            f"\nbest: {b['best_setting']}, gain over α = 0 {b['gain']:+.4f}, "
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


@dataclass
class SearchSection:
    """What a search adds to the report: tables, figures and the report's blocks."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, list[Path]] = field(default_factory=dict)
    blocks: list[tuple[str, object]] = field(default_factory=list)


def settings_tried_from_parents(data: SweepData) -> dict[str, int]:
    """group -> settings tried, from the parent runs' ``search_settings_tried.<group>`` metrics."""
    from mlflow import MlflowClient

    client = MlflowClient(data.tracking_uri)
    tried: dict[str, int] = {}
    for run_id in data.sweeps.get("parent_run_id", pd.Series(dtype=object)).dropna():
        for name, value in client.get_run(run_id).data.metrics.items():
            if name.startswith(SETTINGS_TRIED_PREFIX):
                group = name.removeprefix(SETTINGS_TRIED_PREFIX)
                tried[group] = max(tried.get(group, 0), int(value))
    return tried


def search_section(
    data: SweepData, areas: pd.DataFrame, tags: pd.DataFrame, out_dir: Path, metric: str = "accuracy"
) -> SearchSection:
    """The report's search section (empty for a grid): tables, one figure per group, blocks."""
    section = SearchSection()
    if tags.empty:
        return section
    table = setting_table(areas, tags)
    tests = best_setting_tests(areas, tags, settings_tried_from_parents(data))
    section.tables = {"search_settings": table, "search_best": tests}
    for (dataset, heuristic), _ in table.groupby(["dataset", "heuristic"]):
        fig, numbers = search_figure(table, tests, dataset, heuristic, metric)
        stem = f"search_{plots.slug(dataset)}_{plots.slug(heuristic)}"
        section.figures[stem] = plots.save(fig, numbers, Path(out_dir), stem)
    b = section.blocks
    b.append(("h2", "Search: which setting, and does it beat alpha 0?"))
    b.append(
        (
            "p",
            "The search algorithm proposed settings one after another from the results so far; each ran on "
            "every seed, paired with the alpha-0 arm of its seed. Area: normalised area under the "
            f"{metric} curve, mean over seeds with a t-based 95% CI; settings stopped early keep their "
            "partial curves out of every paired test. The best setting is the largest of the settings "
            "tried, so its paired t-test against alpha 0 is Bonferroni-corrected for that number "
            "('p, corrected'); 'significant' uses it. Full tables: `search_settings.csv`, `search_best.csv`.",
        )
    )
    shown = tests.copy()
    b.append(
        (
            "table",
            _strings(
                shown,
                {
                    "dataset": "dataset",
                    "heuristic": "heuristic",
                    "settings_tried": "settings tried",
                    "area_alpha0": "area, alpha 0",
                    "best_setting": "best setting",
                    "best_index": "found as",
                    "best_area": "best area",
                    "gain": "gain",
                    "n_pairs": "seeds",
                    "p_t": "p (t)",
                    "p_t_corrected": "p, corrected",
                    "significant": "significant",
                    "note": "note",
                },
            ),
        )
    )
    order = table.sort_values(["dataset", "heuristic", "setting_index"])
    b.append(
        (
            "table",
            _strings(
                order,
                {
                    "dataset": "dataset",
                    "heuristic": "heuristic",
                    "setting_index": "order",
                    "setting": "setting",
                    "mean_area": "mean area",
                    "ci_low": "CI low",
                    "ci_high": "CI high",
                    "n_seeds": "seeds",
                    "stopped": "stopped early",
                },
            ),
        )
    )
    for stem, paths in section.figures.items():
        b.append(
            ("img", (paths[0].name, f"{stem}: area against alpha, settings numbered in the searcher's order"))
        )
    return section


def _strings(table: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    present = [c for c in columns if c in table]
    out = table[present].rename(columns=columns).copy()
    for column in out:
        out[column] = [_cell(v, column) for v in out[column]]
    return out


def _cell(value: object, column: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        if column.startswith("p"):
            return "<0.0001" if value < 1e-4 else f"{value:.4f}"
        if column in ("found as", "settings tried", "seeds", "order"):
            return str(int(value))
        return f"{value:.4f}"
    return str(value)
