"""Per-trial and per-arm diagnostics on the tidy frame from :mod:`analysis.load`: what an alpha arm
picked, and whether each round's training fit its labels.

- :func:`trial_diagnostics` / :func:`arm_diagnostics`: did an alpha arm pick anything else than the
  plain heuristic? ``plain_overlap`` (against ``plain_overlap_baseline``, the plain heuristic
  against itself under another selection seed), ``vae_share`` and ``vae_share_of_pick_distances``
  per trial, then per arm with 95% CIs; an arm with mean overlap >= :data:`SAME_PICKS_OVERLAP` x
  its mean baseline is flagged.
- :func:`training_fit`: per arm, the rounds whose ``train_accuracy`` is under :data:`TRAIN_FIT`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.stats import GROUP, t_interval
from raysweep import schema
from raysweep.schema import (
    PLAIN_OVERLAP,
    PLAIN_OVERLAP_BASELINE,
    TRAIN_ACCURACY,
    VAE_SHARE_OF_PICK_DISTANCES,
)

SAME_PICKS_OVERLAP = 0.99
"""An arm whose picks overlap the plain heuristic's this much, relative to how much the plain heuristic
overlaps itself (``plain_overlap_baseline``: 1 for a deterministic heuristic), is not a different
experiment."""
SAME_PICKS_TEXT = "picks equal to the plain heuristic's; this arm is not a different experiment"
ARM_COLUMNS = [
    *GROUP,
    "n",
    "vae_share",
    "vae_share_ci_low",
    "vae_share_ci_high",
    "plain_overlap",
    "plain_overlap_ci_low",
    "plain_overlap_ci_high",
    "n_overlap",
    "plain_overlap_baseline",
    "overlap_ratio",
    "vae_share_of_pick_distances",
    "same_picks_as_plain",
]
"""Columns of :func:`arm_diagnostics`."""
TRAIN_FIT = 0.99
"""The paper trains each round "until >99% train accuracy": a round whose ``train_accuracy`` is under
this did not fit its labels."""
TRAINING_COLUMNS = [
    *GROUP,
    "encoder",
    "confirms",
    "trials",
    "rounds",
    "rounds_under",
    "trials_under",
    "min_train_accuracy",
    "under_at",
    "fits",
]
"""Columns of :func:`training_fit`."""


def trial_diagnostics(frame: pd.DataFrame) -> pd.DataFrame:
    """Per trial that logged pick diagnostics: how much the VAE block weighed and what it changed.

    ``vae_share``: mean over the trial's selection rounds of the VAE block's share of the squared
    distances; ``vae_share_of_pick_distances`` the same for the distances that decided the picks
    (core-set, MedAL). ``plain_overlap``: the fraction of all the trial's picks that the same
    heuristic at alpha 0 also picked on the same trained model (each round's overlap weighted by the
    labels the round bought: the step to the trial's next label count); NaN where the heuristic's
    model depends on alpha (loss prediction logs no overlap). ``plain_overlap_baseline``: the same
    weighted mean of the plain heuristic's overlap with itself under another selection seed (logged
    by heuristics that draw at random); 1 for a trial that logs an overlap but no baseline (a
    deterministic heuristic picks the same points again).
    """
    columns = [
        *GROUP,
        "seed",
        "trial_key",
        "rounds",
        "vae_share",
        "plain_overlap",
        "plain_overlap_baseline",
        "vae_share_of_pick_distances",
    ]
    names = [
        schema.VAE_SHARE,
        PLAIN_OVERLAP,
        PLAIN_OVERLAP_BASELINE,
        VAE_SHARE_OF_PICK_DISTANCES,
    ]
    diag = frame[frame["metric"].isin(names)]
    if diag.empty:
        return pd.DataFrame(columns=columns)
    steps = {k: np.unique(g.to_numpy()) for k, g in frame.groupby("trial_key")["n_labels"]}
    rows = []
    for (dataset, heuristic, alpha, seed, key), group in diag.groupby([*GROUP, "seed", "trial_key"]):
        rounds = {name: group[group["metric"] == name].sort_values("n_labels") for name in names}
        overlap, baseline = (
            _pick_weighted(rounds[name]["n_labels"].to_numpy(), rounds[name]["value"].to_numpy(), steps[key])
            for name in (PLAIN_OVERLAP, PLAIN_OVERLAP_BASELINE)
        )
        if np.isnan(baseline) and np.isfinite(overlap):
            baseline = 1.0
        rows.append(
            (
                dataset,
                heuristic,
                alpha,
                seed,
                key,
                int(group["n_labels"].nunique()),
                _mean(rounds["vae_share"]["value"]),
                overlap,
                baseline,
                _mean(rounds[VAE_SHARE_OF_PICK_DISTANCES]["value"]),
            )
        )
    return pd.DataFrame(rows, columns=columns)


def _mean(values: pd.Series) -> float:
    return float(values.mean()) if len(values) else np.nan


def _pick_weighted(n_labels: np.ndarray, values: np.ndarray, trial_steps: np.ndarray) -> float:
    """Mean of per-round ``values`` weighted by the labels each round bought (its next step - its step)."""
    if len(values) == 0:
        return np.nan
    following = np.searchsorted(trial_steps, n_labels, side="right")
    if (following >= len(trial_steps)).any():  # a round without a next step: weigh the rounds equally
        return float(np.mean(values))
    return float(np.average(values, weights=trial_steps[following] - n_labels))


def arm_diagnostics(diagnostics: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, heuristic, alpha): mean and 95% CI over seeds of ``vae_share`` and ``plain_overlap``;
    the mean ``plain_overlap_baseline``, ``overlap_ratio`` (mean overlap / mean baseline) and the mean
    ``vae_share_of_pick_distances``.

    ``same_picks_as_plain``: mean plain_overlap >= :data:`SAME_PICKS_OVERLAP` x its mean baseline: the
    arm bought (nearly) the labels the plain heuristic buys, as much as the plain heuristic agrees with
    itself, so its curve cannot differ from the plain one by construction. For a deterministic
    heuristic (baseline 1) that is an overlap of 0.99 or more.
    """
    if diagnostics.empty:
        return pd.DataFrame(columns=ARM_COLUMNS)
    rows = []
    for key, group in diagnostics.groupby(GROUP, sort=True):
        share = t_interval(group["vae_share"].to_numpy())
        overlap = t_interval(group["plain_overlap"].to_numpy())
        baseline = t_interval(group["plain_overlap_baseline"].to_numpy())[0]
        rows.append(
            (
                *key,
                int(group["seed"].nunique()),
                share[0],
                share[2],
                share[3],
                overlap[0],
                overlap[2],
                overlap[3],
                int(np.isfinite(group["plain_overlap"]).sum()),
                baseline,
                overlap[0] / baseline if baseline > 0 else np.nan,
                t_interval(group["vae_share_of_pick_distances"].to_numpy())[0],
            )
        )
    arms = pd.DataFrame(rows, columns=ARM_COLUMNS[:-1])
    # 990 of 1,000 picks is 0.99 even when averaging lands a rounding error below it
    arms["same_picks_as_plain"] = (
        arms["plain_overlap"] >= SAME_PICKS_OVERLAP * arms["plain_overlap_baseline"] - 1e-9
    )
    return arms


