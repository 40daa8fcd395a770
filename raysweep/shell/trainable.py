"""The Tune trainable: one trial runs one AL trajectory, reporting and checkpointing every round.

A plain function of ``config`` (only the trial key travels in Tune's param space); everything large
arrives through ``tune.with_parameters`` and the store actors. On a retry or a resumed sweep the
trial continues from its last checkpointed round and reattaches to its own MLflow run, whose id
travels in the checkpoint.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import ray
import torch
from mlflow.tracking import MlflowClient
from ray import tune

from raysweep.labels import indices_sha256, initial_label_indices
from raysweep.loop import TrajectoryState, run_trajectory
from raysweep.sweep import Trial

FAULT_ENV = "RAYSWEEP_FAULT_AFTER_ROUND"
"""Fault injection for tests: ``<round>:<trial key substring>`` kills the trial's worker process
right after that round's checkpoint, once per trial (a marker file under the storage path remembers)."""


@dataclass(frozen=True)
class SweepContext:
    """What every trial of a sweep shares (passed once through ``tune.with_parameters``)."""

    sweep_id: str
    trials: dict[str, Trial]
    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    dataset_store: Any
    embedding_store: Any
    cpus_per_trial: float
    sweep_dir: str


def save_checkpoint(folder: Path, state: TrajectoryState, run_id: str) -> None:
    """Label state as npz (no pickle), the rest as JSON."""
    state_dict = state.state_dict()
    labels = state_dict["labels"]
    np.savez(folder / "picks.npz", **{f"round_{i}": p for i, p in enumerate(labels["picks"])})
    meta = {
        "run_id": run_id,
        "n_pool": labels["n_pool"],
        "next_round": labels["next_round"],
        "n_picks": len(labels["picks"]),
        "curve": state_dict["curve"],
    }
    (folder / "state.json").write_text(json.dumps(meta))


def load_checkpoint(folder: Path) -> tuple[TrajectoryState, str]:
    meta = json.loads((folder / "state.json").read_text())
    with np.load(folder / "picks.npz", allow_pickle=False) as archive:
        picks = [archive[f"round_{i}"] for i in range(meta["n_picks"])]
    state = TrajectoryState.from_state_dict(
        {
            "labels": {"n_pool": meta["n_pool"], "next_round": meta["next_round"], "picks": picks},
            "curve": meta["curve"],
        }
    )
    return state, meta["run_id"]


def normalised_area(n_labels: list[int], values: list[float]) -> float:
    """Trapezoid area under the curve divided by the label range (in the metric's units)."""
    if len(n_labels) < 2:
        return float(values[0]) if values else float("nan")
    return float(np.trapezoid(values, n_labels) / (n_labels[-1] - n_labels[0]))


def maybe_inject_fault(key: str, round_index: int, sweep_dir: str) -> None:
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    round_text, _, pattern = spec.partition(":")
    if int(round_text) != round_index or pattern not in key:
        return
    marker = Path(sweep_dir) / "injected_faults" / key.replace("/", "_")
    if marker.exists():
        return
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(f"killed after round {round_index}\n")
    print(f"[{key}] fault injection: killing this worker after round {round_index}", flush=True)
    os._exit(1)


def run_trial(config: dict[str, Any], context: SweepContext) -> None:
    # One line per round is ours to print; Ray's own "Checkpoint successfully created" per round is noise.
    logging.getLogger("ray.train._internal.storage").setLevel(logging.WARNING)
    key = config["trial"]
    trial = context.trials[key]
    torch.set_num_threads(max(1, int(context.cpus_per_trial)))

    handle = ray.get(context.dataset_store.get.remote(trial.config.dataset))
    dataset = handle.materialise()

    resume_from, run_id = None, None
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            resume_from, run_id = load_checkpoint(Path(folder))

    client = MlflowClient(context.tracking_uri)
    # mlflow imported here, not at module import, for the workers' startup
    from raysweep.shell.tracking import TrialRun

    run = TrialRun.attach(
        client, context.experiment_id, context.parent_run_id, context.sweep_id, key, trial.config, run_id
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

    def embeddings() -> np.ndarray:
        [ref] = ray.get(context.embedding_store.get.remote(handle, trial.config.vae))
        return ray.get(ref)

    def on_state(state: TrajectoryState) -> None:
        last = state.curve[-1]
        n_labels = [point.n_labels for point in state.curve]
        accuracy = [point.metrics["accuracy"] for point in state.curve]
        metrics = {
            "round": last.round_index,
            "n_labels": last.n_labels,
            "accuracy": last.metrics["accuracy"],
            "auc": last.metrics.get("auc", float("nan")),
            "area_under_curve": normalised_area(n_labels, accuracy),
            "train_seconds": last.metrics["train_seconds"],
            "selection_seconds": last.metrics.get("selection_seconds", 0.0),
        }
        print(
            f"[{key}] round {last.round_index}: {last.n_labels} labels, accuracy {metrics['accuracy']:.4f}, "
            f"train {metrics['train_seconds']:.1f}s, selection {metrics['selection_seconds']:.2f}s",
            flush=True,
        )
        with tempfile.TemporaryDirectory() as folder:
            save_checkpoint(Path(folder), state, run.run_id)
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))
        maybe_inject_fault(key, last.round_index, context.sweep_dir)

    try:
        result = run_trajectory(
            trial.config,
            dataset,
            embeddings=embeddings if trial.config.uses_vae else None,
            sink=run,
            resume_from=resume_from,
            on_state=on_state,
        )
    except Exception:
        run.fail()
        raise
    run.finish(result.curve, result.picks)
