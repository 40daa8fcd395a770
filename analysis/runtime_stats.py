"""Runtime on the tidy frame from :mod:`analysis.load`.

- :func:`runtime_tables`: compute and wall time per trial, per (dataset, heuristic) and per sweep,
  with each shared VAE's training seconds split over the trials that used it
  (:func:`vae_seconds_per_trial`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.stats import GROUP
from raysweep import schema


def vae_seconds_per_trial(vaes: pd.DataFrame) -> pd.Series:
    """trial key -> its share of the training seconds of the VAE it used (NaN where unknown).

    A VAE is one cache key (or one dataset of one sweep for rows without a key); its seconds are
    split evenly over every trial that used it in any of the loaded sweeps, so a VAE trained once
    and read from the cache by a later sweep is counted once.
    """
    if vaes is None or vaes.empty:
        return pd.Series(dtype=float)
    identity = vaes["cache_key"].where(vaes["cache_key"].notna(), vaes["sweep_id"] + "|" + vaes["dataset"])
    shares: dict[str, float] = {}
    for _, group in vaes.groupby(identity):
        seconds = group["seconds"].dropna()
        users = sorted({key for keys in group["trials"] for key in keys})
        share = float(seconds.iloc[0]) / len(users) if len(seconds) and users else np.nan
        for key in users:
            shares[key] = shares.get(key, 0.0) + share
    return pd.Series(shares, dtype=float)


def runtime_tables(
    frame: pd.DataFrame, trials: pd.DataFrame, sweeps: pd.DataFrame, vaes: pd.DataFrame | None = None
) -> dict[str, pd.DataFrame]:
    """Runtime per trial, per (dataset, heuristic) and per sweep, like the paper's runtime paragraph.

    ``compute_seconds`` = train + selection + eval seconds summed over the trial's rounds (eval: the
    test-set evaluation after each round, 0 for runs logged before it was); ``vae_seconds``
    = the trial's share of its VAE's training (:func:`vae_seconds_per_trial`; 0 for trials without
    VAE features, NaN where the sweep did not log it); ``total_seconds`` = compute + VAE, what the
    paper's totals cover. ``diagnostics_seconds`` (the extra alpha-0 selection behind
    ``plain_overlap``) is listed apart: the paper's method does not spend it. ``wall_seconds`` = run
    end - start of the run(s) that hold the trial's points. The paper reports per dataset and
    heuristic the total over both variants and all runs: ``by_heuristic`` sums the same way.
    """
    # the metrics' names are the per-trial table's columns
    parts = [schema.TRAIN_SECONDS, schema.SELECTION_SECONDS, schema.EVAL_SECONDS, schema.DIAGNOSTICS_SECONDS]
    seconds = frame[frame["metric"].isin(parts)]
    per_trial = seconds.pivot_table(
        index=["trial_key", *GROUP, "seed", "uses_vae"],
        columns="metric",
        values="value",
        aggfunc="sum",
        fill_value=0.0,
    ).reset_index()
    for column in parts:
        if column not in per_trial:
            per_trial[column] = 0.0
    per_trial["compute_seconds"] = (
        per_trial["train_seconds"] + per_trial["selection_seconds"] + per_trial["eval_seconds"]
    )
    shares = vae_seconds_per_trial(vaes)
    per_trial["vae_seconds"] = np.where(
        per_trial["uses_vae"], per_trial["trial_key"].map(shares).astype(float), 0.0
    )
    per_trial["total_seconds"] = per_trial["compute_seconds"] + per_trial["vae_seconds"]
    wall = trials.groupby("trial_key")["wall_seconds"].sum(min_count=1)
    per_trial["wall_seconds"] = per_trial["trial_key"].map(wall)
    per_trial.columns.name = None

    by_heuristic = (
        per_trial.assign(vae_unknown=per_trial["uses_vae"] & per_trial["vae_seconds"].isna())
        .groupby(["dataset", "heuristic"])
        .agg(
            trials=("trial_key", "count"),
            variants=("alpha", "nunique"),
            seeds=("seed", "nunique"),
            train_seconds=("train_seconds", "sum"),
            selection_seconds=("selection_seconds", "sum"),
            eval_seconds=("eval_seconds", "sum"),
            compute_seconds=("compute_seconds", "sum"),
            vae_trials=("uses_vae", "sum"),
            vae_seconds=("vae_seconds", "sum"),
            vae_seconds_unknown=("vae_unknown", "sum"),
            total_seconds=("total_seconds", "sum"),
            diagnostics_seconds=("diagnostics_seconds", "sum"),
            wall_seconds=("wall_seconds", "sum"),
            mean_trial_wall_seconds=("wall_seconds", "mean"),
        )
        .reset_index()
    )
    # a total that misses a VAE's seconds is not the paper's total: no number rather than a low one
    by_heuristic.loc[by_heuristic["vae_seconds_unknown"] > 0, "total_seconds"] = np.nan

    sweep_trials = trials.groupby("sweep_id").agg(trials=("trial_key", "nunique")).reset_index()
    compute = per_trial.merge(
        trials.drop_duplicates("trial_key", keep="last")[["trial_key", "sweep_id"]], on="trial_key"
    )
    compute = (
        compute.groupby("sweep_id")[["train_seconds", "selection_seconds", "eval_seconds", "compute_seconds"]]
        .sum()
        .reset_index()
    )
    cols = [
        c
        for c in ["sweep_id", "wall_seconds", "sweep_seconds", "vae_trainings", "vae_seconds"]
        if c in sweeps
    ]
    per_sweep = sweep_trials.merge(compute, on="sweep_id", how="left").merge(
        sweeps[cols], on="sweep_id", how="left"
    )
    return {"per_trial": per_trial, "by_heuristic": by_heuristic, "per_sweep": per_sweep}
