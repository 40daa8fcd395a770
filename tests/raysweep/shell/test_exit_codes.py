"""The launcher's exit codes: a fixed interface scripts and schedulers read."""

from __future__ import annotations

import signal

from raysweep.shell.exit_codes import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    EXIT_TRIALS_FAILED,
    LaunchError,
    stopped_by,
)


def test_the_codes_are_the_documented_ones() -> None:
    assert (EXIT_OK, EXIT_TRIALS_FAILED, EXIT_BAD_INPUT, EXIT_SIGINT, EXIT_SIGTERM) == (0, 1, 2, 130, 143)


def test_a_stop_by_signal_is_128_plus_the_signal_as_shells_report_it() -> None:
    assert stopped_by(signal.SIGINT) == 130 == 128 + signal.SIGINT
    assert stopped_by(signal.SIGTERM) == 143 == 128 + signal.SIGTERM


def test_bad_input_is_an_ordinary_exception() -> None:
    assert issubclass(LaunchError, Exception) and not issubclass(LaunchError, KeyboardInterrupt)
