"""Where a sweep's wall time goes: a breakdown of one real ``python -m raysweep.launch`` run.

    .venv/bin/python benchmarks/sweep_walltime.py                      # configs/quickstart.yaml, as users run it
    .venv/bin/python benchmarks/sweep_walltime.py --smoke              # its --smoke variant
    .venv/bin/python benchmarks/sweep_walltime.py --cpu                # + every trial replayed in-process, CPU-s
    .venv/bin/python benchmarks/sweep_walltime.py --config configs/alpha_sweep.yaml --smoke \\
        --set dataset.root=../shared/data --set resources.gpu=0

The sweep runs through the real CLI in a fresh temporary folder (its own MLflow SQLite store and Tune
storage), under a thin wrapper that only records when the launcher's phases start and end (imports,
config and data check, ``ray.init``, MLflow setup, ``Tuner.fit``, ``ray.shutdown``, summary). The rest
comes from what the sweep itself recorded: every trial's MLflow run (start, end) and its per-round
metrics (``train_seconds``, ``eval_seconds``, ``inference_seconds``, ``selection_seconds``,
``diagnostics_seconds``), and the VAE cache file's time of writing.

The table accounts for every slot-second of the sweep: wall time x parallel slots (CPUs // resources.cpu
on the local Ray). Driver phases hold every slot; in-trial phases hold one; the rest of a trial's MLflow
run is MLflow logging, Tune checkpoints, model set-up and waiting for embeddings ("MLflow, checkpoints,
set-up"); "worker start and imports" is the time from ``Tuner.fit`` to the first trial's run, once per
slot; the VAE holds a reserved slot until its embeddings are written; what is left is Tune's scheduling
between trials and slots idle at the tail. Then the ratio of wall time to (sum of trial compute / slots),
where trial compute = training + evaluation + selection (pool inference included) + diagnostics.

Wall-clock seconds on a loaded machine measure the load as much as the work. ``--cpu`` therefore replays
every trial of the same config in this process with one torch thread (the core loop, no Ray, no MLflow)
and measures CPU seconds per phase, plus the VAE, plus the CPU seconds of a trial worker's imports in a
fresh interpreter, and projects the sweep's wall time on an idle machine: serial driver phases (measured
CPU-s of the driver's imports and Ray start) + (trials + VAE + worker imports) CPU-s / slots. Nothing is
asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from raysweep.schema import ROLE_TAG, ROLE_TRIAL, TRIAL_KEY_TAG

REPO = Path(__file__).resolve().parents[1]

# Runs the launcher's own main() with timers around its phases; the code path is the CLI's.
TIMED_LAUNCH = r"""
import json, os, sys, time
timeline = {"python_started": time.time()}
import raysweep.shell.cli as cli
import raysweep.shell.launch as launch
import raysweep.shell.preflight as preflight
import ray
from ray import tune
timeline["imported"] = time.time()

def timed(owner, name, key):
    function = getattr(owner, name, None)
    if function is None:
        return
    def wrapper(*args, **kwargs):
        timeline.setdefault(key + "_start", time.time())
        try:
            return function(*args, **kwargs)
        finally:
            timeline[key + "_end"] = time.time()
    setattr(owner, name, wrapper)

timed(preflight, "check_inputs", "check_inputs")
timed(launch, "start_ray", "ray_start")
timed(launch, "new_sweep", "mlflow_setup")
timed(tune.Tuner, "fit", "fit")
timed(ray, "shutdown", "ray_shutdown")
timed(launch, "summarise", "summary")
try:
    code = cli.main(sys.argv[1:])
finally:
    timeline["main_returned"] = time.time()
    with open(os.environ["RAYSWEEP_TIMELINE"], "w") as out:
        json.dump(timeline, out)
sys.exit(code)
"""

RAY_START = """
import json, time, resource
t0 = time.perf_counter()
import ray
t1 = time.perf_counter()
ray.init(include_dashboard=False, log_to_driver=False)
t2 = time.perf_counter()
ray.shutdown()
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "init": t2 - t1, "shutdown": t3 - t2,
                  "cpu": resource.getrusage(resource.RUSAGE_SELF).ru_utime + resource.getrusage(resource.RUSAGE_SELF).ru_stime}))
