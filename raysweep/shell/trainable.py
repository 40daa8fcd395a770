"""The Tune trainable: one trial runs one AL trajectory, reporting and checkpointing every round.

A plain function of ``config`` (only the trial key travels in Tune's param space); everything large
arrives through ``tune.with_parameters`` and the store actors. On a retry or a resumed sweep the
trial continues from its furthest intact checkpoint (``checkpoints.choose_restore_point``) and
reattaches to its own MLflow run, whose id travels in the checkpoint. MLflow calls wait out an
unreachable store for up to the sweep's outage limit (``tracking.TrackingPatience``); a store that
refuses them (credentials, permission, host) fails the trial at once, and Tune's retries as fast.
"""

from __future__ import annotations

import errno
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import ray
import torch
from ray import tune

from raysweep import schema
from raysweep.curves import normalised_area
from raysweep.encoders import embedding_provider
from raysweep.labels import indices_sha256, initial_label_indices
from raysweep.loop import TrajectoryResult, TrajectoryState, run_trajectory
from raysweep.schedule import label_schedule
from raysweep.schema import (
    RESULT_AREA,
    RESULT_N_LABELS,
    RESULT_OBJECTIVE,
    RESULT_ROUND,
    RESULT_ROUNDS,
    TRIAL_CONFIG_KEY,
)
from raysweep.shell.checkpoints import (
    RestorePoint,
    StorageFull,
    checkpoints_by_age,
    choose_restore_point,
    is_no_space,
    prune_checkpoints,
    save_checkpoint,
    trial_checkpoints,
    trial_dir_name,
)
from raysweep.shell.plan import GridPlan
from raysweep.shell.tracking.access import TrackingCredentials
from raysweep.storage import StoragePath, location

FAULT_ENV = "RAYSWEEP_FAULT_AFTER_ROUND"
"""Fault injection for tests: ``<round>:<trial key substring>`` kills the trial's worker process
right after that round's checkpoint, once per trial (a marker file under the storage path remembers)."""


@dataclass(frozen=True)
class SweepContext:
    """What every trial of a sweep shares (passed once through ``tune.with_parameters``)."""

    sweep_id: str
    plan: GridPlan
    """How the sweep hands out trials (a grid or a search): which trial a Tune config names, its tags,
    its objective."""
    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    dataset_store: Any
    embedding_store: Any
    cpus_per_trial: float
    sweep_dir: StoragePath
    """The sweep folder on the storage (local, NFS or an object store), as every node reaches it."""
    tracking_outage_limit_s: float
    tracking_credentials: TrackingCredentials
    """The launcher's MLflow credential variables; each trial sets them before its first MLflow call."""


def restore_point(key: str, sweep_dir: StoragePath) -> RestorePoint:
    """Where this trial starts: its furthest intact checkpoint on the storage path, if any.

    Tune hands back the checkpoint its experiment state last recorded; the trial folder may hold a
    later one (the driver was killed before it saved its state) or a damaged one (a copy cut short
    by a full disk or a lost node). All of the trial's checkpoints are weighed, Tune's included.
    """
    folders: list = trial_checkpoints(sweep_dir, key)
    offered = tune.get_checkpoint()  # one that exists (RestoresPastPrunedCheckpoints)
    if offered is not None:
        with offered.as_directory() as folder:
            folders.append(location(folder))  # on a local storage path: one of the folders above
            return choose_restore_point(folders)
    return choose_restore_point(folders)


