"""A sweep from start to end: the orchestration behind ``python -m raysweep.launch``.

:func:`run_sweep` owns the order of things and the cleanup: the storage is opened (an object store
must answer the driver); a resume finds its sweep folder and takes its lock before Ray starts; Ray
starts; on a cluster, a tracking file or a relative storage path on the driver's disk is refused and
every node must see the storage; the parent run is created (or resumed); the stores train the pool
encoders and Tune runs the trials; the plan reports (a search's outcome); the encoders' seconds and
the summary are logged and printed. Each step lives in its own module (``preflight``,
``ray_cluster``, ``deployment``, ``storage_probe``, ``sweep_record``, ``tracking``, ``tuner``,
``plan``, ``summary``); a first Ctrl-C or SIGTERM marks the runs KILLED at once and becomes Tune's
graceful stop, and a second one stops at once (``stop_signals``).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import time

import ray
import yaml

from raysweep import schema
from raysweep.shell.checkpoints import is_no_space
from raysweep.shell.deployment import (
    check_cluster_requirements,
    current_deployment,
    joined_cluster,
    sweep_digest,
)
from raysweep.shell.driver_watch import watch_driver
from raysweep.shell.exit_codes import EXIT_TRIALS_FAILED, LaunchError, stopped_by
from raysweep.shell.plan import GridPlan
from raysweep.shell.ray_cluster import check_cluster_gpus, start_ray
from raysweep.shell.resume import resume_command
from raysweep.shell.stop_signals import StopSignals
from raysweep.shell.storage_probe import check_every_node_sees, check_reachable_from_driver
from raysweep.shell.summary import (
    RESUME_HINT,
    SweepOutcome,
    error_line,
    exit_code,
    print_closing,
    print_summary,
    run_status,
)
from raysweep.shell.sweep_lock import LeaseLock, SweepBusy, SweepLock
from raysweep.shell.sweep_record import SweepRecord, find_sweep_folder, new_sweep_id, sweep_exists
from raysweep.shell.tracking import DEFAULT_OUTAGE_LIMIT_S
from raysweep.shell.tracking.access import TrackingCredentials
from raysweep.shell.tracking.patience import TrackingError, TrackingPatience, short_mlflow_http_attempts
from raysweep.shell.tracking.sweep_run import (
    create_sweep_run,
    finish_sweep_run,
    finished_trial_keys,
    log_vae_trainings,
    outcomes_from_runs,
    resume_sweep_run,
)
from raysweep.shell.tracking.uris import ui_command
from raysweep.shell.trainable import SweepContext
from raysweep.shell.tuner import ResourcesUnavailable, build_tuner, start_stores
from raysweep.storage import Storage, StoragePath, parse_storage, topmost_missing
from raysweep.sweep.config import SweepConfig

INTERRUPTED_OUTAGE_LIMIT_S = 10.0
"""Tracking patience while an interrupted driver marks its runs KILLED: it must stop within seconds."""
VAE_CACHE = "vae_cache"
"""The pool encoders' cache under the storage root, shared by every sweep there."""


