"""``python -m raysweep.launch CONFIG``: run a whole sweep with Ray Tune, every curve in MLflow.

    python -m raysweep.launch CONFIG [--smoke] [--set a.b=value ...] [--address ADDR]
        [--tracking-uri URI] [--storage PATH] [--resume [SWEEP_ID]] [--dry-run]
        [--tracking-outage-limit SECONDS]

Exit codes: 0 every trial finished; 1 some trials failed (named in the summary); 2 bad config or
data (nonexistent file, YAML error, unknown key, wrong type, empty axis, budget larger than the pool,
missing data file, GPU requested where there is none), or a ``--resume`` of a sweep whose driver is
still running. Those are caught before Ray starts, or right after it starts for the GPU check, and
leave nothing behind: no MLflow run, no storage folder. 130 / 143: stopped by SIGINT (Ctrl-C) /
SIGTERM; the parent run and the unfinished trial runs are KILLED and the ``--resume`` command is
printed (see ``stop_signals``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from raysweep.config import ConfigError
from raysweep.data import load_dataset
from raysweep.data.base import DataError
from raysweep.loop import ScheduleError, label_schedule
from raysweep.models.resnet import WeightsError, load_imagenet_state_dict
from raysweep.registry import UnknownNameError
from raysweep.search import search_params
from raysweep.shell.checkpoints import is_no_space
from raysweep.sweep import (
    DEFAULT_ENCODER,
    SweepConfig,
    Trial,
    config_digest,
    describe_search,
    expand_trials,
    load_sweep_config,
    prewarm_trials,
    smoke,
)

# Read by Ray and Tune when they are imported, so set before any ray import: the classic progress
# table (with our metric columns) and every trial's per-round line, not deduplicated.
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")
# Checkpointing every round is the design (resume mid-trajectory), not a misconfiguration to warn about.
os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")

EXIT_OK, EXIT_TRIALS_FAILED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_SIGINT, EXIT_SIGTERM = 130, 143  # 128 + signal, as a shell reports a process the signal killed
SWEEP_FILE = "raysweep.json"
DEFAULT_OUTAGE_LIMIT_S = 600.0  # raysweep.shell.tracking.DEFAULT_OUTAGE_LIMIT_S, without importing mlflow
RESUME_HINT = (
    "Resume the sweep (finished trials stay finished, the others continue from their last round) with:"
)
INTERRUPTED_OUTAGE_LIMIT_S = 10.0
"""Tracking patience while an interrupted driver marks its runs KILLED: it must stop within seconds."""


class LaunchError(Exception):
    """Bad input found before anything was written; exit 2."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m raysweep.launch",
        description="Run an active-learning sweep (one Ray Tune trial per dataset/heuristic/alpha/seed).",
    )
    parser.add_argument("config", type=Path, help="sweep YAML, e.g. configs/quickstart.yaml")
    parser.add_argument(
        "--smoke", action="store_true", help="shrink pool, budgets, epochs, rounds and seeds; keep the axes"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. --set training.lr=0.01 (repeatable)",
    )
    parser.add_argument("--address", help="address of a running Ray cluster (default: start a local one)")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: sqlite:///mlflow.db here)")
    parser.add_argument("--storage", type=Path, help="Ray Tune storage path (default: from the config)")
    parser.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        metavar="SWEEP_ID",
        help="resume the latest (or the named) sweep of this experiment from its checkpoints",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the resolved trial list and exit")
    parser.add_argument(
        "--tracking-outage-limit",
        type=positive_seconds,
        default=None,
        metavar="SECONDS",
        help=f"how long trials wait out an unreachable MLflow tracking store before failing "
        f"(default {DEFAULT_OUTAGE_LIMIT_S:.0f}); a retry or --resume continues from the last round",
    )
    return parser.parse_args(argv)


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def resume_command(args: argparse.Namespace, sweep_id: str) -> str:
    """The exact command that resumes this sweep: the same config and flags, from the same directory."""
    command = [sys.executable, "-m", "raysweep.launch", str(args.config)]
    if args.smoke:
        command.append("--smoke")
    for override in args.overrides:
        command += ["--set", override]
    for flag, value in (
        ("--address", args.address),
        ("--tracking-uri", args.tracking_uri),
        ("--storage", args.storage),
        ("--tracking-outage-limit", args.tracking_outage_limit),
    ):
        if value is not None:
            command += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    command += ["--resume", sweep_id]
    return f"cd {shlex.quote(os.getcwd())} && {shlex.join(command)}"


