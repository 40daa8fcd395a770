"""Fixtures of the end-to-end tests: the sweep drivers a test starts (killed at its end, whatever is
left of them) and the loopback cluster a module's tests share (the S3 server and buckets are
``tests/conftest.py``'s)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers.cluster import LocalCluster, start_cluster_or_skip
from helpers.drivers import Driver
from helpers.processes import pids_in_group


@pytest.fixture
def drivers() -> Iterator[list[Driver]]:
    """Every sweep driver a test starts; whatever is left of them is killed when the test ends,
    also when it fails."""
    started: list[Driver] = []
    yield started
    for driver in started:
        driver.kill()


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """Two Ray nodes, PostgreSQL and an ``mlflow server`` on 127.0.0.1 (``helpers.cluster``), shared by
    the module's tests; stopped at its end, and nothing of it may be left."""
    running = start_cluster_or_skip()
    try:
        yield running
    finally:
        groups = [m.process.pid for m in running.processes]
        running.stop()
        leftovers = {pgid: pids_in_group(pgid) for pgid in groups if pids_in_group(pgid)}
        detail = {f"start {k}": v for k, v in running.started_seconds.items()}
        detail |= {f"stop {k}": v for k, v in running.stopped_seconds.items()}
        print("\ncluster timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in detail.items()))
        assert not leftovers, f"processes left behind: {leftovers}"
