"""The launcher's exit codes (a fixed interface: scripts and schedulers read them) and the error that
means bad input.

- 0: every trial finished;
- 1: some trials failed (named in the summary), or the storage filled up;
- 2: bad config or data, a ``--resume`` of a sweep whose driver is still running, or an MLflow
  tracking server that refuses the launcher (credentials, permission, host name): found before
  anything was written (:class:`LaunchError` and the core's input errors);
- 130 / 143: stopped by SIGINT (Ctrl-C) / SIGTERM, 128 + the signal as a shell reports it.
"""

from __future__ import annotations

import signal

EXIT_OK, EXIT_TRIALS_FAILED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_SIGINT, EXIT_SIGTERM = 128 + signal.SIGINT, 128 + signal.SIGTERM


class LaunchError(Exception):
    """Bad input found before anything was written; exit 2."""


def stopped_by(signum: int) -> int:
    """The exit code of a sweep stopped by ``signum``."""
    return EXIT_SIGINT if signum == signal.SIGINT else EXIT_SIGTERM
