"""One driver per sweep: an exclusive lock on ``driver.lock`` in the sweep folder.

The lock is ``flock(2)`` on an open file: the kernel drops it when the driver's process ends, however
it ends (SIGKILL and OOM included), so a stale lock never blocks a later ``--resume``, and no PID
has to be guessed alive or dead. The file's text names the holder (host, PID, start time) for the
message a second driver gets. On NFS, flock is honoured across hosts by Linux clients (it maps to
NFS byte-range locks); storage without any locking gives no such protection.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

LOCK_FILE = "driver.lock"


class SweepBusy(Exception):
    """Another driver holds the sweep's lock."""


@dataclass
class SweepLock:
    path: Path
    fd: int

    @classmethod
    def acquire(cls, sweep_dir: Path, sweep_id: str) -> SweepLock:
        sweep_dir.mkdir(parents=True, exist_ok=True)
        path = sweep_dir / LOCK_FILE
        # O_CLOEXEC: processes the driver starts (Ray's) must not inherit, and so keep, the lock.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = describe_holder(path)
            os.close(fd)
            raise SweepBusy(
                f"sweep {sweep_id} is already running: {holder}. Wait for that driver to end, or stop it "
                "(Ctrl-C, or kill -TERM its PID), then resume"
            ) from None
        holder = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(holder).encode(), 0)
        except OSError:
            pass  # a full disk: the lock still holds, only the holder's description is missing
        return cls(path, fd)

    def release(self) -> None:
        if self.fd >= 0:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = -1


def describe_holder(path: Path) -> str:
    try:
        holder = json.loads(path.read_text())
        return f"driver PID {holder['pid']} on host {holder['host']} (since {holder['started']})"
    except (OSError, ValueError, KeyError, TypeError):
        return f"another driver holds {path}"