# ---------------------------------------------------------------------------------------------
# Validation: everything that can be wrong with the input, before Ray starts
# ---------------------------------------------------------------------------------------------


def resolve_paths(sweep: SweepConfig, args: argparse.Namespace) -> SweepConfig:
    """Absolute paths everywhere: Tune trials run in their own working directories."""
    root = sweep.dataset.root.expanduser().resolve()
    storage = (args.storage or sweep.storage).expanduser().resolve()
    tracking_uri = args.tracking_uri or sweep.tracking_uri
    if tracking_uri is None:
        from raysweep.shell.tracking import default_tracking_uri

        tracking_uri = default_tracking_uri()
    elif tracking_uri.startswith("sqlite:///") and not tracking_uri.startswith("sqlite:////"):
        tracking_uri = f"sqlite:///{Path(tracking_uri.removeprefix('sqlite:///')).resolve()}"
    datasets = [
        f"npz:{Path(name[4:]).expanduser().resolve()}" if name.startswith("npz:") else name
        for name in sweep.sweep.datasets
    ]
    return sweep.model_copy(
        update={
            "dataset": sweep.dataset.model_copy(update={"root": root}),
            "storage": storage,
            "tracking_uri": tracking_uri,
            "sweep": sweep.sweep.model_copy(update={"datasets": datasets}),
        }
    )


def check_inputs(sweep: SweepConfig, trials: list[Trial]) -> dict[str, int]:
    """Load every dataset once and check budgets, weights and devices. Returns pool sizes."""
    if sweep.device.startswith("cuda") and sweep.resources.gpu == 0:
        raise LaunchError(
            f"device: {sweep.device} but resources.gpu is 0; give trials a GPU or use device: auto"
        )
    if sweep.model.pretrained:
        load_imagenet_state_dict(sweep.model.weights_path)
    pools = {}
    for name in sweep.sweep.datasets:
        config = trials[[t.dataset for t in trials].index(name)].config.dataset
        dataset = load_dataset(config)
        try:
            label_schedule(sweep.schedule, dataset.n_pool)
        except ScheduleError as exc:
            raise LaunchError(f"dataset {name}: {exc}") from None
        pools[name] = dataset.n_pool
        del dataset
    return pools


def print_trials(trials: list[Trial], sweep: SweepConfig, pools: dict[str, int]) -> None:
    print(f"{len(trials)} trials in experiment {sweep.experiment!r}:")
    print(f"  {'trial key':<48} {'uses_vae':<9} labels schedule")
    for trial in trials:
        counts = label_schedule(trial.config.schedule, pools[trial.dataset])
        print(
            f"  {trial.key:<48} {trial.config.uses_vae!s:<9} {counts[0]} -> {counts[-1]} in {len(counts)} rounds"
        )
    for line in describe_search(sweep):
        print(line)


# ---------------------------------------------------------------------------------------------
# The sweep
# ---------------------------------------------------------------------------------------------


@dataclass
class SweepRecord:
    """``raysweep.json`` in the sweep folder: what a ``--resume`` needs to find everything again."""

    sweep_id: str
    experiment_id: str
    parent_run_id: str
    tracking_uri: str
    config_digest: str

    def write(self, folder: Path) -> None:
        """Atomically (a temp file renamed over it): a full disk never leaves half a record."""
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{SWEEP_FILE}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as out:
                out.write(json.dumps(self.__dict__, indent=2))
            os.replace(tmp, folder / SWEEP_FILE)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    @classmethod
    def read(cls, folder: Path) -> SweepRecord:
        return cls(**json.loads((folder / SWEEP_FILE).read_text()))


def find_sweep_folder(experiment_dir: Path, wanted: str) -> Path:
    if wanted != "latest":
        folder = experiment_dir / wanted
        if not (folder / SWEEP_FILE).is_file():
            raise LaunchError(f"--resume {wanted}: no sweep at {folder}")
        return folder
    candidates = sorted(experiment_dir.glob(f"*/{SWEEP_FILE}"), key=lambda p: p.stat().st_mtime)
    if not candidates:
        raise LaunchError(f"--resume: no sweep to resume under {experiment_dir}")
    return candidates[-1].parent


def new_sweep_id(digest: str) -> str:
    return f"{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}-{digest[:6]}"


