"""How the shell's own cost grows with a sweep's size: 100, 300, 1,000 tiny trials on a loopback cluster.

    .venv/bin/python benchmarks/cluster_scale.py                          # sizes 100, 300, 1000
    .venv/bin/python benchmarks/cluster_scale.py --sizes 100,300 --out /tmp/scale.json
    .venv/bin/python benchmarks/cluster_scale.py --sizes 300 --profile     # py-spy on the driver
    .venv/bin/python benchmarks/cluster_scale.py --ray local               # the driver's own Ray

Stop it with SIGTERM (or Ctrl-C in a terminal): the sweep and the cluster stop with it.

Starts the cluster the tests use (``tests/helpers/cluster.LocalCluster``: PostgreSQL, an ``mlflow
server`` on it with proxied artifacts, two Ray nodes of one CPU, all on 127.0.0.1) and runs one sweep
per size through the real CLI (``--address``, ``--tracking-uri http://...``), half a CPU per trial
(four at once). The trials are as small as a trial gets, so what is measured is the shell around them:
digits, random and entropy, seeds 0..N/2-1, one round (40 labels, then 80), one epoch. On a cluster
every trial starts in a fresh Ray worker (its imports cost more than such a trial's work); ``--ray
local`` runs the same sweeps on the driver's own Ray instead (no ``--address``: Tune reuses the
workers), same PostgreSQL and MLflow server, which isolates the driver's and tracking's per-trial cost
and runs many more trials per minute (benchmarks/README.md, "Scale").

Per size: trials per minute (N / the driver's wall time, Ray's connect included); the driver's CPU
seconds and peak RSS; Tune's experiment-state saves (count, seconds, the state file's size; timed
inside the driver by ``driver_probe.py``); MLflow calls per trial (the server's access log, minus
the driver's own calls, which the probe counts) and MLflow seconds per trial (each trial's
``tracking_seconds``); checkpoint bytes per trial on the storage path; the gap from one trial's end
to the next trial's start (MLflow run end and start times: a free slot's idle time, a fresh worker's
start included); and whether every run and every step landed exactly once. With ``--profile``, py-spy
samples the driver and the heaviest functions are printed. Nothing is asserted about speed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
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

from driver_probe import endpoint_group  # noqa: E402
from helpers.cluster import LocalCluster  # noqa: E402
from helpers.mlflow_rest import MlflowRest, metrics, tags  # noqa: E402

from raysweep.schema import (  # noqa: E402
    ACCURACY,
    ROLE_TAG,
    ROLE_TRIAL,
    TRACKING_SECONDS_METRIC,
    TRIAL_KEY_TAG,
)

STEPS = [40, 80]
ACCESS_LINE = re.compile(r'"(GET|POST|PUT|PATCH|DELETE) (/[^ ?"]*)')


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


def server_calls(log: Path, offset: int) -> Counter:
    """REST calls the tracking server logged after ``offset`` bytes of its log, by endpoint."""
    with open(log, "rb") as handle:
        handle.seek(offset)
        text = handle.read().decode(errors="replace")
    calls: Counter = Counter()
    for method, path in ACCESS_LINE.findall(text):
        if path == "/health":
            continue
        calls[f"{method} {endpoint_group(path)}"] += 1
    return calls


def gaps_between_trials(runs: list[dict]) -> list[float]:
    """For each trial that started after another ended: its start minus the latest end before it (s)."""
    ends = sorted(int(r["info"]["end_time"]) for r in runs if r["info"].get("end_time"))
    gaps = []
    for run in runs:
        start = int(run["info"]["start_time"])
        before = [e for e in ends if e <= start]
        if before:
            gaps.append((start - before[-1]) / 1000)
    return gaps


def quantile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


def py_spy() -> str:
    return shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")


def folder_bytes(folder: Path, pattern: str = "*") -> int:
    return sum(p.stat().st_size for p in folder.rglob(pattern) if p.is_file())


def profile_summary(raw: Path, top: int = 20) -> list[str]:
    """py-spy's raw (collapsed) stacks: the functions holding most samples, inclusive and by themselves."""
    inclusive: Counter = Counter()
    own: Counter = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = stack.split(";")
        for frame in set(frames):
            inclusive[frame] += samples
        own[frames[-1]] += samples
    lines = [f"{total} samples of the driver's threads; inclusive share, then own share:"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in inclusive.most_common(top)]
    lines.append("  --- own")
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in own.most_common(top)]
    return lines


