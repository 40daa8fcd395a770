"""The sweep's parent run, and the trial runs as the driver sees them.

The driver creates the parent run (params, the resolved config), marks it RUNNING again on a resume,
and finishes it with the sweep's metrics and status; it logs what the pool encoders cost and a
search's outcome to it; after a stop it marks the unfinished trial runs KILLED; and when Tune cannot
read its own results back it reads each trial's outcome from its run. Every call goes through a
:class:`~raysweep.shell.tracking.patience.TrackingPatience`; every name is ``raysweep.schema``'s.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from mlflow.tracking import MlflowClient

from raysweep.curves import normalised_area
from raysweep.schema import (
    ERROR_TAG,
    RESULT_AREA,
    RESULT_ROUND,
    RESULT_ROUNDS,
    ROLE_SWEEP,
    ROLE_TAG,
    ROLE_TRIAL,
    ROUND_METRICS,
    SEARCH_BEST_TAG_PREFIX,
    SEARCH_GROUP_METRIC_PREFIXES,
    SEARCH_OUTCOME_ARTIFACT,
    SEARCH_SETTINGS_TRIED_METRIC,
    STOPPED_EARLY_TAG,
    SWEEP_CONFIG_ARTIFACT,
    SWEEP_ID_TAG,
    TRIAL_CONFIG_KEY,
    TRIAL_KEY_TAG,
    TRIALS_TAG,
    VAE_SECONDS_METRIC,
    VAE_TRAININGS_ARTIFACT,
)
from raysweep.shell.tracking.patience import TrackingPatience
from raysweep.sweep.trials import Trial

if TYPE_CHECKING:
    from raysweep.search.ledger import SearchLedger
    from raysweep.shell.sweep_record import SweepRecord

TRIAL_RUNS_PAGE = 10_000
"""Trial runs read per request; a bigger sweep reads page after page (MLflow's server caps a page at
50,000, and a search past its max_results says nothing of the runs it left out)."""


def ensure_experiment(client: MlflowClient, name: str, tracking_uri: str) -> str:
    """Create the experiment once, in the driver (SQLite races if many trials create it at once).

    With a SQLite store the artifacts go next to the database file, by absolute path, because Tune
    runs each trial in its own working directory.
    """
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            client.restore_experiment(experiment.experiment_id)
        return experiment.experiment_id
    artifact_location = None
    if tracking_uri.startswith("sqlite:///"):
        database = Path(tracking_uri.removeprefix("sqlite:///"))
        artifact_location = (database.parent / "mlartifacts").resolve().as_uri()
    return client.create_experiment(name, artifact_location=artifact_location)


def create_sweep_run(
    tracking_uri: str,
    experiment: str,
    sweep_id: str,
    trials: int,
    params: Mapping[str, Any],
    resolved_yaml: str,
    patience: TrackingPatience,
    tags: Mapping[str, str] | None = None,
    texts: Mapping[str, str] | None = None,
) -> tuple[str, str]:
    """The experiment (created if new) and a new parent run with the sweep's params and config, plus
    the plan's own ``tags`` and text artifacts (``texts``: file name -> content): (experiment id,
    parent run id)."""
    client = MlflowClient(tracking_uri)
    experiment_id = patience.call(lambda: ensure_experiment(client, experiment, tracking_uri))
    run = patience.call(
        lambda: client.create_run(
            experiment_id,
            run_name=f"sweep-{sweep_id}",
            tags={SWEEP_ID_TAG: sweep_id, ROLE_TAG: ROLE_SWEEP, TRIALS_TAG: str(trials), **(tags or {})},
        )
    )
    run_id = run.info.run_id
    for key, value in params.items():
        patience.call(lambda k=key, v=value: client.log_param(run_id, k, str(v)))
    patience.call(lambda: client.log_text(run_id, resolved_yaml, SWEEP_CONFIG_ARTIFACT))
    for name, text in (texts or {}).items():
        patience.call(lambda n=name, t=text: client.log_text(run_id, t, n))
    return experiment_id, run_id


def resume_sweep_run(record: SweepRecord, patience: TrackingPatience) -> None:
    """A resumed sweep's parent run is RUNNING again."""
    client = MlflowClient(record.tracking_uri)
    patience.call(lambda: client.update_run(record.parent_run_id, status="RUNNING"))


