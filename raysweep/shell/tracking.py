"""MLflow tracking: the run schema the analysis package reads, and an idempotent metrics sink.

Schema (fixed; ``analysis`` depends on it):
- one parent run per sweep: tags ``raysweep.sweep_id``, ``raysweep.role=sweep``; params of the
  budgets and the ``encoders`` axis; the resolved config as ``sweep_config.yaml``; metrics
  ``vae_trainings``, ``vae_cache_hits`` (and the same counts as ``encoder_trainings``,
  ``encoder_cache_hits``, with ``encoder_trainings.<name>`` per pool encoder), ``trials_finished``,
  ``trials_failed``, ``sweep_seconds`` at the end; ``vae_seconds`` (training seconds of every pool
  encoder the sweep's trials used, trained in this run or read from the cache, whose file keeps
  them) and ``vae_trainings.json`` (one row per pool encoder: dataset, vae and encoder configs,
  cache_key, trained_this_run, seconds, and the keys of the trials that used it), so the analysis
  can split a shared encoder's seconds over the trials that used it.
- one child run per trial: tag ``mlflow.parentRunId``, ``raysweep.sweep_id``, ``raysweep.role=trial``,
  ``raysweep.trial_key`` (dataset/heuristic/alpha/seed, ``/encoder`` appended when not ``vae``),
  ``raysweep.encoder``, ``raysweep.initial_labels_sha256``, ``raysweep.node_id``, ``raysweep.error``
  (why a FAILED run failed); params dataset, heuristic, alpha, seed, encoder, uses_vae, initial_labels,
  labels_per_round and the trial's whole resolved config flattened (``config.*``; the ``encoder`` param
  is the config's, ``vae`` at alpha 0 where it is unused); per-round metrics ``accuracy``, ``auc``
  (where defined), ``train_seconds``, ``selection_seconds``, ``eval_seconds``, ``inference_seconds``
  (the pool inference inside ``selection_seconds``) with step = number of labels; ``encoder_seconds``
  in every round that reads VAE features (the cvae's training in that round, or the wait for the
  store's array); in every selecting round of a
  trial that uses VAE features also ``task_feature_spread``, ``vae_feature_spread`` (RMS distance to
  the pool centroid of each block as the heuristic sees it, after scaling and alpha), ``vae_share``
  (the VAE block's fraction of the squared distances; for loss prediction of its head input's
  spread), ``equivalent_raw_alpha`` (core-set, MedAL: the raw alpha giving the same picks), and for
  heuristics whose model does not depend on alpha ``plain_overlap`` (fraction of the round's picks
  the same heuristic at alpha 0 picks on the same model) with ``diagnostics_seconds``;
  ``tracking_seconds`` (time the trial's process spent in MLflow calls) at the end; artifacts
  ``picks.npz`` and ``curve.csv``.
- a search (``sweep.search``) adds: on the parent run params ``search.*`` (algorithm, seed, settings,
  max_concurrent_settings, startup_settings, space, objective, early_stopping), at the end metrics
  ``search_settings_tried`` and per group (``<dataset>/<heuristic>``) ``search_settings_tried.<group>``,
  ``search_best_objective.<group>``, ``search_reference_objective.<group>``, tags
  ``raysweep.search.best.<group>`` (the best setting, ``alpha=0.371,vae.latent_dim=16``) and the
  artifact ``search.json`` (every setting in the searcher's order with its objective per seed); on
  each trial run tags ``raysweep.search_group``, ``raysweep.setting``, ``raysweep.setting_index``
  (1, 2, ... in the searcher's order; 0 for the alpha-0 reference), and on a trial stopped by early
  stopping ``raysweep.stopped_early`` (its last round) with status KILLED.
"""

from __future__ import annotations

import csv
import io
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import requests
from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from raysweep.config import TrialConfig
from raysweep.loop import RoundResult
from raysweep.sweep import Trial, format_alpha

ROUND_METRICS = (
    "accuracy",
    "auc",
    "train_seconds",
    "selection_seconds",
    "eval_seconds",
    "inference_seconds",
    "encoder_seconds",
    "task_feature_spread",
    "vae_feature_spread",
    "vae_share",
    "equivalent_raw_alpha",
    "plain_overlap",
    "diagnostics_seconds",
)
T = TypeVar("T")


