"""Ctrl-C and SIGTERM to the driver: outside Tune the first signal stops at once; while Tune runs it
becomes Tune's graceful stop, and the second one stops at once. Real signals to this process, with
the previous handlers restored afterwards."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from raysweep.shell.stop_signals import STOP_SIGNALS, StopSignals, SweepInterrupted, exit_code


@pytest.fixture
def stop(monkeypatch: pytest.MonkeyPatch) -> Iterator[StopSignals]:
    """Installed handlers (and Tune's SIGUSR1 slot), restored however the test ends."""
    monkeypatch.delenv("TUNE_DISABLE_SIGINT_HANDLER", raising=False)
    usr1 = signal.getsignal(signal.SIGUSR1)
    handlers = StopSignals()
    handlers.install()
    try:
        yield handlers
    finally:
        handlers.restore()
        signal.signal(signal.SIGUSR1, usr1)


def test_install_takes_both_signals_and_keeps_tune_off_sigint(stop: StopSignals) -> None:
    assert all(signal.getsignal(s) == stop._handle for s in STOP_SIGNALS)
    assert os.environ["TUNE_DISABLE_SIGINT_HANDLER"] == "1"
    stop.install()  # again (after ray.init): the handlers to restore stay the original ones
    stop.restore()
    assert all(signal.getsignal(s) != stop._handle for s in STOP_SIGNALS)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_outside_tune_the_first_signal_stops_at_once(stop: StopSignals, signum: int, code: int) -> None:
    with pytest.raises(SweepInterrupted) as raised:
        os.kill(os.getpid(), signum)
    assert raised.value.signum == signum and stop.received == signum
    assert str(raised.value) == f"stopped by {signal.Signals(signum).name}"
    assert isinstance(raised.value, KeyboardInterrupt)  # no `except Exception` swallows it
    assert exit_code(signum) == code


def test_during_tune_the_first_signal_is_tune_s_stop_and_the_second_stops_at_once(
    stop: StopSignals, capsys: pytest.CaptureFixture
) -> None:
    tune_stops = []
    signal.signal(signal.SIGUSR1, lambda signum, frame: tune_stops.append(signum))
    with stop.during_tune():
        os.kill(os.getpid(), signal.SIGTERM)  # graceful: handed to Tune's interrupt, no exception
        assert tune_stops == [signal.SIGUSR1] and stop.received == signal.SIGTERM
        assert "SIGTERM: stopping the sweep" in capsys.readouterr().err
        with pytest.raises(SweepInterrupted) as raised:
            os.kill(os.getpid(), signal.SIGINT)
    assert raised.value.signum == signal.SIGTERM  # the exit code is the first signal's
    assert tune_stops == [signal.SIGUSR1]


def test_ignore_further_lets_the_cleanup_finish(stop: StopSignals) -> None:
    stop.ignore_further()
    os.kill(os.getpid(), signal.SIGTERM)  # ignored: no exception, nothing received
    assert stop.received is None
    assert all(signal.getsignal(s) == signal.SIG_IGN for s in STOP_SIGNALS)