def check_cluster_gpus(sweep: SweepConfig) -> None:
    import ray

    if sweep.resources.gpu > 0:
        available = ray.cluster_resources().get("GPU", 0.0)
        if available < sweep.resources.gpu:
            raise LaunchError(
                f"resources.gpu={sweep.resources.gpu} per trial, but the Ray cluster has {available:g} GPUs; "
                "trials would wait forever. Set resources.gpu: 0 (device: auto runs on CPU) or use a GPU cluster."
            )
    elif sweep.device == "auto":
        gpus = ray.cluster_resources().get("GPU", 0.0)
        hint = f" although the cluster has {gpus:g} GPUs" if gpus else ""
        print(f"warning: device auto with resources.gpu 0: trials run on CPU{hint}", file=sys.stderr)


def check_reachable(address: str) -> None:
    """Fail fast on a HOST:PORT nobody listens on; ray.init would retry for minutes."""
    host, _, port = address.rpartition(":")
    if "://" in address or not host or not port.isdigit():
        return  # ray://, auto, ...: leave it to Ray
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise LaunchError(f"--address {address}: no Ray cluster answers there ({exc})") from None


def start_ray(address: str | None, sweep: SweepConfig) -> None:
    import ray

    if address:
        check_reachable(address)
        try:
            ray.init(address=address, log_to_driver=True)
        except ray.exceptions.AuthenticationError as exc:
            raise LaunchError(
                f"--address {address}: the cluster uses Ray token authentication; set RAY_AUTH_MODE=token and "
                f"RAY_AUTH_TOKEN (or ~/.ray/auth_token) to the cluster's token ({exc})"
            ) from None
        except ConnectionError as exc:
            raise LaunchError(f"--address {address}: no Ray cluster answers there ({exc})") from None
    else:
        ray.init(include_dashboard=False, log_to_driver=True)


def setup_tracking(
    sweep: SweepConfig, sweep_id: str, resolved_yaml: str, trials: list[Trial], patience: Any
) -> SweepRecord:
    from mlflow.tracking import MlflowClient

    from raysweep.shell.tracking import ensure_experiment

    client = MlflowClient(sweep.tracking_uri)
    experiment_id = patience.call(lambda: ensure_experiment(client, sweep.experiment, sweep.tracking_uri))
    run = patience.call(
        lambda: client.create_run(
            experiment_id,
            run_name=f"sweep-{sweep_id}",
            tags={
                "raysweep.sweep_id": sweep_id,
                "raysweep.role": "sweep",
                "raysweep.trials": str(len(trials)),
            },
        )
    )
    params = {
        "schedule.initial_labels": sweep.schedule.initial_labels,
        "schedule.labels_per_round": sweep.schedule.labels_per_round,
        "schedule.rounds": sweep.schedule.rounds,
        "schedule.max_labels": sweep.schedule.max_labels,
        "dataset.pool_size": sweep.dataset.pool_size,
        "datasets": ",".join(sweep.sweep.datasets),
        "heuristics": ",".join(h.name for h in sweep.sweep.heuristics),
        "alphas": ",".join(f"{a:g}" for a in sweep.sweep.alphas),
        "seeds": ",".join(str(s) for s in sweep.sweep.seeds),
        "encoders": ",".join(e.name for e in sweep.sweep.encoders),
        "trials": len(trials),
    }
    if sweep.sweep.search is not None:
        params.update(search_params(sweep.sweep.search))
    for key, value in params.items():
        patience.call(lambda k=key, v=value: client.log_param(run.info.run_id, k, str(v)))
    patience.call(lambda: client.log_text(run.info.run_id, resolved_yaml, "sweep_config.yaml"))
    return SweepRecord(sweep_id, experiment_id, run.info.run_id, sweep.tracking_uri, config_digest(sweep))