def finish_sweep_run(
    record: SweepRecord, metrics: Mapping[str, float], status: str, patience: TrackingPatience
) -> None:
    """The parent run's end-of-run metrics and status (FINISHED, FAILED or KILLED); after a stop
    (KILLED) every unfinished trial run is KILLED too."""
    client = MlflowClient(record.tracking_uri)
    for name, value in metrics.items():
        patience.call(lambda n=name, v=value: client.log_metric(record.parent_run_id, n, float(v)))
    patience.call(lambda: client.set_terminated(record.parent_run_id, status=status))
    if status == "KILLED":
        mark_unfinished_trials_killed(client, record.experiment_id, record.sweep_id, patience)


def find_run(
    client: MlflowClient, experiment_id: str, tags: Mapping[str, str], patience: TrackingPatience
) -> str | None:
    """The newest run in the experiment carrying all ``tags``, or None."""
    query = " and ".join(f"tags.`{key}` = '{value}'" for key, value in tags.items())
    runs = patience.call(
        lambda: client.search_runs(
            [experiment_id], filter_string=query, order_by=["attributes.start_time DESC"], max_results=1
        )
    )
    return runs[0].info.run_id if runs else None


def trial_runs(client: MlflowClient, experiment_id: str, sweep_id: str, patience: TrackingPatience) -> list:
    """Every trial run of the sweep, however many pages they take."""
    query = f"tags.`{SWEEP_ID_TAG}` = '{sweep_id}' and tags.`{ROLE_TAG}` = '{ROLE_TRIAL}'"
    runs: list = []
    token = None
    while True:
        page = patience.call(
            lambda t=token: client.search_runs(
                [experiment_id], filter_string=query, max_results=TRIAL_RUNS_PAGE, page_token=t
            )
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def mark_unfinished_trials_killed(
    client: MlflowClient, experiment_id: str, sweep_id: str, patience: TrackingPatience
) -> int:
    """After an interrupted sweep: every trial run of the sweep that did not finish becomes KILLED.

    RUNNING ones were stopped mid-round; FAILED ones lost their Ray worker to the stop (or failed
    for their own reasons, which ``--resume`` retries as well). Returns how many were marked.
    """
    runs = trial_runs(client, experiment_id, sweep_id, patience)
    unfinished = [r.info.run_id for r in runs if r.info.status in ("RUNNING", "FAILED", "SCHEDULED")]
    for run_id in unfinished:
        patience.call(lambda r=run_id: client.set_terminated(r, status="KILLED"))
    return len(unfinished)


def log_vae_trainings(
    record: SweepRecord,
    trials: list[Trial],
    trainings: list[dict[str, Any]],
    patience: TrackingPatience,
) -> None:
    """Log which VAE each VAE trial used and what it cost (``vae_seconds``, ``vae_trainings.json``).

    ``trainings``: the embedding store's rows (:meth:`EmbeddingStore.trainings`). A trial used a row's
    VAE when it uses VAE features and its dataset, VAE and encoder configs are the row's (``cvae``
    trials, retrained in the trial, use none of the store's rows).
    """
    client = MlflowClient(record.tracking_uri)
    rows = []
    for row in trainings:
        users = sorted(
            t.key
            for t in trials
            if t.config.uses_vae
            and t.config.dataset.name == row["dataset"]
            and t.config.vae.model_dump(mode="json") == row["vae"]
            and t.config.encoder.model_dump(mode="json")
            == row.get("encoder", t.config.encoder.model_dump(mode="json"))
        )
        seconds = float(row["seconds"])
        rows.append({**row, "seconds": seconds if np.isfinite(seconds) else None, "trials": users})
    known = [r["seconds"] for r in rows if r["seconds"] is not None]
    patience.call(lambda: client.log_dict(record.parent_run_id, {"vaes": rows}, VAE_TRAININGS_ARTIFACT))
    if known:
        patience.call(lambda: client.log_metric(record.parent_run_id, VAE_SECONDS_METRIC, float(sum(known))))


def log_search_outcome(
    record: SweepRecord, outcome: dict[str, Any], ledger: SearchLedger, patience: TrackingPatience
) -> None:
    """A finished search on the parent run (metrics per group, the best settings as tags, the
    outcome as ``search.json``), and its trials stopped early tagged and KILLED."""
    client = MlflowClient(record.tracking_uri)
    run_id = record.parent_run_id
    tried, best_objective, reference_objective = SEARCH_GROUP_METRIC_PREFIXES
    metrics = {SEARCH_SETTINGS_TRIED_METRIC: float(len(ledger.settings))}
    tags = {}
    for name, group in outcome["groups"].items():
        metrics[f"{tried}{name}"] = float(group["settings_tried"])
        if group["reference_objective"] is not None:
            metrics[f"{reference_objective}{name}"] = group["reference_objective"]
        if group["best"] is not None:
            metrics[f"{best_objective}{name}"] = group["best"]["objective"]
            tags[f"{SEARCH_BEST_TAG_PREFIX}{name}"] = group["best"]["setting"]
    for name, value in metrics.items():
        patience.call(lambda n=name, v=value: client.log_metric(run_id, n, v))
    for name, value in tags.items():
        patience.call(lambda n=name, v=value: client.set_tag(run_id, n, v))
    patience.call(lambda: client.log_text(run_id, json.dumps(outcome, indent=2), SEARCH_OUTCOME_ARTIFACT))
    for setting in ledger.settings:
        for key, last_round in setting.stopped.items():
            trial_run = find_run(
                client, record.experiment_id, {SWEEP_ID_TAG: record.sweep_id, TRIAL_KEY_TAG: key}, patience
            )
            if trial_run is None:
                continue
            patience.call(lambda r=trial_run, n=last_round: client.set_tag(r, STOPPED_EARLY_TAG, str(n)))
            patience.call(lambda r=trial_run: client.set_terminated(r, status="KILLED"))


def finished_trial_metric(record: SweepRecord, metric: str, patience: TrackingPatience) -> dict[str, float]:
    """Trial key -> ``metric``'s (last) value, for the sweep's FINISHED trial runs that logged it."""
    client = MlflowClient(record.tracking_uri)
    values = {}
    for run in trial_runs(client, record.experiment_id, record.sweep_id, patience):
        if run.info.status == "FINISHED" and metric in run.data.metrics:
            values[run.data.tags[TRIAL_KEY_TAG]] = float(run.data.metrics[metric])
    return values


@dataclass
class TrialOutcome:
    """What the summary needs of a trial, as Tune's Result has it (config, metrics, error)."""

    config: dict[str, Any]
    metrics: dict[str, Any]
    error: str | None


def outcomes_from_runs(
    record: SweepRecord, trials: list[Trial], patience: TrackingPatience
) -> list[TrialOutcome]:
    """Each trial's outcome from its MLflow run (FINISHED or not, its curve, why it failed): the
    summary's source when Tune could not read its own results back."""
    client = MlflowClient(record.tracking_uri)
    runs = trial_runs(client, record.experiment_id, record.sweep_id, patience)
    by_key = {run.data.tags.get(TRIAL_KEY_TAG): run for run in runs}
    outcomes = []
    for trial in trials:
        run = by_key.get(trial.key)
        if run is None:
            outcomes.append(TrialOutcome({TRIAL_CONFIG_KEY: trial.key}, {}, "never ran"))
            continue
        history = patience.call(lambda r=run: client.get_metric_history(r.info.run_id, ROUND_METRICS[0]))
        points = sorted((m.step, m.value) for m in history)
        finished = run.info.status == "FINISHED"
        metrics = {}
        if points:
            metrics = {
                RESULT_ROUND: len(points) - 1,
                RESULT_ROUNDS: len(points) if finished else len(points) + 1,
                ROUND_METRICS[0]: points[-1][1],
                RESULT_AREA: normalised_area([p[0] for p in points], [p[1] for p in points]),
            }
        error = None if finished else run.data.tags.get(ERROR_TAG, f"MLflow run {run.info.status}")
        outcomes.append(TrialOutcome({TRIAL_CONFIG_KEY: trial.key}, metrics, error))
    return outcomes
