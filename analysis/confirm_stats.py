"""The numbers of a confirmation (``--confirm``): the chosen arm against alpha 0 on seeds the choice never saw.

A confirmation is a sweep whose trials carry ``raysweep.confirms=<sweep id>`` (the loader's
``confirms`` column; "" for a sweep's own trials, the selection). Per (dataset, heuristic) with VAE
features it reran the arm the choosing sweep chose on validation (:mod:`raysweep.choice`) and its
alpha-0 partner, and every heuristic without VAE features (the floor: random), on fresh seeds. Its
numbers are the report's headline: the choice is not re-made on them, so the gain is not the
maximum of noisy estimates.

- :func:`confirmation_rows` / :func:`selection_rows`: the tidy frame's rows of each kind.
- :func:`confirmed_tests`: per (dataset, heuristic) and confirmed arm, the paired gain of its
  normalised test areas over alpha 0's, seed by seed, with its 95% t-interval, the paired t-test p
  Holm-corrected across every confirmed comparison of the report (``p_t_holm``), Wilcoxon as a
  robustness check, the floor's area on the same seeds, and the same arm's gain on the seeds that
  chose it (the selection result the confirmation checks).
- :func:`floor_areas`: the heuristics without VAE features on the confirmation seeds.
- :func:`confirmation_curves`: the curves of the confirmation's arms, mean and 95% CI per label count.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import alpha_stats, encoder_stats, stats
from raysweep import schema

FLOOR = "random"
"""The heuristic whose area is the floor every other heuristic should beat."""
CONFIRMED_COLUMNS = [
    "dataset",
    "heuristic",
    "alpha",
    "encoder",
    "confirms",
    "n_pairs",
    "area_alpha0",
    "area_chosen",
    "gain",
    "gain_ci_low",
    "gain_ci_high",
    "p_t",
    "p_t_holm",
    "p_wilcoxon",
    "floor_area",
    "selection_gain",
    "selection_pairs",
    "note",
    "significant",
]
"""Columns of :func:`confirmed_tests`."""


def confirmation_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows (tidy frame or trial table) of a confirmation's trials (empty when there are none)."""
    return frame[frame["confirms"] != ""]


def selection_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows (tidy frame or trial table) of the sweeps' own trials, the seeds that chose: ``frame``
    itself when it holds no confirmation."""
    own = frame["confirms"] == ""
    return frame if own.all() else frame[own]


def areas_with_encoders(
    rows: pd.DataFrame, metric: str = schema.TEST_METRIC, grids: dict[str, list[int]] | None = None
) -> pd.DataFrame:
    """:func:`analysis.alpha_stats.trial_areas` of the tidy ``rows``, with each trial's encoder (empty
    without rows)."""
    if rows.empty:
        return pd.DataFrame()
    areas = alpha_stats.trial_areas(rows, metric, grids)
    encoders = rows.drop_duplicates("trial_key").set_index("trial_key")["encoder"]
    areas["encoder"] = areas["trial_key"].map(encoders)
    return areas


def confirmation_areas(
    frame: pd.DataFrame, metric: str = schema.TEST_METRIC, grids: dict[str, list[int]] | None = None
) -> pd.DataFrame:
    """The areas of the confirmation's trials, with each trial's encoder (:func:`areas_with_encoders`)."""
    return areas_with_encoders(confirmation_rows(frame), metric, grids)


def confirmed_tests(
    areas: pd.DataFrame, confirms: dict[str, str] | None = None, selection_areas: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per (dataset, heuristic) and each of its VAE arms in the confirmation: the paired gain over alpha 0.

    ``areas``: :func:`confirmation_areas` (complete trials only enter). ``gain`` is the mean over the
    confirmation seeds of (area of the arm - area at alpha 0) with its 95% t-interval; ``p_t_holm``
    corrects the paired t-test across every confirmed comparison (every (dataset, heuristic) the
    confirmation reran; ``significant`` uses it). ``floor_area``: :data:`FLOOR`'s mean area on the
    seeds of the comparison. ``confirms``: (dataset/heuristic -> the id of the sweep that chose),
    for the column of that name. ``selection_areas`` (:func:`areas_with_encoders` of the selection):
    the same arm's paired gain over alpha 0 on the seeds that chose it (``selection_gain``, over
    ``selection_pairs`` seeds).
    """
    if areas.empty:
        return pd.DataFrame(columns=CONFIRMED_COLUMNS)
    stats.check_pairing(areas)
    complete = areas[areas["complete"]]
    chosen_on = selection_areas[selection_areas["complete"]] if selection_areas is not None else None
    rows = []
    for (dataset, heuristic), group in areas.groupby(["dataset", "heuristic"], sort=True):
        vae_arms = sorted({(a, e) for a, e in zip(group["alpha"], group["encoder"], strict=True) if a > 0})
        if not vae_arms:
            continue  # a heuristic without VAE features: the floor
        mine = complete[(complete["dataset"] == dataset) & (complete["heuristic"] == heuristic)]
        plain = mine[mine["alpha"] == 0.0].set_index("seed")["area"]
        floor = complete[(complete["dataset"] == dataset) & (complete["heuristic"] == FLOOR)]
        floor = floor.set_index("seed")["area"]
        for alpha, encoder in vae_arms:
            arm = mine[(mine["alpha"] == alpha) & (mine["encoder"] == encoder)].set_index("seed")["area"]
            seeds = sorted(set(arm.index) & set(plain.index))
            test = stats.paired_test(arm.loc[seeds].to_numpy(), plain.loc[seeds].to_numpy())
            on_seeds = floor.reindex(seeds).dropna()
            selection = _paired_gain(chosen_on, dataset, heuristic, alpha, encoder)
            rows.append(
                {
                    "dataset": dataset,
                    "heuristic": heuristic,
                    "alpha": float(alpha),
                    "encoder": encoder,
                    "confirms": (confirms or {}).get(f"{dataset}/{heuristic}", ""),
                    "n_pairs": test["n_pairs"],
                    "area_alpha0": float(plain.loc[seeds].mean()) if seeds else np.nan,
                    "area_chosen": float(arm.loc[seeds].mean()) if seeds else np.nan,
                    "gain": test["mean_diff"],
                    "gain_ci_low": test["diff_ci_low"],
                    "gain_ci_high": test["diff_ci_high"],
                    "p_t": test["p_t"],
                    "p_wilcoxon": test["p_wilcoxon"],
                    "floor_area": float(on_seeds.mean()) if len(on_seeds) else np.nan,
                    "selection_gain": selection["mean_diff"],
                    "selection_pairs": selection["n_pairs"],
                    "note": test["note"] if seeds else "no seed with both arms complete",
                }
            )
    if not rows:
        return pd.DataFrame(columns=CONFIRMED_COLUMNS)
    out = pd.DataFrame(rows)
    out["p_t_holm"] = stats.holm(out["p_t"].to_numpy())
    out["significant"] = out["p_t_holm"] < stats.ALPHA_LEVEL
    return out[CONFIRMED_COLUMNS]


