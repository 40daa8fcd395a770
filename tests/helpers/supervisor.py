"""Long-running child processes of a test (servers, Ray nodes), each in a process group of its own.

:class:`Supervisor` starts them with their output in a log file, waits until they are ready, and
stops exactly what it started, by process group (never by name, never ``ray stop``, which is
machine-wide), newest first. A watchdog in its own session (:data:`REAPER`) kills the groups and
removes the folder if the test process dies without stopping them (SIGKILL, OOM).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.processes import die_with_parent, pids_in_group


class ClusterUnavailable(RuntimeError):
    """A prerequisite (a binary, a system user) is missing: the test skips with this reason."""


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
"""The watchdog: on EOF of its stdin it kills the process groups listed in ``groups`` and removes the
folder (Ray nodes die with their parent anyway, but ``mlflow server``'s job consumers and PostgreSQL
would stay)."""


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


def stop_managed(managed: Managed, grace: float = 30.0) -> bool:
    """Signal the process group the child leads; SIGKILL the group after ``grace`` seconds. Returns
    whether it ended within the grace period."""
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


@dataclass
class Supervisor:
    """The processes started under ``root`` (their logs and working folders live there)."""

    root: Path
    processes: list[Managed] = field(default_factory=list)
    stopped_seconds: dict[str, float] = field(default_factory=dict)
    _reaper: subprocess.Popen | None = None

    def start_reaper(self) -> None:
        (self.root / "groups").write_text("")
        self._reaper = subprocess.Popen(
            [sys.executable, "-c", REAPER, str(self.root / "groups")],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def spawn(self, name: str, command: list[str], **kwargs: Any) -> Managed:
        """Start ``command`` in a new session (its own process group), output to ``root/name.log``;
        ``env`` adds to the test's environment, ``stop_signal`` and ``grace`` say how it stops."""
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
                preexec_fn=die_with_parent,
                **kwargs,
            )
        managed = Managed(name, process, log, stop_signal, grace)
        self.processes.append(managed)
        with open(self.root / "groups", "a") as groups:
            groups.write(f"{process.pid}\n")
        return managed

    def wait(self, managed: Managed, ready: Callable[[], bool], what: str, timeout: float) -> None:
        """Until ``ready()``; RuntimeError with the log's tail if the process exits or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if managed.process.poll() is not None:
                raise RuntimeError(f"{what} exited with {managed.process.returncode}\n{managed.tail()}")
            if ready():
                return
            time.sleep(0.3)
        raise RuntimeError(f"{what} not ready after {timeout:.0f}s\n{managed.tail()}")

    def managed(self, name: str) -> Managed:
        [found] = [m for m in self.processes if m.name == name]
        return found

    def kill(self, name: str, signum: int = signal.SIGKILL) -> None:
        """End one started process (its whole group) and forget it; ``signum`` as the fault has it."""
        managed = self.managed(name)
        managed.stop_signal = signum
        stop_managed(managed, grace=30.0)
        self.processes.remove(managed)

    def forget(self, managed: Managed, grace: float) -> None:
        """Stop a process that failed to start and drop it from the list."""
        stop_managed(managed, grace=grace)
        self.processes.remove(managed)

    def alive(self) -> list[str]:
        return [m.name for m in self.processes if m.process.poll() is None]

    def group_members(self) -> dict[str, list[int]]:
        """PIDs still in each started process group (empty after ``stop``)."""
        return {managed.name: pids_in_group(managed.process.pid) for managed in self.processes}

    def logs(self) -> str:
        return "\n".join(m.tail() for m in self.processes)

    def stop(self) -> list[str]:
        """Stop everything, newest first, then the watchdog, and remove ``root``; returns the names of
        processes that needed SIGKILL."""
        killed = []
        for managed in reversed(self.processes):
            started = time.perf_counter()
            if not stop_managed(managed, managed.grace):
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
