"""Storage that not every node sees is refused before anything trains.

Two loopback Ray nodes share this machine's filesystem; a third starts in a mount namespace of its own
with a tmpfs over the storage path (``unshare --mount`` as root), as a worker without the NFS mount
would: the path exists there but holds other files. The launch must end with exit 2 naming that node
and the path, and leave nothing behind (no sweep folder, no MLflow experiment, no probe files).
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.cluster import LocalCluster, start_cluster_or_skip
from helpers.mlflow_rest import MlflowRest
from helpers.paths import QUICKSTART

pytestmark = [pytest.mark.system, pytest.mark.cluster, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    if os.geteuid() != 0:
        pytest.skip("a mount namespace of its own for one Ray node needs root (unshare --mount)")
    running = start_cluster_or_skip(postgres=False)
    try:
        yield running
    finally:
        running.stop()


def test_a_node_that_does_not_see_the_storage_fails_the_launch(cluster: LocalCluster, tmp_path: Path) -> None:
    storage = tmp_path / "shared_runs"
    storage.mkdir()
    # The node's own view of the storage path: an empty tmpfs, mounted before `ray start` runs.
    private_view = ["unshare", "--mount", "--propagation", "private", "sh", "-c"]
    private_view += ['mount -t tmpfs raysweep-private "$0" && exec "$@"', str(storage)]
    cluster.add_ray_node("ray-private", wrap=private_view)
    private_node = cluster.ray_node_id("ray-private")
    shared_nodes = {cluster.ray_node_id("ray-head"), cluster.ray_node_id("ray-worker")}

    command = [
        sys.executable,
        "-m",
        "raysweep.launch",
        str(QUICKSTART),
        "--smoke",
        "--address",
        cluster.ray_address,
    ]
    command += ["--tracking-uri", cluster.tracking_uri, "--storage", str(storage)]
    result = subprocess.run(
        command,
        cwd=tmp_path,
        env={**os.environ, **cluster.ray_env},
        capture_output=True,
        text=True,
        timeout=420,
    )
    assert result.returncode == 2, result.stdout[-3000:] + result.stderr[-3000:]
    [error] = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert f"the storage {storage} is not the same on every Ray node" in error
    assert f"node {private_node}" in error and f"cannot read {storage}/.raysweep-probe/" in error
    assert not any(node in error for node in shared_nodes)  # the nodes that see it are not blamed
    assert "Traceback" not in result.stderr
    # Refused before anything was written: the probe's files are gone, no sweep, no MLflow run.
    assert list(storage.iterdir()) == []
    with pytest.raises(urllib.error.HTTPError):
        MlflowRest(cluster.tracking_uri).experiment_id("raysweep-quickstart")
