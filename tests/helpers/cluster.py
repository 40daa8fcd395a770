"""The docker/compose.yaml topology without containers, on 127.0.0.1, for the ``cluster`` tests.

``LocalCluster.start()`` brings up, each as a child process of the test with its own process group:

- a real PostgreSQL server (Debian's ``postgresql``: ``initdb`` + ``postgres`` in a temp dir, run as
  the ``postgres`` system user when the test runs as root, password auth on 127.0.0.1);
- ``mlflow server`` on that Postgres with proxied artifact serving into a temp dir and
  ``--allowed-hosts``, as in compose;
- a Ray head and a second Ray node (``ray start --block``, one CPU each, every port picked free so
  other Ray instances on the machine are untouched).

``stop()`` ends exactly what it started, by PID / process group (never ``ray stop``, which is
machine-wide), and runs from the fixture's teardown, so also when a test fails.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VENV_BIN = Path(sys.executable).parent
PG_USER, PG_DATABASE = "raysweep", "mlflow"


REQUIRE_CLUSTER_ENV = "RAYSWEEP_REQUIRE_CLUSTER"
"""Set to 1 (``.ci/run`` does): a cluster that cannot start fails its tests instead of skipping them."""
RAY_START_ATTEMPTS = 3


class ClusterUnavailable(RuntimeError):
    """A prerequisite (a binary, a system user) is missing: the test skips with this reason."""


def start_cluster_or_skip(**options: Any) -> LocalCluster:
    """``LocalCluster.start()`` for a test fixture.

    A missing prerequisite skips the test on a developer's machine; with ``RAYSWEEP_REQUIRE_CLUSTER=1``
    (CI, where PostgreSQL is installed on purpose) it fails it, so a broken install cannot pass as
    skipped tests. Any other failure to start is an error either way.
    """
    import pytest

    try:
        return LocalCluster.start(**options)
    except ClusterUnavailable as exc:
        if os.environ.get(REQUIRE_CLUSTER_ENV, "") not in ("", "0"):
            pytest.fail(f"{REQUIRE_CLUSTER_ENV} is set but the cluster cannot start: {exc}", pytrace=False)
        pytest.skip(f"cluster prerequisites missing: {exc}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """Child-side: get SIGTERM if the test process dies (even SIGKILLed), so nothing is orphaned."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


REAPER = """
import os, shutil, signal, sys, time
sys.stdin.read()  # EOF: the test process closed the pipe (normal stop) or died (even SIGKILLed)
try:
    groups = [int(line) for line in open(sys.argv[1]).read().split()]
except OSError:
    groups = []
for sig in (signal.SIGTERM, signal.SIGKILL):
    for pgid in groups:
        try:
            os.killpg(pgid, sig)
        except OSError:
            pass
    if groups:
        time.sleep(3)
if groups:
    shutil.rmtree(os.path.dirname(sys.argv[1]), ignore_errors=True)
"""
"""A watchdog in its own session: if the test process dies without stopping the cluster (SIGKILL,
OOM), it kills the process groups listed in ``groups`` and removes the temp dir (Ray nodes die with their parent anyway, but
``mlflow server``'s job consumers and PostgreSQL would stay)."""


