"""What MLflow holds of a sweep, read with MLflow's own client: the parent and trial runs, each
trial's logged steps and curve, the pool encoders' rows (the names are ``raysweep.schema``'s)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from mlflow.tracking import MlflowClient

from raysweep.schema import (
    ROLE_SWEEP,
    ROLE_TAG,
    ROLE_TRIAL,
    SWEEP_ID_TAG,
    TRIAL_KEY_TAG,
    VAE_TRAININGS_ARTIFACT,
)


def sqlite_uri(cwd: Path) -> str:
    """The launcher's default tracking URI for a driver run in ``cwd``."""
    return f"sqlite:///{cwd / 'mlflow.db'}"


def sweep_runs(
    tracking_uri: str, experiment: str, sweep_id: str | None = None
) -> tuple[MlflowClient, list, list]:
    """(client, parent runs, trial runs) of the experiment, of one sweep when ``sweep_id`` is given."""
    client = MlflowClient(tracking_uri)
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    runs = client.search_runs([experiment_id], max_results=1000)
    if sweep_id is not None:
        runs = [r for r in runs if r.data.tags.get(SWEEP_ID_TAG) == sweep_id]
    parents = [r for r in runs if r.data.tags.get(ROLE_TAG) == ROLE_SWEEP]
    trials = [r for r in runs if r.data.tags.get(ROLE_TAG) == ROLE_TRIAL]
    return client, parents, trials


def steps_logged(client: MlflowClient, trials: list, metric: str = "accuracy") -> dict[str, list[int]]:
    """Each trial's logged steps of ``metric``, sorted, repeats kept (so a step logged twice shows)."""
    return {
        run.data.tags[TRIAL_KEY_TAG]: sorted(
            m.step for m in client.get_metric_history(run.info.run_id, metric)
        )
        for run in trials
    }


def curves(
    client: MlflowClient, trials: list, metric: str = "accuracy"
) -> dict[str, list[tuple[int, float]]]:
    """Each trial's (step, value) points of ``metric``, by step."""
    return {
        run.data.tags[TRIAL_KEY_TAG]: sorted(
            (m.step, m.value) for m in client.get_metric_history(run.info.run_id, metric)
        )
        for run in trials
    }


def vae_rows(client: MlflowClient, parent_run_id: str) -> list[dict[str, Any]]:
    """The parent run's ``vae_trainings.json`` rows: one per pool encoder the sweep's trials used."""
    with tempfile.TemporaryDirectory() as folder:
        path = client.download_artifacts(parent_run_id, VAE_TRAININGS_ARTIFACT, folder)
        return json.loads(Path(path).read_text())["vaes"]