"""


def child_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def import_cpu_seconds(modules: str) -> float:
    """CPU seconds (user + system) of a fresh interpreter that imports ``modules`` and exits."""
    before = child_cpu_seconds()
    subprocess.run([sys.executable, "-c", f"import {modules}"], check=True, cwd=tempfile.gettempdir())
    return child_cpu_seconds() - before


def trial_runs(tracking_uri: str, experiment: str) -> list[dict]:
    """Per trial: its MLflow run's start and end (epoch seconds) and its summed per-round seconds."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], filter_string=f"tags.`{ROLE_TAG}` = '{ROLE_TRIAL}'")
    rows = []
    for run in runs:
        row = {"key": run.data.tags[TRIAL_KEY_TAG], "start": run.info.start_time / 1000}
        row["end"] = (run.info.end_time or run.info.start_time) / 1000
        for metric in ("train", "eval", "inference", "selection", "diagnostics"):
            history = client.get_metric_history(run.info.run_id, f"{metric}_seconds")
            row[metric] = sum(point.value for point in history)
        row["accuracy"] = [
            m.value
            for m in sorted(client.get_metric_history(run.info.run_id, "accuracy"), key=lambda m: m.step)
        ]
        rows.append(row)
    return sorted(rows, key=lambda r: r["start"])


def slots_of(rows: list[dict], slots: int) -> list[list[dict]]:
    """Assign trials to slots by their run intervals (each trial to the slot free the longest)."""
    lanes: list[list[dict]] = [[] for _ in range(slots)]
    for row in rows:
        lane = min(lanes, key=lambda lane: lane[-1]["end"] if lane else float("-inf"))
        lane.append(row)
    return [lane for lane in lanes if lane]


def breakdown(
    timeline: dict, rows: list[dict], slots: int, spawned: float, ended: float, vae_ready: float | None
) -> tuple[list[tuple[str, float, str]], dict]:
    """(component, slot-seconds, how it is measured) rows that add up to wall x slots."""
    wall = ended - spawned
    get = timeline.get
    fit_start, fit_end = get("fit_start", spawned), get("fit_end", ended)

    def span(start: str, end: str) -> float:
        return max(0.0, get(end, 0.0) - get(start, 0.0)) if start in timeline and end in timeline else 0.0

    driver_imports = get("imported", spawned) - spawned
    check = span("check_inputs_start", "check_inputs_end")
    ray_start = span("ray_start_start", "ray_start_end")
    mlflow_setup = span("mlflow_setup_start", "mlflow_setup_end")
    stores = max(0.0, fit_start - get("mlflow_setup_end", fit_start))
    after_fit = max(0.0, ended - fit_end)
    driver_other = max(0.0, fit_start - spawned) - driver_imports - check - ray_start - mlflow_setup - stores

    lanes = slots_of(rows, slots)
    first_start = min((r["start"] for r in rows), default=fit_start)
    worker_start = max(0.0, first_start - fit_start) * len(lanes)
    vae_hold = max(0.0, vae_ready - max(first_start, fit_start)) if vae_ready else 0.0
    sums = {
        name: sum(r[name] for r in rows)
        for name in ("train", "eval", "inference", "selection", "diagnostics")
    }
    selection_only = max(0.0, sums["selection"] - sums["inference"])
    compute = sums["train"] + sums["eval"] + sums["selection"] + sums["diagnostics"]
    in_run_rest = sum(r["end"] - r["start"] for r in rows) - compute
    parts = [
        (
            "python start, driver imports",
            driver_imports * slots,
            "wrapper: process spawn -> launcher imported (x slots)",
        ),
        (
            "config and data check",
            (check + max(0.0, driver_other)) * slots,
            "check_inputs and the rest before ray.init (x slots)",
        ),
        ("Ray start", ray_start * slots, "ray.init (x slots)"),
        ("MLflow setup", mlflow_setup * slots, "store, experiment, parent run (x slots)"),
        ("stores, VAE start, Tune start", stores * slots, "MLflow setup -> Tuner.fit (x slots)"),
        ("worker start and imports", worker_start, "Tuner.fit -> first trial's MLflow run (x slots used)"),
        ("VAE training (reserved slot)", vae_hold, "first trial -> VAE cache file written (1 slot)"),
        ("training", sums["train"], "sum of train_seconds"),
        ("evaluation", sums["eval"], "sum of eval_seconds"),
        ("pool inference", sums["inference"], "sum of inference_seconds"),
        ("selection", selection_only + sums["diagnostics"], "selection_seconds - inference + diagnostics"),
        ("MLflow, checkpoints, set-up", in_run_rest, "trials' MLflow run time - the four above"),
        ("shutdown, summary, exit", after_fit * slots, "Tuner.fit end -> process exit (x slots)"),
    ]
    accounted = sum(seconds for _, seconds, _ in parts)
    parts.append(("Tune scheduling, idle slots", wall * slots - accounted, "the rest of wall x slots"))
    return parts, {"wall": wall, "compute": compute, **sums}


