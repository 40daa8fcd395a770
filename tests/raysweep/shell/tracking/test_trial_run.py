"""A trial's child run against a real SQLite store: created once with the schema's tags and params,
reattached on a retry or resume, every step logged exactly once, finished with picks and curve, or
failed with the reason; and the trial runs of the shared smoke sweep (``tests/raysweep/shell/conftest.py``)."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pytest
from mlflow.entities import RunStatus

from raysweep.config import TrialConfig
from raysweep.loop import RoundResult
from raysweep.schema import (
    ALPHA_TAG,
    CONFIG_PARAM_PREFIX,
    CURVE_ARTIFACT,
    ENCODER_TAG,
    ERROR_TAG,
    HEURISTIC_TAG,
    INITIAL_LABELS_TAG,
    NODE_TAG,
    PARENT_RUN_TAG,
    PICKS_ARTIFACT,
    ROLE_TAG,
    ROLE_TRIAL,
    ROUND_INDEX_METRIC,
    ROUND_METRICS,
    SWEEP_ID_TAG,
    TRACKING_SECONDS_METRIC,
    TRIAL_KEY_TAG,
    TRIAL_PARAMS,
)
from raysweep.shell.tracking.trial_run import TrialRun, curve_csv, flatten, trial_params

CONFIG = TrialConfig.model_validate(
    {"heuristic": {"name": "coreset"}, "alpha": 0.5, "seed": 3, "encoder": {"name": "gmvae", "components": 4}}
)
CURVE = [
    RoundResult(0, 30, {"accuracy": 0.5, "train_seconds": 1.0, "selection_seconds": 0.25}),
    RoundResult(1, 50, {"accuracy": 0.75, "train_seconds": 2.0}),
]


def test_flatten_nested_mappings_into_dotted_strings() -> None:
    assert flatten("config", {"a": 1, "b": {"c": None, "d": [1, 2]}}) == {
        "config.a": "1",
        "config.b.c": "None",
        "config.b.d": "[1, 2]",
    }
    assert flatten("", {"x": True}) == {"x": "True"}


def test_trial_params_are_the_schema_s_and_the_whole_config() -> None:
    params = trial_params(CONFIG)
    own = {k: v for k, v in params.items() if not k.startswith(CONFIG_PARAM_PREFIX)}
    assert list(own) == list(TRIAL_PARAMS)
    assert own == {
        "dataset": "digits",
        "heuristic": "coreset",
        "alpha": "0.5",
        "seed": "3",
        "encoder": "gmvae",
        "uses_vae": "True",
        "initial_labels": "3000",
        "labels_per_round": "3000",
    }
    assert params["config.encoder.components"] == "4" and params["config.training.lr"] == "0.001"
    assert params["config.alpha_scaling"] == "balanced"
    assert {k for k in params if k.startswith(CONFIG_PARAM_PREFIX)} == {
        CONFIG_PARAM_PREFIX + k for k in flatten("", CONFIG.model_dump(mode="json"))
    }


def test_curve_csv_has_every_round_metric_column() -> None:
    rows = list(csv.DictReader(io.StringIO(curve_csv(CURVE))))
    assert list(rows[0]) == ["round", "n_labels", *ROUND_METRICS]
    assert [(r["round"], r["n_labels"], r["accuracy"], r["selection_seconds"]) for r in rows] == [
        ("0", "30", "0.5", "0.25"),
        ("1", "50", "0.75", ""),
    ]


def attach(store, experiment_id: str, run_id: str | None = None, key: str = "digits/coreset/0.5/3/gmvae"):
    return TrialRun.attach(
        store.client, experiment_id, "parent-run", "sweep-1", key, CONFIG, store.patience, run_id
    )


def test_a_trial_run_is_created_once_and_reattached(store) -> None:
    experiment_id = store.experiment()
    run = attach(store, experiment_id)
    created = store.client.get_run(run.run_id)
    assert created.data.tags[TRIAL_KEY_TAG] == "digits/coreset/0.5/3/gmvae"
    assert {created.data.tags[t] for t in (SWEEP_ID_TAG, PARENT_RUN_TAG, ROLE_TAG)} == {
        "sweep-1",
        "parent-run",
        ROLE_TRIAL,
    }
    assert (
        created.data.tags[HEURISTIC_TAG],
        created.data.tags[ALPHA_TAG],
        created.data.tags[ENCODER_TAG],
    ) == (
        "coreset",
        "0.5",
        "gmvae",
    )
    assert created.info.run_name == "digits-coreset-0.5-3-gmvae"
    assert created.data.params == trial_params(CONFIG)

    store.client.set_terminated(run.run_id, status="FAILED")  # a crashed worker's run
    again = attach(store, experiment_id)  # found by its tags
    assert again.run_id == run.run_id
    assert store.client.get_run(run.run_id).info.status == "RUNNING"
    assert attach(store, experiment_id, run_id=run.run_id).run_id == run.run_id  # the checkpoint's id
    other = attach(store, experiment_id, key="digits/coreset/0.5/4/gmvae")
    assert other.run_id != run.run_id
    assert run.tracking_seconds > 0


def test_every_step_is_logged_once_also_after_a_reattach(store) -> None:
    experiment_id = store.experiment()
    run = attach(store, experiment_id)
    run.log_round(0, 30, {"accuracy": 0.5, "auc": math.nan, "train_seconds": 1.0})
    run.log_round(0, 30, {"accuracy": 0.9})  # a repeated round: not logged again
    resumed = attach(store, experiment_id)  # a restarted trial repeats round 0, then goes on
    assert resumed.logged_steps == {30}
    resumed.log_round(0, 30, {"accuracy": 0.5})
    resumed.log_round(1, 50, {"accuracy": 0.75})
    history = store.client.get_metric_history(run.run_id, "accuracy")
    assert sorted((m.step, m.value) for m in history) == [(30, 0.5), (50, 0.75)]
    rounds = store.client.get_metric_history(run.run_id, ROUND_INDEX_METRIC)
    assert sorted((m.step, m.value) for m in rounds) == [(30, 0.0), (50, 1.0)]
    assert store.client.get_metric_history(run.run_id, "auc") == []  # NaN is left out, not logged


def test_finish_logs_picks_curve_and_tracking_time(store, tmp_path: Path) -> None:
    run = attach(store, store.experiment())
    run.set_initial_labels_hash("ab" * 32)
    run.set_node("node-1")
    run.set_tags({"raysweep.setting": "alpha=0.5"})
    picks = [np.array([3, 1, 2]), np.array([7])]
    run.finish(CURVE, picks)
    finished = store.client.get_run(run.run_id)
    assert finished.info.status == RunStatus.to_string(RunStatus.FINISHED)
    assert finished.data.tags[INITIAL_LABELS_TAG] == "ab" * 32 and finished.data.tags[NODE_TAG] == "node-1"
    assert finished.data.tags["raysweep.setting"] == "alpha=0.5"
    assert finished.data.metrics[TRACKING_SECONDS_METRIC] > 0
    folder = Path(store.client.download_artifacts(run.run_id, "", str(tmp_path)))
    assert sorted(p.name for p in folder.iterdir()) == sorted([CURVE_ARTIFACT, PICKS_ARTIFACT])
    with np.load(folder / PICKS_ARTIFACT) as archive:
        assert sorted(archive.files) == ["round_0", "round_1"] and archive["round_0"].tolist() == [3, 1, 2]
    assert (folder / CURVE_ARTIFACT).read_text() == curve_csv(CURVE)


def test_fail_says_why(store) -> None:
    run = attach(store, store.experiment())
    run.fail("ValueError: " + "x" * 5000)
    failed = store.client.get_run(run.run_id)
    assert failed.info.status == "FAILED"
    assert (
        failed.data.tags[ERROR_TAG].startswith("ValueError: x") and len(failed.data.tags[ERROR_TAG]) == 4000
    )


@pytest.mark.timeout(1800)  # the first reader of the shared sweep waits for it
def test_a_real_sweep_s_trial_runs(smoke_sweep, tmp_path: Path) -> None:
    """Every trial run of the shared smoke sweep (``tests/raysweep/shell/conftest.py``): nested under
    its sweep's run, its params, its artifacts; curve.csv and picks.npz agree with the metrics."""
    client, [parent], trials = smoke_sweep.runs()
    for run in trials:
        key, tags, params = run.data.tags[TRIAL_KEY_TAG], run.data.tags, run.data.params
        assert tags[PARENT_RUN_TAG] == parent.info.run_id and tags[SWEEP_ID_TAG] == smoke_sweep.sweep_id
        assert tags[ROLE_TAG] == ROLE_TRIAL and run.info.run_name == key.replace("/", "-")
        assert params["dataset"] == "digits" and params["uses_vae"] == str(params["alpha"] != "0.0")
        assert set(TRIAL_PARAMS) <= set(params) and params["config.schedule.initial_labels"] == "40"
        assert run.info.status == "FINISHED" and run.data.metrics[TRACKING_SECONDS_METRIC] > 0
        folder = Path(client.download_artifacts(run.info.run_id, "", str(tmp_path / run.info.run_id)))
        assert {CURVE_ARTIFACT, PICKS_ARTIFACT} <= {p.name for p in folder.iterdir()}
        rows = list(csv.DictReader(io.StringIO((folder / CURVE_ARTIFACT).read_text())))
        history = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, "accuracy"))
        assert [(int(r["n_labels"]), float(r["accuracy"])) for r in rows] == history, key
        assert [int(r["round"]) for r in rows] == [0, 1, 2]
        assert bool(rows[0]["encoder_seconds"]) == (params["uses_vae"] == "True"), key
        with np.load(folder / PICKS_ARTIFACT) as archive:
            sizes = [len(archive[f"round_{i}"]) for i in range(len(archive.files))]
        assert np.cumsum(sizes).tolist() == list(smoke_sweep.steps), key
