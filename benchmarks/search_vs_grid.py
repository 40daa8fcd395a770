"""A search with N settings against the grid with N alphas: the best objective each finds, and its wall time.

    .venv/bin/python benchmarks/search_vs_grid.py                      # N = 6, search seeds 0 1 2
    .venv/bin/python benchmarks/search_vs_grid.py --settings 8 --search-seeds 0 1 2 --heuristic medal

Everything runs through the real CLI (``python -m raysweep.launch configs/quickstart.yaml``) with the
quickstart's settings (digits, 100 -> 400 labels, its training and VAE) and its seeds, for one
VAE-capable heuristic (default core-set), in one folder: one MLflow store, one Tune storage path.

* grid: ``sweep.alphas`` = 0 and N alphas log-spaced over [--low, --high] (the range a search is told);
* search: ``sweep.search`` with N settings over alpha log-uniform on [--low, --high], the algorithm of
  ``--algorithm`` (default optuna's TPE), its own default concurrency (``max(1, N // 4)`` settings in
  flight), once per ``--search-seeds`` entry.

A warm-up sweep trains the quickstart's VAE first, so that every measured sweep reads it from the cache
and none pays for it. The objective of a setting is what the search optimises: the normalised area
under the accuracy curve, mean over the sweep's seeds, computed here from each sweep's MLflow runs (the
same numbers for grid and search). Reported per sweep: the best alpha and its objective, alpha 0's
objective, the number of trials, the sweep's wall time (``sweep_seconds`` of the parent run) and the
ratios search / grid measured in this run. Nothing is asserted; the machine's load is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from raysweep.curves import normalised_area
from raysweep.schema import ROLE_SWEEP, ROLE_TAG, ROLE_TRIAL, SWEEP_ID_TAG

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "configs" / "quickstart.yaml"


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def launch(folder: Path, experiment: str, overrides: list[str]) -> tuple[float, int]:
    """One sweep through the CLI in ``folder``; returns the driver's wall seconds and its exit code.

    Exit 1 (some trials failed: on a shared machine Ray's memory monitor may kill one) is reported
    with the numbers of the trials that finished; anything else ends the benchmark."""
    command = [sys.executable, "-m", "raysweep.launch", str(QUICKSTART), "--set", f"experiment={experiment}"]
    for override in overrides:
        command += ["--set", override]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=7200)
    seconds = time.perf_counter() - started
    if result.returncode not in (0, 1):
        sys.exit(
            f"{experiment} failed (exit {result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return seconds, result.returncode


def objectives(folder: Path, experiment: str, heuristic: str) -> dict:
    """Per alpha: mean over seeds of the normalised area under the accuracy curve, from MLflow."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    found = client.search_runs([experiment_id], max_results=1000)
    parent = max(
        (r for r in found if r.data.tags.get(ROLE_TAG) == ROLE_SWEEP), key=lambda r: r.info.start_time
    )
    sweep_id = parent.data.tags[SWEEP_ID_TAG]  # the latest sweep of the experiment only
    runs = [r for r in found if r.data.tags.get(SWEEP_ID_TAG) == sweep_id]
    areas: dict[float, list[float]] = {}
    for run in runs:
        if run.data.tags.get(ROLE_TAG) != ROLE_TRIAL or run.data.params.get("heuristic") != heuristic:
            continue
        if run.info.status != "FINISHED":
            continue
        points = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, "accuracy"))
        steps, values = zip(*points, strict=True)
        areas.setdefault(float(run.data.params["alpha"]), []).append(normalised_area(steps, values))
    means = {alpha: float(np.mean(values)) for alpha, values in areas.items()}
    searched = {alpha: value for alpha, value in means.items() if alpha > 0}
    best = max(searched, key=searched.get)
    return {
        "trials": sum(len(v) for v in areas.values()),
        "alpha0": means.get(0.0, float("nan")),
        "best_alpha": best,
        "best_objective": searched[best],
        "alphas_in_order": [float(a) for a in sorted(searched)],
        "sweep_seconds": parent.data.metrics.get("sweep_seconds", float("nan")),
        "vae_trainings": parent.data.metrics.get("vae_trainings", float("nan")),
        "by_alpha": {f"{a:g}": v for a, v in sorted(means.items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--settings", type=int, default=6, help="N: settings of the search, alphas of the grid"
    )
    parser.add_argument("--search-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--heuristic", default="coreset", choices=["coreset", "medal", "lloss"])
    parser.add_argument("--algorithm", default="optuna")
    parser.add_argument("--low", type=float, default=0.02)
    parser.add_argument("--high", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument(
        "--keep", type=Path, default=None, help="run in this folder (kept) instead of a temp one"
    )
    parser.add_argument(
        "--reuse-grid", action="store_true", help="take the grid from an earlier run in the --keep folder"
    )
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="search_vs_grid_"))
    folder.mkdir(parents=True, exist_ok=True)
    common = [f"sweep.heuristics=[{args.heuristic}]", f"storage={folder / 'runs'}"]
    grid_alphas = [round(float(a), 6) for a in np.geomspace(args.low, args.high, args.settings)]
    print(f"folder {folder}; load average at start: {load()}", flush=True)

    # The VAE of the quickstart once, before anything is timed.
    launch(folder, "warmup", [*common, "sweep.seeds=[0]", "sweep.alphas=[1]", "schedule.rounds=0"])

    rows = {}
    if args.reuse_grid:
        rows["grid"] = {
            **objectives(folder, "grid", args.heuristic),
            "driver_seconds": float("nan"),
            "exit": 0,
        }
    else:
        grid = f"sweep.alphas=[0, {', '.join(f'{a:g}' for a in grid_alphas)}]"
        seconds, code = launch(folder, "grid", [*common, grid])
        rows["grid"] = {**objectives(folder, "grid", args.heuristic), "driver_seconds": seconds, "exit": code}
    print(f"grid done: {json.dumps(rows['grid'])}; load {load()}", flush=True)
    for seed in args.search_seeds:
        name = f"search-seed{seed}"
        block = (
            f"{{algorithm: {args.algorithm}, seed: {seed}, settings: {args.settings}, "
            f"space: {{alpha: {{low: {args.low}, high: {args.high}, scale: log}}}}}}"
        )
        seconds, code = launch(folder, name, [*common, "sweep.alphas=[0]", f"sweep.search={block}"])
        rows[name] = {**objectives(folder, name, args.heuristic), "driver_seconds": seconds, "exit": code}
        print(f"{name} done: {json.dumps(rows[name])}; load {load()}", flush=True)

    grid = rows["grid"]
    print(
        f"\n{args.heuristic} on digits (quickstart settings), N = {args.settings}, seeds of the quickstart; "
        f"objective: mean normalised area under the accuracy curve; load at end {load()}"
    )
    print(
        f"  {'sweep':<16} {'trials':>6} {'alpha 0':>8} {'best alpha':>10} {'best':>8} {'best-grid':>9} "
        f"{'sweep s':>8} {'s/grid':>7} exit"
    )
    for name, row in rows.items():
        print(
            f"  {name:<16} {row['trials']:>6} {row['alpha0']:>8.4f} {row['best_alpha']:>10g} "
            f"{row['best_objective']:>8.4f} {row['best_objective'] - grid['best_objective']:>+9.4f} "
            f"{row['sweep_seconds']:>8.0f} {row['sweep_seconds'] / grid['sweep_seconds']:>7.2f} {row['exit']}"
        )
    if args.out:
        args.out.write_text(
            json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}, indent=2)
        )


if __name__ == "__main__":
    main()