def run_sweep(
    sweep: SweepConfig,
    plan: GridPlan,
    args: argparse.Namespace,
    sweep_id: str | None = None,
    relative_storage: str | None = None,
) -> int:
    """Start (or, with ``args.resume``, resume) the sweep; the exit code. Owns Ray, the sweep's lock
    and the stop signals. ``sweep_id``: the id of a new sweep (default: from the time and the config);
    ``relative_storage``: the storage as given, when it was a relative path (refused on a cluster)."""
    started = time.perf_counter()
    storage = parse_storage(sweep.storage)  # absolute or a URI already: the one filesystem of this sweep
    experiment_dir = storage.root / sweep.experiment
    outage_limit = args.tracking_outage_limit or DEFAULT_OUTAGE_LIMIT_S
    short_mlflow_http_attempts()
    check_reachable_from_driver(storage)  # a bucket, endpoint or credentials that do not work: exit 2

    # A resume finds its sweep and takes the sweep's lock before Ray starts: a second driver on the
    # same sweep, or a different config, is bad input (exit 2) and leaves nothing behind.
    record, lock, sweep_dir = None, None, None
    if args.resume:
        sweep_dir = find_sweep_folder(experiment_dir, args.resume)
        record = SweepRecord.read(sweep_dir)
        if record.config_digest != sweep_digest(sweep):
            raise LaunchError(
                f"--resume: the config differs from the one sweep {record.sweep_id} started with; "
                "resume with the same config and flags, or start a new sweep"
            )
        lock = take_lock(sweep_dir, record.sweep_id)
        sweep = sweep.model_copy(update={"tracking_uri": record.tracking_uri})
    patience = TrackingPatience(sweep.tracking_uri, outage_limit)

    stop = StopSignals()
    stop.install()
    dashboard_url = None
    try:
        dashboard_url = start_ray(args.address)
        stop.install()  # again: ray.init installed its own SIGTERM handler
        deployment = current_deployment(dashboard_url)
        check_cluster_requirements(deployment, sweep.tracking_uri, relative_storage)
        check_cluster_gpus(sweep)
        if deployment.nodes > 1:
            check_every_node_sees(storage)
        if record is None:
            record, lock, sweep_dir = start_new_sweep(sweep, plan, patience, experiment_dir, sweep_id)
            progress = ""
        else:
            try:
                resume_sweep_run(record, patience)
                # What a resume has left to do, before Tune's table of every trial scrolls past.
                finished = len(finished_trial_keys(record, patience) & {t.key for t in plan.trials})
            except TrackingError as exc:
                raise LaunchError(str(exc)) from None  # nothing ran yet: like an unreachable --address
            progress = f" ({finished} finished, {len(plan.trials) - finished} to run)"
        # From here a stop signal marks the runs KILLED at once, beside Tune's graceful stop: the
        # process may be killed before that stop ends (``ray job stop``: 3 s); on a cluster it joined,
        # a watch outside the driver does it if the driver is killed with no time at all.
        stop.on_first_stop = lambda signum: mark_stopped(record)
        if joined_cluster(args.address):
            watch_driver(record)
        print(
            f"sweep {record.sweep_id}: {len(plan.trials)} trials{progress}, storage {sweep_dir}, "
            f"MLflow {record.tracking_uri}"
        )
        on_cluster = bool(args.address) or deployment.cluster_reason() is not None
        results, stores = fit(sweep, plan, args, record, sweep_dir, storage, stop, outage_limit, on_cluster)
        counters, encoder_trainings = stores.counters()
        ray.shutdown()
        if stop.received is not None:
            stop.ignore_further()
            stop.wait_first_stop(INTERRUPTED_OUTAGE_LIMIT_S)
            patience = TrackingPatience(record.tracking_uri, INTERRUPTED_OUTAGE_LIMIT_S)
        # Every trial the plan handed out, for the summary; a search's outcome is logged once it has
        # run to its end (a stopped sweep logs it when its --resume finishes).
        trials = plan.finish(sweep_dir, record, patience, log=stop.received is None)
        if encoder_trainings:
            try:
                log_vae_trainings(record, trials, encoder_trainings, patience)
            except TrackingError as exc:
                print(f"warning: the VAE training seconds were not logged: {exc}", file=sys.stderr)
        return summarise(
            SweepOutcome.of(results, trials),
            record,
            counters,
            time.perf_counter() - started,
            patience,
            resume_command(args, record.sweep_id, dashboard_url),
            interrupted_by=stop.received,
        )
    except KeyboardInterrupt:  # SweepInterrupted, or Ray's re-raise of it
        stop.ignore_further()
        # Before marking runs KILLED (no trial worker may write after it), and also when the signal
        # came during ray.init: a half-started local Ray is shut down too.
        ray.shutdown()
        stop.wait_first_stop(INTERRUPTED_OUTAGE_LIMIT_S)
        signum = stop.received or signal.SIGINT
        resume = resume_command(args, record.sweep_id, dashboard_url) if record else None
        return stopped_at_once(record, signum, resume)
    except ResourcesUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        assert record is not None  # the reservation follows the sweep's creation
        finish_quietly(record, "FAILED")
        print(f"\n{RESUME_HINT}\n  {resume_command(args, record.sweep_id, dashboard_url)}")
        return EXIT_TRIALS_FAILED
    except OSError as exc:
        if not is_no_space(exc) or record is None:
            raise
        print(f"error: no space left on device under the storage path {sweep_dir}: {exc}", file=sys.stderr)
        print(f"\nFree space there. {RESUME_HINT}\n  {resume_command(args, record.sweep_id, dashboard_url)}")
        return EXIT_TRIALS_FAILED
    finally:
        ray.shutdown()  # a no-op when Ray never started
        if lock is not None:
            lock.release()
        stop.restore()


