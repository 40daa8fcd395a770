"""Processes the tests start, as the kernel sees them: free ports, process groups, descendants, and
the command lines that name a Ray session. Read from ``/proc``, so nothing depends on ``ps``."""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import socket
import sys
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
"""The test interpreter's venv: its console scripts (``ray``, ``mlflow``) are the project's."""

RAY_SESSION = re.compile(r"/[^\s\0=]*/session_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_\d+_\d+")
"""A local Ray instance's session folder; every process of the instance has it in its command line."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on (as of now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def die_with_parent() -> None:
    """Child-side (``preexec_fn``): get SIGTERM if the test process dies (even SIGKILLed), so nothing
    is orphaned."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _stat_fields(pid: int | str) -> list[str] | None:
    """``/proc/PID/stat`` after the command name (field 3, the state, first), or None if it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def pids_in_group(pgid: int) -> list[int]:
    """Live (not zombie) PIDs of process group ``pgid``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(entry.name)
            if fields is not None and int(fields[2]) == pgid and fields[0] != "Z":
                pids.append(int(entry.name))
    return pids


def process_start_time(pid: int) -> int | None:
    """Kernel start time of ``pid`` (to tell a process from a later one reusing its PID), or None."""
    fields = _stat_fields(pid)
    return None if fields is None or fields[0] == "Z" else int(fields[19])


def descendants(pid: int) -> set[tuple[int, int]]:
    """(pid, start time) of ``pid`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(entry.name)
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
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
