"""Faults a cluster meets, on docker/compose.yaml's topology without containers (two Ray nodes, an
``mlflow server`` on PostgreSQL, all on 127.0.0.1; see ``helpers.cluster.LocalCluster``):

- the tracking server down for 60 s, then back: unnoticed;
- PostgreSQL restarted under the running tracking server: unnoticed;
- an outage past ``--tracking-outage-limit``: the trials fail naming the tracking URI, and Tune's
  retry, or a later ``--resume``, continues from the last round;
- a Ray worker node lost mid-trajectory (every process of it SIGKILLed, as ``ray stop --force``
  does): its trials rerun from their last checkpoint on the other node, and a node that joins
  later is used.

In every case each trial's curve has every step exactly once. The cluster is shared by the tests
of this module; each sweep has its own experiment. Slow (minutes per sweep): ``pytest -m faults``.
"""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import pytest
from helpers.cluster import LocalCluster
from helpers.drivers import Driver
from helpers.fault_sweep import checkpoint_dirs, fault_sweep_steps, write_fault_sweep
from helpers.sweep_results import steps_logged, sweep_runs

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.cluster, pytest.mark.timeout(1500)]

ROUNDS = 4


def start_sweep(
    cluster: LocalCluster, tmp_path: Path, name: str, *extra: str, seeds: str = "0, 1, 2, 3", **config: object
) -> tuple[Driver, list[str]]:
    """A random-heuristic sweep on the cluster, half a CPU per trial (two per node)."""
    path = write_fault_sweep(
        tmp_path, rounds=ROUNDS, seeds=seeds, cpu=0.5, experiment=f"faults-{name}", **config
    )
    args = [
        str(path),
        "--address",
        cluster.ray_address,
        "--tracking-uri",
        cluster.tracking_uri,
        "--storage",
        str(cluster.root / "shared" / name),
        *extra,
    ]
    return Driver.start(tmp_path, args, env=cluster.ray_env, name=name), args


def assert_every_step_once(cluster: LocalCluster, name: str, n_trials: int) -> list:
    client, parents, trials = sweep_runs(cluster.tracking_uri, f"faults-{name}")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert len(trials) == n_trials and all(t.info.status == "FINISHED" for t in trials)
    for key, steps in steps_logged(client, trials).items():
        assert steps == fault_sweep_steps(ROUNDS), key
    return trials


def started_training(storage: Path) -> bool:
    return bool(checkpoint_dirs(storage))


def test_tracking_server_down_60s_passes_unnoticed(
    cluster: LocalCluster, tmp_path: Path, drivers: list[Driver]
) -> None:
    driver, _ = start_sweep(cluster, tmp_path, "outage60")
    drivers.append(driver)
    driver.wait_until(
        lambda: started_training(cluster.root / "shared" / "outage60"), "a first checkpoint", 600
    )
    cluster.kill("mlflow")  # SIGKILL: a crashed server, requests cut mid-flight
    time.sleep(60)
    cluster.restart_mlflow()
    assert driver.wait(timeout=900) == 0, driver.output[-4000:]
    output = driver.output
    assert f"MLflow at {cluster.tracking_uri} unreachable" in output  # the trials did meet the outage
    assert "reachable again after" in output
    assert "Trial task failed" not in output and "trial(s) failed" not in output
    assert_every_step_once(cluster, "outage60", 4)


def test_postgres_restarted_under_the_tracking_server(
    cluster: LocalCluster, tmp_path: Path, drivers: list[Driver]
) -> None:
    server_pid = cluster.managed("mlflow").process.pid
    driver, _ = start_sweep(cluster, tmp_path, "pgrestart")
    drivers.append(driver)
    driver.wait_until(
        lambda: started_training(cluster.root / "shared" / "pgrestart"), "a first checkpoint", 600
    )
    cluster.kill("postgres", signal.SIGINT)  # PostgreSQL's fast shutdown: sessions end, server exits
    time.sleep(30)
    cluster.restart_postgres()
    assert driver.wait(timeout=900) == 0, driver.output[-4000:]
    assert cluster.managed("mlflow").process.pid == server_pid  # the same server throughout
    output = driver.output
    assert f"MLflow at {cluster.tracking_uri} unreachable" in output
    assert "Trial task failed" not in output and "trial(s) failed" not in output
    assert_every_step_once(cluster, "pgrestart", 4)


