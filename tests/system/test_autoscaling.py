"""GPU trials on a cluster whose GPU nodes the autoscaler starts from zero (KubeRay's usual GPU worker
group), on Ray's fake autoscaling cluster (``tests/helpers/autoscaling.py``): a head with CPUs only and
a ``gpu`` node type with ``min_workers: 0``.

- The launcher does not refuse GPU trials there (it did: exit 2 on the cluster's current capacity);
  the encoder reservation and the trials wait, the autoscaler adds the GPU node, the sweep finishes
  with every trial on that node.
- A trial shape no node will ever have (2 GPUs per trial; autoscaler v1 does not say what it can add)
  is not waited for forever: the encoder reservation times out (``RAYSWEEP_RESOURCE_WAIT_S``) with a
  message naming what it waited for, the sweep ends with exit 1 and a resume command.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.autoscaling import FakeAutoscalingCluster
from helpers.cluster import LocalCluster, start_cluster_or_skip
from helpers.mlflow_rest import MlflowRest, tags
from helpers.paths import QUICKSTART

# 6 minutes on loaded 2 cores: .ci/run's second step
pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(1500)]

SLICE = ["--smoke", "--set", "sweep.heuristics=[random,coreset]", "--set", "sweep.alphas=[0,1]"]
SLICE += ["--set", "sweep.seeds=[0]", "--set", "resources.cpu=1"]
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def tracking() -> Iterator[LocalCluster]:
    """An MLflow server (on SQLite) for the sweeps: a tracking file is refused on an autoscaling cluster."""
    running = start_cluster_or_skip(postgres=False, ray_nodes=False)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def autoscaling() -> Iterator[FakeAutoscalingCluster]:
    gpu_node = {"resources": {"CPU": 2, "GPU": 1}, "min_workers": 0, "max_workers": 1}
    started = time.perf_counter()
    cluster = FakeAutoscalingCluster.start(head_cpus=1, worker_node_types={"gpu": gpu_node})
    TIMINGS["fake cluster start"] = time.perf_counter() - started
    try:
        yield cluster
    finally:
        cluster.stop()
        print("\nautoscaling test timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in TIMINGS.items()))


def launch(cluster: FakeAutoscalingCluster, tracking: LocalCluster, cwd: Path, *args: str, env=None):
    command = [sys.executable, "-m", "raysweep.launch", str(QUICKSTART), *SLICE, *args]
    command += [
        "--address",
        cluster.address,
        "--tracking-uri",
        tracking.tracking_uri,
        "--storage",
        str(cwd / "runs"),
    ]
    return subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, **cluster.env, **(env or {})},
        capture_output=True,
        text=True,
        timeout=1200,
    )


def test_a_trial_shape_no_node_has_times_out_naming_what_it_waited_for(
    autoscaling: FakeAutoscalingCluster, tracking: LocalCluster, tmp_path: Path
) -> None:
    started = time.perf_counter()
    result = launch(
        autoscaling,
        tracking,
        tmp_path,
        "--set",
        "resources.gpu=2",
        "--set",
        "experiment=never-placed",
        env={"RAYSWEEP_RESOURCE_WAIT_S": "45"},
    )
    TIMINGS["timed-out reservation"] = time.perf_counter() - started
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-4000:]
    assert "trials wait for GPU nodes" in result.stdout  # not refused: the autoscaler might add them
    [error] = [line for line in result.stderr.splitlines() if line.startswith("error: waited")]
    assert "waited 45s for one node with CPU 1, GPU 2 free" in error
    assert "reserved to train the pool encoders" in error and "RAYSWEEP_RESOURCE_WAIT_S" in error
    assert "--resume" in result.stdout
    rest = MlflowRest(tracking.tracking_uri)
    [parent] = [
        r for r in rest.search_runs(rest.experiment_id("never-placed")) if tags(r)["raysweep.role"] == "sweep"
    ]
    assert parent["info"]["status"] == "FAILED"


def test_gpu_trials_wait_for_the_gpu_node_the_autoscaler_adds(
    autoscaling: FakeAutoscalingCluster, tracking: LocalCluster, tmp_path: Path
) -> None:
    started = time.perf_counter()
    result = launch(autoscaling, tracking, tmp_path, "--set", "resources.gpu=0.5")
    TIMINGS["sweep on the added GPU node"] = time.perf_counter() - started
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "the Ray cluster has 0 GPUs now and an autoscaler runs" in result.stdout
    rest = MlflowRest(tracking.tracking_uri)
    runs = rest.search_runs(rest.experiment_id("raysweep-quickstart"))
    trials = [r for r in runs if tags(r)["raysweep.role"] == "trial"]
    assert len(trials) == 3 and all(r["info"]["status"] == "FINISHED" for r in trials)
    # The head has no GPU: every trial ran on the node the autoscaler started for them.
    assert {tags(r)["raysweep.node_id"] for r in trials} == {autoscaling.added_node_id(1)}
