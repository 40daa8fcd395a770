"""The numbers of a search sweep (``sweep.search``): settings in the searcher's order, the best one tested.

A search's trials carry their setting (:func:`analysis.load.search_tags`: ``search_group``
``dataset/heuristic``, ``setting`` ``alpha=0.371326,vae.latent_dim=16``, ``setting_index`` 1, 2, ...
in the order the searcher proposed them, 0 for the alpha-0 reference, and ``stopped_early``). From
them and the trials' areas (:func:`analysis.alpha_stats.trial_areas`):

- :func:`setting_table`: every setting's mean normalised area under the curve over its seeds, with a
  t-based 95% CI, its alpha, its place in the searcher's order, and whether it was stopped early;
- :func:`best_setting_tests`: per (dataset, heuristic) the best setting, chosen by the rule of
  :mod:`raysweep.choice` on the validation areas (on the test areas, biased upward, for runs that
  logged no validation metric), and its paired test against alpha 0 on the test areas, seed by seed.
  The best of m settings is picked after looking at all of them (and a search proposes settings from
  the results so far), so its p-value is Bonferroni-corrected for the m settings tried
  (``p_t_corrected`` = min(1, m p)); that is the one to claim significance with;
- :func:`without_partial_curves`: the tidy frame minus trials stopped early, for the paired tests at
  each label count (their curves end early; the figures still show them, hollow).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis import stats
from raysweep.choice import ArmScores, choose_arms


def without_partial_curves(frame: pd.DataFrame, tags: pd.DataFrame) -> pd.DataFrame:
    """The tidy frame without the trials stopped early: partial curves stay out of paired tests."""
    stopped = set(tags.loc[tags["stopped_early"], "trial_key"]) if not tags.empty else set()
    return frame[~frame["trial_key"].isin(stopped)]


def setting_table(areas: pd.DataFrame, tags: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, heuristic, setting): mean area over seeds with its 95% CI, in the searcher's order.

    ``areas``: :func:`analysis.alpha_stats.trial_areas`. Only complete curves enter the mean; a setting
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


def choose_settings(
    choice_areas: pd.DataFrame, tags: pd.DataFrame
) -> dict[tuple[str, str], tuple[int, float]]:
    """(dataset, heuristic) -> (setting_index, mean area) of the setting :func:`raysweep.choice.choose_arms`
    chooses from ``choice_areas`` (complete curves of trials not stopped early; every seed a setting
    of the group ran must have one)."""
    merged = choice_areas.merge(tags, on="trial_key", how="inner")
    searched = merged[merged["setting_index"] > 0]
    chosen = {}
    for (dataset, heuristic), group in searched.groupby(["dataset", "heuristic"]):
        name = f"{dataset}/{heuristic}"
        seeds = sorted(set(group["seed"]))
        finished = group[group["complete"] & ~group["stopped_early"]]
        arms = [
            ArmScores(
                name,
                str(index),
                float(arm["alpha"].iloc[0]),
                dict(zip(arm["seed"], arm["area"], strict=True)),
            )
            for index, arm in finished.groupby("setting_index")
        ]
        arm = choose_arms(arms, seeds).get(name)
        if arm is not None:
            chosen[(dataset, heuristic)] = (int(arm.arm), arm.mean_over(seeds))
    return chosen


def best_setting_tests(
    areas: pd.DataFrame,
    tags: pd.DataFrame,
    settings_tried: dict[str, int] | None = None,
    choice_areas: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per (dataset, heuristic): the best setting, paired against alpha 0 over seeds on ``areas``.

    The best setting is chosen (:func:`choose_settings`) on ``choice_areas``, the validation areas
    (``chosen_on`` ``validation``; ``best_choice_area`` its mean there), or on ``areas`` when None
    (``test``: biased upward). ``settings_tried``: group -> settings the searcher tried (the parent
    run's count); the settings seen in the runs are used where it is missing or smaller.
    ``p_t_corrected`` = min(1, m p_t) with m the settings tried (Bonferroni: the best of m is picked
    after looking at all of them).
    """
    stats.check_pairing(areas)
    table = setting_table(areas, tags)
    merged = areas.merge(tags, on="trial_key", how="inner")
    chosen = choose_settings(areas if choice_areas is None else choice_areas, tags)
    chosen_on = "test" if choice_areas is None else "validation"
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
            "chosen_on": chosen_on,
            "area_alpha0": float(plain.mean()) if len(plain) else np.nan,
        }
        if (dataset, heuristic) not in chosen or plain.empty:
            rows.append(
                {
                    **base,
                    "note": f"no setting finished every seed ({chosen_on} areas)"
                    if plain.size
                    else "no alpha-0 reference",
                }
            )
            continue
        index, choice_area = chosen[(dataset, heuristic)]
        best = searched[searched["setting_index"] == index].iloc[0]
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
                "best_choice_area": choice_area,
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
        "chosen_on",
        "area_alpha0",
        "best_index",
        "best_setting",
        "best_alpha",
        "best_area",
        "best_choice_area",
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