def default_tracking_uri(cwd: Path | None = None) -> str:
    return f"sqlite:///{((cwd or Path.cwd()) / 'mlflow.db').resolve()}"


DEFAULT_OUTAGE_LIMIT_S = 600.0
"""How long tracking calls wait out an unreachable store before the trial fails (``--tracking-outage-limit``)."""

# MLflow's own HTTP retries (at 3.17: 7 retries, backoff factor 2, 120-s timeout) take about four
# minutes before one call gives up, far coarser than the outage limit. Each attempt is kept short
# here and TrackingPatience waits out the rest, so a limit of N seconds means about N seconds.
# Values a user exported win (setdefault); each attempt then takes as long as they say.
MLFLOW_HTTP_ATTEMPT_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}
TRANSIENT_ERROR_CODES = {
    "TEMPORARILY_UNAVAILABLE",  # the server's database is down or locked (SQLAlchemy OperationalError)
    "REQUEST_LIMIT_EXCEEDED",
    "RESOURCE_EXHAUSTED",
    "SERVICE_UNDER_MAINTENANCE",
    "DEADLINE_EXCEEDED",
}


class TrackingUnavailable(RuntimeError):
    """The tracking store stayed unreachable for longer than the outage limit."""


def short_mlflow_http_attempts() -> None:
    for name, value in MLFLOW_HTTP_ATTEMPT_ENV.items():
        os.environ.setdefault(name, value)


def is_transient(exc: BaseException) -> bool:
    """Errors that an unreachable or restarting store produces, which a later attempt can get past."""
    text = str(exc)
    if isinstance(exc, MlflowException):
        if exc.error_code in TRANSIENT_ERROR_CODES:
            return True
        # Connection refused, timeouts and 5xx once MLflow's own HTTP retries are spent.
        if text.startswith("API request to") and " failed with " in text:
            return True
    if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        return True
    if isinstance(exc, requests.exceptions.HTTPError):  # artifact uploads through the server's proxy
        return exc.response is not None and exc.response.status_code >= 500
    if type(exc).__name__ == "OperationalError":  # SQLAlchemy, where a store surfaces it unwrapped
        return True
    lowered = text.lower()
    return "database is locked" in lowered or "database is busy" in lowered


@dataclass(frozen=True)
class TrackingPatience:
    """Runs tracking calls, waiting out an unreachable store for up to ``outage_limit_s`` seconds.

    Concurrent trials writing one SQLite file briefly see 'locked'; a restarted ``mlflow server``
    or its database refuses connections for a while. Calls are retried with capped backoff while
    the errors are transient; past the limit ``TrackingUnavailable`` names the tracking URI.
    Retrying is safe for every call raysweep makes: metric batches carry their own timestamps and
    the server drops exact duplicates, and tags, params and artifacts overwrite themselves.
    """

    tracking_uri: str
    outage_limit_s: float = DEFAULT_OUTAGE_LIMIT_S

    def call(self, fn: Callable[[], T]) -> T:
        first_failure = None
        attempt = 0
        while True:
            try:
                result = fn()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                now = time.monotonic()
                if first_failure is None:
                    first_failure = now
                    if "locked" not in str(exc).lower():
                        print(
                            f"MLflow at {self.tracking_uri} unreachable ({first_line(exc)}); "
                            f"retrying for up to {self.outage_limit_s:.0f}s",
                            file=sys.stderr,
                            flush=True,
                        )
                waited = now - first_failure
                if waited >= self.outage_limit_s:
                    raise TrackingUnavailable(
                        f"MLflow tracking store {self.tracking_uri} unreachable for {waited:.0f}s, "
                        f"past the outage limit of {self.outage_limit_s:.0f}s (--tracking-outage-limit): "
                        f"{first_line(exc)}"
                    ) from exc
                pause = min(0.2 * 2**attempt, 10.0) * (0.5 + random.random())
                time.sleep(min(pause, max(0.0, self.outage_limit_s - waited)) + 0.05)
                attempt += 1
                continue
            if first_failure is not None and time.monotonic() - first_failure > 5:
                print(
                    f"MLflow at {self.tracking_uri} reachable again after "
                    f"{time.monotonic() - first_failure:.0f}s",
                    file=sys.stderr,
                    flush=True,
                )
            return result


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def flatten(prefix: str, value: Any) -> dict[str, str]:
    if isinstance(value, Mapping):
        out: dict[str, str] = {}
        for key, item in value.items():
            out.update(flatten(f"{prefix}.{key}" if prefix else str(key), item))
        return out
    return {prefix: str(value)}


