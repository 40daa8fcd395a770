"""Fixtures of the end-to-end tests: the sweep drivers a test starts (killed at its end, whatever is
left of them), the loopback cluster a module's tests share, and an S3 API server with a fresh bucket
per test (the sweeps whose storage is a bucket)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers.cluster import LocalCluster, start_cluster_or_skip
from helpers.drivers import Driver
from helpers.processes import pids_in_group
from helpers.s3 import CREDENTIALS, S3Server, start_s3_or_skip


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


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One S3 API server (moto's server mode, ``helpers.s3``) on 127.0.0.1 for the session's end-to-end tests,
    stopped by PID at its end; skipped where moto's server is not installed."""
    server = start_s3_or_skip(tmp_path_factory.mktemp("s3"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket on the session's S3 server, with the AWS credential variables set for this test
    (and the processes it starts)."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    return s3_server.new_bucket()