def postgres_bin_dir() -> Path:
    """Debian's versioned server binaries (``/usr/lib/postgresql/<v>/bin``), else ``initdb`` on PATH."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3].split(".")[0])
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found and (Path(found).resolve().parent / "postgres").exists():
        return Path(found).resolve().parent
    raise ClusterUnavailable("PostgreSQL server binaries not found: apt-get install postgresql")


@dataclass
class Managed:
    name: str
    process: subprocess.Popen
    log: Path
    stop_signal: int = signal.SIGTERM
    grace: float = 30.0

    def tail(self, chars: int = 3000) -> str:
        try:
            return f"--- {self.name} ({self.log}) ---\n{self.log.read_text(errors='replace')[-chars:]}"
        except OSError:
            return f"--- {self.name}: no log ---"


@dataclass
class LocalCluster:
    root: Path
    processes: list[Managed] = field(default_factory=list)
    pg_port: int = 0
    pg_password: str = ""
    mlflow_port: int = 0
    ray_port: int = 0
    artifacts: Path = Path()
    ray_token: str = field(default_factory=lambda: secrets.token_hex(32))
    started_seconds: dict[str, float] = field(default_factory=dict)
    stopped_seconds: dict[str, float] = field(default_factory=dict)
    _mlflow_spawned: float = 0.0
    _reaper: subprocess.Popen | None = None
    _pg_bin: Path = Path()
    _pg_run_as: dict[str, Any] = field(default_factory=dict)
    postgres: bool = True
    """False: MLflow's backend is a SQLite file of the server's own (no PostgreSQL to start)."""
    dashboard_port: int = 0
    """The head's dashboard and job server (0: started without them)."""
    node_env: dict[str, str] = field(default_factory=dict)
    """Extra environment of every Ray node (and so of a Ray job's entrypoint)."""

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def start(
        cls,
        postgres: bool = True,
        dashboard: bool = False,
        node_env: dict[str, str] | None = None,
        ray: bool = True,
    ) -> LocalCluster:
        """Everything up, or everything that did start stopped again and the error raised.

        ``postgres``: MLflow on PostgreSQL (compose's topology), else on a SQLite file; ``dashboard``:
        the head with Ray's dashboard and job server (``ray job submit``); ``node_env``: added to every
        Ray node's environment; ``ray``: False for the tracking services alone."""
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
        cluster = cls(
            root=Path(tempfile.mkdtemp(prefix="rs-cl-")), postgres=postgres, node_env=node_env or {}
        )
        cluster.dashboard_port = free_port() if dashboard else 0
        try:
            cluster._start_reaper()
            if postgres:
                cluster._start_postgres(pg_bin)
            # MLflow's schema migrations and Ray's start overlap: both take a while on 2 cores.
            mlflow = cluster._spawn_mlflow()
            if ray:
                cluster._start_ray()
            cluster._wait_mlflow(mlflow)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def stop(self) -> list[str]:
        """Stop what was started, newest first; returns the names of processes that needed SIGKILL."""
        killed = []
        for managed in reversed(self.processes):
            started = time.perf_counter()
            if not self._stop_one(managed, managed.grace):
                killed.append(managed.name)
            self.stopped_seconds[managed.name] = time.perf_counter() - started
        self.processes.clear()
        if self._reaper is not None:  # nothing left for it: empty list, then EOF
            (self.root / "groups").write_text("")
            self._reaper.stdin.close()
            self._reaper.wait(timeout=30)
            self._reaper = None
        shutil.rmtree(self.root, ignore_errors=True)
        return killed

    def _start_reaper(self) -> None:
        (self.root / "groups").write_text("")
        self._reaper = subprocess.Popen(
            [sys.executable, "-c", REAPER, str(self.root / "groups")],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    @staticmethod
    def _stop_one(managed: Managed, grace: float = 30.0) -> bool:
        """Signal the process group the child leads; SIGKILL the group after ``grace`` seconds."""
        pid = managed.process.pid
        graceful = True
        if managed.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, managed.stop_signal)
            try:
                managed.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                graceful = False
        # Whatever is left in the group (Ray workers, uvicorn workers, postgres backends).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            managed.process.wait(timeout=10)
        return graceful

    # ------------------------------------------------------------------ faults

    def managed(self, name: str) -> Managed:
        [found] = [m for m in self.processes if m.name == name]
        return found

    def kill(self, name: str, signum: int = signal.SIGKILL) -> None:
        """End one started process (its whole group) and forget it; ``signum`` as the fault has it."""
        managed = self.managed(name)
        managed.stop_signal = signum
        self._stop_one(managed, grace=30.0)
        self.processes.remove(managed)

    def restart_mlflow(self) -> None:
        """A new ``mlflow server`` on the same port, database and artifact root."""
        self._wait_mlflow(self._spawn_mlflow())

    def restart_postgres(self) -> None:
        """PostgreSQL again on the same data folder and port (the MLflow server keeps running)."""

        def accepts() -> bool:
            try:
                self._pg_connect(PG_DATABASE).close()
            except Exception:
                return False
            return True

        self._wait(self._spawn_postgres(), accepts, "postgres", timeout=60)

    def kill_ray_node(self, name: str) -> None:
        """What ``ray stop --force`` does on that node's machine: SIGKILL every process of the node.

        ``ray stop`` itself is machine-wide and would take the head (and any other Ray on this
        machine) with it; here the node's processes are its ``ray start`` group plus its workers,
        which sit in sessions of their own but name the node's temp folder in their command lines.
        """
        temp_dir = str(self.root / name)
        self.kill(name)
        for pid in processes_mentioning(temp_dir):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def add_ray_node(self, name: str, wrap: list[str] | None = None) -> None:
        """A further worker node joining the running cluster (a lost node coming back). ``wrap``: a
        command that runs ``ray start`` (its arguments appended), e.g. in a mount namespace of its own."""
        self._start_ray_node(name, head=False, wrap=wrap)

    def ray_node_id(self, name: str) -> str:
        """The node id Ray gave the node started as ``name`` (its raylet logs it at start)."""
        # Newest session first: a node started again after a missed deadline has an older one too.
        for log in sorted((self.root / name).glob("session_*/logs/raylet.out"), reverse=True):
            found = re.search(r"Setting node ID node_id=([0-9a-f]{56})", log.read_text(errors="replace"))
            if found:
                return found.group(1)
        raise AssertionError(f"no node id in the raylet log of {name}")

    def alive(self) -> list[str]:
        return [m.name for m in self.processes if m.process.poll() is None]

    def group_members(self) -> dict[str, list[int]]:
        """PIDs still in each started process group (empty after ``stop``)."""
        groups: dict[str, list[int]] = {}
        for managed in self.processes:
            groups[managed.name] = pids_in_group(managed.process.pid)
        return groups

    def logs(self) -> str:
        return "\n".join(m.tail() for m in self.processes)

    def _spawn(self, name: str, command: list[str], **kwargs: Any) -> Managed:
        log = self.root / f"{name}.log"
        env = {**os.environ, **kwargs.pop("env", {})}
        stop_signal = kwargs.pop("stop_signal", signal.SIGTERM)
        grace = kwargs.pop("grace", 30.0)
        with open(log, "wb") as out:
            process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
                **kwargs,
            )
        managed = Managed(name, process, log, stop_signal, grace)
        self.processes.append(managed)
        with open(self.root / "groups", "a") as groups:
            groups.write(f"{process.pid}\n")
        return managed

    def _wait(self, managed: Managed, ready: Any, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if managed.process.poll() is not None:
                raise RuntimeError(f"{what} exited with {managed.process.returncode}\n{managed.tail()}")
            if ready():
                return
            time.sleep(0.3)
        raise RuntimeError(f"{what} not ready after {timeout:.0f}s\n{managed.tail()}")

    # ------------------------------------------------------------------ PostgreSQL

    def _start_postgres(self, pg_bin: Path) -> None:
        started = time.perf_counter()
        run_as: dict[str, Any] = {}
        pg_root = self.root / "pg"
        pg_root.mkdir()
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            try:
                account = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise ClusterUnavailable("running as root and no 'postgres' system user") from exc
            run_as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
            os.chmod(self.root, 0o755)  # let the postgres user reach pg_root
            os.chown(pg_root, account.pw_uid, account.pw_gid)
        self.pg_port = free_port()
        self.pg_password = secrets.token_hex(12)
        password_file = pg_root / "pwfile"
        password_file.write_text(self.pg_password + "\n")
        if run_as:
            os.chown(password_file, run_as["user"], run_as["group"])
        data = pg_root / "data"
        init = subprocess.run(
            [
                str(pg_bin / "initdb"),
                "-D",
                str(data),
                "-U",
                PG_USER,
                f"--pwfile={password_file}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            cwd=pg_root,
            **run_as,
        )
        password_file.unlink()
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{init.stdout}\n{init.stderr}")
        self._pg_bin, self._pg_run_as = pg_bin, run_as
        server = self._spawn_postgres()

        def accepts() -> bool:
            try:
                self._pg_connect("postgres").close()
            except Exception:
                return False
            return True

        self._wait(server, accepts, "postgres", timeout=60)
        conn = self._pg_connect("postgres")
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {PG_DATABASE}")
        conn.close()
        self.started_seconds["postgres"] = time.perf_counter() - started

    def _spawn_postgres(self) -> Managed:
        pg_root = self.root / "pg"
        return self._spawn(
            "postgres",
            [
                str(self._pg_bin / "postgres"),
                "-D",
                str(pg_root / "data"),
                "-p",
                str(self.pg_port),
                "-k",
                str(pg_root),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=100",
            ],
            cwd=pg_root,
            stop_signal=signal.SIGINT,  # "fast" shutdown: ends sessions, then exits
            **self._pg_run_as,
        )

    def _pg_connect(self, database: str) -> Any:
        import psycopg2

        return psycopg2.connect(
            host="127.0.0.1",
            port=self.pg_port,
            user=PG_USER,
            password=self.pg_password,
            dbname=database,
            connect_timeout=3,
        )

    @property
    def backend_store_uri(self) -> str:
        if not self.postgres:
            return f"sqlite:///{self.root / 'mlflow.db'}"  # the server is the file's only writer
        # SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3; the project ships psycopg2-binary.
        return f"postgresql+psycopg2://{PG_USER}:{self.pg_password}@127.0.0.1:{self.pg_port}/{PG_DATABASE}"

    # ------------------------------------------------------------------ MLflow

    @property
    def tracking_uri(self) -> str:
        return f"http://127.0.0.1:{self.mlflow_port}"

    def _spawn_mlflow(self) -> Managed:
        self._mlflow_spawned = time.perf_counter()
        self.mlflow_port = self.mlflow_port or free_port()  # a restarted server keeps its address
        self.artifacts = self.root / "artifacts"
        self.artifacts.mkdir(exist_ok=True)
        server = self._spawn(
            "mlflow",
            [
                str(VENV_BIN / "mlflow"),
                "server",
                "--backend-store-uri",
                self.backend_store_uri,
                "--artifacts-destination",
                str(self.artifacts),
                "--serve-artifacts",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.mlflow_port),
                "--allowed-hosts",
                f"127.0.0.1:{self.mlflow_port},localhost:{self.mlflow_port}",
                "--workers",
                "1",
            ],
            cwd=self.root,
            grace=5.0,  # uvicorn waits for idle keep-alive connections; nothing to flush
        )
        return server

    def _wait_mlflow(self, server: Managed) -> None:
        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"{self.tracking_uri}/health", timeout=3) as response:
                    return response.status == 200
            except (OSError, urllib.error.URLError):
                return False

        self._wait(server, healthy, "mlflow server", timeout=180)
        self.started_seconds["mlflow"] = time.perf_counter() - self._mlflow_spawned

    # ------------------------------------------------------------------ Ray

    @property
    def ray_address(self) -> str:
        return f"127.0.0.1:{self.ray_port}"

    @property
    def ray_env(self) -> dict[str, str]:
        """What every Ray process and the driver need: token auth with this cluster's own token.

        Set explicitly because Ray 2.60 decides otherwise from machine state: ``ray start --head``
        turns token auth on when ``~/.ray/auth_token`` exists (any earlier local ``ray.init()``
        writes one), while ``ray start --address`` and ``ray.init(address=...)`` never turn it on
        by themselves, and then fail with InvalidAuthToken.
        """
        return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": self.ray_token, "RAY_USAGE_STATS_ENABLED": "0"}

    @property
    def dashboard_url(self) -> str:
        """The job server's address for ``ray job submit --address``."""
        return f"http://127.0.0.1:{self.dashboard_port}"

    def _ray_node(self, name: str, head: bool, wrap: list[str] | None = None) -> Managed:
        temp_dir = self.root / name
        temp_dir.mkdir(exist_ok=True)  # kept by a start that is tried again
        command = [str(VENV_BIN / "ray"), "start", "--block", "--num-cpus", "1", "--num-gpus", "0"]
        command += ["--node-ip-address", "127.0.0.1", "--temp-dir", str(temp_dir)]
        command += ["--object-store-memory", str(256 * 1024**2), "--disable-usage-stats"]
        # Every listening port chosen here, so a Ray started by someone else on this machine
        # (default ports 52365, 10002-19999) never collides with ours.
        command += ["--dashboard-agent-listen-port", str(free_port())]
        command += ["--min-worker-port", "0", "--max-worker-port", "0"]
        if head and self.dashboard_port:
            command += ["--head", "--port", str(self.ray_port), "--include-dashboard=true"]
            command += ["--dashboard-host", "127.0.0.1", "--dashboard-port", str(self.dashboard_port)]
        elif head:
            command += ["--head", "--port", str(self.ray_port), "--include-dashboard=false"]
        else:
            command += ["--address", self.ray_address]
        # No drain wait on SIGTERM (Ray 2.60 otherwise waits up to its drain timeout for the head).
        env = {**self.ray_env, "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0", **self.node_env}
        return self._spawn(name, [*(wrap or []), *command], cwd=self.root, env=env)

    def _start_ray(self) -> None:
        started = time.perf_counter()
        self.ray_port = free_port()
        self._start_ray_node("ray-head", head=True)
        self._start_ray_node("ray-worker", head=False)
        self.started_seconds["ray"] = time.perf_counter() - started

    def _start_ray_node(self, name: str, head: bool, wrap: list[str] | None = None) -> Managed:
        """``ray start``, tried again when the node missed Ray's registration deadline.

        Ray 2.60 gives a starting node a fixed 30 s to register with the GCS (``node.py``, not
        configurable); on a loaded host a node can miss it and exit with "timed out during
        startup", which says nothing about the code under test. Compose restarts such a node; so
        does this, up to ``RAY_START_ATTEMPTS`` times. Any other failure is raised at once.
        """
        for attempt in range(1, RAY_START_ATTEMPTS + 1):
            node = self._ray_node(name, head=head, wrap=wrap)
            try:
                self._wait(
                    node,
                    lambda node=node: "This command will now block" in node.log.read_text(errors="replace"),
                    name,
                    180,
                )
                return node
            except RuntimeError:
                missed = "timed out during startup" in node.log.read_text(errors="replace")
                self._stop_one(node, grace=10)
                self.processes.remove(node)
                if not missed or attempt == RAY_START_ATTEMPTS:
                    raise
                print(
                    f"{name} missed Ray's 30-s registration deadline (attempt {attempt}); starting it again",
                    file=sys.stderr,
                )
        raise AssertionError("unreachable")