def trial_params(config: TrialConfig) -> dict[str, str]:
    params = {
        "dataset": config.dataset.name,
        "heuristic": config.heuristic.name,
        "alpha": str(float(config.alpha)),
        "seed": str(config.seed),
        "encoder": config.encoder.name,
        "uses_vae": str(config.uses_vae),
        "initial_labels": str(config.schedule.initial_labels),
        "labels_per_round": str(config.schedule.labels_per_round),
    }
    params.update(flatten("config", config.model_dump(mode="json")))
    return params


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


def mark_unfinished_trials_killed(
    client: MlflowClient, experiment_id: str, sweep_id: str, patience: TrackingPatience
) -> int:
    """After an interrupted sweep: every trial run of the sweep that did not finish becomes KILLED.

    RUNNING ones were stopped mid-round; FAILED ones lost their Ray worker to the stop (or failed
    for their own reasons, which ``--resume`` retries as well). Returns how many were marked.
    """
    query = f"tags.`raysweep.sweep_id` = '{sweep_id}' and tags.`raysweep.role` = 'trial'"
    runs = patience.call(lambda: client.search_runs([experiment_id], filter_string=query, max_results=10000))
    unfinished = [r.info.run_id for r in runs if r.info.status in ("RUNNING", "FAILED", "SCHEDULED")]
    for run_id in unfinished:
        patience.call(lambda r=run_id: client.set_terminated(r, status="KILLED"))
    return len(unfinished)