def run_sweep(config: Path, extra: list[str], folder: Path) -> dict:
    from raysweep.sweep.config import load_sweep_config

    overrides = [extra[i + 1] for i, flag in enumerate(extra[:-1]) if flag == "--set"]
    sweep = load_sweep_config(config, overrides)
    tracking_uri = f"sqlite:///{folder / 'mlflow.db'}"
    timeline_file = folder / "timeline.json"
    command = [
        sys.executable,
        "-c",
        TIMED_LAUNCH,
        str(config),
        *extra,
        "--storage",
        str(folder / "runs"),
        "--tracking-uri",
        tracking_uri,
    ]
    print(f"running: python -m raysweep.launch {' '.join(command[3:])}", flush=True)
    env = {**os.environ, "RAYSWEEP_TIMELINE": str(timeline_file)}
    cpu_before = child_cpu_seconds()
    spawned = time.time()
    with open(folder / "launch.log", "w") as log:
        code = subprocess.run(
            command, cwd=folder, stdout=log, stderr=subprocess.STDOUT, env=env, check=False
        ).returncode
    ended = time.time()
    if code != 0:
        tail = (folder / "launch.log").read_text().splitlines()[-25:]
        print(f"exit {code}; last lines of its output:\n" + "\n".join(tail), flush=True)
    timeline = json.loads(timeline_file.read_text()) if timeline_file.is_file() else {}
    vae_files = list((folder / "runs" / "vae_cache").glob("vae-*.npz"))
    return {
        "sweep": sweep,
        "exit": code,
        "spawned": spawned,
        "ended": ended,
        "driver_cpu": child_cpu_seconds() - cpu_before,
        "timeline": timeline,
        "rows": trial_runs(tracking_uri, sweep.experiment),
        "vae_ready": max((f.stat().st_mtime for f in vae_files), default=None),
    }


