"""Ray nodes for the tests: ``ray start --block`` processes on 127.0.0.1, one CPU each, every port
picked free (other Ray instances on the machine are untouched), token auth with a token of their own;
optionally the head's dashboard and job server (``ray job submit``) and extra environment for every
node (and so for a Ray job's entrypoint)."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import sys
from dataclasses import dataclass, field

from helpers.processes import VENV_BIN, free_port, processes_mentioning
from helpers.supervisor import Managed, Supervisor

RAY_START_ATTEMPTS = 3


@dataclass
class RayNodes:
    supervisor: Supervisor
    port: int = 0
    token: str = field(default_factory=lambda: secrets.token_hex(32))
    dashboard_port: int = 0
    """The head's dashboard and job server (0: started without them)."""
    node_env: dict[str, str] = field(default_factory=dict)
    """Extra environment of every Ray node (and so of a Ray job's entrypoint)."""

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """What every Ray process and the driver need: token auth with these nodes' own token.

        Set explicitly because Ray 2.60 decides otherwise from machine state: ``ray start --head``
        turns token auth on when ``~/.ray/auth_token`` exists (any earlier local ``ray.init()``
        writes one), while ``ray start --address`` and ``ray.init(address=...)`` never turn it on
        by themselves, and then fail with InvalidAuthToken.
        """
        return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": self.token, "RAY_USAGE_STATS_ENABLED": "0"}

    @property
    def dashboard_url(self) -> str:
        """The job server's address for ``ray job submit --address``."""
        return f"http://127.0.0.1:{self.dashboard_port}"

    def start_head(self, name: str = "ray-head", dashboard: bool = False) -> Managed:
        """The head; with ``dashboard``, also Ray's dashboard and job server on a free port."""
        self.port = free_port()
        self.dashboard_port = free_port() if dashboard else 0
        return self.start_node(name, head=True)

    def start_node(self, name: str, head: bool = False, wrap: list[str] | None = None) -> Managed:
        """``ray start``, tried again when the node missed Ray's registration deadline. ``wrap``: a
        command that runs ``ray start`` (its arguments appended), e.g. in a mount namespace of its own.

        Ray 2.60 gives a starting node a fixed 30 s to register with the GCS (``node.py``, not
        configurable); on a loaded host a node can miss it and exit with "timed out during
        startup", which says nothing about the code under test. Compose restarts such a node; so
        does this, up to ``RAY_START_ATTEMPTS`` times. Any other failure is raised at once.
        """
        for attempt in range(1, RAY_START_ATTEMPTS + 1):
            node = self._spawn(name, head, wrap)
            try:
                self.supervisor.wait(
                    node,
                    lambda node=node: "This command will now block" in node.log.read_text(errors="replace"),
                    name,
                    180,
                )
                return node
            except RuntimeError:
                missed = "timed out during startup" in node.log.read_text(errors="replace")
                self.supervisor.forget(node, grace=10)
                if not missed or attempt == RAY_START_ATTEMPTS:
                    raise
                print(
                    f"{name} missed Ray's 30-s registration deadline (attempt {attempt}); starting it again",
                    file=sys.stderr,
                )
        raise AssertionError("unreachable")

    def kill(self, name: str) -> None:
        """What ``ray stop --force`` does on that node's machine: SIGKILL every process of the node.

        ``ray stop`` itself is machine-wide and would take the head (and any other Ray on this
        machine) with it; here the node's processes are its ``ray start`` group plus its workers,
        which sit in sessions of their own but name the node's temp folder in their command lines.
        """
        temp_dir = str(self.supervisor.root / name)
        self.supervisor.kill(name)
        for pid in processes_mentioning(temp_dir):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def node_id(self, name: str) -> str:
        """The node id Ray gave the node started as ``name`` (its raylet logs it at start)."""
        # Newest session first: a node started again after a missed deadline has an older one too.
        for log in sorted((self.supervisor.root / name).glob("session_*/logs/raylet.out"), reverse=True):
            found = re.search(r"Setting node ID node_id=([0-9a-f]{56})", log.read_text(errors="replace"))
            if found:
                return found.group(1)
        raise AssertionError(f"no node id in the raylet log of {name}")

    def _spawn(self, name: str, head: bool, wrap: list[str] | None = None) -> Managed:
        temp_dir = self.supervisor.root / name
        temp_dir.mkdir(exist_ok=True)  # kept by a start that is tried again
        command = [str(VENV_BIN / "ray"), "start", "--block", "--num-cpus", "1", "--num-gpus", "0"]
        command += ["--node-ip-address", "127.0.0.1", "--temp-dir", str(temp_dir)]
        command += ["--object-store-memory", str(256 * 1024**2), "--disable-usage-stats"]
        # Every listening port chosen here, so a Ray started by someone else on this machine
        # (default ports 52365, 10002-19999) never collides with ours.
        command += ["--dashboard-agent-listen-port", str(free_port())]
        command += ["--min-worker-port", "0", "--max-worker-port", "0"]
        if head and self.dashboard_port:
            command += ["--head", "--port", str(self.port), "--include-dashboard=true"]
            command += ["--dashboard-host", "127.0.0.1", "--dashboard-port", str(self.dashboard_port)]
        elif head:
            command += ["--head", "--port", str(self.port), "--include-dashboard=false"]
        else:
            command += ["--address", self.address]
        # No drain wait on SIGTERM (Ray 2.60 otherwise waits up to its drain timeout for the head).
        env = {**self.env, "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0", **self.node_env}
        return self.supervisor.spawn(name, [*(wrap or []), *command], cwd=self.supervisor.root, env=env)