class TrialRun:
    """A trial's child run, reattached on retry or resume, logging each step exactly once.

    ``tracking_seconds`` counts the wall time this process spent in MLflow calls (waits for an
    unreachable store included); ``finish`` logs it as the run's ``tracking_seconds`` metric.
    """

    def __init__(self, client: MlflowClient, run_id: str, patience: TrackingPatience) -> None:
        self.client = client
        self.run_id = run_id
        self.patience = patience
        self.tracking_seconds = 0.0
        history = self.call(lambda: client.get_metric_history(run_id, "accuracy"))
        self.logged_steps = {m.step for m in history}

    def call(self, fn: Callable[[], T]) -> T:
        started = time.perf_counter()
        try:
            return self.patience.call(fn)
        finally:
            self.tracking_seconds += time.perf_counter() - started

    @classmethod
    def attach(
        cls,
        client: MlflowClient,
        experiment_id: str,
        parent_run_id: str,
        sweep_id: str,
        key: str,
        config: TrialConfig,
        patience: TrackingPatience,
        run_id: str | None = None,
    ) -> TrialRun:
        """Reattach to ``run_id`` (from the checkpoint) or this trial's run in the sweep, else create it."""
        started = time.perf_counter()
        tags = {"raysweep.sweep_id": sweep_id, "raysweep.trial_key": key}
        if run_id is None:
            run_id = find_run(client, experiment_id, tags, patience)
        if run_id is None:
            run = patience.call(
                lambda: client.create_run(
                    experiment_id,
                    run_name=key.replace("/", "-"),
                    tags={
                        **tags,
                        "mlflow.parentRunId": parent_run_id,
                        "raysweep.role": "trial",
                        "raysweep.heuristic": config.heuristic.name,
                        "raysweep.alpha": format_alpha(config.alpha),
                        "raysweep.encoder": config.encoder.name,
                    },
                )
            )
            run_id = run.info.run_id
            params = [Param(k, v) for k, v in trial_params(config).items()]
            for start in range(0, len(params), 90):
                patience.call(lambda chunk=params[start : start + 90]: client.log_batch(run_id, params=chunk))
        else:
            patience.call(lambda: client.update_run(run_id, status="RUNNING"))
        run = cls(client, run_id, patience)
        run.tracking_seconds += time.perf_counter() - started
        return run

    def set_initial_labels_hash(self, sha256: str) -> None:
        self.call(lambda: self.client.set_tag(self.run_id, "raysweep.initial_labels_sha256", sha256))

    def set_node(self, node_id: str) -> None:
        """The Ray node the trial (last) ran on: shows how a sweep spread over a cluster."""
        self.call(lambda: self.client.set_tag(self.run_id, "raysweep.node_id", node_id))

    def set_tags(self, tags: Mapping[str, str]) -> None:
        """Extra tags (a search's group and setting), set again harmlessly on a retry."""
        for name, value in tags.items():
            self.call(lambda n=name, v=value: self.client.set_tag(self.run_id, n, v))

    def log_round(self, round_index: int, n_labels: int, metrics: Mapping[str, float]) -> None:
        """The core's MetricsSink: one batch per round, step = number of labels, never twice."""
        if n_labels in self.logged_steps:
            return
        now = int(time.time() * 1000)
        batch = [
            Metric(name, float(value), now, n_labels) for name, value in metrics.items() if np.isfinite(value)
        ]
        batch.append(Metric("round", float(round_index), now, n_labels))
        self.call(lambda: self.client.log_batch(self.run_id, metrics=batch))
        self.logged_steps.add(n_labels)

    def finish(self, curve: list[RoundResult], picks: list[np.ndarray]) -> None:
        with tempfile.TemporaryDirectory() as folder:
            np.savez_compressed(Path(folder) / "picks.npz", **{f"round_{i}": p for i, p in enumerate(picks)})
            (Path(folder) / "curve.csv").write_text(curve_csv(curve))
            self.call(lambda: self.client.log_artifacts(self.run_id, folder))
        seconds = self.tracking_seconds  # the metric's own call is not in it
        self.call(lambda: self.client.log_metric(self.run_id, "tracking_seconds", seconds))
        self.call(lambda: self.client.set_terminated(self.run_id, status="FINISHED"))

    def fail(self, reason: str) -> None:
        """FAILED, with the reason as tag ``raysweep.error`` (the launcher's summary reads it when
        Tune's own record of the error is unreadable)."""
        self.call(lambda: self.client.set_tag(self.run_id, "raysweep.error", reason[:4000]))
        self.call(lambda: self.client.set_terminated(self.run_id, status="FAILED"))


def curve_csv(curve: list[RoundResult]) -> str:
    columns = ["round", "n_labels", *ROUND_METRICS]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for point in curve:
        writer.writerow({"round": point.round_index, "n_labels": point.n_labels, **point.metrics})
    return buffer.getvalue()


VAE_TRAININGS_FILE = "vae_trainings.json"


def log_vae_trainings(
    client: MlflowClient,
    parent_run_id: str,
    trials: list[Trial],
    trainings: list[dict[str, Any]],
    patience: TrackingPatience,
) -> None:
    """Log which VAE each VAE trial used and what it cost (``vae_seconds``, ``vae_trainings.json``).

    ``trainings``: the embedding store's rows (:meth:`EmbeddingStore.trainings`). A trial used a row's
    VAE when it uses VAE features and its dataset, VAE and encoder configs are the row's (``cvae``
    trials, retrained in the trial, use none of the store's rows).
    """
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
    patience.call(lambda: client.log_dict(parent_run_id, {"vaes": rows}, VAE_TRAININGS_FILE))
    if known:
        patience.call(lambda: client.log_metric(parent_run_id, "vae_seconds", float(sum(known))))


def ui_command(tracking_uri: str, experiment_id: str, port: int = 5000) -> str:
    """What to run to compare the runs, and the link that opens the runs table (not the GenAI view)."""
    link = f"/#/experiments/{experiment_id}/runs?workflowType=machine_learning"
    if tracking_uri.startswith(("http://", "https://")):
        return f"open {tracking_uri.rstrip('/')}{link}"
    return f"mlflow ui --backend-store-uri {tracking_uri} --port {port}   # then open http://127.0.0.1:{port}{link}"
