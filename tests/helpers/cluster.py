"""The docker/compose.yaml topology without containers, on 127.0.0.1, for the ``cluster`` tests.

``LocalCluster.start()`` brings up, each as a child process of the test with its own process group
(:mod:`helpers.supervisor`):

- a real PostgreSQL server (:mod:`helpers.postgres`), or none: MLflow on a SQLite file of its own;
- ``mlflow server`` on that database with proxied artifact serving into a temp folder and
  ``--allowed-hosts``, as in compose (:mod:`helpers.mlflow_server`);
- a Ray head and a second Ray node (:mod:`helpers.ray_nodes`), the head optionally with its dashboard
  and job server (``ray job submit``), or no Ray at all (the tracking services alone).

``stop()`` ends exactly what it started, by process group, and runs from the fixture's teardown,
so also when a test fails. The faults a test injects (a killed server, a restarted database, a lost
node) are methods here too.
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from helpers.mlflow_server import MlflowServer
from helpers.postgres import Postgres, postgres_bin_dir
from helpers.processes import VENV_BIN
from helpers.ray_nodes import RayNodes
from helpers.supervisor import ClusterUnavailable, Managed, Supervisor

REQUIRE_CLUSTER_ENV = "RAYSWEEP_REQUIRE_CLUSTER"
"""Set to 1 (``.ci/run`` does): a cluster that cannot start fails its tests instead of skipping them."""


Started = TypeVar("Started")


def start_cluster_or_skip(
    start: Callable[..., Started] | None = None, **options: Any
) -> Started | LocalCluster:
    """``LocalCluster.start(**options)`` (or ``start(**options)``: a variant's, a server's alone) for a
    test fixture.

    A missing prerequisite skips the test on a developer's machine; with ``RAYSWEEP_REQUIRE_CLUSTER=1``
    (CI, where PostgreSQL is installed on purpose) it fails it, so a broken install cannot pass as
    skipped tests. Any other failure to start is an error either way.
    """
    import pytest

    try:
        return (start or LocalCluster.start)(**options)
    except ClusterUnavailable as exc:
        if os.environ.get(REQUIRE_CLUSTER_ENV, "") not in ("", "0"):
            pytest.fail(f"{REQUIRE_CLUSTER_ENV} is set but the cluster cannot start: {exc}", pytrace=False)
        pytest.skip(f"cluster prerequisites missing: {exc}")


@dataclass
class LocalCluster:
    supervisor: Supervisor
    postgres: Postgres | None
    """None: MLflow's backend is a SQLite file of the server's own (no PostgreSQL started)."""
    mlflow: MlflowServer
    ray: RayNodes
    started_seconds: dict[str, float] = field(default_factory=dict)

    @classmethod
    def start(
        cls,
        postgres: bool = True,
        dashboard: bool = False,
        node_env: dict[str, str] | None = None,
        ray_nodes: bool = True,
    ) -> LocalCluster:
        """Everything up, or everything that did start stopped again and the error raised.

        ``postgres``: MLflow on PostgreSQL (compose's topology), else on a SQLite file; ``dashboard``:
        the head with Ray's dashboard and job server (``ray job submit``); ``node_env``: added to every
        Ray node's environment; ``ray_nodes=False``: the tracking services alone (for drivers that start
        their own Ray)."""
        pg_bin = postgres_bin_dir() if postgres else Path()
        for tool in ("ray", "mlflow"):
            if not (VENV_BIN / tool).exists():
                raise ClusterUnavailable(
                    f"{VENV_BIN / tool} not found: install the project (pip install -e .[dev])"
                )
        if postgres:
            try:
                import psycopg2  # noqa: F401  (mlflow's postgresql:// backend needs it)
            except ImportError as exc:
                raise ClusterUnavailable("psycopg2 missing: pip install -e .[dev]") from exc
        # Short root: Ray's and Postgres' unix socket paths must stay under ~107 characters.
        supervisor = Supervisor(Path(tempfile.mkdtemp(prefix="rs-cl-")))
        database = Postgres(supervisor, pg_bin) if postgres else None
        nodes = RayNodes(supervisor, node_env=node_env or {})
        cluster = cls(supervisor, database, cls.mlflow_server(supervisor), nodes)
        try:
            supervisor.start_reaper()
            if database is not None:
                started = time.perf_counter()
                database.start()
                cluster.started_seconds["postgres"] = time.perf_counter() - started
                cluster.mlflow.backend_store_uri = database.backend_store_uri
            else:  # the server is the file's only writer
                cluster.mlflow.backend_store_uri = f"sqlite:///{supervisor.root / 'mlflow.db'}"
            # MLflow's schema migrations and Ray's start overlap: both take a while on 2 cores.
            started = time.perf_counter()
            server = cluster.mlflow.spawn()
            if ray_nodes:
                ray_started = time.perf_counter()
                cluster.ray.start_head("ray-head", dashboard=dashboard)
                cluster.ray.start_node("ray-worker")
                cluster.started_seconds["ray"] = time.perf_counter() - ray_started
            cluster.mlflow.wait(server)
            cluster.started_seconds["mlflow"] = time.perf_counter() - started
        except BaseException:
            cluster.stop()
            raise
        return cluster

    @classmethod
    def mlflow_server(cls, supervisor: Supervisor) -> MlflowServer:
        """The tracking server this kind of cluster runs (its backend store is set at start)."""
        return MlflowServer(supervisor, "")

    def stop(self) -> list[str]:
        """Stop what was started, newest first; returns the names of processes that needed SIGKILL."""
        return self.supervisor.stop()

    # -- where things are ------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        return self.supervisor.root

    @property
    def processes(self) -> list[Managed]:
        return self.supervisor.processes

    @property
    def stopped_seconds(self) -> dict[str, float]:
        return self.supervisor.stopped_seconds

    @property
    def tracking_uri(self) -> str:
        return self.mlflow.tracking_uri

    @property
    def artifacts(self) -> Path:
        return self.mlflow.artifacts

    @property
    def ray_address(self) -> str:
        return self.ray.address

    @property
    def ray_env(self) -> dict[str, str]:
        return self.ray.env

    @property
    def dashboard_url(self) -> str:
        """The job server's address for ``ray job submit --address`` (a cluster started with ``dashboard``)."""
        return self.ray.dashboard_url

    def managed(self, name: str) -> Managed:
        return self.supervisor.managed(name)

    def alive(self) -> list[str]:
        return self.supervisor.alive()

    def group_members(self) -> dict[str, list[int]]:
        return self.supervisor.group_members()

    def logs(self) -> str:
        return self.supervisor.logs()

    # -- faults ----------------------------------------------------------------------------------

    def kill(self, name: str, signum: int = signal.SIGKILL) -> None:
        """End one started process (its whole group) and forget it; ``signum`` as the fault has it."""
        self.supervisor.kill(name, signum)

    def restart_mlflow(self) -> None:
        self.mlflow.restart()

    def restart_postgres(self) -> None:
        """PostgreSQL again on the same data folder and port (the MLflow server keeps running)."""
        assert self.postgres is not None, "a cluster started with postgres=False has no PostgreSQL"
        self.postgres.restart()

    def kill_ray_node(self, name: str) -> None:
        self.ray.kill(name)

    def add_ray_node(self, name: str, wrap: list[str] | None = None) -> None:
        """A further worker node joining the running cluster (a lost node coming back). ``wrap``: a
        command that runs ``ray start`` (its arguments appended), e.g. in a mount namespace of its own."""
        self.ray.start_node(name, wrap=wrap)

    def ray_node_id(self, name: str) -> str:
        return self.ray.node_id(name)
