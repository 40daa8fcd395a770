"""MLflow tracking: the run schema the analysis package reads, and an idempotent metrics sink.

Schema (fixed; ``analysis`` depends on it):
- one parent run per sweep: tags ``raysweep.sweep_id``, ``raysweep.role=sweep``; params of the
  budgets; the resolved config as ``sweep_config.yaml``; metrics ``vae_trainings``, ``vae_cache_hits``,
  ``trials_finished``, ``trials_failed``, ``sweep_seconds`` at the end.
- one child run per trial: tag ``mlflow.parentRunId``, ``raysweep.sweep_id``, ``raysweep.role=trial``,
  ``raysweep.trial_key`` (dataset/heuristic/alpha/seed), ``raysweep.initial_labels_sha256``; params
  dataset, heuristic, alpha, seed, uses_vae, initial_labels, labels_per_round and the trial's whole
  resolved config flattened (``config.*``); per-round metrics ``accuracy``, ``auc`` (where defined),
  ``train_seconds``, ``selection_seconds``, ``eval_seconds``, ``inference_seconds`` (the pool inference
  inside ``selection_seconds``) with step = number of labels; in every selecting round of a
  trial that uses VAE features also ``task_feature_spread``, ``vae_feature_spread`` (RMS distance to
  the pool centroid of each block as the heuristic sees it, after scaling and alpha), ``vae_share``
  (the VAE block's fraction of the squared distances; for loss prediction of its head input's
  spread), ``equivalent_raw_alpha`` (core-set, MedAL: the raw alpha giving the same picks), and for
  heuristics whose model does not depend on alpha ``plain_overlap`` (fraction of the round's picks
  the same heuristic at alpha 0 picks on the same model) with ``diagnostics_seconds``; artifacts
  ``picks.npz`` and ``curve.csv``.
"""

from __future__ import annotations

import csv
import io
import random
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from raysweep.config import TrialConfig
from raysweep.loop import RoundResult
from raysweep.sweep import format_alpha

ROUND_METRICS = (
    "accuracy",
    "auc",
    "train_seconds",
    "selection_seconds",
    "eval_seconds",
    "inference_seconds",
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


def with_retries(call: Callable[[], T], attempts: int = 8) -> T:
    """Retry a store call: concurrent trials writing one SQLite file can briefly see 'locked'."""
    for attempt in range(attempts):
        try:
            return call()
        except MlflowException as exc:
            transient = "locked" in str(exc).lower() or "busy" in str(exc).lower()
            if not transient or attempt == attempts - 1:
                raise
        except Exception as exc:  # sqlalchemy OperationalError surfaces unwrapped on some paths
            if "locked" not in str(exc).lower() or attempt == attempts - 1:
                raise
        time.sleep(0.2 * (attempt + 1) + random.random() * 0.2)
    raise AssertionError("unreachable")


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


def find_run(client: MlflowClient, experiment_id: str, tags: Mapping[str, str]) -> str | None:
    """The newest run in the experiment carrying all ``tags``, or None."""
    query = " and ".join(f"tags.`{key}` = '{value}'" for key, value in tags.items())
    runs = with_retries(
        lambda: client.search_runs(
            [experiment_id], filter_string=query, order_by=["attributes.start_time DESC"], max_results=1
        )
    )
    return runs[0].info.run_id if runs else None


class TrialRun:
    """A trial's child run, reattached on retry or resume, logging each step exactly once."""

    def __init__(self, client: MlflowClient, run_id: str) -> None:
        self.client = client
        self.run_id = run_id
        history = with_retries(lambda: client.get_metric_history(run_id, "accuracy"))
        self.logged_steps = {m.step for m in history}

    @classmethod
    def attach(
        cls,
        client: MlflowClient,
        experiment_id: str,
        parent_run_id: str,
        sweep_id: str,
        key: str,
        config: TrialConfig,
        run_id: str | None = None,
    ) -> TrialRun:
        """Reattach to ``run_id`` (from the checkpoint) or this trial's run in the sweep, else create it."""
        tags = {"raysweep.sweep_id": sweep_id, "raysweep.trial_key": key}
        if run_id is None:
            run_id = find_run(client, experiment_id, tags)
        if run_id is None:
            run = with_retries(
                lambda: client.create_run(
                    experiment_id,
                    run_name=key.replace("/", "-"),
                    tags={
                        **tags,
                        "mlflow.parentRunId": parent_run_id,
                        "raysweep.role": "trial",
                        "raysweep.heuristic": config.heuristic.name,
                        "raysweep.alpha": format_alpha(config.alpha),
                    },
                )
            )
            run_id = run.info.run_id
            params = [Param(k, v) for k, v in trial_params(config).items()]
            for start in range(0, len(params), 90):
                with_retries(lambda chunk=params[start : start + 90]: client.log_batch(run_id, params=chunk))
        else:
            with_retries(lambda: client.update_run(run_id, status="RUNNING"))
        return cls(client, run_id)

    def set_initial_labels_hash(self, sha256: str) -> None:
        with_retries(lambda: self.client.set_tag(self.run_id, "raysweep.initial_labels_sha256", sha256))

    def set_node(self, node_id: str) -> None:
        """The Ray node the trial (last) ran on: shows how a sweep spread over a cluster."""
        with_retries(lambda: self.client.set_tag(self.run_id, "raysweep.node_id", node_id))

    def log_round(self, round_index: int, n_labels: int, metrics: Mapping[str, float]) -> None:
        """The core's MetricsSink: one batch per round, step = number of labels, never twice."""
        if n_labels in self.logged_steps:
            return
        now = int(time.time() * 1000)
        batch = [
            Metric(name, float(value), now, n_labels) for name, value in metrics.items() if np.isfinite(value)
        ]
        batch.append(Metric("round", float(round_index), now, n_labels))
        with_retries(lambda: self.client.log_batch(self.run_id, metrics=batch))
        self.logged_steps.add(n_labels)

    def finish(self, curve: list[RoundResult], picks: list[np.ndarray]) -> None:
        with tempfile.TemporaryDirectory() as folder:
            np.savez_compressed(Path(folder) / "picks.npz", **{f"round_{i}": p for i, p in enumerate(picks)})
            (Path(folder) / "curve.csv").write_text(curve_csv(curve))
            with_retries(lambda: self.client.log_artifacts(self.run_id, folder))
        with_retries(lambda: self.client.set_terminated(self.run_id, status="FINISHED"))

    def fail(self) -> None:
        with_retries(lambda: self.client.set_terminated(self.run_id, status="FAILED"))


def curve_csv(curve: list[RoundResult]) -> str:
    columns = ["round", "n_labels", *ROUND_METRICS]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for point in curve:
        writer.writerow({"round": point.round_index, "n_labels": point.n_labels, **point.metrics})
    return buffer.getvalue()


def ui_command(tracking_uri: str, experiment_id: str, port: int = 5000) -> str:
    """What to run to compare the runs, and the link that opens the runs table (not the GenAI view)."""
    link = f"/#/experiments/{experiment_id}/runs?workflowType=machine_learning"
    if tracking_uri.startswith(("http://", "https://")):
        return f"open {tracking_uri.rstrip('/')}{link}"
    return f"mlflow ui --backend-store-uri {tracking_uri} --port {port}   # then open http://127.0.0.1:{port}{link}"
