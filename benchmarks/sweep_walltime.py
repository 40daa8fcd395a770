"""Wall time of whole sweeps through the real CLI, Ray's start time, and the overhead per trial.

    .venv/bin/python benchmarks/sweep_walltime.py            # quickstart --smoke and alpha_sweep --smoke
    .venv/bin/python benchmarks/sweep_walltime.py --full     # the real quickstart instead of its --smoke
    .venv/bin/python benchmarks/sweep_walltime.py --only quickstart --ray-repeats 3

Each sweep runs as ``python -m raysweep.launch CONFIG [--smoke] ...`` in a fresh temporary folder
(its own MLflow sqlite store and Tune storage path), exactly as a user runs it; alpha_sweep reads real
MNIST through ``--set dataset.root=...`` and, on a machine without GPUs, ``--set resources.gpu=0``
(the launcher refuses a GPU request the cluster cannot serve). Then, from the sweep's MLflow store:

* compute: the sum over trials and rounds of the logged ``train_seconds`` + ``selection_seconds``;
* in-run overhead per trial: a trial's MLflow run duration (start to end) minus its compute: data
  materialisation, model build, evaluation, MLflow logging, checkpoints, waiting for the VAE;
* overhead per trial: (wall x concurrent slots - compute) / trials, where slots = how many trials the
  local Ray instance runs at once (CPUs // resources.cpu): everything a trial costs beyond training and
  selection, Ray's start, worker start-up, VAE training and idle slots included.

Ray's start time is measured separately in a fresh interpreter: ``import ray``, ``ray.init()`` (local
instance, no dashboard, as the launcher does) and ``ray.shutdown()``, median of ``--ray-repeats``.
The table compares each sweep's wall time with Ray's start measured in the same run. Nothing is
asserted.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = REPO.parent / "shared" / "data"

RAY_START = """
import json, time
t0 = time.perf_counter()
import ray
t1 = time.perf_counter()
ray.init(include_dashboard=False, log_to_driver=False)
t2 = time.perf_counter()
ray.shutdown()
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "init": t2 - t1, "shutdown": t3 - t2}))
"""


def ray_start_seconds(repeats: int) -> dict[str, float]:
    runs = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", RAY_START],
            capture_output=True,
            text=True,
            check=True,
            cwd=tempfile.gettempdir(),
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def mlflow_numbers(tracking_uri: str, experiment: str) -> dict[str, float]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], filter_string="tags.`raysweep.role` = 'trial'")
    compute, in_run, rounds = 0.0, 0.0, 0
    for run in runs:
        seconds = 0.0
        for metric in ("train_seconds", "selection_seconds"):
            history = client.get_metric_history(run.info.run_id, metric)
            seconds += sum(point.value for point in history)
            rounds += len(history) if metric == "train_seconds" else 0
        compute += seconds
        if run.info.end_time:
            in_run += (run.info.end_time - run.info.start_time) / 1000 - seconds
    parent = client.search_runs([exp.experiment_id], filter_string="tags.`raysweep.role` = 'sweep'")
    metrics = parent[0].data.metrics if parent else {}
    return {
        "trials": len(runs),
        "rounds": rounds,
        "compute": compute,
        "in_run_overhead": in_run,
        "sweep_seconds": metrics.get("sweep_seconds", float("nan")),
        "vae_trainings": metrics.get("vae_trainings", float("nan")),
    }


def run_sweep(name: str, config: Path, extra: list[str], cpus: int) -> dict[str, float | str]:
    from raysweep.sweep import load_sweep_config

    sweep = load_sweep_config(config, [item for flag, item in itertools.pairwise(extra) if flag == "--set"])
    slots = max(1, int(cpus // sweep.resources.cpu))
    with tempfile.TemporaryDirectory(prefix="raysweep-walltime-") as folder:
        tracking_uri = f"sqlite:///{Path(folder) / 'mlflow.db'}"
        command = [
            sys.executable,
            "-m",
            "raysweep.launch",
            str(config),
            *extra,
            "--storage",
            str(Path(folder) / "runs"),
            "--tracking-uri",
            tracking_uri,
        ]
        print(f"[{name}] {' '.join(command[1:])}", flush=True)
        started = time.perf_counter()
        with open(Path(folder) / "launch.log", "w") as log:
            code = subprocess.run(
                command, cwd=folder, stdout=log, stderr=subprocess.STDOUT, check=False
            ).returncode
        wall = time.perf_counter() - started
        if code != 0:
            tail = (Path(folder) / "launch.log").read_text().splitlines()[-25:]
            print(f"[{name}] exit {code}; last lines of its output:\n" + "\n".join(tail), flush=True)
        numbers = mlflow_numbers(tracking_uri, sweep.experiment)
    print(f"[{name}] exit {code} after {wall:.1f} s, {numbers['trials']} trials", flush=True)
    trials = max(numbers["trials"], 1)
    return {
        "name": name,
        "exit": code,
        "wall": wall,
        "slots": slots,
        **numbers,
        "overhead_per_trial": (wall * slots - numbers["compute"]) / trials,
        "in_run_per_trial": numbers["in_run_overhead"] / trials,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="run the real quickstart instead of --smoke")
    parser.add_argument(
        "--only", choices=["quickstart", "alpha_sweep"], help="run one of the two sweeps (default: both)"
    )
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="folder holding MNIST/raw")
    parser.add_argument("--ray-repeats", type=int, default=2, help="Ray start measurements (default 2)")
    args = parser.parse_args(argv)

    cpus = os.cpu_count() or 1
    gpus = 0
    try:
        import torch

        gpus = torch.cuda.device_count()
    except ImportError:
        pass
    print(f"{cpus} CPUs, {gpus} GPUs, load average {os.getloadavg()[0]:.1f}")
    ray_start = ray_start_seconds(args.ray_repeats)
    print(
        f"Ray start (median of {args.ray_repeats}): import {ray_start['import']:.1f} s, "
        f"init {ray_start['init']:.1f} s, shutdown {ray_start['shutdown']:.1f} s",
        flush=True,
    )

    sweeps = []
    if args.only in (None, "quickstart"):
        sweeps.append(
            (
                "quickstart" if args.full else "quickstart --smoke",
                REPO / "configs" / "quickstart.yaml",
                [] if args.full else ["--smoke"],
            )
        )
    if args.only in (None, "alpha_sweep"):
        extra = ["--smoke", "--set", f"dataset.root={args.root.expanduser().resolve()}"]
        if gpus == 0:
            extra += ["--set", "resources.gpu=0"]
        sweeps.append(("alpha_sweep --smoke", REPO / "configs" / "alpha_sweep.yaml", extra))
    results = [run_sweep(name, config, extra, cpus) for name, config, extra in sweeps]

    ray_total = ray_start["init"] + ray_start["shutdown"]
    print(f"\nRay init + shutdown: {ray_total:.1f} s (import ray {ray_start['import']:.1f} s)")
    header = (
        f"  {'sweep':<20} {'exit':>4} {'trials':>6} {'slots':>5} {'wall s':>7} {'/ray':>5} {'compute s':>9} "
        f"{'overhead/trial s':>16} {'in-run/trial s':>14} {'VAEs':>4}"
    )
    print(header)
    for r in results:
        print(
            f"  {r['name']:<20} {r['exit']:>4} {r['trials']:>6} {r['slots']:>5} {r['wall']:7.1f} "
            f"{r['wall'] / ray_total:5.1f} {r['compute']:9.1f} {r['overhead_per_trial']:16.1f} "
            f"{r['in_run_per_trial']:14.1f} {r['vae_trainings']:4.0f}"
        )
    print(
        "  compute = sum of logged train+selection seconds; overhead/trial = (wall x slots - compute) / trials;\n"
        "  in-run/trial = MLflow run duration - compute (eval, logging, checkpoints, VAE wait); /ray = wall / Ray start"
    )


if __name__ == "__main__":
    main()