def run_sweep(sweep: SweepConfig, trials: list[Trial], args: argparse.Namespace) -> int:
    """Start (or resume) the sweep; the exit code. Owns Ray, the sweep's lock and the stop signals."""
    import ray
    from mlflow.tracking import MlflowClient

    from raysweep.shell.stop_signals import StopSignals
    from raysweep.shell.sweep_lock import SweepBusy, SweepLock
    from raysweep.shell.tracking import (
        TrackingPatience,
        TrackingUnavailable,
        log_vae_trainings,
        short_mlflow_http_attempts,
    )

    started = time.perf_counter()
    experiment_dir = sweep.storage / sweep.experiment
    outage_limit = args.tracking_outage_limit or DEFAULT_OUTAGE_LIMIT_S
    short_mlflow_http_attempts()

    # A resume finds its sweep and takes the sweep's lock before Ray starts: a second driver on the
    # same sweep, or a different config, is bad input (exit 2) and leaves nothing behind.
    record, lock, sweep_dir = None, None, None
    if args.resume:
        sweep_dir = find_sweep_folder(experiment_dir, args.resume)
        record = SweepRecord.read(sweep_dir)
        if record.config_digest != config_digest(sweep):
            raise LaunchError(
                f"--resume: the config differs from the one sweep {record.sweep_id} started with; "
                "resume with the same config and flags, or start a new sweep"
            )
        try:
            lock = SweepLock.acquire(sweep_dir, record.sweep_id)
        except SweepBusy as exc:
            raise LaunchError(str(exc)) from None
        sweep = sweep.model_copy(update={"tracking_uri": record.tracking_uri})
    patience = TrackingPatience(sweep.tracking_uri, outage_limit)

    stop = StopSignals()
    stop.install()
    try:
        start_ray(args.address, sweep)
        stop.install()  # again: ray.init installed its own SIGTERM handler
        check_cluster_gpus(sweep)
        client = MlflowClient(sweep.tracking_uri)
        try:
            if record is None:
                resolved_yaml = yaml.safe_dump(sweep.model_dump(mode="json"), sort_keys=False)
                record = setup_tracking(
                    sweep, new_sweep_id(config_digest(sweep)), resolved_yaml, trials, patience
                )
                sweep_dir = experiment_dir / record.sweep_id
                record.write(sweep_dir)
                lock = SweepLock.acquire(sweep_dir, record.sweep_id)
            else:
                patience.call(lambda: client.update_run(record.parent_run_id, status="RUNNING"))
        except TrackingUnavailable as exc:
            raise LaunchError(str(exc)) from None  # nothing ran yet: like an unreachable --address
        print(
            f"sweep {record.sweep_id}: {len(trials)} trials, storage {sweep_dir}, MLflow {record.tracking_uri}"
        )
        results, counters, vae_trainings = fit(sweep, trials, args, record, sweep_dir, stop, outage_limit)
        ray.shutdown()
        if stop.received is not None:
            stop.ignore_further()
            patience = TrackingPatience(record.tracking_uri, INTERRUPTED_OUTAGE_LIMIT_S)
        if sweep.sweep.search is not None:
            from raysweep.shell.search import finish_search

            # Every trial the search handed out, for the summary; the outcome is logged once the
            # search has run to its end (a stopped sweep logs it when its --resume finishes).
            trials = finish_search(sweep, trials, sweep_dir, record, patience, log=stop.received is None)
        if vae_trainings:
            try:
                log_vae_trainings(client, record.parent_run_id, trials, vae_trainings, patience)
            except TrackingUnavailable as exc:
                print(f"warning: the VAE training seconds were not logged: {exc}", file=sys.stderr)
        return summarise(
            results,
            trials,
            record,
            counters,
            time.perf_counter() - started,
            patience,
            resume_command(args, record.sweep_id),
            interrupted_by=stop.received,
        )
    except KeyboardInterrupt:  # SweepInterrupted, or Ray's re-raise of it
        stop.ignore_further()
        # Before marking runs KILLED (no trial worker may write after it), and also when the signal
        # came during ray.init: a half-started local Ray is shut down too.
        ray.shutdown()
        signum = stop.received or signal.SIGINT
        return stopped_at_once(record, signum, resume_command(args, record.sweep_id) if record else None)
    except OSError as exc:
        if not is_no_space(exc) or record is None:
            raise
        print(f"error: no space left on device under the storage path {sweep_dir}: {exc}", file=sys.stderr)
        print(f"\nFree space there. {RESUME_HINT}\n  {resume_command(args, record.sweep_id)}")
        return EXIT_TRIALS_FAILED
    finally:
        ray.shutdown()  # a no-op when Ray never started
        if lock is not None:
            lock.release()
        stop.restore()