def pids_in_group(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


# ---------------------------------------------------------------------------------------------
# The MLflow REST API, plain HTTP
# ---------------------------------------------------------------------------------------------


class MlflowRest:
    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def request(self, method: str, path: str, body: dict | None = None, headers: dict | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.base}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = response.read()
        return json.loads(payload) if payload else {}

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", f"{path}?{urllib.parse.urlencode(params)}" if params else path)

    def experiment_id(self, name: str) -> str:
        return self.get("/api/2.0/mlflow/experiments/get-by-name", experiment_name=name)["experiment"][
            "experiment_id"
        ]

    def search_runs(self, experiment_id: str) -> list[dict]:
        runs, token = [], None
        while True:
            body = {"experiment_ids": [experiment_id], "max_results": 1000}
            if token:
                body["page_token"] = token
            page = self.request("POST", "/api/2.0/mlflow/runs/search", body)
            runs += page.get("runs", [])
            token = page.get("next_page_token")
            if not token:
                return runs

    def metric_history(self, run_id: str, key: str) -> list[dict]:
        return self.get("/api/2.0/mlflow/metrics/get-history", run_id=run_id, metric_key=key).get(
            "metrics", []
        )

    def artifacts(self, run_id: str, path: str = "") -> list[str]:
        params = {"run_id": run_id, **({"path": path} if path else {})}
        return [f["path"] for f in self.get("/api/2.0/mlflow/artifacts/list", **params).get("files", [])]

    def download(self, run_id: str, path: str) -> bytes:
        """An artifact through the server's proxied artifact endpoint (``--serve-artifacts``)."""
        url = f"{self.base}/get-artifact?{urllib.parse.urlencode({'run_id': run_id, 'path': path})}"
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.read()


def tags(run: dict) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["data"].get("tags", [])}