def replay_cpu(config: Path, extra: list[str]) -> dict:
    """Every trial of the sweep in this process, one torch thread: CPU seconds per phase."""
    import torch

    import raysweep.loop as loop
    import raysweep.train as train
    from raysweep.data import load_dataset
    from raysweep.encoders import build_encoder, embedding_provider, trains_per_round
    from raysweep.sweep.config import load_sweep_config
    from raysweep.sweep.smoke import smoke
    from raysweep.sweep.trials import expand_trials

    torch.set_num_threads(1)
    overrides = [extra[i + 1] for i, flag in enumerate(extra[:-1]) if flag == "--set"]
    sweep = load_sweep_config(config, overrides)
    if "--smoke" in extra:
        sweep = smoke(sweep)
    trials = expand_trials(sweep)
    cpu = {
        "train": 0.0,
        "eval": 0.0,
        "inference": 0.0,
        "selection": 0.0,
        "other": 0.0,
        "vae": 0.0,
        "load": 0.0,
    }

    def timing(name: str, function: Callable) -> Callable:
        def wrapper(*args, **kwargs):
            started = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                cpu[name] += time.process_time() - started

        return wrapper

    datasets, embeddings = {}, {}
    started = time.process_time()
    for trial in trials:
        key = trial.config.dataset.model_dump_json()
        if key not in datasets:
            datasets[key] = load_dataset(trial.config.dataset)
    cpu["load"] = time.process_time() - started
    originals = (loop.train_round, loop.evaluate, loop.infer)
    loop.train_round, loop.evaluate = timing("train", train.train_round), timing("eval", train.evaluate)
    loop.infer = timing("inference", train.infer)
    total = 0.0
    try:
        for trial in trials:
            dataset = datasets[trial.config.dataset.model_dump_json()]
            vae_key = (
                trial.config.dataset.model_dump_json(),
                trial.config.vae.model_dump_json(),
                trial.config.encoder.model_dump_json(),
            )
            pool_encoder = trial.config.uses_vae and not trains_per_round(trial.config.encoder)
            if pool_encoder and vae_key not in embeddings:
                started = time.process_time()
                embeddings[vae_key] = build_encoder(trial.config.encoder, trial.config.vae).train(dataset)
                cpu["vae"] += time.process_time() - started
            provider = embedding_provider(trial.config, dataset, lambda k=vae_key: embeddings[k])
            before = cpu["vae"]
            if provider is not None and not pool_encoder:
                provider = timing("vae", provider)  # cvae: retrained inside the trajectory each round
            started = time.process_time()
            result = loop.run_trajectory(trial.config, dataset, embeddings=provider)
            total += time.process_time() - started - (cpu["vae"] - before)
            accuracy = " ".join(f"{p.metrics['accuracy']:.3f}" for p in result.curve)
            print(f"  replayed {trial.key:<32} accuracy {accuracy}", flush=True)
    finally:
        loop.train_round, loop.evaluate, loop.infer = originals
    # Only the loop's pool inference went through the wrapped loop.infer; evaluate() calls train.infer.
    cpu["selection_and_other"] = total - cpu["train"] - cpu["eval"] - cpu["inference"]
    cpu["trials"] = total
    cpu["n_trials"] = len(trials)
    return cpu


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "quickstart.yaml")
    parser.add_argument("--smoke", action="store_true", help="run the config's --smoke variant")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--cpu", action="store_true", help="also replay every trial in-process for CPU seconds"
    )
    args = parser.parse_args(argv)
    extra = (["--smoke"] if args.smoke else []) + [item for o in args.overrides for item in ("--set", o)]

    cpus = os.cpu_count() or 1
    print(
        f"{cpus} CPUs, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} (1, 5, 15 min)",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="raysweep-walltime-") as folder:
        run = run_sweep(args.config.resolve(), extra, Path(folder))
    sweep = run["sweep"]
    slots = max(1, int(cpus // sweep.resources.cpu))
    if sweep.resources.max_concurrent_trials:
        slots = min(slots, sweep.resources.max_concurrent_trials)
    parts, totals = breakdown(
        run["timeline"], run["rows"], slots, run["spawned"], run["ended"], run["vae_ready"]
    )
    wall = totals["wall"]
    print(
        f"\nexit {run['exit']}, {len(run['rows'])} trials, {slots} slots, wall {wall:.1f} s, load average now {os.getloadavg()[0]:.1f}"
    )
    print(f"  {'component':<32} {'slot-s':>8} {'share':>6}  measured as")
    for name, seconds, how in parts:
        print(f"  {name:<32} {seconds:8.1f} {seconds / (wall * slots):6.1%}  {how}")
    print(f"  {'total = wall x slots':<32} {wall * slots:8.1f}")
    events = sorted((seconds, name) for name, seconds in run["timeline"].items())
    print(
        "driver timeline (s after spawn): "
        + ", ".join(f"{name} {t - run['spawned']:.1f}" for t, name in events)
    )
    compute = totals["compute"]
    if compute > 0:
        print(
            f"\ntrial compute {compute:.1f} s; wall / (trial compute / slots) = {wall / (compute / slots):.2f}"
        )
    accuracy = [r["accuracy"] for r in run["rows"] if r["accuracy"]]
    if accuracy:
        first = sum(a[0] for a in accuracy) / len(accuracy)
        last = sum(a[-1] for a in accuracy) / len(accuracy)
        print(f"mean accuracy over trials: first label count {first:.3f}, last {last:.3f}")

    if args.cpu:
        print("\nCPU replay (this process, 1 torch thread, no Ray, no MLflow):", flush=True)
        cpu = replay_cpu(args.config.resolve(), extra)
        ray_start = json.loads(
            subprocess.run(
                [sys.executable, "-c", RAY_START],
                capture_output=True,
                text=True,
                check=True,
                cwd=tempfile.gettempdir(),
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        driver_imports = import_cpu_seconds("raysweep.shell.launch, ray.tune")
        worker_imports = import_cpu_seconds("raysweep.shell.trainable, raysweep.shell.tracking.trial_run")
        store_imports = import_cpu_seconds("raysweep.shell.stores")
        workers = min(slots, cpu["n_trials"])
        store_processes = 3 if cpu["vae"] > 0 else 2  # DatasetStore, EmbeddingStore, the VAE task's worker
        print(f"  {'phase':<34} {'CPU-s':>8}")
        for name, seconds in [
            ("training", cpu["train"]),
            ("evaluation", cpu["eval"]),
            ("pool inference", cpu["inference"]),
            ("selection, set-up (rest of trials)", cpu["selection_and_other"]),
            (f"trials ({cpu['n_trials']})", cpu["trials"]),
            ("VAE training", cpu["vae"]),
            ("dataset loading", cpu["load"]),
            (f"trial worker imports (x{workers})", worker_imports * workers),
            (f"store/VAE worker imports (x{store_processes})", store_imports * store_processes),
            ("driver imports (launcher, ray.tune)", driver_imports),
            ("Ray import+init+shutdown (driver)", ray_start["cpu"]),
        ]:
            print(f"  {name:<34} {seconds:8.1f}")
        serial = driver_imports + ray_start["cpu"] + cpu["load"]
        parallel = cpu["trials"] + cpu["vae"] + worker_imports * workers + store_imports * store_processes
        print(
            f"  projected idle wall: serial {serial:.1f} s + parallel {parallel:.1f} CPU-s / {slots} slots = "
            f"{serial + parallel / slots:.1f} s (Ray's own processes, MLflow and Tune not included; "
            f"Ray init wall here {ray_start['init']:.1f} s)"
        )


if __name__ == "__main__":
    main()
