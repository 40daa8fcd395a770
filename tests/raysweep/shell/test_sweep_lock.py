"""One driver per sweep: an flock on ``driver.lock`` that names its holder and dies with it, in a
local (or NFS) sweep folder; in an object store (a real S3 API server on 127.0.0.1), a lease the
driver keeps there, a second driver refused while it is held, taken over from a SIGKILLed holder."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.s3 import S3Server

from raysweep.shell.sweep_lock import LOCK_FILE, LeaseLock, SweepBusy, SweepLock, describe_holder
from raysweep.storage import parse_storage

HOLD_LOCK = """
import sys, time
from pathlib import Path
from raysweep.shell.sweep_lock import SweepLock
SweepLock.acquire(Path(sys.argv[1]), "s1")
print("locked", flush=True)
time.sleep(600)
"""

HOLD_LEASE = """
import sys, time
from raysweep.shell.sweep_lock import SweepLock
from raysweep.storage import parse_storage
lock = SweepLock.acquire(parse_storage(sys.argv[1]).root / "exp" / "s1", "s1")
print("held", flush=True)
time.sleep(600)
"""


def test_a_held_lock_refuses_a_second_holder_until_released(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "new" / "sweep"  # created by the lock
    lock = SweepLock.acquire(sweep_dir, "s1")
    holder = json.loads((sweep_dir / LOCK_FILE).read_text())
    assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname() and holder["started"]
    with pytest.raises(SweepBusy) as busy:  # a second open file: flock refuses it, also in one process
        SweepLock.acquire(sweep_dir, "s1")
    assert str(busy.value).startswith(
        f"sweep s1 is already running: driver PID {os.getpid()} on host {socket.gethostname()} (since "
    )
    assert "then resume" in str(busy.value)
    lock.release()
    lock.release()  # twice is harmless
    assert lock.fd == -1
    SweepLock.acquire(sweep_dir, "s1").release()


def test_an_unreadable_holder_is_still_named_by_its_file(tmp_path: Path) -> None:
    path = tmp_path / LOCK_FILE
    path.write_text("not json")
    assert describe_holder(path) == f"another driver holds {path}"
    assert describe_holder(tmp_path / "absent") == f"another driver holds {tmp_path / 'absent'}"


def test_the_lock_names_its_holder_and_dies_with_it(tmp_path: Path) -> None:
    """A held lock refuses a second holder with the first one's host and PID; SIGKILLing the holder
    frees it at once (the kernel drops flock locks of a dead process: no stale lock)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(SweepBusy) as busy:
            SweepLock.acquire(tmp_path, "s1")
        assert f"sweep s1 is already running: driver PID {holder.pid} on host {socket.gethostname()}" in str(
            busy.value
        )
    finally:
        holder.kill()
        holder.wait(timeout=30)
    lock = SweepLock.acquire(tmp_path, "s1")  # the SIGKILLed holder's lock is gone
    lock.release()


def test_an_object_store_gets_a_lease_that_says_what_it_protects(s3_server: S3Server, s3_bucket: str) -> None:
    sweep_dir = parse_storage(s3_server.uri(s3_bucket)).root / "exp" / "s1"
    lock = SweepLock.acquire(sweep_dir, "s1")
    try:
        assert isinstance(lock, LeaseLock)
        lease = json.loads((sweep_dir / LOCK_FILE).read_text())
        assert lease["pid"] == os.getpid() and lease["expires"] > time.time() + 30
        with pytest.raises(SweepBusy) as refused:
            SweepLock.acquire(sweep_dir, "s1")
        message = str(refused.value)
        assert f"sweep s1 is already running: driver PID {os.getpid()}" in message
        assert "object store" in message and "not a lock" in message
    finally:
        lock.release()
    assert not (sweep_dir / LOCK_FILE).exists()  # released: the next driver finds nothing
    SweepLock.acquire(sweep_dir, "s1").release()


def test_a_lease_is_renewed_and_expires(s3_server: S3Server, s3_bucket: str) -> None:
    sweep_dir = parse_storage(s3_server.uri(s3_bucket)).root / "exp" / "s1"
    lock = LeaseLock.acquire(sweep_dir, "s1", lease_s=3.0)
    first = json.loads((sweep_dir / LOCK_FILE).read_text())["expires"]
    time.sleep(2.5)  # the renewer writes every lease_s / 3
    assert json.loads((sweep_dir / LOCK_FILE).read_text())["expires"] > first
    lock._stop.set()  # a driver that stopped renewing (paused, or its host lost)
    lock._renewer.join()
    lease = json.loads((sweep_dir / LOCK_FILE).read_text())
    lease["host"] = "another-host"  # not a process this host can check
    (sweep_dir / LOCK_FILE).write_text(json.dumps(lease))
    with pytest.raises(SweepBusy):
        LeaseLock.acquire(sweep_dir, "s1")
    time.sleep(max(0.0, lease["expires"] - time.time()) + 0.2)
    LeaseLock.acquire(sweep_dir, "s1").release()  # expired: taken over


def test_a_sigkilled_holder_on_this_host_blocks_nothing(s3_server: S3Server, s3_bucket: str) -> None:
    uri = s3_server.uri(s3_bucket)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LEASE, uri], stdout=subprocess.PIPE, text=True, env=os.environ
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        sweep_dir = parse_storage(uri).root / "exp" / "s1"
        with pytest.raises(SweepBusy, match=f"driver PID {holder.pid}"):
            SweepLock.acquire(sweep_dir, "s1")
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        SweepLock.acquire(sweep_dir, "s1").release()  # its lease is unexpired, but its process is gone
    finally:
        holder.kill()
        holder.wait(timeout=30)