class RestoresPastPrunedCheckpoints:
    """Mixed into the trial's Tune trainable: a restore from a checkpoint the trial has pruned gets the
    newest checkpoint left in the same trial folder instead of failing the trial.

    Trials prune their own checkpoints (``checkpoints.prune_checkpoints`` says why) while Tune saves
    its experiment state on its own clock, so the state a killed driver left behind can name a
    checkpoint deleted since. ``Tuner.restore`` hands exactly that one to the trial, and Tune's own
    restore refuses a checkpoint that is gone ("does not exist on storage anymore"), on every retry.
    The metrics are Tune's, as saved; the trial itself then weighs every folder it finds
    (:func:`restore_point`). With no checkpoint left at all the trial starts without one, and
    :func:`restore_point` looks in the trial's other folders before restarting the trajectory.
    """

    def restore(self, checkpoint_path: Any) -> Any:
        from ray.train._internal.session import _TrainingResult

        if isinstance(checkpoint_path, _TrainingResult):
            named = checkpoint_path.checkpoint
            where = StoragePath(named.filesystem, named.path)
            if not where.exists():
                key = self.config.get(TRIAL_CONFIG_KEY, "?")  # type: ignore[attr-defined]  # Trainable's
                left = checkpoints_by_age(where.parent)
                if not left:
                    print(
                        f"[{key}] Tune's saved state names {where}, which is gone, and no checkpoint is left beside it"
                    )
                    return None
                print(
                    f"[{key}] Tune's saved state names {where.name}, pruned since; restoring from {left[-1].name}"
                )
                checkpoint = tune.Checkpoint(left[-1].path, filesystem=named.filesystem)
                checkpoint_path = _TrainingResult(checkpoint=checkpoint, metrics=checkpoint_path.metrics)
        return super().restore(checkpoint_path)  # type: ignore[misc]  # FunctionTrainable's, after this mixin


def check_storage_seen(key: str, sweep_dir: StoragePath) -> None:
    """Fail a trial at its start, not at its first checkpoint, on a node that cannot see the storage.

    The launcher probes every node before the sweep (``raysweep.shell.storage_probe``); a node that
    joined later (an autoscaled one) was not probed. The sweep record is there on every node that
    sees the storage.
    """
    from raysweep.shell.sweep_record import sweep_exists

    try:
        seen = sweep_exists(sweep_dir)
    except OSError as exc:
        seen, reason = False, f"{type(exc).__name__}: {exc}"
    else:
        reason = "its sweep record is not there"
    if not seen:
        context = ray.get_runtime_context()
        raise RuntimeError(
            f"[{key}] node {context.get_node_id()} ({ray.util.get_node_ip_address()}) cannot see the storage "
            f"path {sweep_dir} ({reason}): every node must see the same storage (a network filesystem "
            "mounted at the same path, or a bucket URI)"
        )


def maybe_inject_fault(key: str, round_index: int, sweep_dir: StoragePath) -> None:
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    round_text, _, pattern = spec.partition(":")
    if int(round_text) != round_index or pattern not in key:
        return
    marker = sweep_dir / "injected_faults" / key.replace("/", "_")
    if marker.exists():
        return
    marker.write_text(f"killed after round {round_index}\n")
    print(f"[{key}] fault injection: killing this worker after round {round_index}", flush=True)
    os._exit(1)


