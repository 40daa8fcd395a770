"""A trial's child run in MLflow: created once, reattached on a retry or a resume, every step logged
exactly once, finished with its picks and curve (the names are ``raysweep.schema``'s)."""

from __future__ import annotations

import csv
import io
import math
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

from raysweep import schema
from raysweep.config import TrialConfig
from raysweep.curves import final_value, normalised_area
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
    SUMMARISED_METRICS,
    SWEEP_ID_TAG,
    TRACKING_SECONDS_METRIC,
    TRIAL_KEY_TAG,
    area_metric,
    final_metric,
)
from raysweep.shell.tracking.patience import TrackingPatience
from raysweep.shell.tracking.sweep_run import find_run
from raysweep.sweep.trials import format_alpha

T = TypeVar("T")


def flatten(prefix: str, value: Any) -> dict[str, str]:
    if isinstance(value, Mapping):
        out: dict[str, str] = {}
        for key, item in value.items():
            out.update(flatten(f"{prefix}.{key}" if prefix else str(key), item))
        return out
    return {prefix: str(value)}


def trial_params(config: TrialConfig) -> dict[str, str]:
    params = {
        schema.DATASET_PARAM: config.dataset.name,
        schema.HEURISTIC_PARAM: config.heuristic.name,
        schema.ALPHA_PARAM: str(float(config.alpha)),
        schema.SEED_PARAM: str(config.seed),
        schema.ENCODER_PARAM: config.encoder.name,
        schema.USES_VAE_PARAM: str(config.uses_vae),
        schema.TRIAL_INITIAL_LABELS_PARAM: str(config.schedule.initial_labels),
        schema.TRIAL_LABELS_PER_ROUND_PARAM: str(config.schedule.labels_per_round),
    }
    params.update(flatten(CONFIG_PARAM_PREFIX.rstrip("."), config.model_dump(mode="json")))
    return params


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
        history = self.call(lambda: client.get_metric_history(run_id, ROUND_METRICS[0]))
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
        tags = {SWEEP_ID_TAG: sweep_id, TRIAL_KEY_TAG: key}
        if run_id is None:
            run_id = find_run(client, experiment_id, tags, patience)
        if run_id is None:
            run = patience.call(
                lambda: client.create_run(
                    experiment_id,
                    run_name=key.replace("/", "-"),
                    tags={
                        **tags,
                        PARENT_RUN_TAG: parent_run_id,
                        ROLE_TAG: ROLE_TRIAL,
                        HEURISTIC_TAG: config.heuristic.name,
                        ALPHA_TAG: format_alpha(config.alpha),
                        ENCODER_TAG: config.encoder.name,
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
        self.call(lambda: self.client.set_tag(self.run_id, INITIAL_LABELS_TAG, sha256))

    def set_node(self, node_id: str) -> None:
        """The Ray node the trial (last) ran on: shows how a sweep spread over a cluster."""
        self.call(lambda: self.client.set_tag(self.run_id, NODE_TAG, node_id))

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
        batch.append(Metric(ROUND_INDEX_METRIC, float(round_index), now, n_labels))
        self.call(lambda: self.client.log_batch(self.run_id, metrics=batch))
        self.logged_steps.add(n_labels)

    def finish(self, curve: list[RoundResult], picks: list[np.ndarray]) -> None:
        with tempfile.TemporaryDirectory() as folder:
            np.savez_compressed(
                Path(folder) / PICKS_ARTIFACT, **{f"round_{i}": p for i, p in enumerate(picks)}
            )
            (Path(folder) / CURVE_ARTIFACT).write_text(curve_csv(curve))
            self.call(lambda: self.client.log_artifacts(self.run_id, folder))
        now = int(time.time() * 1000)
        summary = [Metric(name, value, now, 0) for name, value in trial_summary(curve).items()]
        if summary:
            self.call(lambda: self.client.log_batch(self.run_id, metrics=summary))
        seconds = self.tracking_seconds  # the metric's own call is not in it
        self.call(lambda: self.client.log_metric(self.run_id, TRACKING_SECONDS_METRIC, seconds))
        self.call(lambda: self.client.set_terminated(self.run_id, status="FINISHED"))

    def fail(self, reason: str) -> None:
        """FAILED, with the reason as tag ``raysweep.error`` (the launcher's summary reads it when
        Tune's own record of the error is unreadable)."""
        self.call(lambda: self.client.set_tag(self.run_id, ERROR_TAG, reason[:4000]))
        self.call(lambda: self.client.set_terminated(self.run_id, status="FAILED"))


def trial_summary(curve: list[RoundResult]) -> dict[str, float]:
    """The trial's one-number summaries (``raysweep.schema.TRIAL_SUMMARY_METRICS``) of its curve: the
    normalised area and the final value of the test and validation accuracy, where it logged them."""
    n_labels = [point.n_labels for point in curve]
    summary = {}
    for metric in SUMMARISED_METRICS:
        values = [point.metrics.get(metric, math.nan) for point in curve]
        if any(math.isfinite(v) for v in values):
            summary[area_metric(metric)] = normalised_area(n_labels, values)
            summary[final_metric(metric)] = final_value(n_labels, values)
    return summary


def curve_csv(curve: list[RoundResult]) -> str:
    columns = ["round", "n_labels", *ROUND_METRICS]  # curve.csv's header, as it always was
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for point in curve:
        writer.writerow({"round": point.round_index, "n_labels": point.n_labels, **point.metrics})
    return buffer.getvalue()
