"""One driver per sweep: a lock in the sweep folder, as strong as the storage allows.

- **A local or NFS folder**: ``flock(2)`` on ``driver.lock``. The kernel drops it when the driver's
  process ends, however it ends (SIGKILL and OOM included), so a stale lock never blocks a later
  ``--resume``, and no PID has to be guessed alive or dead. Linux NFS clients honour flock across
  hosts (it maps to NFS byte-range locks).
- **An object store** (``s3://``, ``gs://``): no lock exists there, and raysweep writes through
  pyarrow, which has no conditional put. The driver keeps a *lease* instead: ``driver.lock`` names the
  holder (host, PID) and an expiry it renews every ``LEASE_S / 3`` seconds. A second driver that finds
  an unexpired lease is refused; a lease whose holder is a dead process on the same host, or that was
  not renewed for ``LEASE_S`` seconds, is taken over. What is left unprotected: two drivers starting
  within the same second can both take a free lease (read, then write, no compare-and-swap), and a
  driver that is paused for longer than the lease can lose it without noticing. The message of a
  refused driver says so.

The holder's description (host, PID, start time) is the file's text either way, for the message a
second driver gets.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from raysweep.storage import StoragePath, location

LOCK_FILE = "driver.lock"
LEASE_S = 60.0
"""How long an object-store lease lasts without renewal: a SIGKILLed driver on another host blocks a
resume for at most this long."""


class SweepBusy(Exception):
    """Another driver holds the sweep's lock."""


def holder_description() -> dict[str, object]:
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def busy_message(sweep_id: str, holder: str) -> str:
    return (
        f"sweep {sweep_id} is already running: {holder}. Wait for that driver to end, or stop it "
        "(Ctrl-C, or kill -TERM its PID), then resume"
    )


@dataclass
class SweepLock:
    """``flock(2)`` on ``driver.lock`` in a local (or NFS) sweep folder."""

    path: Path
    fd: int

    @classmethod
    def acquire(cls, sweep_dir: StoragePath | Path, sweep_id: str) -> SweepLock | LeaseLock:
        """The sweep's lock: flock where the folder is on a filesystem, a lease in an object store."""
        folder = location(sweep_dir)
        if folder.local_path is None:
            return LeaseLock.acquire(folder, sweep_id)
        sweep_dir = folder.local_path
        sweep_dir.mkdir(parents=True, exist_ok=True)
        path = sweep_dir / LOCK_FILE
        # O_CLOEXEC: processes the driver starts (Ray's) must not inherit, and so keep, the lock.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = describe_holder(path)
            os.close(fd)
            raise SweepBusy(busy_message(sweep_id, holder)) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(holder_description()).encode(), 0)
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


@dataclass
class LeaseLock:
    """A renewed lease on ``driver.lock`` in an object-store sweep folder (see the module's docstring)."""

    path: StoragePath
    holder: dict[str, object]
    lease_s: float = LEASE_S
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _renewer: threading.Thread | None = field(default=None, repr=False)

    @classmethod
    def acquire(cls, sweep_dir: StoragePath, sweep_id: str, lease_s: float = LEASE_S) -> LeaseLock:
        path = sweep_dir / LOCK_FILE
        current = read_lease(path)
        if current is not None and lease_alive(current):
            raise SweepBusy(
                busy_message(sweep_id, describe_lease(current))
                + f". (The storage {sweep_dir} is an object store: raysweep keeps a {lease_s:.0f}-s lease "
                "there, not a lock; a driver that died on another host blocks until its lease expires, and "
                "two drivers started within the same second are not kept apart)"
            )
        lock = cls(path, {**holder_description(), "lease_s": lease_s}, lease_s=lease_s)
        lock._write()
        lock._renewer = threading.Thread(target=lock._renew, name="raysweep-lease", daemon=True)
        lock._renewer.start()
        return lock

    def _write(self) -> None:
        self.holder["expires"] = time.time() + self.lease_s
        self.path.write_text(json.dumps(self.holder))

    def _renew(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            with contextlib.suppress(OSError):  # an unreachable store: the next renewal tries again
                self._write()

    def release(self) -> None:
        """Stop renewing and delete the lease, if it is still ours."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=30)
            self._renewer = None
        with contextlib.suppress(OSError):
            current = read_lease(self.path)
            if (
                current is not None
                and current.get("pid") == self.holder["pid"]
                and current.get("host") == self.holder["host"]
            ):
                self.path.unlink(missing_ok=True)


def read_lease(path: StoragePath) -> dict[str, object] | None:
    try:
        lease = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None  # unreadable: not a lease anyone can hold
    return lease if isinstance(lease, dict) else None


def lease_alive(lease: dict[str, object]) -> bool:
    """Unexpired, and not held by a process of this host that is gone."""
    expires = lease.get("expires")
    if not isinstance(expires, int | float) or expires < time.time():
        return False
    if lease.get("host") == socket.gethostname() and isinstance(lease.get("pid"), int):
        return pid_alive(int(lease["pid"]))  # type: ignore[arg-type]
    return True


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) holds nothing.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def describe_lease(lease: dict[str, object]) -> str:
    expires = lease.get("expires")
    until = (
        datetime.fromtimestamp(float(expires), UTC).isoformat(timespec="seconds")  # type: ignore[arg-type]
        if isinstance(expires, int | float)
        else "?"
    )
    return (
        f"driver PID {lease.get('pid')} on host {lease.get('host')} (since {lease.get('started')}, lease "
        f"renewed until {until})"
    )