def run_trial(config: dict[str, Any], context: SweepContext) -> None:
    # One line per round is ours to print; Ray's own "Checkpoint successfully created" per round is noise.
    logging.getLogger("ray.train._internal.storage").setLevel(logging.WARNING)
    key = config[TRIAL_CONFIG_KEY]
    trial = context.plan.resolve(config)
    torch.set_num_threads(max(1, int(context.cpus_per_trial)))

    check_storage_seen(key, context.sweep_dir)
    handle = ray.get(context.dataset_store.get.remote(trial.config.dataset))
    dataset = handle.materialise()

    start = restore_point(key, context.sweep_dir)
    if start.note:
        print(f"[{key}] {start.note}", flush=True)

    # mlflow imported here, not at module import, for the workers' startup
    from mlflow.tracking import MlflowClient

    from raysweep.shell.tracking.patience import TrackingError, TrackingPatience, short_mlflow_http_attempts
    from raysweep.shell.tracking.trial_run import TrialRun

    short_mlflow_http_attempts()
    # On a node started by `ray start` this process has that node's environment, not the launcher's.
    context.tracking_credentials.apply()
    client = MlflowClient(context.tracking_uri)
    patience = TrackingPatience(context.tracking_uri, context.tracking_outage_limit_s)
    run = TrialRun.attach(
        client,
        context.experiment_id,
        context.parent_run_id,
        context.sweep_id,
        key,
        trial.config,
        patience,
        start.run_id,
    )
    initial = initial_label_indices(
        dataset.name,
        dataset.n_pool,
        trial.config.dataset.pool_seed,
        trial.config.seed,
        trial.config.schedule.initial_labels,
    )
    run.set_initial_labels_hash(indices_sha256(initial))
    run.set_node(ray.get_runtime_context().get_node_id())
    run.set_tags(context.plan.tags(trial, config))

    def pool_embeddings() -> np.ndarray:
        [ref] = ray.get(context.embedding_store.get.remote(handle, trial.config.vae, trial.config.encoder))
        return ray.get(ref)

    # vae/gmvae: the store's one array; cvae: retrained here each round, on this trial's device.
    embeddings = embedding_provider(trial.config, dataset, pool_embeddings)
    rounds = len(label_schedule(trial.config.schedule, dataset.n_pool))

    def tune_metrics(state: TrajectoryState) -> dict[str, float]:
        last = state.curve[-1]
        n_labels = [point.n_labels for point in state.curve]
        accuracy = [point.metrics[schema.ACCURACY] for point in state.curve]
        metrics = {
            RESULT_ROUND: last.round_index,
            RESULT_ROUNDS: rounds,  # the launcher's summary tells finished trajectories from stopped ones
            RESULT_N_LABELS: last.n_labels,
            schema.ACCURACY: last.metrics[schema.ACCURACY],
            schema.AUC: last.metrics.get(schema.AUC, float("nan")),
            RESULT_AREA: normalised_area(n_labels, accuracy),
            schema.TRAIN_SECONDS: last.metrics[schema.TRAIN_SECONDS],
            schema.SELECTION_SECONDS: last.metrics.get(schema.SELECTION_SECONDS, 0.0),
        }
        objective = context.plan.objective(state.curve)
        if objective is not None:
            metrics[RESULT_OBJECTIVE] = objective
        return metrics

    def on_state(state: TrajectoryState) -> None:
        last = state.curve[-1]
        metrics = tune_metrics(state)
        if schema.ENCODER_SECONDS in last.metrics:
            metrics[schema.ENCODER_SECONDS] = last.metrics[schema.ENCODER_SECONDS]
        print(
            f"[{key}] round {last.round_index}: {last.n_labels} labels, accuracy {metrics[schema.ACCURACY]:.4f}, "
            f"train {metrics[schema.TRAIN_SECONDS]:.1f}s, selection {metrics[schema.SELECTION_SECONDS]:.2f}s",
            flush=True,
        )
        with tempfile.TemporaryDirectory() as folder:
            save_checkpoint(Path(folder), state, run.run_id)
            try:
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))
            except OSError as exc:
                if not is_no_space(exc):
                    raise
                raise StorageFull(
                    errno.ENOSPC,
                    f"no space left on device under the storage path {context.sweep_dir} (saving the round "
                    f"{last.round_index} checkpoint); free space there, then --resume",
                ) from exc
        # Tune has copied the round's checkpoint into the trial's folder (named as tuner.py names it).
        prune_checkpoints(context.sweep_dir / trial_dir_name(key, tune.get_context().get_trial_id()))
        maybe_inject_fault(key, last.round_index, context.sweep_dir)

    if start.state is not None and start.state.labels.next_round >= rounds:
        # Finished before a resume that had to start Tune afresh: report the curve, rerun nothing.
        tune.report(tune_metrics(start.state))
        run.finish(start.state.curve, TrajectoryResult.of(start.state).picks)
        return

    try:
        result = run_trajectory(
            trial.config,
            dataset,
            embeddings=embeddings,
            sink=run,
            resume_from=start.state,
            on_state=on_state,
        )
    except TrackingError:
        raise  # marking the run FAILED would only wait out the same outage, or be refused again
    except Exception as exc:
        run.fail(f"{type(exc).__name__}: {exc}")
        raise
    run.finish(result.curve, result.picks)


# Tune builds the trial's Trainable class from the function and puts these mixins before its own base.
run_trial.__mixins__ = (RestoresPastPrunedCheckpoints,)  # type: ignore[attr-defined]


def sweep_trainable(context: SweepContext | None, resources: dict[str, float]) -> Any:
    """What the Tuner runs: :func:`run_trial` with the sweep's context and each trial's resources."""
    return tune.with_resources(tune.with_parameters(run_trial, context=context), resources)