def training_fit(frame: pd.DataFrame) -> pd.DataFrame:
    """Per arm (dataset, heuristic, alpha, encoder; a confirmation's arms apart): did each round's
    training fit its labels? The paper trains "until >99% train accuracy" (:data:`TRAIN_FIT`).

    From ``train_accuracy`` (accuracy on the labeled set after the round's training): ``rounds`` the
    rounds that logged it (all trials), ``rounds_under`` and ``trials_under`` those under
    :data:`TRAIN_FIT` and the trials they belong to, ``min_train_accuracy``, ``under_at`` the label
    counts where some trial was under it, ``fits`` none was. Empty when no run logged it.
    """
    data = frame[frame["metric"] == TRAIN_ACCURACY]
    if data.empty:
        return pd.DataFrame(columns=TRAINING_COLUMNS)
    rows = []
    for key, group in data.groupby([*GROUP, "encoder", "confirms"], sort=True):
        under = group[group["value"] < TRAIN_FIT - 1e-9]  # a float32 0.99 is 0.99
        rows.append(
            (
                *key,
                int(group["trial_key"].nunique()),
                len(group),
                len(under),
                int(under["trial_key"].nunique()),
                float(group["value"].min()),
                ", ".join(str(int(n)) for n in sorted(under["n_labels"].unique())),
                under.empty,
            )
        )
    return pd.DataFrame(rows, columns=TRAINING_COLUMNS)