def _paired_gain(
    areas: pd.DataFrame | None, dataset: str, heuristic: str, alpha: float, encoder: str
) -> dict:
    """:func:`analysis.stats.paired_test` of one arm against alpha 0 in ``areas`` (complete trials)."""
    if areas is None or areas.empty:
        return stats.paired_test(np.array([]), np.array([]))
    mine = areas[(areas["dataset"] == dataset) & (areas["heuristic"] == heuristic)]
    plain = mine[mine["alpha"] == 0.0].set_index("seed")["area"]
    arm = mine[(mine["alpha"] == alpha) & (mine["encoder"] == encoder)].set_index("seed")["area"]
    seeds = sorted(set(arm.index) & set(plain.index))
    return stats.paired_test(arm.loc[seeds].to_numpy(), plain.loc[seeds].to_numpy())


def groups_confirmed(frame: pd.DataFrame) -> dict[str, str]:
    """``dataset/heuristic`` -> the id of the sweep whose choice the confirmation's trials of it confirm."""
    rows = confirmation_rows(frame).drop_duplicates(["dataset", "heuristic"])
    return {f"{r.dataset}/{r.heuristic}": r.confirms for r in rows.itertuples()}


def floor_areas(areas: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, heuristic without VAE features in the confirmation): mean area and 95% CI over the
    confirmation seeds (complete trials)."""
    columns = ["dataset", "heuristic", "mean_area", "ci_low", "ci_high", "n"]
    if areas.empty:
        return pd.DataFrame(columns=columns)
    with_vae = set(areas.loc[areas["alpha"] > 0, "heuristic"])
    rows = []
    complete = areas[areas["complete"] & ~areas["heuristic"].isin(with_vae)]
    for (dataset, heuristic), group in complete.groupby(["dataset", "heuristic"], sort=True):
        mean, _, low, high = stats.t_interval(group["area"].to_numpy())
        rows.append((dataset, heuristic, mean, low, high, len(group)))
    return pd.DataFrame(rows, columns=columns)


def confirmation_curves(frame: pd.DataFrame, metric: str = schema.TEST_METRIC) -> pd.DataFrame:
    """The confirmation's curves: per (dataset, heuristic, alpha, encoder, n_labels) mean, std, n and
    95% CI across its seeds (:func:`analysis.encoder_stats.encoder_curves`)."""
    rows = confirmation_rows(frame)
    if rows.empty:
        return pd.DataFrame()
    return encoder_stats.encoder_curves(rows, metric)
