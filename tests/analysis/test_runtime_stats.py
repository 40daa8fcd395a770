"""analysis.runtime_stats: the runtime tables and each shared VAE's seconds. Known answers on a small
hand-made frame, then on MLflow stores written with the real mlflow client (tests/analysis/conftest.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers.mlflow_runs import T0_MS, write_sweep

from analysis import runtime_stats
from analysis.load import load_sweep


def test_a_shared_vae_is_split_over_the_trials_that_used_it_and_counted_once():
    vaes = pd.DataFrame(
        [
            # sweep 1 trained the VAE (60 s) for 3 trials; sweep 2 read it from the cache for 1 more
            ("s1", "d", "k1", True, 60.0, ["d/coreset/1/0", "d/coreset/1/1", "d/lloss/1/0"]),
            ("s2", "d", "k1", False, 60.0, ["d/coreset/1/2"]),
            # an old cache file: its seconds are unknown
            ("s2", "e", "k2", False, np.nan, ["e/coreset/1/0"]),
        ],
        columns=["sweep_id", "dataset", "cache_key", "trained_this_run", "seconds", "trials"],
    )
    shares = runtime_stats.vae_seconds_per_trial(vaes)
    assert shares[[f"d/coreset/1/{s}" for s in range(3)]].tolist() == [15.0] * 3
    assert shares["d/lloss/1/0"] == 15.0 and np.isnan(shares["e/coreset/1/0"])


# ---------------------------------------------------------------------------------------------
# On MLflow stores
# ---------------------------------------------------------------------------------------------


def test_runtime_tables_sum_the_logged_seconds(study):
    runtime = runtime_stats.runtime_tables(study.frame, study.trials, study.sweeps)
    per_trial = runtime["per_trial"].set_index("trial_key")
    # helper: 2 s training at each of 5 label counts, 0.5 s selection in 4 rounds, 60 s wall
    assert per_trial.loc["digits/coreset/0.5/0", "compute_seconds"] == pytest.approx(5 * 2.0 + 4 * 0.5)
    assert per_trial.loc["digits/coreset/0.5/0", "wall_seconds"] == pytest.approx(60.0)
    assert (per_trial["eval_seconds"] == 0.0).all()  # runs from before eval_seconds was logged
    core = runtime["by_heuristic"].set_index("heuristic").loc["coreset"]
    assert core["trials"] == 15 and core["wall_seconds"] == pytest.approx(15 * 60.0)
    sweep = runtime["per_sweep"].iloc[0]
    assert sweep["trials"] == 30 and sweep["vae_trainings"] == 1.0
    assert sweep["compute_seconds"] == pytest.approx(30 * 12.0)


def test_runtime_totals_count_the_evaluation_seconds(store):
    uri, art = store["uri"], store["art"]
    write_sweep(uri, "evaluated", sweep_id="v1", artifact_root=art, seeds=[0, 1], eval_s_per_round=0.3)
    data = load_sweep(uri, "evaluated")
    runtime = runtime_stats.runtime_tables(data.frame, data.trials, data.sweeps, data.vaes)
    per_trial = runtime["per_trial"].set_index("trial_key")
    # 5 label counts, each evaluated: 1.5 s beside the 10 s training and 2 s selection
    assert per_trial.loc["digits/coreset/0/1", "eval_seconds"] == pytest.approx(5 * 0.3)
    assert per_trial.loc["digits/coreset/0/1", "compute_seconds"] == pytest.approx(10.0 + 2.0 + 1.5)
    core = runtime["by_heuristic"].set_index("heuristic").loc["coreset"]
    assert core["eval_seconds"] == pytest.approx(6 * 1.5)
    # 4 VAE trials share the helper's 12.5-s VAE
    assert core["total_seconds"] == pytest.approx(6 * 13.5 + 12.5)
    assert runtime["per_sweep"].iloc[0]["compute_seconds"] == pytest.approx(6 * 13.5)


def test_vae_seconds_of_a_reused_vae_count_once_and_unknown_ones_are_said(store):
    uri, art = store["uri"], store["art"]
    # e1 trains the VAE (20 s) for seed 0; e2 reads it from the cache for seed 1: 20 s over 4 trials
    write_sweep(uri, "reused", sweep_id="e1", artifact_root=art, seeds=[0], vae_seconds=20.0)
    write_sweep(
        uri, "reused", sweep_id="e2", artifact_root=art, seeds=[1], vae_seconds=20.0, start_ms=T0_MS + 10**7
    )
    data = load_sweep(uri, "reused")
    runtime = runtime_stats.runtime_tables(data.frame, data.trials, data.sweeps, data.vaes)
    shares = runtime["per_trial"].set_index("trial_key")["vae_seconds"]
    assert shares[[f"digits/coreset/{a:g}/{s}" for a in (0.5, 1.0) for s in (0, 1)]].tolist() == [5.0] * 4
    assert shares["digits/coreset/0/0"] == 0.0
    # an older launcher logged no vae_trainings.json: no VAE seconds, no total, and a note
    write_sweep(uri, "old", sweep_id="o1", artifact_root=art, seeds=[0], vae_seconds=None)
    old = load_sweep(uri, "old")
    assert any("logged no vae_trainings.json" in note for note in old.notes)
    old_runtime = runtime_stats.runtime_tables(old.frame, old.trials, old.sweeps, old.vaes)
    by_heuristic = old_runtime["by_heuristic"].iloc[0]
    assert by_heuristic["vae_seconds_unknown"] == 2 and np.isnan(by_heuristic["total_seconds"])
