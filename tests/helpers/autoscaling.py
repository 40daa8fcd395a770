"""Ray's fake autoscaling cluster, on this machine, started and stopped by PID.

``ray.cluster_utils.AutoscalingCluster`` is what Ray's own tests use: a head started with
``--autoscaling-config`` naming the ``fake_multinode`` provider, whose autoscaler (v1) starts and
stops extra Ray nodes on this machine as real node types would be. It cannot be used as it is here:
its ``start()`` and ``shutdown()`` run ``ray stop --force``, which ends every Ray on the machine (other
tests', other people's), and it reads its base config from
``ray/autoscaler/_private/fake_multi_node/example.yaml``, which the Ray 2.60 wheel does not ship. This
builds the same config (the example file's settings, from Ray's repository, and
``AutoscalingCluster._generate_config``'s head type) and starts the head on free ports in a temp dir of
its own; ``stop()`` ends the head's process group and every process naming that temp dir (the nodes
the autoscaler started).

Autoscaler v2 cannot run on the fake provider from the wheel (it reads the same missing file); the
launcher's use of v2's node types is covered where it reads them (``raysweep.shell.capacity``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from helpers.processes import VENV_BIN, free_port, processes_mentioning

FAKE_CONFIG = {
    # ray/autoscaler/_private/fake_multi_node/example.yaml (Ray's repository), less its node types
    "cluster_name": "fake_multinode",
    "max_workers": 8,
    "provider": {
        "type": "fake_multinode",
        "use_node_id_as_ip": True,
        "disable_node_updaters": True,
        "disable_launch_config_check": True,
    },
    "head_node_type": "ray.head.default",
    "auth": {},
    "upscaling_speed": 1.0,
    "idle_timeout_minutes": 0.1,
    "docker": {},
    "initialization_commands": [],
    "setup_commands": [],
    "head_setup_commands": [],
    "worker_setup_commands": [],
    "head_start_ray_commands": [],
    "worker_start_ray_commands": [],
    "file_mounts": {},
    "cluster_synced_files": [],
    "file_mounts_sync_continuously": False,
    "rsync_exclude": [],
    "rsync_filter": [],
}


@dataclass
class FakeAutoscalingCluster:
    root: Path
    port: int
    head: subprocess.Popen
    log: Path
    token: str
    added: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, head_cpus: int, worker_node_types: dict[str, dict]) -> FakeAutoscalingCluster:
        """A head with ``head_cpus`` CPUs and no GPU, whose autoscaler may add ``worker_node_types``
        (autoscaler node types: ``resources``, ``min_workers``, ``max_workers``)."""
        root = Path(tempfile.mkdtemp(prefix="rs-as-"))  # short: Ray's socket paths
        port = free_port()
        config = json.loads(json.dumps(FAKE_CONFIG))
        config["provider"]["gcs_address"] = f"127.0.0.1:{port}"  # the provider's default is port 6379
        config["available_node_types"] = {
            **{name: {"node_config": {}, **spec} for name, spec in worker_node_types.items()},
            "ray.head.default": {"resources": {"CPU": head_cpus}, "node_config": {}, "max_workers": 0},
        }
        (root / "autoscaling.json").write_text(json.dumps(config))
        token = secrets.token_hex(32)
        command = [str(VENV_BIN / "ray"), "start", "--head", "--block", "--port", str(port)]
        command += ["--node-ip-address", "127.0.0.1", "--temp-dir", str(root / "ray")]
        command += [
            "--num-cpus",
            str(head_cpus),
            "--num-gpus",
            "0",
            "--object-store-memory",
            str(256 * 1024**2),
        ]
        command += ["--autoscaling-config", str(root / "autoscaling.json"), "--include-dashboard=false"]
        command += ["--dashboard-agent-listen-port", str(free_port()), "--disable-usage-stats"]
        command += ["--min-worker-port", "0", "--max-worker-port", "0"]
        env = {
            **os.environ,
            "RAY_FAKE_CLUSTER": "1",
            "AUTOSCALER_UPDATE_INTERVAL_S": "1",
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": token,
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",
            # Ray's memory monitor kills workers when the machine is 95% full, whoever fills it: on a
            # shared test machine, other people's processes.
            "RAY_memory_monitor_refresh_ms": "0",
        }
        log = root / "head.log"
        with open(log, "wb") as out:
            head = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        cluster = cls(root, port, head, log, token)
        try:
            deadline = time.monotonic() + 180
            while "This command will now block" not in log.read_text(errors="replace"):
                if head.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"fake autoscaling head did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": self.token, "RAY_USAGE_STATS_ENABLED": "0"}

    def added_node_id(self, index: int) -> str:
        """The id of the ``index``-th node the autoscaler started (the fake provider numbers them)."""
        return "f" * 51 + f"{index:05d}"

    def stop(self) -> None:
        """The head's process group, then whatever else names this cluster's temp dir or Ray session
        (the nodes the autoscaler started), by PID."""
        session = (self.root / "ray" / "session_latest").resolve().name
        if self.head.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.head.pid, signal.SIGTERM)
            try:
                self.head.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.head.pid, signal.SIGKILL)
                self.head.wait(timeout=10)
        for _ in range(3):
            left = set(processes_mentioning(str(self.root)))
            if session.startswith("session_"):
                left |= set(processes_mentioning(session))
            if not left:
                break
            for pid in left:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(1)
        shutil.rmtree(self.root, ignore_errors=True)
