"""``python -m raysweep.launch CONFIG``: run a whole sweep with Ray Tune, every curve in MLflow.

    python -m raysweep.launch CONFIG [--smoke] [--set a.b=value ...] [--address ADDR]
        [--tracking-uri URI] [--storage PATH] [--resume [SWEEP_ID]] [--dry-run]

Exit codes: 0 every trial finished; 1 some trials failed (named in the summary); 2 bad config or
data (nonexistent file, YAML error, unknown key, wrong type, empty axis, budget larger than the pool,
missing data file, GPU requested where there is none). Those are caught before Ray starts, or right
after it starts for the GPU check, and leave nothing behind: no MLflow run, no storage folder.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
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
from raysweep.sweep import SweepConfig, Trial, config_digest, expand_trials, load_sweep_config, smoke

# Read by Ray and Tune when they are imported, so set before any ray import: the classic progress
# table (with our metric columns) and every trial's per-round line, not deduplicated.
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")
# Checkpointing every round is the design (resume mid-trajectory), not a misconfiguration to warn about.
os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")

EXIT_OK, EXIT_TRIALS_FAILED, EXIT_BAD_INPUT = 0, 1, 2
SWEEP_FILE = "raysweep.json"


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
    return parser.parse_args(argv)


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
        folder.mkdir(parents=True, exist_ok=True)
        (folder / SWEEP_FILE).write_text(json.dumps(self.__dict__, indent=2))

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


def setup_tracking(sweep: SweepConfig, sweep_id: str, resolved_yaml: str, trials: list[Trial]) -> SweepRecord:
    from mlflow.tracking import MlflowClient

    from raysweep.shell.tracking import ensure_experiment, with_retries

    client = MlflowClient(sweep.tracking_uri)
    experiment_id = ensure_experiment(client, sweep.experiment, sweep.tracking_uri)
    run = with_retries(
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
        "trials": len(trials),
    }
    for key, value in params.items():
        client.log_param(run.info.run_id, key, str(value))
    client.log_text(run.info.run_id, resolved_yaml, "sweep_config.yaml")
    return SweepRecord(sweep_id, experiment_id, run.info.run_id, sweep.tracking_uri, config_digest(sweep))


def run_sweep(sweep: SweepConfig, trials: list[Trial], args: argparse.Namespace) -> int:
    import ray
    from ray import tune
    from ray.tune import CLIReporter
    from ray.util.placement_group import placement_group
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from raysweep.shell.stores import DatasetStore, EmbeddingStore
    from raysweep.shell.trainable import SweepContext, run_trial

    started = time.perf_counter()
    experiment_dir = sweep.storage / sweep.experiment
    resolved_yaml = yaml.safe_dump(sweep.model_dump(mode="json"), sort_keys=False)

    start_ray(args.address, sweep)
    try:
        check_cluster_gpus(sweep)
        if args.resume:
            sweep_dir = find_sweep_folder(experiment_dir, args.resume)
            record = SweepRecord.read(sweep_dir)
            if record.config_digest != config_digest(sweep):
                raise LaunchError(
                    f"--resume: the config differs from the one sweep {record.sweep_id} started with; "
                    "resume with the same config and flags, or start a new sweep"
                )
            sweep = sweep.model_copy(update={"tracking_uri": record.tracking_uri})
        else:
            record = None
    except LaunchError:
        ray.shutdown()
        raise

    if record is None:
        record = setup_tracking(sweep, new_sweep_id(config_digest(sweep)), resolved_yaml, trials)
        sweep_dir = experiment_dir / record.sweep_id
        record.write(sweep_dir)
    print(f"sweep {record.sweep_id}: {len(trials)} trials, storage {sweep_dir}, MLflow {record.tracking_uri}")

    suffix = record.sweep_id.replace("-", "_")
    # The stores live on the driver's node: the data root was checked there, and trials on other
    # nodes pull one copy of each shard into their own node's object store.
    here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
    dataset_store = DatasetStore.options(
        name=f"raysweep_datasets_{suffix}", scheduling_strategy=here
    ).remote()
    # Reserve one trial's resources for VAE training before Tune takes them all, and start each
    # needed VAE in it: a VAE task never waits for a CPU or GPU held by the trials that wait for it.
    vae_trials = list({t.config.dataset.model_dump_json(): t for t in trials if t.config.uses_vae}.values())
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
        ray.get(embedding_store.get.remote(handle, trial.config.vae))
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
    if args.resume:
        print(f"resuming sweep {record.sweep_id} from {sweep_dir}")
        tuner = tune.Tuner.restore(
            str(sweep_dir), trainable=trainable, resume_unfinished=True, resume_errored=True
        )
    else:
        tuner = tune.Tuner(
            trainable,
            param_space={"trial": tune.grid_search([t.key for t in trials])},
            tune_config=tune.TuneConfig(
                max_concurrent_trials=sweep.resources.max_concurrent_trials,
                # A fresh worker per trial costs ~7 CPU-s of imports (torch, mlflow); trials keep no
                # state between them (every draw derives from the trial's seed), so on one machine
                # reuse is safe and saves that. On a cluster a fresh worker per trial lets Ray place
                # each trial wherever resources are free instead of where the first workers started.
                reuse_actors=args.address is None,
                trial_name_creator=lambda t: t.config["trial"].replace("/", "-"),
                trial_dirname_creator=lambda t: (
                    f"{t.config['trial'].replace('/', '-').replace(':', '_')}-{t.trial_id}"
                ),
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
    results = tuner.fit()
    counters = ray.get(embedding_store.counters.remote())
    ray.shutdown()
    return summarise(results, trials, record, sweep, counters, time.perf_counter() - started)


DATASET_COLUMN = 28
"""Widest dataset name the summary prints whole; longer ones (``npz:/a/long/path/file.npz``) keep
their start and end around an ellipsis, so the columns stay aligned."""


def shorten(name: str, width: int) -> str:
    """``name`` if it fits in ``width`` characters, else its head and tail around "..."."""
    if len(name) <= width:
        return name
    head = (width - 3) // 3  # the source prefix (npz:/...), then as much of the file name as fits
    return f"{name[:head]}...{name[len(name) - (width - 3 - head) :]}"


def summary_table(rows: dict[tuple[str, str, str], list[tuple[float, float]]]) -> list[str]:
    """Lines of the summary: one per (dataset, heuristic, alpha), means of (final accuracy, area) over seeds."""
    width = min(DATASET_COLUMN, max([len("dataset"), *(len(dataset) for dataset, _, _ in rows)]))
    named = max([len("heuristic"), *(len(heuristic) for _, heuristic, _ in rows)])
    lines = [
        f"  {'dataset':<{width}} {'heuristic':<{named}} {'alpha':>6} {'seeds':>5} {'final accuracy':>15} "
        f"{'area under curve':>17}"
    ]
    for (dataset, heuristic, alpha), values in sorted(rows.items()):
        final = sum(v[0] for v in values) / len(values)
        area = sum(v[1] for v in values) / len(values)
        lines.append(
            f"  {shorten(dataset, width):<{width}} {heuristic:<{named}} {alpha:>6} {len(values):>5} "
            f"{final:>15.4f} {area:>17.4f}"
        )
    return lines


def summarise(
    results: Any,
    trials: list[Trial],
    record: SweepRecord,
    sweep: SweepConfig,
    counters: dict[str, int],
    seconds: float,
) -> int:
    """The summary table, the parent run's sweep metrics, the MLflow UI command; the exit code."""
    from mlflow.tracking import MlflowClient

    from raysweep.shell.tracking import ui_command, with_retries

    by_key: dict[str, Any] = {}
    for result in results:
        key = (result.config or {}).get("trial")
        if key is not None:
            by_key[key] = result
    failed = sorted(k for k in (t.key for t in trials) if k not in by_key or by_key[k].error is not None)
    rows: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    for trial in trials:
        result = by_key.get(trial.key)
        if result is None or result.error is not None or not result.metrics:
            continue
        group = (trial.dataset, trial.heuristic, f"{trial.config.alpha:g}")
        rows.setdefault(group, []).append((result.metrics["accuracy"], result.metrics["area_under_curve"]))

    print("\nSummary (mean over seeds):")
    for line in summary_table(rows):
        print(line)
    if failed:
        print(f"\n{len(failed)} trial(s) failed:")
        for key in failed:
            error = by_key[key].error if key in by_key else "never ran"
            print(f"  {key}: {str(error).splitlines()[0] if error else 'no result'}")

    client = MlflowClient(record.tracking_uri)
    metrics = {
        **counters,
        "trials_finished": len(trials) - len(failed),
        "trials_failed": len(failed),
        "sweep_seconds": seconds,
    }
    for name, value in metrics.items():
        with_retries(lambda n=name, v=value: client.log_metric(record.parent_run_id, n, float(v)))
    with_retries(
        lambda: client.set_terminated(record.parent_run_id, status="FAILED" if failed else "FINISHED")
    )
    print(f"\nVAE trainings this run: {counters['vae_trainings']} (cache hits: {counters['vae_cache_hits']})")
    print(f"sweep {record.sweep_id} took {seconds:.0f}s. Compare the runs in MLflow:")
    print(f"  {ui_command(record.tracking_uri, record.experiment_id)}")
    return EXIT_TRIALS_FAILED if failed else EXIT_OK


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
        return run_sweep(sweep, trials, args)
    except (ConfigError, DataError, LaunchError, WeightsError, UnknownNameError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
