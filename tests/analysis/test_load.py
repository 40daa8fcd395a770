"""analysis.load on MLflow stores written with the real mlflow client (tests/helpers/mlflow_runs.py):
the tidy frame, duplicates, sweeps with other budgets or scalings, the scheduled grid, encoders and a
search's tags."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.analysis_sweeps import CHOOSING_SEEDS, CONFIRM_SEEDS, GAIN, INF
from helpers.mlflow_runs import T0_MS, base_curve, initial_hash, log_points, write_sweep, write_trial
from mlflow import MlflowClient

from analysis import load
from analysis.load import AnalysisError, MixedBudgetsError, load_sweep
from raysweep.schedule import label_counts
from raysweep.schema import TRAIN_ACCURACY, VAE_SHARE_OF_PICK_DISTANCES, VALIDATION_METRIC


def test_load_gives_one_tidy_row_per_trial_step_metric(study):
    frame = study.frame
    assert list(frame.columns) == [
        "sweep_id",
        "confirms",
        "run_id",
        "trial_key",
        "dataset",
        "heuristic",
        "alpha",
        "seed",
        "uses_vae",
        "encoder",
        "initial_labels_sha256",
        "n_labels",
        "metric",
        "value",
    ]
    n_trials = 5 * 6  # 6 (heuristic, alpha) variants x 5 seeds
    assert frame["trial_key"].nunique() == n_trials
    # 5 label counts; accuracy/auc/train_seconds at each, selection_seconds at all but the last
    assert len(frame) == n_trials * (5 * 3 + 4)
    assert sorted(frame["n_labels"].unique()) == [100, 200, 300, 400, 500]
    assert frame["alpha"].dtype == float and frame["seed"].dtype == np.int64
    assert (
        frame.loc[frame["alpha"] > 0, "uses_vae"].all()
        and not frame.loc[frame["alpha"] == 0, "uses_vae"].any()
    )
    assert study.duplicates_dropped == 0 and study.duplicate_runs == 0
    assert study.sweep_ids == ["s1"] and study.target_parent_run_id == study.sweeps.loc[0, "parent_run_id"]
    one = frame[(frame.trial_key == "digits/coreset/0.5/2") & (frame.metric == "accuracy")]
    np.testing.assert_allclose(one["value"], base_curve(one["n_labels"].to_numpy(), 2) + GAIN, atol=0.01)


def test_duplicate_steps_and_second_runs_are_dropped_and_counted(store):
    uri = store["uri"]
    written = write_sweep(
        uri, "dupes", sweep_id="d1", artifact_root=store["art"], heuristics={"random": (0.0,)}, seeds=[0, 1]
    )
    client = MlflowClient(uri)
    first = written.child_run_ids["digits/random/0/0"]
    # a retried round logs step 300 again, later and with another value
    log_points(client, first, "accuracy", [(300, 0.111, T0_MS + 10_000_000)])
    # a rerun of trial seed 1: a second run for the same key, later, covering steps 100 and 200
    write_trial(
        client,
        written.experiment_id,
        sweep_id="d1",
        parent_run_id=written.parent_run_id,
        dataset="digits",
        heuristic="random",
        alpha=0.0,
        seed=1,
        steps=[100, 200],
        accuracy=np.array([0.222, 0.333]),
        initial_labels=100,
        labels_per_round=100,
        initial_labels_sha256=initial_hash("digits", 1),
        start_ms=T0_MS + 20_000_000,
        end_ms=T0_MS + 20_060_000,
    )
    data = load_sweep(uri, "dupes")
    # 1 repeated accuracy point + 2 steps x 4 metrics (selection_seconds only at step 100) re-logged
    assert data.duplicates_dropped == 1 + (2 * 3 + 1)
    assert data.duplicate_runs == 1
    assert any("dropped 8 duplicate" in note for note in data.notes)
    acc = data.frame[data.frame.metric == "accuracy"].set_index(["trial_key", "n_labels"])["value"]
    assert acc[("digits/random/0/0", 300)] == pytest.approx(0.111)
    assert acc[("digits/random/0/1", 100)] == pytest.approx(0.222)
    assert acc[("digits/random/0/1", 200)] == pytest.approx(0.333)
    assert acc[("digits/random/0/1", 300)] == pytest.approx(
        base_curve(300, 1), abs=0.01
    )  # from the first run
    assert not data.frame.duplicated(["trial_key", "metric", "n_labels"]).any()


def test_sweeps_with_different_budgets_are_refused_unless_one_is_picked(store):
    uri, art = store["uri"], store["art"]
    write_sweep(uri, "mixed", sweep_id="m1", artifact_root=art, heuristics={"random": (0.0,)}, seeds=[0])
    write_sweep(
        uri, "mixed", sweep_id="m2", artifact_root=art, heuristics={"random": (0.0,)}, seeds=[0], initial_labels=50,
        labels_per_round=50, start_ms=T0_MS + 10**7,
    )  # fmt: skip
    with pytest.raises(MixedBudgetsError, match=r"initial_labels differs \(m1: 100; m2: 50\).*--sweep"):
        load_sweep(uri, "mixed")
    picked = load_sweep(uri, "mixed", sweep_id="m2")
    assert picked.sweep_ids == ["m2"] and sorted(picked.frame["n_labels"].unique()) == [
        50,
        100,
        150,
        200,
        250,
    ]
    # same budget, more seeds later: both sweeps read as one study, reported to the latest parent
    write_sweep(uri, "extended", sweep_id="e1", artifact_root=art, heuristics={"random": (0.0,)}, seeds=[0])
    later = write_sweep(
        uri,
        "extended",
        sweep_id="e2",
        artifact_root=art,
        heuristics={"random": (0.0,)},
        seeds=[1],
        start_ms=T0_MS + 10**7,
    )
    both = load_sweep(uri, "extended")
    assert both.sweep_ids == ["e1", "e2"] and both.target_parent_run_id == later.parent_run_id
    assert any("all 2 sweeps" in note for note in both.notes)


def test_bad_experiment_sweep_and_store_are_analysis_errors(store, study, tmp_path):
    with pytest.raises(AnalysisError, match=r"unknown experiment 'nope'.*study"):
        load_sweep(store["uri"], "nope")
    with pytest.raises(AnalysisError, match=r"sweep 'zz' has no trial runs.*s1"):
        load_sweep(store["uri"], "study", sweep_id="zz")
    with pytest.raises(AnalysisError, match="no MLflow store"):
        load_sweep(f"sqlite:///{tmp_path}/missing.db", "study")
    assert not (tmp_path / "missing.db").exists()


def test_the_vae_only_end_loads_with_its_alpha_scaling(alphas):
    inf_trials = alphas.trials[alphas.trials["alpha"] == INF]
    assert sorted(inf_trials["trial_key"]) == [f"digits/coreset/inf/{s}" for s in range(3)]
    assert set(alphas.trials.loc[alphas.trials["uses_vae"], "alpha_scaling"]) == {"balanced"}


def test_sweeps_that_differ_in_alpha_scaling_are_refused(store):
    uri, art = store["uri"], store["art"]
    write_sweep(uri, "scalings", sweep_id="r1", artifact_root=art, seeds=[0], alpha_scaling="raw")
    write_sweep(uri, "scalings", sweep_id="b1", artifact_root=art, seeds=[0], start_ms=T0_MS + 10**7)
    with pytest.raises(MixedBudgetsError, match=r"alpha_scaling differs \(b1: balanced; r1: raw\)"):
        load_sweep(uri, "scalings")
    assert load_sweep(uri, "scalings", sweep_id="r1").trials["alpha_scaling"].tolist() == ["raw"] * 3


def test_a_sweep_stopped_before_its_last_round_still_names_its_whole_grid(stopped):
    assert stopped.grids == {"digits": [100, 200, 300, 400, 500]}


@pytest.mark.parametrize(
    ("initial", "per_round", "rounds", "max_labels"),
    [(100, 100, 4, None), (100, 100, None, 350), (3000, 3000, 3, 10000), (50, 25, 0, None), (10, 5, 2, 12)],
)
def test_the_scheduled_grid_is_the_loops(initial, per_round, rounds, max_labels):
    from raysweep.config import ScheduleConfig
    from raysweep.schedule import label_schedule

    schedule = ScheduleConfig(
        initial_labels=initial, labels_per_round=per_round, rounds=rounds, max_labels=max_labels
    )
    assert label_counts(initial, per_round, rounds, max_labels) == label_schedule(schedule, 10**6)


def test_a_schedule_that_ends_with_the_pool_names_no_grid():
    assert label_counts(100, 100, None, None) is None


def test_loader_reads_the_encoder_of_each_trial(encoder_sweep) -> None:
    data = encoder_sweep
    assert data.trials["trial_key"].nunique() == 20  # four arms x five seeds, none collapsed
    arms = data.frame.drop_duplicates("trial_key").groupby(["alpha", "encoder"]).size().to_dict()
    assert arms == {(0.0, "none"): 5, (1.0, "cvae"): 5, (1.0, "gmvae"): 5, (1.0, "vae"): 5}


def test_runs_without_the_encoder_param_read_as_vae(grid) -> None:
    assert set(grid.frame["encoder"]) == {"none", "vae"}


def test_search_tags_and_the_settings_tried_are_read_from_the_runs(searched) -> None:
    data = searched["data"]
    tags = load.search_tags(data)
    assert set(tags.loc[tags["stopped_early"], "trial_key"]) == set(searched["stopped"])
    assert sorted(tags["setting_index"].unique()) == [0, 1, 2, 3, 4, 5, 6]
    assert load.settings_tried(data) == {"digits/coreset": 6}


def test_a_grid_has_no_search_tags(grid) -> None:
    assert load.search_tags(grid).empty


def test_a_confirmation_is_read_with_its_sweep_and_told_apart(store, confirmed) -> None:
    data = confirmed
    assert data.sweep_ids == ["c1", "c1-confirm"] and data.confirmations == {"c1-confirm": "c1"}
    by_sweep = data.trials.groupby("sweep_id")["confirms"].agg(set).to_dict()
    assert by_sweep == {"c1": {""}, "c1-confirm": {"c1"}}
    assert set(data.frame.loc[data.frame["confirms"] == "c1", "seed"]) == set(CONFIRM_SEEDS)
    assert set(data.frame.loc[data.frame["confirms"] == "", "seed"]) == set(CHOOSING_SEEDS)
    assert data.sweeps.set_index("sweep_id")["confirms"].to_dict() == {"c1": "", "c1-confirm": "c1"}
    assert any("sweep c1-confirm confirms the choice of sweep c1" in note for note in data.notes)
    # the new per-trial columns: one encoder per seed, accuracy on the test split
    assert (data.trials["vae_seed"] == data.trials["seed"]).all()
    assert set(data.trials["eval_split"]) == {"test"}
    # validation curves and train accuracy are read by default, the new diagnostics for VAE trials
    assert {VALIDATION_METRIC, TRAIN_ACCURACY, VAE_SHARE_OF_PICK_DISTANCES} <= set(data.metrics)
    # --sweep brings the confirmation along, and a confirmation's id the sweep it confirms
    for wanted in ("c1", "c1-confirm"):
        picked = load_sweep(store["uri"], "confirmed", sweep_id=wanted)
        assert picked.sweep_ids == ["c1", "c1-confirm"] and len(picked.trials) == len(data.trials)
        assert any(note.startswith(f"--sweep {wanted}: read together with") for note in picked.notes)


def test_runs_older_than_the_new_params_read_as_before(study) -> None:
    assert study.trials["vae_seed"].isna().all() and set(study.trials["eval_split"]) == {"test"}
    assert set(study.trials["confirms"]) == {""} and study.confirmations == {}


def test_confirmation_trials_without_the_sweep_they_confirm_are_refused(store) -> None:
    write_sweep(
        store["uri"], "orphan", sweep_id="x-confirm", artifact_root=store["art"], heuristics={"random": (0.0,)},
        seeds=[5], confirms="x",
    )  # fmt: skip
    with pytest.raises(
        AnalysisError, match=r"only confirmation trials .* confirm sweep x, which has no trial"
    ):
        load_sweep(store["uri"], "orphan")