def fit(
    sweep: SweepConfig,
    trials: list[Trial],
    args: argparse.Namespace,
    record: SweepRecord,
    sweep_dir: Path,
    stop: Any,
    outage_limit: float,
) -> tuple[Any, dict[str, int]]:
    """The shared stores, the VAEs, then Tune over the trials; Tune's results, the stores' counters and
    the embedding store's rows of the VAEs the trials used (:meth:`EmbeddingStore.trainings`)."""
    import ray
    from ray import tune
    from ray.tune import CLIReporter
    from ray.util.placement_group import placement_group
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from raysweep.encoders import trains_per_round
    from raysweep.shell.checkpoints import trial_dir_name
    from raysweep.shell.stores import DatasetStore, EmbeddingStore
    from raysweep.shell.trainable import SweepContext, run_trial

    experiment_dir = sweep.storage / sweep.experiment
    suffix = record.sweep_id.replace("-", "_")
    # The stores live on the driver's node: the data root was checked there, and trials on other
    # nodes pull one copy of each shard into their own node's object store.
    here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
    dataset_store = DatasetStore.options(
        name=f"raysweep_datasets_{suffix}", scheduling_strategy=here
    ).remote()
    # Reserve one trial's resources for VAE training before Tune takes them all, and start each
    # needed VAE in it: a VAE task never waits for a CPU or GPU held by the trials that wait for it.
    # Only encoders trained once per pool go to the store; cvae trains inside its trials. A search's
    # settings share the VAE of its prewarm trial, trained here before any setting is proposed.
    vae_trials = list(
        {
            (t.config.dataset.model_dump_json(), t.config.encoder.model_dump_json()): t
            for t in [*trials, *prewarm_trials(sweep)]
            if t.config.uses_vae and not trains_per_round(t.config.encoder)
        }.values()
    )
    reserved = None
    if vae_trials:
        bundle = {"CPU": sweep.resources.cpu, **({"GPU": sweep.resources.gpu} if sweep.resources.gpu else {})}
        reserved = placement_group([bundle])
        ray.get(reserved.ready())
    embedding_store = EmbeddingStore.options(
        name=f"raysweep_embeddings_{suffix}", scheduling_strategy=here, max_concurrency=4
    ).remote(str(sweep.storage / "vae_cache"), sweep.resources.cpu, sweep.resources.gpu, reserved)
    for trial in vae_trials:
        handle = dataset_store.get.remote(trial.config.dataset)
        ray.get(embedding_store.get.remote(handle, trial.config.vae, trial.config.encoder))
    embedding_store.release_reservation_when_ready.remote()

    context = SweepContext(
        sweep_id=record.sweep_id,
        trials={t.key: t for t in trials},
        tracking_uri=record.tracking_uri,
        experiment_id=record.experiment_id,
        parent_run_id=record.parent_run_id,
        dataset_store=dataset_store,
        embedding_store=embedding_store,
        cpus_per_trial=sweep.resources.cpu,
        sweep_dir=str(sweep_dir),
        tracking_outage_limit_s=outage_limit,
        sweep=sweep if sweep.sweep.search is not None else None,
    )
    trainable = tune.with_resources(
        tune.with_parameters(run_trial, context=context),
        {"cpu": sweep.resources.cpu, "gpu": sweep.resources.gpu},
    )
    reporter = CLIReporter(
        metric_columns={
            "round": "round",
            "n_labels": "labels",
            "accuracy": "accuracy",
            "area_under_curve": "AUC(curve)",
        },
        parameter_columns={"trial": "trial"},
        max_report_frequency=15,
        max_progress_rows=40,
    )
    if sweep.sweep.search is not None:
        from raysweep.shell.search import allow_pending_trials

        allow_pending_trials(sweep)
    # Tune's own record of the sweep can be missing (the driver stopped before Tune started) or
    # damaged (a full disk truncates the files it copies). Then Tune starts afresh under the same
    # name: each trial finds its checkpoints in its earlier folders and its MLflow run by tag.
    tuner = None
    if args.resume:
        problem = tune_state_problem(sweep_dir)
        if problem is None:
            try:
                tuner = tune.Tuner.restore(
                    str(sweep_dir), trainable=trainable, resume_unfinished=True, resume_errored=True
                )
                print(f"resuming sweep {record.sweep_id} from {sweep_dir}")
            except Exception as exc:
                problem = f"Tune could not restore it ({error_line(exc)})"
        if problem is not None:
            print(
                f"resuming sweep {record.sweep_id}: {problem}; starting Tune afresh, trials continue "
                "from their checkpoints"
            )
    if tuner is None:
        # A grid hands Tune every trial key; a search hands it the searcher (raysweep.shell.search),
        # which proposes settings from the results so far (on a resume, from its ledger: no setting
        # is proposed twice).
        param_space, search_options = {"trial": tune.grid_search([t.key for t in trials])}, {}
        if sweep.sweep.search is not None:
            from raysweep.shell.search import tune_search_options

            param_space = {}
            search_options = tune_search_options(sweep, trials, sweep_dir, recover=bool(args.resume))
        tuner = tune.Tuner(
            trainable,
            param_space=param_space,
            tune_config=tune.TuneConfig(
                **search_options,
                max_concurrent_trials=sweep.resources.max_concurrent_trials,
                # A fresh worker per trial costs ~7 CPU-s of imports (torch, mlflow); trials keep no
                # state between them (every draw derives from the trial's seed), so on one machine
                # reuse is safe and saves that. On a cluster a fresh worker per trial lets Ray place
                # each trial wherever resources are free instead of where the first workers started.
                reuse_actors=args.address is None,
                trial_name_creator=lambda t: t.config["trial"].replace("/", "-"),
                trial_dirname_creator=lambda t: trial_dir_name(t.config["trial"], t.trial_id),
            ),
            run_config=tune.RunConfig(
                name=record.sweep_id,
                storage_path=str(experiment_dir),
                failure_config=tune.FailureConfig(max_failures=sweep.max_failures),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
                progress_reporter=reporter,
                verbose=1,
            ),
        )
    with stop.during_tune():
        try:
            results = tuner.fit()
        except Exception as exc:
            # Tune ran, but could not read its results back (a full disk truncated a trial's
            # error file); MLflow holds every trial's state too.
            print(
                f"warning: Tune's results could not be read back ({error_line(exc)}); "
                "the summary comes from MLflow",
                file=sys.stderr,
            )
            results = results_from_mlflow(record, handed_out(sweep, trials, sweep_dir), outage_limit)
    try:
        counters = ray.get(embedding_store.counters.remote(), timeout=30)
        vae_trainings = ray.get(embedding_store.trainings.remote(), timeout=30)
    except (ray.exceptions.RayError, TimeoutError):
        counters = {"vae_trainings": -1, "vae_cache_hits": -1}  # the store went down with the stop
        vae_trainings = []
    return results, counters, vae_trainings