def start_new_sweep(
    sweep: SweepConfig,
    plan: GridPlan,
    patience: TrackingPatience,
    experiment_dir: StoragePath,
    sweep_id: str | None,
) -> tuple[SweepRecord, SweepLock | LeaseLock, StoragePath]:
    """The new sweep's folder, locked before anything is in it (two drivers given the same
    ``--sweep-id`` cannot both start it), its parent run and its record. An unreachable tracking
    store is bad input: the folder is removed again and nothing is left."""
    sweep_id = sweep_id or new_sweep_id(sweep_digest(sweep))
    sweep_dir = experiment_dir / sweep_id
    created = topmost_missing(sweep_dir)  # the storage and experiment folders too, on a first sweep
    lock = take_lock(sweep_dir, sweep_id)
    try:
        if sweep_exists(sweep_dir):
            raise LaunchError(
                f"sweep {sweep_id} was started by another driver a moment ago; run the same command again to "
                "resume it"
            )
        record = new_sweep(sweep, plan, patience, sweep_id)
    except (TrackingError, LaunchError) as exc:
        # Nothing ran yet: like an unreachable --address. A refusal here is the first write (the
        # parent run) by a user who may read the experiment but not write to it.
        lock.release()
        if not sweep_exists(sweep_dir):
            with contextlib.suppress(OSError):
                created.rmtree()
        raise LaunchError(str(exc)) from None
    record.write(sweep_dir)
    plan.keep(sweep_dir)
    return record, lock, sweep_dir


def mark_stopped(record: SweepRecord) -> None:
    """The first stop signal's work that cannot wait for the graceful stop: the parent run and every
    unfinished trial run KILLED (the launcher's cleanup does it again with the final metrics)."""
    started = time.perf_counter()
    if finish_quietly(record, "KILLED"):
        print(
            f"marked sweep {record.sweep_id}'s unfinished runs KILLED ({time.perf_counter() - started:.1f}s)",
            flush=True,
        )


def finish_quietly(record: SweepRecord, status: str) -> bool:
    """The parent run (and after a stop its unfinished trial runs) ``status``; False if MLflow could
    not be reached within seconds (a warning says so)."""
    patience = TrackingPatience(record.tracking_uri, INTERRUPTED_OUTAGE_LIMIT_S)
    try:
        finish_sweep_run(record, {}, status, patience)
    except TrackingError as exc:
        print(f"warning: the sweep's runs keep their status: {exc}", file=sys.stderr)
        return False
    return True


def take_lock(sweep_dir: StoragePath, sweep_id: str) -> SweepLock | LeaseLock:
    try:
        return SweepLock.acquire(sweep_dir, sweep_id)
    except SweepBusy as exc:
        raise LaunchError(str(exc)) from None


def new_sweep(sweep: SweepConfig, plan: GridPlan, patience: TrackingPatience, sweep_id: str) -> SweepRecord:
    """The sweep's parent run in MLflow: the record the sweep folder keeps."""
    digest = sweep_digest(sweep)
    params = {
        schema.INITIAL_LABELS_PARAM: sweep.schedule.initial_labels,
        schema.LABELS_PER_ROUND_PARAM: sweep.schedule.labels_per_round,
        schema.ROUNDS_PARAM: sweep.schedule.rounds,
        schema.MAX_LABELS_PARAM: sweep.schedule.max_labels,
        schema.POOL_SIZE_PARAM: sweep.dataset.pool_size,
        schema.DATASETS_PARAM: ",".join(sweep.sweep.datasets),
        schema.HEURISTICS_PARAM: ",".join(h.name for h in sweep.sweep.heuristics),
        schema.ALPHAS_PARAM: ",".join(f"{a:g}" for a in sweep.sweep.alphas),
        schema.SEEDS_PARAM: ",".join(str(s) for s in sweep.sweep.seeds),
        schema.ENCODERS_PARAM: ",".join(e.name for e in sweep.sweep.encoders),
        schema.TRIALS_PARAM: len(plan.trials),
        **plan.parent_params(),
    }
    resolved_yaml = yaml.safe_dump(sweep.model_dump(mode="json"), sort_keys=False)
    experiment_id, parent_run_id = create_sweep_run(
        sweep.tracking_uri,
        sweep.experiment,
        sweep_id,
        len(plan.trials),
        params,
        resolved_yaml,
        patience,
        tags=plan.parent_tags(),
        texts=plan.parent_texts(),
    )
    return SweepRecord(sweep_id, experiment_id, parent_run_id, sweep.tracking_uri, digest)


