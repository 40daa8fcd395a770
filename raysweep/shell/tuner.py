"""Everything Tune needs before ``fit()``: the shared stores, the pool encoders trained, the Tuner.

:func:`start_stores` starts the dataset and embedding stores on the driver's node and trains the
pool encoders the trials will read before any trial holds a slot; :func:`build_tuner` restores
Tune's own state on a resume (or starts Tune afresh when that state is missing or damaged: trials
then continue from their checkpoints) and otherwise builds a new Tuner from the plan.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import ray
from ray import tune
from ray.tune import CLIReporter
from ray.util.placement_group import placement_group
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from raysweep.encoders import trains_per_round
from raysweep.schema import (
    ACCURACY,
    RESULT_AREA,
    RESULT_N_LABELS,
    RESULT_ROUND,
    TRIAL_CONFIG_KEY,
    VAE_CACHE_HITS_METRIC,
    VAE_TRAININGS_METRIC,
)
from raysweep.shell.checkpoints import trial_dir_name
from raysweep.shell.plan import GridPlan
from raysweep.shell.stores import DatasetStore, EmbeddingStore
from raysweep.shell.summary import error_line
from raysweep.shell.sweep_record import SweepRecord, tune_state_problem
from raysweep.shell.trainable import SweepContext, sweep_trainable
from raysweep.storage import StoragePath, tune_location
from raysweep.sweep.config import SweepConfig

TUNE_MESSAGES_RAYSWEEP_SAYS_BETTER = {
    # Tune's own resume advice (``Tuner.restore(...)``): raysweep prints the command that resumes the
    # sweep with its MLflow runs, its search and its stores.
    "ray.tune.tune": "Tuner.restore(",
    # One line per trial that never reported (a stopped sweep's pending ones: 73 lines for a study
    # stopped early); raysweep's summary counts the unfinished trials and its resume runs them.
    "ray.tune.analysis.experiment_analysis": "Failed to fetch metrics for",
}
"""Logger -> the text of the Tune messages the driver drops, and why (a user read both and was misled)."""

STORE_CALL_TIMEOUT_S = 30
"""How long the driver waits for the embedding store's counters after Tune (it may have gone down)."""
RESOURCE_WAIT_ENV = "RAYSWEEP_RESOURCE_WAIT_S"
DEFAULT_RESOURCE_WAIT_S = 900.0
"""How long the encoder reservation (one trial's resources) may wait to be placed: on an autoscaling
cluster a GPU node takes minutes to start; past this, the sweep stops and says what it waited for."""


class ResourcesUnavailable(RuntimeError):
    """The cluster did not offer one trial's resources in time (no node fits, none was added)."""


def resource_wait_s() -> float:
    return float(os.environ.get(RESOURCE_WAIT_ENV, DEFAULT_RESOURCE_WAIT_S))


def reserve(bundle: dict[str, float], purpose: str) -> Any:
    """A placement group of ``bundle``, once the cluster has placed it; ResourcesUnavailable after
    :func:`resource_wait_s` seconds, naming what it waited for and what the cluster has."""
    reserved = placement_group([bundle])
    wait_s = resource_wait_s()
    try:
        ray.get(reserved.ready(), timeout=wait_s)
    except ray.exceptions.GetTimeoutError:
        ray.util.remove_placement_group(reserved)  # the autoscaler stops asking for it
        wanted = ", ".join(f"{name} {amount:g}" for name, amount in bundle.items())
        have = ray.available_resources()
        offered = ", ".join(f"{name} {have.get(name, 0.0):g}" for name in bundle)
        raise ResourcesUnavailable(
            f"waited {wait_s:.0f}s for one node with {wanted} free ({purpose}); the cluster has {offered} "
            f"free now and no node was added that fits. Add such a node (or let the autoscaler add one), "
            f"or lower resources.cpu / resources.gpu; {RESOURCE_WAIT_ENV} sets the wait"
        ) from None
    return reserved


@dataclass
class Stores:
    dataset: Any
    embedding: Any

    def counters(self) -> tuple[dict[str, int], list[dict[str, Any]]]:
        """The embedding store's counters and its rows of the encoders the trials used (empty when the
        store went down with a stop)."""
        try:
            counters = ray.get(self.embedding.counters.remote(), timeout=STORE_CALL_TIMEOUT_S)
            trainings = ray.get(self.embedding.trainings.remote(), timeout=STORE_CALL_TIMEOUT_S)
        except (ray.exceptions.RayError, TimeoutError):
            return {VAE_TRAININGS_METRIC: -1, VAE_CACHE_HITS_METRIC: -1}, []
        return counters, trainings


