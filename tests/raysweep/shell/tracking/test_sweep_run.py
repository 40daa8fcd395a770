"""The sweep's parent run and the trial runs as the driver sees them, against a real SQLite store:
created with params and config, RUNNING again on a resume, finished (a stop marks the unfinished
trials KILLED), the encoders' seconds and a search's outcome logged, outcomes read back from runs.
What a real sweep's parent run holds is checked in ``test_launch.py``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from raysweep.config import TrialConfig
from raysweep.schema import (
    ERROR_TAG,
    RESULT_AREA,
    RESULT_ROUND,
    RESULT_ROUNDS,
    ROLE_SWEEP,
    ROLE_TAG,
    ROLE_TRIAL,
    SEARCH_BEST_TAG_PREFIX,
    SEARCH_OUTCOME_ARTIFACT,
    STOPPED_EARLY_TAG,
    SWEEP_CONFIG_ARTIFACT,
    SWEEP_ID_TAG,
    TRIAL_CONFIG_KEY,
    TRIAL_KEY_TAG,
    TRIALS_TAG,
    VAE_SECONDS_METRIC,
)
from raysweep.search.ledger import SearchLedger, SettingRecord
from raysweep.shell.sweep_record import SweepRecord
from raysweep.shell.tracking import sweep_run
from raysweep.shell.tracking.sweep_run import (
    create_sweep_run,
    ensure_experiment,
    find_run,
    finish_sweep_run,
    log_search_outcome,
    log_vae_trainings,
    mark_unfinished_trials_killed,
    outcomes_from_runs,
    resume_sweep_run,
    trial_runs,
)
from raysweep.sweep.trials import Trial


def new_sweep(store, sweep_id: str = "s1") -> SweepRecord:
    name = f"sweep-{sweep_id}-{store.experiment()}"
    experiment_id, run_id = create_sweep_run(
        store.uri, name, sweep_id, 3, {"seeds": "0,1", "trials": 3}, "experiment: x\n", store.patience
    )
    return SweepRecord(sweep_id, experiment_id, run_id, store.uri, "digest")


def trial_run(store, record: SweepRecord, key: str, status: str | None = None) -> str:
    run = store.client.create_run(
        record.experiment_id, tags={SWEEP_ID_TAG: record.sweep_id, TRIAL_KEY_TAG: key, ROLE_TAG: ROLE_TRIAL}
    )
    if status is not None:
        store.client.set_terminated(run.info.run_id, status=status)
    return run.info.run_id


def test_experiments_are_created_once_next_to_a_sqlite_store_and_restored(store) -> None:
    experiment_id = ensure_experiment(store.client, "fresh", store.uri)
    assert ensure_experiment(store.client, "fresh", store.uri) == experiment_id
    location = store.client.get_experiment(experiment_id).artifact_location
    assert location == (Path(store.uri.removeprefix("sqlite:///")).parent / "mlartifacts").as_uri()
    store.client.delete_experiment(experiment_id)
    assert ensure_experiment(store.client, "fresh", store.uri) == experiment_id
    assert store.client.get_experiment(experiment_id).lifecycle_stage == "active"


def test_the_parent_run_from_creation_to_its_end(store, tmp_path: Path) -> None:
    record = new_sweep(store)
    parent = store.client.get_run(record.parent_run_id)
    assert parent.info.run_name == "sweep-s1" and parent.info.status == "RUNNING"
    assert {k: parent.data.tags[k] for k in (SWEEP_ID_TAG, ROLE_TAG, TRIALS_TAG)} == {
        SWEEP_ID_TAG: "s1",
        ROLE_TAG: ROLE_SWEEP,
        TRIALS_TAG: "3",
    }
    assert parent.data.params == {"seeds": "0,1", "trials": "3"}
    config = store.client.download_artifacts(record.parent_run_id, SWEEP_CONFIG_ARTIFACT, str(tmp_path))
    assert Path(config).read_text() == "experiment: x\n"
    finish_sweep_run(record, {"trials_finished": 3, "sweep_seconds": 12.5}, "FINISHED", store.patience)
    done = store.client.get_run(record.parent_run_id)
    assert done.info.status == "FINISHED" and done.data.metrics == {
        "trials_finished": 3.0,
        "sweep_seconds": 12.5,
    }
    resume_sweep_run(record, store.patience)
    assert store.client.get_run(record.parent_run_id).info.status == "RUNNING"


def test_a_stop_marks_every_unfinished_trial_run_killed(store) -> None:
    record = new_sweep(store)
    runs = {
        "running": trial_run(store, record, "a"),
        "failed": trial_run(store, record, "b", "FAILED"),
        "finished": trial_run(store, record, "c", "FINISHED"),
    }
    other = new_sweep(store, "s2")
    elsewhere = trial_run(store, other, "a")  # another sweep's run is left alone
    assert {
        r.info.run_id for r in trial_runs(store.client, record.experiment_id, "s1", store.patience)
    } == set(runs.values())
    finish_sweep_run(record, {}, "KILLED", store.patience)
    status = {name: store.client.get_run(run_id).info.status for name, run_id in runs.items()}
    assert status == {"running": "KILLED", "failed": "KILLED", "finished": "FINISHED"}
    assert store.client.get_run(record.parent_run_id).info.status == "KILLED"
    assert store.client.get_run(elsewhere).info.status == "RUNNING"
    assert mark_unfinished_trials_killed(store.client, record.experiment_id, "s1", store.patience) == 0


def test_find_run_is_the_newest_with_every_tag(store) -> None:
    record = new_sweep(store)
    older = trial_run(store, record, "a")
    newer = trial_run(store, record, "a")
    tags = {SWEEP_ID_TAG: "s1", TRIAL_KEY_TAG: "a"}
    assert find_run(store.client, record.experiment_id, tags, store.patience) == newer != older
    assert find_run(store.client, record.experiment_id, {**tags, TRIAL_KEY_TAG: "z"}, store.patience) is None


def test_vae_trainings_name_the_trials_that_used_each_encoder(store, tmp_path: Path) -> None:
    record = new_sweep(store)

    def trial(key: str, alpha: float, encoder: str = "vae") -> Trial:
        config = TrialConfig.model_validate(
            {"heuristic": {"name": "coreset"}, "alpha": alpha, "encoder": {"name": encoder}}
        )
        return Trial(key, config)

    trials = [trial("k/0", 0.0), trial("k/1", 1.0), trial("k/2", 2.0), trial("k/1/gmvae", 1.0, "gmvae")]
    vae = trials[1].config.vae.model_dump(mode="json")
    rows = [
        {"dataset": "digits", "vae": vae, "encoder": {"name": "vae"}, "cache_key": "vae-1", "seconds": 3.0},
        {
            "dataset": "digits",
            "vae": vae,
            "encoder": {"name": "gmvae", "components": 10},
            "cache_key": "g",
            "seconds": math.nan,
        },
    ]
    log_vae_trainings(record, trials, rows, store.patience)
    parent = store.client.get_run(record.parent_run_id)
    assert parent.data.metrics[VAE_SECONDS_METRIC] == 3.0  # the unknown seconds are left out
    path = store.client.download_artifacts(record.parent_run_id, "vae_trainings.json", str(tmp_path))
    logged = json.loads(Path(path).read_text())["vaes"]
    assert [(row["cache_key"], row["trials"], row["seconds"]) for row in logged] == [
        ("vae-1", ["k/1", "k/2"], 3.0),  # alpha 0 reads no embeddings
        ("g", ["k/1/gmvae"], None),
    ]


def test_a_search_s_outcome_on_the_parent_and_its_stopped_trials(store, tmp_path: Path) -> None:
    record = new_sweep(store)
    stopped = trial_run(store, record, "digits/coreset/2/0")
    ledger = SearchLedger(
        settings=[
            SettingRecord(
                "digits/coreset",
                1,
                {"alpha": 0.5},
                ["digits/coreset/0.5/0"],
                status="complete",
                objective=0.7,
            ),
            SettingRecord(
                "digits/coreset",
                2,
                {"alpha": 2.0},
                ["digits/coreset/2/0"],
                stopped={"digits/coreset/2/0": 1, "digits/coreset/2/9": 0},  # the second never got a run
                status="stopped",
            ),
        ]
    )
    outcome = {
        "groups": {
            "digits/coreset": {
                "settings_tried": 2,
                "reference_objective": 0.6,
                "best": {"setting": "alpha=0.5", "objective": 0.7},
            },
            "digits/medal": {"settings_tried": 0, "reference_objective": None, "best": None},
        }
    }
    log_search_outcome(record, outcome, ledger, store.patience)
    parent = store.client.get_run(record.parent_run_id)
    assert parent.data.metrics == {
        "search_settings_tried": 2.0,
        "search_settings_tried.digits/coreset": 2.0,
        "search_reference_objective.digits/coreset": 0.6,
        "search_best_objective.digits/coreset": 0.7,
        "search_settings_tried.digits/medal": 0.0,
    }
    assert parent.data.tags[SEARCH_BEST_TAG_PREFIX + "digits/coreset"] == "alpha=0.5"
    assert SEARCH_BEST_TAG_PREFIX + "digits/medal" not in parent.data.tags
    logged = store.client.download_artifacts(record.parent_run_id, SEARCH_OUTCOME_ARTIFACT, str(tmp_path))
    assert json.loads(Path(logged).read_text()) == outcome
    stopped_run = store.client.get_run(stopped)
    assert stopped_run.data.tags[STOPPED_EARLY_TAG] == "1" and stopped_run.info.status == "KILLED"


def test_outcomes_read_back_from_the_trial_runs(store) -> None:
    record = new_sweep(store)
    finished = trial_run(store, record, "a")
    for step, value in ((30, 0.5), (50, 0.7), (70, 0.8)):
        store.client.log_metric(finished, "accuracy", value, step=step)
    store.client.set_terminated(finished, "FINISHED")
    failed = trial_run(store, record, "b")
    store.client.log_metric(failed, "accuracy", 0.4, step=30)
    store.client.set_tag(failed, ERROR_TAG, "ValueError: boom")
    store.client.set_terminated(failed, "FAILED")
    trial_run(store, record, "c", "KILLED")
    config = TrialConfig()
    outcomes = outcomes_from_runs(record, [Trial(k, config) for k in "abcd"], store.patience)
    by_key = {o.config[TRIAL_CONFIG_KEY]: o for o in outcomes}
    assert by_key["a"].error is None
    assert by_key["a"].metrics == {
        RESULT_ROUND: 2,
        RESULT_ROUNDS: 3,
        "accuracy": 0.8,
        RESULT_AREA: pytest.approx((0.6 * 20 + 0.75 * 20) / 40),
    }
    assert by_key["b"].error == "ValueError: boom" and by_key["b"].metrics[RESULT_ROUNDS] == 2  # not done
    assert by_key["c"].error == "MLflow run KILLED" and by_key["c"].metrics == {}
    assert by_key["d"].error == "never ran"


def test_every_trial_run_however_many_pages(store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sweep with more trial runs than one search returns: all of them, each once, and only its own."""
    experiment_id = store.experiment()
    for sweep_id, trials in (("mine", 7), ("other", 2)):
        for index in range(trials):
            tags = {SWEEP_ID_TAG: sweep_id, ROLE_TAG: ROLE_TRIAL, TRIAL_KEY_TAG: f"digits/random/0/{index}"}
            store.client.create_run(experiment_id, tags=tags)
    monkeypatch.setattr(sweep_run, "TRIAL_RUNS_PAGE", 3)  # 7 runs: pages of 3, 3 and 1
    runs = trial_runs(store.client, experiment_id, "mine", store.patience)
    keys = sorted(run.data.tags[TRIAL_KEY_TAG] for run in runs)
    assert keys == [f"digits/random/0/{index}" for index in range(7)]
    assert {run.data.tags[SWEEP_ID_TAG] for run in runs} == {"mine"}