def fit(
    sweep: SweepConfig,
    plan: GridPlan,
    args: argparse.Namespace,
    record: SweepRecord,
    sweep_dir: StoragePath,
    storage: Storage,
    stop: StopSignals,
    outage_limit: float,
    on_cluster: bool,
) -> tuple[list, object]:
    """The stores and the pool encoders, then Tune over the plan's trials: Tune's results (from MLflow
    when Tune cannot read them back) and the stores."""
    stores = start_stores(sweep, plan, record, storage.root / VAE_CACHE)
    context = SweepContext(
        sweep_id=record.sweep_id,
        plan=plan,
        tracking_uri=record.tracking_uri,
        experiment_id=record.experiment_id,
        parent_run_id=record.parent_run_id,
        dataset_store=stores.dataset,
        embedding_store=stores.embedding,
        cpus_per_trial=sweep.resources.cpu,
        sweep_dir=sweep_dir,
        tracking_outage_limit_s=outage_limit,
        tracking_credentials=TrackingCredentials.from_environment(),
    )
    tuner = build_tuner(sweep, plan, context, sweep_dir, resume=bool(args.resume), on_cluster=on_cluster)
    with stop.during_tune():
        try:
            results = list(tuner.fit())
        except Exception as exc:
            # Tune ran, but could not read its results back (a full disk truncated a trial's
            # error file); MLflow holds every trial's state too.
            print(
                f"warning: Tune's results could not be read back ({error_line(exc)}); "
                "the summary comes from MLflow",
                file=sys.stderr,
            )
            patience = TrackingPatience(record.tracking_uri, outage_limit)
            results = outcomes_from_runs(record, plan.trials_so_far(sweep_dir), patience)
    return results, stores


def summarise(
    outcome: SweepOutcome,
    record: SweepRecord,
    counters: dict[str, int],
    seconds: float,
    patience: TrackingPatience,
    resume: str,
    interrupted_by: int | None = None,
) -> int:
    """The summary, the parent run's final metrics and status, the MLflow UI command; the exit code."""
    print_summary(outcome, interrupted_by)
    metrics = {
        **counters,
        schema.TRIALS_FINISHED_METRIC: len(outcome.finished),
        schema.TRIALS_FAILED_METRIC: len(outcome.failed),
        schema.SWEEP_SECONDS_METRIC: seconds,
    }
    try:
        finish_sweep_run(record, metrics, run_status(outcome, interrupted_by), patience)
    except TrackingError as exc:
        print(f"warning: the sweep's runs keep their status: {exc}", file=sys.stderr)
    print_closing(
        counters,
        record.sweep_id,
        seconds,
        ui_command(record.tracking_uri, record.experiment_id),
        resume,
        show_resume=interrupted_by is not None or bool(outcome.failed),
    )
    return exit_code(outcome, interrupted_by)


def stopped_at_once(record: SweepRecord | None, signum: int, resume: str | None) -> int:
    """After a second stop signal (or one before Tune ran): mark the runs KILLED, say how to resume."""
    name = signal.Signals(signum).name
    if record is None:
        print(f"\nstopped by {name} before the sweep was created: nothing to resume", file=sys.stderr)
        return stopped_by(signum)
    patience = TrackingPatience(record.tracking_uri, INTERRUPTED_OUTAGE_LIMIT_S)
    try:
        finish_sweep_run(record, {}, "KILLED", patience)
    except TrackingError as exc:
        print(f"warning: the sweep's runs keep their status: {exc}", file=sys.stderr)
    print(f"\nsweep {record.sweep_id} stopped by {name}.\n{RESUME_HINT}\n  {resume}", flush=True)
    return stopped_by(signum)
