"""Sweep drivers (``python -m raysweep.launch``) run as users run them.

:func:`launch` runs one to its end. :class:`Driver` starts one for the tests that signal or kill it:
its own session, its output in a file, every process it starts remembered, so a test can check that
nothing is left and can kill whatever is (the ``drivers`` fixture, ``tests/system/conftest.py``, kills
whatever a test left running)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from helpers.processes import (
    RAY_SESSION,
    descendants,
    die_with_parent,
    process_start_time,
    processes_mentioning,
)


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
                preexec_fn=die_with_parent,
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
                preexec_fn=die_with_parent,
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

    def wait_until(self, ready: Callable[[], bool], what: str, timeout: float) -> None:
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


def launch(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """``python -m raysweep.launch ARGS`` in ``cwd``, run to its end; its exit code and output."""
    return subprocess.run(
        [sys.executable, "-m", "raysweep.launch", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
