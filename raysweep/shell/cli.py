"""``python -m raysweep.launch CONFIG``: run a whole sweep with Ray Tune, every curve in MLflow.

    python -m raysweep.launch CONFIG [--smoke] [--set a.b=value ...] [--address ADDR]
        [--tracking-uri URI] [--storage PATH_OR_URI] [--resume [SWEEP_ID] | --sweep-id SWEEP_ID]
        [--confirm [SWEEP_ID]] [--dry-run] [--tracking-outage-limit SECONDS]

The command line: arguments, the input checks (``raysweep.shell.preflight``) before anything
starts, the sweep (``raysweep.shell.launch``), and the exit code (``raysweep.shell.exit_codes``).
Bad input is caught before Ray starts, or right after it for the GPU check, and leaves nothing
behind: no MLflow run, no storage folder. A tracking server that refuses the launcher (credentials,
permission, host name) is bad input too: one request finds out before Ray starts. A stopped sweep prints the command that resumes it
(``raysweep.shell.resume``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# Read by Ray and Tune when they are imported, so set before any ray import: the classic progress
# table (with our metric columns) and every trial's per-round line, not deduplicated.
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")
# Checkpointing every round is the design (resume mid-trajectory), not a misconfiguration to warn about.
os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")

from raysweep.data.base import DataError
from raysweep.models.resnet import WeightsError
from raysweep.registry import UnknownNameError
from raysweep.shell.exit_codes import EXIT_BAD_INPUT, EXIT_OK, EXIT_SIGINT, EXIT_SIGTERM, LaunchError
from raysweep.shell.tracking import DEFAULT_OUTAGE_LIMIT_S
from raysweep.storage import StorageError
from raysweep.sweep.config import SweepConfig, load_sweep_config
from raysweep.sweep.smoke import smoke
from raysweep.sweep.trials import Trial, expand_trials
from raysweep.typed_config import ConfigError

BAD_INPUT_ERRORS = (ConfigError, DataError, LaunchError, WeightsError, UnknownNameError, StorageError)
"""What the input checks raise for bad input: exit 2 with the message, no traceback."""


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
    parser.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else the config's, else sqlite:///mlflow.db here)",
    )
    parser.add_argument(
        "--storage",
        metavar="PATH_OR_URI",
        help="where the sweep's files go: a path every node sees, or s3://BUCKET/PREFIX, gs://BUCKET/PREFIX "
        "(S3-compatible: ?endpoint_override=HOST:PORT or AWS_ENDPOINT_URL); default: the config's storage",
    )
    parser.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        metavar="SWEEP_ID",
        help="resume the latest (or the named) sweep of this experiment from its checkpoints",
    )
    parser.add_argument(
        "--confirm",
        nargs="?",
        const="latest",
        metavar="SWEEP_ID",
        help="rerun the settings the latest (or the named) finished sweep chose on validation, with their "
        "alpha-0 partners, on fresh seeds (sweep.confirm_seeds); run again to continue it",
    )
    parser.add_argument(
        "--sweep-id",
        metavar="SWEEP_ID",
        help="start the sweep under this id, or resume it when a sweep of this id exists: the same command "
        "run again (a retried or resubmitted job) continues the same sweep",
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


def print_trials(
    trials: list[Trial], sweep: SweepConfig, pools: dict[str, int], plan_lines: list[str]
) -> None:
    """The resolved trial list (``--dry-run``, and the start of every sweep)."""
    from raysweep.schedule import label_schedule

    print(f"{len(trials)} trials in experiment {sweep.experiment!r}:")
    print(f"  {'trial key':<48} {'uses_vae':<9} labels schedule")
    for trial in trials:
        counts = label_schedule(trial.config.schedule, pools[trial.dataset])
        print(
            f"  {trial.key:<48} {trial.config.uses_vae!s:<9} {counts[0]} -> {counts[-1]} in {len(counts)} rounds"
        )
    for line in plan_lines:
        print(line)


def start_or_resume(sweep: SweepConfig, sweep_id: str) -> tuple[str, bool]:
    """``--sweep-id``: the id (checked), and whether that sweep exists already (then it is resumed)."""
    from raysweep.shell.sweep_record import check_sweep_id, sweep_exists
    from raysweep.storage import parse_storage

    check_sweep_id(sweep_id)
    return sweep_id, sweep_exists(parse_storage(sweep.storage).root / sweep.experiment / sweep_id)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        from raysweep.shell.plan import plan_for
        from raysweep.shell.preflight import check_inputs, check_tracking, resolve_paths

        sweep = load_sweep_config(args.config, args.overrides)
        if args.smoke:
            sweep = smoke(sweep)
        storage_given = args.storage or sweep.storage
        sweep = resolve_paths(sweep, args)
        trials = expand_trials(sweep)
        pools = check_inputs(sweep, trials)
        plan = plan_for(sweep, trials)
        if not args.dry_run:  # a dry run only prints the trials: it needs no server
            check_tracking(sweep)
        sweep_id = None
        if args.confirm and args.sweep_id:
            raise LaunchError(
                "--confirm names its sweep by itself (<sweep id>-confirm): leave out --sweep-id"
            )
        if args.confirm:
            if args.resume:
                raise LaunchError("--confirm continues its confirmation by itself: leave out --resume")
            from raysweep.shell.confirm import prepare_confirmation

            plan, sweep_id, exists = prepare_confirmation(
                sweep, plan, args.confirm, args.tracking_outage_limit or DEFAULT_OUTAGE_LIMIT_S
            )
            sweep = plan.sweep
            args.confirm = plan.choice.sweep_id
            args.resume = sweep_id if exists else None
        elif args.sweep_id:
            if args.resume:
                raise LaunchError("--sweep-id resumes its sweep by itself when it exists: leave out --resume")
            sweep_id, exists = start_or_resume(sweep, args.sweep_id)
            args.resume = sweep_id if exists else None
        print_trials(plan.trials, sweep, pools, plan.describe())
        if args.dry_run:
            return EXIT_OK
        from raysweep.shell.launch import run_sweep
        from raysweep.storage import is_relative_path

        relative = str(storage_given) if is_relative_path(storage_given) else None
        code = run_sweep(sweep, plan, args, sweep_id=sweep_id, relative_storage=relative)
    except BAD_INPUT_ERRORS as exc:
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
