"""Ctrl-C and SIGTERM to the driver: a graceful stop on the first signal, an immediate one on the second.

While Tune runs, the first SIGINT or SIGTERM goes to Tune's own interrupt path (the one its SIGUSR1
handler takes): it stops the trials and saves the experiment state one last time, and ``fit()``
returns. Outside Tune there is nothing to wind down, so the first signal already stops at once. A
stop at once raises :class:`SweepInterrupted` (a KeyboardInterrupt) in the driver's main thread, wherever it is; the
launcher's cleanup (shut Ray down, mark runs KILLED, print the ``--resume`` command) still runs,
with further signals ignored so that it completes. The exit code is 128 + the signal: 130 for
SIGINT, 143 for SIGTERM, as shells report a process killed by that signal.

The graceful stop can outlast whoever sent the signal: ``ray job stop`` sends SIGTERM and SIGKILLs
the job's processes 3 s later (``RAY_JOB_STOP_WAIT_TIME_S``), Kubernetes after the pod's grace
period. So what must happen in any case runs first, beside the graceful stop: the first signal
starts ``on_first_stop`` (the launcher marks the sweep's runs KILLED) in a thread of its own, before
Tune is told to stop.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SweepInterrupted(KeyboardInterrupt):
    """A stop signal that takes effect at once.

    A KeyboardInterrupt: no ``except Exception`` on the way swallows it, and Ray's blocking calls
    (``ray.get``, ``ray.wait``) turn exactly this type into their own interrupt; any other
    exception raised in a handler during those calls surfaces as a SystemError. Ray re-raises a
    plain KeyboardInterrupt, so the signal's number is read from ``StopSignals.received``.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


def exit_code(signum: int) -> int:
    return 128 + signum


class StopSignals:
    """The driver's SIGINT/SIGTERM handling for one sweep (install, then restore)."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._tune_running = False
        self._previous: dict[int, Any] = {}
        self.on_first_stop: Callable[[int], None] | None = None
        """Run in a thread of its own when the first signal arrives (what must happen even if the
        process is killed during the graceful stop)."""
        self._first_stop: threading.Thread | None = None

    def wait_first_stop(self, timeout: float) -> None:
        """Let the ``on_first_stop`` thread finish (the launcher's cleanup repeats what it does)."""
        if self._first_stop is not None:
            self._first_stop.join(timeout)

    def install(self) -> None:
        """(Re)install the handlers: ``ray.init`` replaces the SIGTERM handler with its own."""
        # Tune must not take SIGINT itself: its handler would swallow SIGTERM's twin and leave the
        # second Ctrl-C to Python's KeyboardInterrupt. Read by Tuner.fit(), so set before it.
        os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
        for signum in STOP_SIGNALS:
            previous = signal.signal(signum, self._handle)
            self._previous.setdefault(signum, previous)

    def ignore_further(self) -> None:
        """During the final cleanup: let it finish (SIGKILL still ends the driver)."""
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)

    def restore(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    @contextlib.contextmanager
    def during_tune(self) -> Iterator[None]:
        """Around ``Tuner.fit()``: the first signal becomes Tune's graceful stop."""
        self._tune_running = True
        try:
            yield
        finally:
            self._tune_running = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum
            if self.on_first_stop is not None:
                self._first_stop = threading.Thread(
                    target=self.on_first_stop, args=(signum,), name="raysweep-first-stop", daemon=True
                )
                self._first_stop.start()
            tune_interrupt = signal.getsignal(signal.SIGUSR1)  # installed by Tune inside fit()
            if self._tune_running and callable(tune_interrupt):
                print(
                    f"\n{signal.Signals(signum).name}: stopping the sweep (trials stop, their state is saved); "
                    "press Ctrl-C again to stop at once",
                    file=sys.stderr,
                    flush=True,
                )
                tune_interrupt(signal.SIGUSR1, frame)
                return
        raise SweepInterrupted(self.received)
