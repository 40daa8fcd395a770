"""One driver per sweep: an flock on ``driver.lock`` that names its holder and dies with it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from raysweep.shell.sweep_lock import LOCK_FILE, SweepBusy, SweepLock, describe_holder

HOLD_LOCK = """
import sys, time
from pathlib import Path
from raysweep.shell.sweep_lock import SweepLock
SweepLock.acquire(Path(sys.argv[1]), "s1")
print("locked", flush=True)
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