def handed_out(sweep: SweepConfig, trials: list[Trial], sweep_dir: Path) -> list[Trial]:
    """The sweep's trials: a grid's, or the reference arms and every setting a search proposed."""
    if sweep.sweep.search is None:
        return trials
    from raysweep.shell.search import searched_trials

    return searched_trials(sweep, trials, sweep_dir)


TUNE_STATE_GLOB = "experiment_state-*.json"


def tune_state_problem(sweep_dir: Path) -> str | None:
    """Why Tuner.restore cannot take up this sweep folder, or None if it can.

    Tune does not check its experiment state itself: a truncated file makes it log an error and
    restart with no trials. An unreadable state file is renamed so that no later resume picks it.
    """
    from ray import tune

    if not tune.Tuner.can_restore(str(sweep_dir)):
        return "Tune had not saved its state"
    states = sorted(sweep_dir.glob(TUNE_STATE_GLOB))
    if not states:
        return "Tune had not saved its state"
    try:
        json.loads(states[-1].read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        states[-1].rename(states[-1].with_name(states[-1].name + ".damaged"))
        return f"Tune's state file {states[-1].name} is damaged ({type(exc).__name__})"
    return None


@dataclass
class TrialOutcome:
    """What the summary needs of a trial, as Tune's Result has it (config, metrics, error)."""

    config: dict[str, Any]
    metrics: dict[str, Any]
    error: str | None


def results_from_mlflow(record: SweepRecord, trials: list[Trial], outage_limit: float) -> list[TrialOutcome]:
    """Each trial's outcome from its MLflow run: FINISHED or not, its curve, why it failed."""
    from mlflow.tracking import MlflowClient

    from raysweep.shell.tracking import TrackingPatience
    from raysweep.shell.trainable import normalised_area

    client = MlflowClient(record.tracking_uri)
    patience = TrackingPatience(record.tracking_uri, outage_limit)
    query = f"tags.`raysweep.sweep_id` = '{record.sweep_id}' and tags.`raysweep.role` = 'trial'"
    runs = patience.call(
        lambda: client.search_runs([record.experiment_id], filter_string=query, max_results=10000)
    )
    by_key = {run.data.tags.get("raysweep.trial_key"): run for run in runs}
    outcomes = []
    for trial in trials:
        run = by_key.get(trial.key)
        if run is None:
            outcomes.append(TrialOutcome({"trial": trial.key}, {}, "never ran"))
            continue
        history = patience.call(lambda r=run: client.get_metric_history(r.info.run_id, "accuracy"))
        points = sorted((m.step, m.value) for m in history)
        finished = run.info.status == "FINISHED"
        metrics = {}
        if points:
            metrics = {
                "round": len(points) - 1,
                "rounds": len(points) if finished else len(points) + 1,
                "accuracy": points[-1][1],
                "area_under_curve": normalised_area([p[0] for p in points], [p[1] for p in points]),
            }
        error = None if finished else run.data.tags.get("raysweep.error", f"MLflow run {run.info.status}")
        outcomes.append(TrialOutcome({"trial": trial.key}, metrics, error))
    return outcomes


def trajectory_done(metrics: dict[str, Any] | None) -> bool:
    """Whether a trial's last report was its last round (``rounds``: the trajectory's length)."""
    if not metrics or "round" not in metrics:
        return False
    return metrics["round"] + 1 >= metrics.get("rounds", metrics["round"] + 1)


def error_line(error: Any) -> str:
    """The line of a trial's error that says what went wrong (a traceback's final line)."""
    lines = [line for line in str(error).splitlines() if line.strip()]
    if not lines:
        return "no result"
    unindented = [line for line in lines if not line[0].isspace()]
    return (unindented or lines)[-1]


DATASET_COLUMN = 28
"""Widest dataset name the summary prints whole; longer ones (``npz:/a/long/path/file.npz``) keep
their start and end around an ellipsis, so the columns stay aligned."""


def shorten(name: str, width: int) -> str:
    """``name`` if it fits in ``width`` characters, else its head and tail around "..."."""
    if len(name) <= width:
        return name
    head = (width - 3) // 3  # the source prefix (npz:/...), then as much of the file name as fits
    return f"{name[:head]}...{name[len(name) - (width - 3 - head) :]}"


def summary_table(rows: dict[tuple[str, ...], list[tuple[float, float]]]) -> list[str]:
    """Lines of the summary: one per (dataset, heuristic, alpha), means of (final accuracy, area) over seeds.

    Keys may carry a fourth element, the encoder (``-`` for alpha-0 rows, which read no embeddings):
    then an ``encoder`` column follows ``alpha``. A sweep of the default encoder only keeps the
    three-column key and the table it always had.
    """
    width = min(DATASET_COLUMN, max([len("dataset"), *(len(key[0]) for key in rows)]))
    named = max([len("heuristic"), *(len(key[1]) for key in rows)])
    with_encoder = any(len(key) == 4 for key in rows)
    encoder_width = max([len("encoder"), *(len(key[3]) for key in rows if len(key) == 4)])
    encoder_header = f" {'encoder':<{encoder_width}}" if with_encoder else ""
    lines = [
        f"  {'dataset':<{width}} {'heuristic':<{named}} {'alpha':>9}{encoder_header} {'seeds':>5} "
        f"{'final accuracy':>15} {'area under curve':>17}"
    ]
    for key, values in sorted(rows.items()):
        dataset, heuristic, alpha = key[:3]
        encoder = f" {(key[3] if len(key) == 4 else '-'):<{encoder_width}}" if with_encoder else ""
        final = sum(v[0] for v in values) / len(values)
        area = sum(v[1] for v in values) / len(values)
        lines.append(
            f"  {shorten(dataset, width):<{width}} {heuristic:<{named}} {alpha:>9}{encoder} {len(values):>5} "
            f"{final:>15.4f} {area:>17.4f}"
        )
    return lines


def summarise(
    results: Any,
    trials: list[Trial],
    record: SweepRecord,
    counters: dict[str, int],
    seconds: float,
    patience: Any,
    resume: str,
    interrupted_by: int | None = None,
) -> int:
    """The summary table, the parent run's sweep metrics, the MLflow UI command; the exit code."""
    from mlflow.tracking import MlflowClient

    from raysweep.shell.tracking import TrackingUnavailable, mark_unfinished_trials_killed, ui_command

    by_key: dict[str, Any] = {}
    for result in results:
        key = (result.config or {}).get("trial")
        if key is not None:
            by_key[key] = result
    failed = sorted(k for k in (t.key for t in trials) if k not in by_key or by_key[k].error is not None)
    finished = {k for k, result in by_key.items() if result.error is None and trajectory_done(result.metrics)}
    unfinished = sorted({t.key for t in trials} - finished)
    # The encoder column only where the sweep ran more than the default encoder (alpha-0 rows show '-').
    several_encoders = any(trial.encoder not in (None, DEFAULT_ENCODER.name) for trial in trials)
    rows: dict[tuple[str, ...], list[tuple[float, float]]] = {}
    for trial in trials:
        if trial.key not in finished:
            continue
        metrics = by_key[trial.key].metrics
        group = (trial.dataset, trial.heuristic, f"{trial.config.alpha:g}")
        if several_encoders:
            group += (trial.encoder or "-",)
        rows.setdefault(group, []).append((metrics["accuracy"], metrics["area_under_curve"]))

    print("\nSummary (mean over seeds):")
    for line in summary_table(rows):
        print(line)
    if interrupted_by is not None:
        print(f"\nstopped by {signal.Signals(interrupted_by).name}: {len(unfinished)} trial(s) not finished")
    elif failed:
        print(f"\n{len(failed)} trial(s) failed:")
        for key in failed:
            print(f"  {key}: {error_line(by_key[key].error) if key in by_key else 'never ran'}")

    client = MlflowClient(record.tracking_uri)
    metrics = {
        **counters,
        "trials_finished": len(finished),
        "trials_failed": len(failed),
        "sweep_seconds": seconds,
    }
    status = "KILLED" if interrupted_by is not None else "FAILED" if failed else "FINISHED"
    try:
        for name, value in metrics.items():
            patience.call(lambda n=name, v=value: client.log_metric(record.parent_run_id, n, float(v)))
        patience.call(lambda: client.set_terminated(record.parent_run_id, status=status))
        if interrupted_by is not None:
            mark_unfinished_trials_killed(client, record.experiment_id, record.sweep_id, patience)
    except TrackingUnavailable as exc:
        print(f"warning: the sweep's runs keep their status: {exc}", file=sys.stderr)
    per_encoder = ", ".join(
        f"{name.removeprefix('encoder_trainings.')} {count}"
        for name, count in counters.items()
        if name.startswith("encoder_trainings.")
    )
    print(
        f"\nVAE trainings this run: {counters['vae_trainings']}{f' ({per_encoder})' if per_encoder else ''} "
        f"(cache hits: {counters['vae_cache_hits']})"
    )
    print(f"sweep {record.sweep_id} took {seconds:.0f}s. Compare the runs in MLflow:")
    print(f"  {ui_command(record.tracking_uri, record.experiment_id)}")
    if interrupted_by is not None or failed:
        print(f"\n{RESUME_HINT}\n  {resume}", flush=True)
    if interrupted_by is not None:
        return EXIT_SIGINT if interrupted_by == signal.SIGINT else EXIT_SIGTERM
    return EXIT_TRIALS_FAILED if failed else EXIT_OK


def stopped_at_once(record: SweepRecord | None, signum: int, resume: str | None) -> int:
    """After a second stop signal (or one before Tune ran): mark the runs KILLED, say how to resume."""
    from mlflow.tracking import MlflowClient

    from raysweep.shell.tracking import TrackingPatience, TrackingUnavailable, mark_unfinished_trials_killed

    name = signal.Signals(signum).name
    code = EXIT_SIGINT if signum == signal.SIGINT else EXIT_SIGTERM
    if record is None:
        print(f"\nstopped by {name} before the sweep was created: nothing to resume", file=sys.stderr)
        return code
    patience = TrackingPatience(record.tracking_uri, INTERRUPTED_OUTAGE_LIMIT_S)
    client = MlflowClient(record.tracking_uri)
    try:
        patience.call(lambda: client.set_terminated(record.parent_run_id, status="KILLED"))
        mark_unfinished_trials_killed(client, record.experiment_id, record.sweep_id, patience)
    except TrackingUnavailable as exc:
        print(f"warning: the sweep's runs keep their status: {exc}", file=sys.stderr)
    print(f"\nsweep {record.sweep_id} stopped by {name}.\n{RESUME_HINT}\n  {resume}", flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        sweep = load_sweep_config(args.config, args.overrides)
        if args.smoke:
            sweep = smoke(sweep)
        sweep = resolve_paths(sweep, args)
        trials = expand_trials(sweep)
        pools = check_inputs(sweep, trials)
        if args.dry_run:
            print_trials(trials, sweep, pools)
            return EXIT_OK
        print_trials(trials, sweep, pools)
        code = run_sweep(sweep, trials, args)
    except (ConfigError, DataError, LaunchError, WeightsError, UnknownNameError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:  # Ctrl-C while the input was being checked: nothing was started
        print("\nstopped by SIGINT before the sweep started: nothing to resume", file=sys.stderr)
        return EXIT_SIGINT
    if code in (EXIT_SIGINT, EXIT_SIGTERM):
        # Everything is cleaned up (Ray shut down, runs marked, lock released). A Ctrl-C from a
        # terminal also reached the local Ray's GCS and raylet, and the interpreter's own teardown
        # then waits ~10 s on them in C++; a stopped sweep should stop now.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