def run_size(cluster: LocalCluster, trials: int, folder: Path, profile: bool, ray: str) -> dict:
    experiment = f"cluster-scale-{trials}"
    config = folder / f"{experiment}.yaml"
    config.write_text(sweep_yaml(trials, experiment))
    storage = folder / f"runs-{trials}"
    stats = folder / f"{experiment}.driver.json"
    command = [sys.executable, str(REPO / "benchmarks" / "driver_probe.py"), str(stats), str(config)]
    command += ["--tracking-uri", cluster.tracking_uri, "--storage", str(storage)]
    if ray == "cluster":
        command += ["--address", cluster.ray_address]
    server_log = cluster.root / "mlflow.log"
    offset = server_log.stat().st_size
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    with open(folder / f"{experiment}.log", "wb") as log:
        driver = subprocess.Popen(
            command,
            cwd=folder,
            env={
                # Ray kills workers once the machine's memory is 95% used, whoever uses it; on a host
                # shared with other jobs that ends sweeps mid-way. Only at 99% here.
                "RAY_memory_usage_threshold": "0.99",
                **os.environ,
                **cluster.ray_env,
                "PYTHONPATH": str(REPO),
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        spy = None
        if profile:
            raw = folder / f"{experiment}.pyspy.txt"
            spy = subprocess.Popen(
                [
                    py_spy(),
                    "record",
                    "--pid",
                    str(driver.pid),
                    "--rate",
                    "20",
                    "--format",
                    "raw",
                    "--output",
                    str(raw),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        try:
            driver.wait()
        finally:
            if driver.poll() is None:  # the benchmark was stopped: stop the sweep too
                driver.terminate()
                driver.wait(timeout=120)
        if spy is not None:
            spy.wait(timeout=120)
    wall = time.perf_counter() - started
    load_after = os.getloadavg()[0]
    if driver.returncode != 0:
        tail = (folder / f"{experiment}.log").read_text(errors="replace")[-3000:]
        raise SystemExit(f"the {trials}-trial sweep exited {driver.returncode}:\n{tail}")
    probe = json.loads(stats.read_text())

    rest = MlflowRest(cluster.tracking_uri)
    runs = rest.search_runs(rest.experiment_id(experiment))
    trial_runs = [r for r in runs if tags(r).get(ROLE_TAG) == ROLE_TRIAL]
    keys = Counter(tags(r)[TRIAL_KEY_TAG] for r in trial_runs)
    steps_once = all(
        sorted(int(m["step"]) for m in rest.metric_history(r["info"]["run_id"], ACCURACY)) == STEPS
        for r in trial_runs
    )
    tracking = [metrics(r)[TRACKING_SECONDS_METRIC] for r in trial_runs]
    gaps = gaps_between_trials(trial_runs)
    calls = server_calls(server_log, offset)
    driver_calls = Counter(probe["mlflow_calls"])
    trial_calls = calls - driver_calls
    [sweep_dir] = [p for p in (storage / experiment).iterdir() if p.is_dir()]
    result = {
        "trials": trials,
        "ray": ray,
        "one_run_per_trial": len(keys) == trials and set(keys.values()) == {1},
        "every_step_once": steps_once,
        "wall_seconds": wall,
        "trials_per_minute": trials / wall * 60,
        "load_average_before_after": [load_before, load_after],
        # The driver process alone (its getrusage at exit): with --ray local, Ray's own processes
        # are its children and are left out.
        "driver_cpu_seconds": probe["cpu_seconds"],
        "driver_cpu_seconds_per_trial": probe["cpu_seconds"] / trials,
        "driver_peak_rss_mib": probe["peak_rss_bytes"] / 2**20,
        "tune_state_saves": probe["tune_state_saves"],
        "tune_state_save_seconds": probe["tune_state_save_seconds"],
        "tune_state_save_max_seconds": probe["tune_state_save_max_seconds"],
        "tune_state_kib": probe["tune_state_bytes"] / 1024,
        "driver_mlflow_calls": sum(driver_calls.values()),
        "driver_mlflow_seconds": probe["mlflow_seconds"],
        "trial_mlflow_calls_per_trial": sum(trial_calls.values()) / trials,
        "trial_mlflow_calls_by_endpoint_per_trial": {
            k: v / trials for k, v in sorted(trial_calls.items(), key=lambda kv: -kv[1])
        },
        "tracking_seconds_per_trial_mean": statistics.fmean(tracking),
        "tracking_seconds_per_trial_p90": quantile(tracking, 0.9),
        "checkpoint_kib_per_trial": folder_bytes(sweep_dir, "checkpoint_*/*") / 1024 / trials,
        "sweep_folder_kib_per_trial": folder_bytes(sweep_dir) / 1024 / trials,
        "gap_end_to_next_start_median_s": quantile(gaps, 0.5),
        "gap_end_to_next_start_p90_s": quantile(gaps, 0.9),
    }
    if profile:
        result["driver_profile"] = profile_summary(folder / f"{experiment}.pyspy.txt")
    return result


def print_table(results: list[dict]) -> None:
    rows = [
        ("trials/min", "trials_per_minute", "{:.1f}"),
        ("driver CPU s", "driver_cpu_seconds", "{:.0f}"),
        ("driver CPU s / trial", "driver_cpu_seconds_per_trial", "{:.2f}"),
        ("driver peak RSS MiB", "driver_peak_rss_mib", "{:.0f}"),
        ("Tune state saves", "tune_state_saves", "{}"),
        ("Tune state save s (total)", "tune_state_save_seconds", "{:.1f}"),
        ("Tune state save s (max)", "tune_state_save_max_seconds", "{:.3f}"),
        ("Tune state file KiB", "tune_state_kib", "{:.0f}"),
        ("driver MLflow calls", "driver_mlflow_calls", "{}"),
        ("driver MLflow s", "driver_mlflow_seconds", "{:.1f}"),
        ("trial MLflow calls / trial", "trial_mlflow_calls_per_trial", "{:.1f}"),
        ("MLflow s / trial (mean)", "tracking_seconds_per_trial_mean", "{:.2f}"),
        ("MLflow s / trial (p90)", "tracking_seconds_per_trial_p90", "{:.2f}"),
        ("checkpoint KiB / trial", "checkpoint_kib_per_trial", "{:.1f}"),
        ("sweep folder KiB / trial", "sweep_folder_kib_per_trial", "{:.1f}"),
        ("end -> next start s (median)", "gap_end_to_next_start_median_s", "{:.2f}"),
        ("end -> next start s (p90)", "gap_end_to_next_start_p90_s", "{:.2f}"),
        ("one run per trial", "one_run_per_trial", "{}"),
        ("every step once", "every_step_once", "{}"),
    ]
    print(f"  {'':<30}" + "".join(f"{r['trials']:>10}" for r in results))
    for label, key, form in rows:
        print(f"  {label:<30}" + "".join(f"{form.format(r[key]):>10}" for r in results))
    for r in results:
        print(
            f"  {r['trials']} trials: load average {r['load_average_before_after'][0]:.1f} -> "
            f"{r['load_average_before_after'][1]:.1f}; trial calls per trial by endpoint: "
            + ", ".join(f"{k} {v:.2f}" for k, v in r["trial_mlflow_calls_by_endpoint_per_trial"].items())
        )
        for line in r.get("driver_profile", []):
            print(f"  {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,300,1000", help="trial counts, even, comma-separated")
    parser.add_argument("--profile", action="store_true", help="sample the driver with py-spy")
    parser.add_argument("--out", type=Path, help="also write the numbers to this JSON file")
    parser.add_argument("--keep", type=Path, help="keep each sweep's logs and folders here (a new folder)")
    parser.add_argument(
        "--ray",
        choices=("cluster", "local"),
        default="cluster",
        help="trials on the loopback cluster's two nodes (default), or on the driver's own Ray",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if any(n < 4 or n % 2 for n in sizes):
        parser.error("--sizes: even numbers >= 4")
    if args.profile and not Path(py_spy()).exists():
        parser.error("--profile needs py-spy (pip install py-spy)")

    # SIGTERM (and SIGINT, which a background job ignores) stops the cluster on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start"
    cluster = LocalCluster.start(ray_nodes=args.ray == "cluster")
    results = []
    folder = args.keep or Path(tempfile.mkdtemp(prefix="rs-scale-"))
    folder.mkdir(
        parents=True, exist_ok=args.keep is None
    )  # a kept folder is new: sweeps are found by listing
    try:
        for trials in sizes:
            results.append(run_size(cluster, trials, folder, args.profile, args.ray))
            print(f"{trials} trials done: {results[-1]['wall_seconds']:.0f} s", flush=True)
            if args.out:  # after each size: a long run keeps what it measured
                args.out.write_text(json.dumps({"machine": machine, "sizes": results}, indent=2))
    finally:
        cluster.stop()
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    where = "two loopback Ray nodes of one CPU" if args.ray == "cluster" else "the driver's own Ray"
    print(f"{where}, four trials at once ({machine}):")
    print_table(results)


if __name__ == "__main__":
    main()
