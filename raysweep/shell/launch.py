"""A sweep from start to end: the orchestration behind ``python -m raysweep.launch``.

:func:`run_sweep` owns the order of things and the cleanup: a resume finds its sweep folder and takes
its lock before Ray starts; Ray starts; the parent run is created (or resumed); the stores train the
pool encoders and Tune runs the trials; the plan reports (a search's outcome); the encoders' seconds
and the summary are logged and printed. Each step lives in its own module (``preflight``,
``ray_cluster``, ``sweep_record``, ``tracking``, ``tuner``, ``plan``, ``summary``); a first Ctrl-C or
SIGTERM becomes Tune's graceful stop and a second one stops at once (``stop_signals``).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

import ray
import yaml

from raysweep import schema
from raysweep.shell.checkpoints import is_no_space
from raysweep.shell.cli import resume_command
from raysweep.shell.exit_codes import EXIT_TRIALS_FAILED, LaunchError, stopped_by
from raysweep.shell.plan import GridPlan
from raysweep.shell.ray_cluster import check_cluster_gpus, start_ray
from raysweep.shell.stop_signals import StopSignals
from raysweep.shell.summary import (
    RESUME_HINT,
    SweepOutcome,
    error_line,
    exit_code,
    print_closing,
    print_summary,
    run_status,
)
from raysweep.shell.sweep_lock import SweepBusy, SweepLock
from raysweep.shell.sweep_record import SweepRecord, find_sweep_folder, new_sweep_id
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
from raysweep.shell.tuner import build_tuner, start_stores
from raysweep.sweep.config import SweepConfig, config_digest

INTERRUPTED_OUTAGE_LIMIT_S = 10.0
"""Tracking patience while an interrupted driver marks its runs KILLED: it must stop within seconds."""


def run_sweep(
    sweep: SweepConfig, plan: GridPlan, args: argparse.Namespace, sweep_id: str | None = None
) -> int:
    """Start (or, with ``args.resume``, resume) the sweep; the exit code. Owns Ray, the sweep's lock
    and the stop signals. ``sweep_id``: the id of a new sweep (default: from the time and the config)."""
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
        lock = take_lock(sweep_dir, record.sweep_id)
        sweep = sweep.model_copy(update={"tracking_uri": record.tracking_uri})
    patience = TrackingPatience(sweep.tracking_uri, outage_limit)

    stop = StopSignals()
    stop.install()
    try:
        start_ray(args.address)
        stop.install()  # again: ray.init installed its own SIGTERM handler
        check_cluster_gpus(sweep)
        try:
            if record is None:
                record = new_sweep(sweep, plan, patience, sweep_id)
                sweep_dir = experiment_dir / record.sweep_id
                record.write(sweep_dir)
                plan.keep(sweep_dir)
                lock = take_lock(sweep_dir, record.sweep_id)
                progress = ""
            else:
                resume_sweep_run(record, patience)
                # What a resume has left to do, before Tune's table of every trial scrolls past.
                finished = len(finished_trial_keys(record, patience) & {t.key for t in plan.trials})
                progress = f" ({finished} finished, {len(plan.trials) - finished} to run)"
        except TrackingError as exc:
            # Nothing ran yet: like an unreachable --address. A refusal here is the first write (the
            # parent run) by a user who may read the experiment but not write to it.
            raise LaunchError(str(exc)) from None
        print(
            f"sweep {record.sweep_id}: {len(plan.trials)} trials{progress}, storage {sweep_dir}, "
            f"MLflow {record.tracking_uri}"
        )
        results, stores = fit(sweep, plan, args, record, sweep_dir, stop, outage_limit)
        counters, encoder_trainings = stores.counters()
        ray.shutdown()
        if stop.received is not None:
            stop.ignore_further()
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


def take_lock(sweep_dir: Path, sweep_id: str) -> SweepLock:
    try:
        return SweepLock.acquire(sweep_dir, sweep_id)
    except SweepBusy as exc:
        raise LaunchError(str(exc)) from None


def new_sweep(
    sweep: SweepConfig, plan: GridPlan, patience: TrackingPatience, sweep_id: str | None = None
) -> SweepRecord:
    """A new sweep id (unless given) and its parent run in MLflow: the record the sweep folder keeps."""
    digest = config_digest(sweep)
    sweep_id = sweep_id or new_sweep_id(digest)
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
    sweep_dir: Path,
    stop: StopSignals,
    outage_limit: float,
) -> tuple[list, object]:
    """The stores and the pool encoders, then Tune over the plan's trials: Tune's results (from MLflow
    when Tune cannot read them back) and the stores."""
    stores = start_stores(sweep, plan, record)
    context = SweepContext(
        sweep_id=record.sweep_id,
        plan=plan,
        tracking_uri=record.tracking_uri,
        experiment_id=record.experiment_id,
        parent_run_id=record.parent_run_id,
        dataset_store=stores.dataset,
        embedding_store=stores.embedding,
        cpus_per_trial=sweep.resources.cpu,
        sweep_dir=str(sweep_dir),
        tracking_outage_limit_s=outage_limit,
        tracking_credentials=TrackingCredentials.from_environment(),
    )
    tuner = build_tuner(
        sweep, plan, context, sweep_dir, resume=bool(args.resume), on_cluster=bool(args.address)
    )
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
