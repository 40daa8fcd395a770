"""raysweep.shell.sweep_lock on an object store (a real S3 API server on 127.0.0.1): the lease a driver
keeps there, a second driver refused while it is held, taken over from a SIGKILLed holder. (flock on a
local folder: tests/test_faults_driver.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from helpers.s3 import S3Server

from raysweep.shell.sweep_lock import LOCK_FILE, LeaseLock, SweepBusy, SweepLock
from raysweep.storage import parse_storage

HOLDER = """
import sys, time
from raysweep.shell.sweep_lock import SweepLock
from raysweep.storage import parse_storage
lock = SweepLock.acquire(parse_storage(sys.argv[1]).root / "exp" / "s1", "s1")
print("held", flush=True)
time.sleep(600)
"""


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
        [sys.executable, "-c", HOLDER, uri], stdout=subprocess.PIPE, text=True, env=os.environ
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