def start_stores(sweep: SweepConfig, plan: GridPlan, record: SweepRecord, cache_dir: StoragePath) -> Stores:
    """The dataset and embedding stores on the driver's node, with every pool encoder trained and
    cached under ``cache_dir`` on the storage."""
    suffix = record.sweep_id.replace("-", "_")
    # The stores live on the driver's node: the data root was checked there, and trials on other
    # nodes pull one copy of each shard into their own node's object store.
    here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
    dataset_store = DatasetStore.options(
        name=f"raysweep_datasets_{suffix}", scheduling_strategy=here
    ).remote()
    # Reserve one trial's resources for encoder training before Tune takes them all, and start each
    # needed encoder in it: an encoder task never waits for a CPU or GPU held by the trials that wait
    # for it. Only encoders trained once per pool go to the store; cvae trains inside its trials.
    pool_encoder_trials = list(
        {
            (
                t.config.dataset.model_dump_json(),
                t.config.vae.model_dump_json(),
                t.config.encoder.model_dump_json(),
            ): t
            for t in plan.pool_encoder_trials()
            if t.config.uses_vae and not trains_per_round(t.config.encoder)
        }.values()
    )
    reserved = None
    if pool_encoder_trials:
        bundle = {"CPU": sweep.resources.cpu, **({"GPU": sweep.resources.gpu} if sweep.resources.gpu else {})}
        reserved = reserve(bundle, "one trial's resources, reserved to train the pool encoders")
    embedding_store = EmbeddingStore.options(
        name=f"raysweep_embeddings_{suffix}", scheduling_strategy=here, max_concurrency=4
    ).remote(cache_dir, sweep.resources.cpu, sweep.resources.gpu, reserved)
    for trial in pool_encoder_trials:
        handle = dataset_store.get.remote(trial.config.dataset)
        ray.get(embedding_store.get.remote(handle, trial.config.vae, trial.config.encoder))
    embedding_store.release_reservation_when_ready.remote()
    return Stores(dataset_store, embedding_store)


class _DropMessages(logging.Filter):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


def quiet_tune_messages() -> None:
    """Drop :data:`TUNE_MESSAGES_RAYSWEEP_SAYS_BETTER` from the driver's log (once per process)."""
    for name, text in TUNE_MESSAGES_RAYSWEEP_SAYS_BETTER.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropMessages) and f.text == text for f in logger.filters):
            logger.addFilter(_DropMessages(text))


def progress_reporter() -> CLIReporter:
    """Tune's progress table with the sweep's columns."""
    return CLIReporter(
        metric_columns={
            RESULT_ROUND: "round",
            RESULT_N_LABELS: "labels",
            ACCURACY: "accuracy",
            RESULT_AREA: "AUC(curve)",
        },
        parameter_columns={TRIAL_CONFIG_KEY: "trial"},
        max_report_frequency=15,
        max_progress_rows=40,
    )


def build_tuner(
    sweep: SweepConfig,
    plan: GridPlan,
    context: SweepContext,
    sweep_dir: StoragePath,
    resume: bool,
    on_cluster: bool,
) -> tune.Tuner:
    """The Tuner of this sweep: Tune's saved state restored on a resume where it can be, else a new one."""
    trainable = sweep_trainable(context, {"cpu": sweep.resources.cpu, "gpu": sweep.resources.gpu})
    plan.prepare_tune()
    quiet_tune_messages()
    if resume:
        # Tune's own record of the sweep can be missing (the driver stopped before Tune started) or
        # damaged (a full disk truncates the files it copies). Then Tune starts afresh under the same
        # name: each trial finds its checkpoints in its earlier folders and its MLflow run by tag.
        problem = tune_state_problem(sweep_dir)
        if problem is None:
            path, filesystem = tune_location(sweep_dir)
            try:
                tuner = tune.Tuner.restore(
                    path,
                    trainable=trainable,
                    resume_unfinished=True,
                    resume_errored=True,
                    storage_filesystem=filesystem,
                )
                print(f"resuming sweep {context.sweep_id} from {sweep_dir}")
                return tuner
            except Exception as exc:
                problem = f"Tune could not restore it ({error_line(exc)})"
        print(
            f"resuming sweep {context.sweep_id}: {problem}; starting Tune afresh, trials continue "
            "from their checkpoints"
        )
    # A search's plan hands Tune its searcher, which proposes settings from the results so far (on a
    # resume, from its ledger: no setting is proposed twice); a grid's hands Tune its trial keys.
    setup = plan.tune_setup(sweep_dir, recover=resume)
    # Tune writes its state and the trials' checkpoints through the same filesystem as raysweep.
    storage_path, storage_filesystem = tune_location(sweep_dir.parent)
    return tune.Tuner(
        trainable,
        param_space=setup.param_space,
        tune_config=tune.TuneConfig(
            **setup.tune_config,
            max_concurrent_trials=sweep.resources.max_concurrent_trials,
            # A fresh worker per trial costs ~7 CPU-s of imports (torch, mlflow); trials keep no
            # state between them (every draw derives from the trial's seed), so on one machine
            # reuse is safe and saves that. On a cluster a fresh worker per trial lets Ray place
            # each trial wherever resources are free instead of where the first workers started.
            reuse_actors=not on_cluster,
            trial_name_creator=lambda t: t.config[TRIAL_CONFIG_KEY].replace("/", "-"),
            trial_dirname_creator=lambda t: trial_dir_name(t.config[TRIAL_CONFIG_KEY], t.trial_id),
        ),
        run_config=tune.RunConfig(
            name=sweep_dir.name,
            storage_path=storage_path,
            storage_filesystem=storage_filesystem,
            failure_config=tune.FailureConfig(max_failures=sweep.max_failures),
            # Tune keeps every checkpoint and each trial deletes all but its newest two itself
            # (checkpoints.prune_checkpoints says why: num_to_keep makes Tune's state saves O(trials^2)).
            checkpoint_config=tune.CheckpointConfig(num_to_keep=None),
            progress_reporter=progress_reporter(),
            verbose=1,
        ),
    )
