"""Tracking under load: many short trials through one ``mlflow server`` on PostgreSQL vs SQLite.

    .venv/bin/python benchmarks/tracking_load.py                 # 200 trials per backend
    .venv/bin/python benchmarks/tracking_load.py --trials 40     # a shorter run

Starts the cluster the tests use (``tests/helpers/cluster.LocalCluster``: two Ray nodes of one CPU
each, PostgreSQL and an ``mlflow server`` with proxied artifacts, all on 127.0.0.1), then runs the
same sweep twice through the real CLI on that cluster, half a CPU per trial (four at once):

* ``server``: ``--tracking-uri http://127.0.0.1:PORT`` (the server on PostgreSQL);
* ``sqlite``: the launcher's default, ``sqlite:///mlflow.db`` in the driver's folder (one machine,
  so both nodes reach the file).

Both sweeps use the same Ray cluster, trials, resources and Tune settings, so their difference is the
tracking backend. The sweep: digits, random and entropy (no VAE), seeds 0..N/2-1, 2 rounds (40 then
80 labels), one epoch each. Per backend it reports trials per minute (trials / the sweep's wall
time, Ray's connect included) and the tracking time per trial: the ``tracking_seconds`` metric each
trial logs, the wall time its process spent in MLflow calls (attach, params, per-round metrics,
artifacts, status). It checks that every run and every step landed exactly once, and writes all
numbers to ``--out`` (JSON) when asked. Nothing is asserted about speed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The test suite's cluster helpers, reused as they are. The repository goes first: tests/raysweep (a
# folder of tests without __init__.py) would otherwise be found as a namespace package named raysweep
# before the editable install's finder is asked, and hide the real one.
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from helpers.cluster import LocalCluster  # noqa: E402

from raysweep.schema import NODE_TAG, ROLE_TAG, ROLE_TRIAL, TRIAL_KEY_TAG  # noqa: E402

STEPS = [40, 80]


def sweep_yaml(trials: int, experiment: str) -> str:
    seeds = ", ".join(str(s) for s in range(trials // 2))
    return (
        f"experiment: {experiment}\n"
        f"sweep: {{datasets: [digits], heuristics: [random, entropy], seeds: [{seeds}]}}\n"
        "dataset: {pool_size: 400, eval_size: 300}\n"
        "model: {pretrained: false}\n"
        "training: {lr: 0.01, batch_size: 32, initial_epochs: 1, epochs_per_round: 0}\n"
        "schedule: {initial_labels: 40, labels_per_round: 40, rounds: 1}\n"
        "resources: {cpu: 0.5, gpu: 0}\n"
    )


def run_backend(
    cluster: LocalCluster, name: str, trials: int, folder: Path, tracking_uri: str | None
) -> dict:
    """One sweep through the CLI; its wall time and what MLflow holds of it."""
    from mlflow.tracking import MlflowClient

    experiment = f"tracking-load-{name}"
    config = folder / f"{name}.yaml"
    config.write_text(sweep_yaml(trials, experiment))
    command = [sys.executable, "-m", "raysweep.launch", str(config), "--address", cluster.ray_address]
    command += ["--storage", str(folder / f"runs-{name}")]
    if tracking_uri:
        command += ["--tracking-uri", tracking_uri]
    started = time.perf_counter()
    with open(folder / f"{name}.log", "wb") as log:
        result = subprocess.run(
            command, cwd=folder, env={**os.environ, **cluster.ray_env}, stdout=log, stderr=subprocess.STDOUT
        )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        tail = (folder / f"{name}.log").read_text(errors="replace")[-3000:]
        raise SystemExit(f"the {name} sweep exited {result.returncode}:\n{tail}")

    client = MlflowClient(tracking_uri or f"sqlite:///{folder / 'mlflow.db'}")
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    runs = client.search_runs([experiment_id], max_results=10000)
    trial_runs = [r for r in runs if r.data.tags.get(ROLE_TAG) == ROLE_TRIAL]
    keys = Counter(r.data.tags[TRIAL_KEY_TAG] for r in trial_runs)
    steps_once = all(
        sorted(m.step for m in client.get_metric_history(r.info.run_id, "accuracy")) == STEPS
        for r in trial_runs
    )
    tracking = [r.data.metrics["tracking_seconds"] for r in trial_runs]
    nodes = Counter(r.data.tags.get(NODE_TAG, "?")[:8] for r in trial_runs)
    return {
        "trials": trials,
        "runs": len(trial_runs),
        "one_run_per_trial": len(keys) == trials and set(keys.values()) == {1},
        "every_step_once": steps_once,
        "wall_seconds": wall,
        "trials_per_minute": trials / wall * 60,
        "tracking_seconds_per_trial_mean": statistics.fmean(tracking),
        "tracking_seconds_per_trial_median": statistics.median(tracking),
        "tracking_seconds_per_trial_p90": statistics.quantiles(tracking, n=10)[-1],
        "trials_per_node": dict(nodes),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=200, help="trials per backend (even; default 200)")
    parser.add_argument("--out", type=Path, help="also write the numbers to this JSON file")
    args = parser.parse_args()
    if args.trials < 4 or args.trials % 2:
        parser.error("--trials must be an even number >= 4")

    load_before = os.getloadavg()
    cluster = LocalCluster.start()
    results = {}
    try:
        with tempfile.TemporaryDirectory(prefix="rs-load-") as tmp:
            folder = Path(tmp)
            results["server"] = run_backend(cluster, "server", args.trials, folder, cluster.tracking_uri)
            results["sqlite"] = run_backend(cluster, "sqlite", args.trials, folder, None)
    finally:
        cluster.stop()

    server, sqlite = results["server"], results["sqlite"]
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load average {load_before[0]:.1f} at start",
        "backends": results,
        "ratios": {
            "trials_per_minute server/sqlite": server["trials_per_minute"] / sqlite["trials_per_minute"],
            "tracking_seconds_per_trial server/sqlite": server["tracking_seconds_per_trial_mean"]
            / sqlite["tracking_seconds_per_trial_mean"],
        },
    }
    print(f"{args.trials} trials per backend on two loopback Ray nodes ({report['machine']}):")
    print(
        f"  {'backend':<8} {'runs':>5} {'steps once':>10} {'trials/min':>11} {'tracking s/trial (mean, median, p90)':>38}"
    )
    for name, row in results.items():
        print(
            f"  {name:<8} {row['runs']:>5} {row['every_step_once']!s:>10} {row['trials_per_minute']:>11.1f} "
            f"{row['tracking_seconds_per_trial_mean']:>20.2f} {row['tracking_seconds_per_trial_median']:>7.2f} "
            f"{row['tracking_seconds_per_trial_p90']:>7.2f}"
        )
    for name, ratio in report["ratios"].items():
        print(f"  {name}: {ratio:.2f}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
        print(f"written to {args.out}")


if __name__ == "__main__":
    main()
