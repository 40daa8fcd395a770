"""The driver's view of a sweep's trial runs, on a real SQLite MLflow store."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from raysweep.schema import ROLE_TAG, ROLE_TRIAL, SWEEP_ID_TAG, TRIAL_KEY_TAG
from raysweep.shell.tracking import sweep_run
from raysweep.shell.tracking.patience import TrackingPatience


def test_every_trial_run_however_many_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sweep with more trial runs than one search returns: all of them, each once, and only its own."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment_id = sweep_run.ensure_experiment(client, "paged", uri)
    for sweep_id, trials in (("mine", 7), ("other", 2)):
        for index in range(trials):
            tags = {SWEEP_ID_TAG: sweep_id, ROLE_TAG: ROLE_TRIAL, TRIAL_KEY_TAG: f"digits/random/0/{index}"}
            client.create_run(experiment_id, tags=tags)
    monkeypatch.setattr(sweep_run, "TRIAL_RUNS_PAGE", 3)  # 7 runs: pages of 3, 3 and 1
    runs = sweep_run.trial_runs(client, experiment_id, "mine", TrackingPatience(uri, 30))
    keys = sorted(run.data.tags[TRIAL_KEY_TAG] for run in runs)
    assert keys == [f"digits/random/0/{index}" for index in range(7)]
    assert {run.data.tags[SWEEP_ID_TAG] for run in runs} == {"mine"}
