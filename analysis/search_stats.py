"""The numbers of a search sweep (``sweep.search``): settings in the searcher's order, the best one tested.

A search's trials carry their setting (:func:`analysis.load.search_tags`: ``search_group``
``dataset/heuristic``, ``setting`` ``alpha=0.371326,vae.latent_dim=16``, ``setting_index`` 1, 2, ...
in the order the searcher proposed them, 0 for the alpha-0 reference, and ``stopped_early``). From
them and the trials' areas (:func:`analysis.stats.trial_areas`):

- :func:`setting_table`: every setting's mean normalised area under the curve over its seeds, with a
  t-based 95% CI, its alpha, its place in the searcher's order, and whether it was stopped early;
- :func:`best_setting_tests`: per (dataset, heuristic) the setting with the largest mean area and its
  paired test against alpha 0 on the areas, seed by seed. The best of m settings is the largest of m
  noisy estimates, so its p-value is Bonferroni-corrected for the m settings tried (``p_t_corrected``
  = min(1, m p)); that is the one to claim significance with;
- :func:`without_partial_curves`: the tidy frame minus trials stopped early, for the paired tests at
  each label count (their curves end early; the figures still show them, hollow).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis import stats


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