def test_outage_past_the_limit_fails_the_trial_and_its_retry_continues(
    cluster: LocalCluster, tmp_path: Path, drivers: list[Driver]
) -> None:
    """``--tracking-outage-limit 30`` and a 35-s outage (plus the server's restart): a trial waiting
    on MLflow fails after 30 s naming the URI; Tune's retry (max_failures 1) finds the server back
    within its own 30 s and continues from its last checkpoint."""
    driver, _ = start_sweep(cluster, tmp_path, "retry", "--tracking-outage-limit", "30", max_failures=1)
    drivers.append(driver)
    driver.wait_until(lambda: started_training(cluster.root / "shared" / "retry"), "a first checkpoint", 600)
    cluster.kill("mlflow")
    time.sleep(35)
    cluster.restart_mlflow()
    assert driver.wait(timeout=900) == 0, driver.output[-4000:]
    output = driver.output
    assert (
        f"TrackingUnavailable: MLflow tracking store {cluster.tracking_uri} unreachable for" in output
        and "past the outage limit of 30s (--tracking-outage-limit)" in output
    ), output[-4000:]
    assert re.search(r"\] resuming from checkpoint_\d+ at round [1-9]", output)
    assert "trial(s) failed" not in output
    assert_every_step_once(cluster, "retry", 4)


def test_outage_past_the_limit_then_resume_finishes(
    cluster: LocalCluster, tmp_path: Path, drivers: list[Driver]
) -> None:
    """No retries left: the trials fail naming the URI, the sweep exits 1 and says how to resume;
    with the server back, ``--resume`` finishes every trial from its last round."""
    driver, args = start_sweep(cluster, tmp_path, "resume", "--tracking-outage-limit", "15", max_failures=0)
    drivers.append(driver)
    driver.wait_until(lambda: started_training(cluster.root / "shared" / "resume"), "a first checkpoint", 600)
    cluster.kill("mlflow")
    assert driver.wait(timeout=600) == 1, driver.output[-4000:]
    cluster.restart_mlflow()
    output = driver.output
    failures = [
        line for line in output.split("trial(s) failed:", 1)[1].splitlines() if line.startswith("  digits/")
    ]
    assert failures, output[-4000:]
    for line in failures:
        assert f"MLflow tracking store {cluster.tracking_uri} unreachable" in line, line
    assert "Resume the sweep" in output

    resumed = Driver.start(tmp_path, [*args, "--resume"], env=cluster.ray_env, name="resumed")
    drivers.append(resumed)
    assert resumed.wait(timeout=900) == 0, resumed.output[-4000:]
    assert re.search(r"\] resuming from checkpoint_\d+ at round [1-9]", resumed.output)
    assert_every_step_once(cluster, "resume", 4)


def test_lost_worker_node_reruns_trials_and_a_returning_node_is_used(
    cluster: LocalCluster, tmp_path: Path, drivers: list[Driver]
) -> None:
    seeds = ", ".join(str(s) for s in range(10))
    driver, _ = start_sweep(cluster, tmp_path, "nodeloss", seeds=seeds)
    drivers.append(driver)
    lost_node = cluster.ray_node_id("ray-worker")  # the driver and the stores are on the head
    storage = cluster.root / "shared" / "nodeloss"

    def training_on_the_worker() -> list[str]:
        """Keys of unfinished trials running on the worker node that have a checkpoint."""
        try:
            _, _, trials = sweep_runs(cluster.tracking_uri, "faults-nodeloss")
        except AttributeError:  # the experiment does not exist yet
            return []
        checkpointed = {folder.parent.name.rsplit("-", 1)[0] for folder in checkpoint_dirs(storage)}
        return [
            t.data.tags["raysweep.trial_key"]
            for t in trials
            if t.data.tags.get("raysweep.node_id") == lost_node
            and t.info.status == "RUNNING"
            and t.data.tags["raysweep.trial_key"].replace("/", "-") in checkpointed
        ]

    driver.wait_until(lambda: bool(training_on_the_worker()), "a checkpointed trial on the worker node", 600)
    on_lost_node = training_on_the_worker()
    cluster.kill_ray_node("ray-worker")
    lost_dirs = [key.replace("/", "-") for key in on_lost_node]
    driver.wait_until(
        lambda: any(f"Trial task failed for trial {name}" in driver.output for name in lost_dirs),
        "Tune seeing the lost node's trials fail",
        300,
    )
    cluster.add_ray_node("ray-worker-2")
    returned = cluster.ray_node_id("ray-worker-2")
    assert driver.wait(timeout=1200) == 0, driver.output[-4000:]

    output = driver.output
    assert "trial(s) failed" not in output
    for key in on_lost_node:  # every lost trial continued from a checkpoint, none started over
        assert re.search(rf"\[{re.escape(key)}\] resuming from checkpoint_\d+ at round [1-9]", output), key
    trials = assert_every_step_once(cluster, "nodeloss", 10)
    nodes = {t.data.tags["raysweep.node_id"] for t in trials}
    assert returned in nodes, "no trial ran on the node that joined after the loss"