def metrics(run: dict) -> dict[str, float]:
    return {m["key"]: m["value"] for m in run["data"].get("metrics", [])}


# ---------------------------------------------------------------------------------------------
# A launcher driver run as users run it, for the fault tests: its own session, its output in a
# file, every process it starts remembered, so a test can check that nothing is left and can kill
# whatever is.
# ---------------------------------------------------------------------------------------------


RAY_SESSION = re.compile(r"/[^\s\0=]*/session_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_\d+_\d+")
"""A local Ray instance's session folder; every process of the instance has it in its command line."""


def process_start_time(pid: int) -> int | None:
    """Kernel start time of ``pid`` (to tell a process from a later one reusing its PID), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else int(fields[19])


def descendants(pid: int) -> set[tuple[int, int]]:
    """(pid, start time) of ``pid`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        started = process_start_time(current)
        if started is not None:
            found.add((current, started))
        todo += children.get(current, [])
    return found


def processes_mentioning(text: str) -> list[int]:
    """PIDs whose command line contains ``text`` (a Ray session folder names every process of it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@dataclass
class Driver:
    """``python -m raysweep.launch ...`` started in its own session with output to ``log``."""

    process: subprocess.Popen
    log: Path
    seen: set[tuple[int, int]] = field(default_factory=set)
    ray_session: str | None = None

    @classmethod
    def start(
        cls, cwd: Path, args: list[str], env: dict[str, str] | None = None, name: str = "driver"
    ) -> Driver:
        log = cwd / f"{name}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "raysweep.launch", *args],
                cwd=cwd,
                env={**os.environ, **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        return cls(process, log)

    @classmethod
    def shell(cls, cwd: Path, command: str, name: str) -> Driver:
        """A printed command line, run exactly as printed (``cd DIR && python -m ...``) by /bin/sh."""
        log = cwd / f"{name}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                command,
                shell=True,
                cwd="/",
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        return cls(process, log)

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def remember(self) -> None:
        """Note every process below the driver, and the local Ray session they belong to."""
        if self.process.poll() is not None:
            return
        self.seen |= descendants(self.process.pid)
        if self.ray_session is None:
            for pid, _ in self.seen:
                try:
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
                except OSError:
                    continue
                found = RAY_SESSION.search(cmdline)
                if found:
                    self.ray_session = found.group(0)
                    break

    def wait_until(self, ready: Any, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.remember()
            if ready():
                return
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the driver exited ({self.process.returncode}) before {what}\n{self.output[-4000:]}"
                )
            time.sleep(0.5)
        raise AssertionError(f"no {what} after {timeout:.0f}s\n{self.output[-4000:]}")

    def send(self, signum: int, group: bool = False) -> None:
        """``group``: to the driver's whole process group, as a terminal's Ctrl-C does."""
        self.remember()
        if group:
            os.killpg(self.process.pid, signum)
        else:
            self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"the driver did not exit within {timeout:.0f}s\n{self.output[-4000:]}"
            ) from None

    def leftovers(self) -> list[int]:
        """Processes the driver started that are still alive (by PID and start time, and by session)."""
        alive = {
            pid
            for pid, started in self.seen
            if pid != self.process.pid and process_start_time(pid) == started
        }
        if self.ray_session:
            alive |= set(processes_mentioning(self.ray_session))
        return sorted(alive)

    def kill(self) -> None:
        """SIGKILL the driver's group and every process it was seen to start (test teardown)."""
        self.remember()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        for pid in self.leftovers():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


# ---------------------------------------------------------------------------------------------
# A small sweep for the fault tests, and what MLflow holds of it
# ---------------------------------------------------------------------------------------------

FAULT_EXPERIMENT = "raysweep-faults"


def write_fault_sweep(
    folder: Path,
    rounds: int = 5,
    heuristics: str = "random",
    alphas: str = "0",
    seeds: str = "0, 1",
    cpu: float = 1.0,
    max_failures: int = 2,
    experiment: str = FAULT_EXPERIMENT,
) -> Path:
    """A digits sweep sized like ``--smoke`` but with ``rounds`` rounds, so a fault can land mid-trajectory."""
    path = folder / "faults.yaml"
    path.write_text(
        f"experiment: {experiment}\n"
        f"sweep: {{datasets: [digits], heuristics: [{heuristics}], alphas: [{alphas}], seeds: [{seeds}]}}\n"
        "dataset: {pool_size: 400, eval_size: 300}\n"
        "model: {pretrained: false}\n"
        "training: {lr: 0.01, batch_size: 32, initial_epochs: 2, epochs_per_round: 1}\n"
        f"schedule: {{initial_labels: 40, labels_per_round: 40, rounds: {rounds}}}\n"
        "vae: {latent_dim: 16, epochs: 2}\n"
        f"resources: {{cpu: {cpu}, gpu: 0}}\n"
        f"max_failures: {max_failures}\n"
    )
    return path


def fault_sweep_steps(rounds: int = 5) -> list[int]:
    return [40 * (r + 1) for r in range(rounds + 1)]


def checkpoint_dirs(storage: Path) -> list[Path]:
    return sorted(storage.glob("*/*/*/checkpoint_*"))


def resume_command_in(output: str) -> str:
    """The ``--resume`` command line the launcher printed (the line after its resume hint)."""
    lines = output.splitlines()
    for index, line in enumerate(lines[:-1]):
        if line.startswith("Resume the sweep"):
            return lines[index + 1].strip()
    raise AssertionError(f"no resume command printed:\n{output[-3000:]}")


def sweep_runs(tracking_uri: str, experiment: str = FAULT_EXPERIMENT) -> tuple[Any, list, list]:
    """(client, parent runs, trial runs) of the experiment, read with MLflow's own client."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    runs = client.search_runs([experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("raysweep.role") == "sweep"]
    trials = [r for r in runs if r.data.tags.get("raysweep.role") == "trial"]
    return client, parents, trials


def steps_logged(client: Any, trials: list, metric: str = "accuracy") -> dict[str, list[int]]:
    """Each trial's logged steps of ``metric``, sorted, repeats kept (so a step logged twice shows)."""
    return {
        run.data.tags["raysweep.trial_key"]: sorted(
            m.step for m in client.get_metric_history(run.info.run_id, metric)
        )
        for run in trials
    }
