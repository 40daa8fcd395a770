"""Tracking calls against an unreachable or failing store: how long they wait, what they say.

A real MLflow client against 127.0.0.1 ports nobody listens on, and a real SQLite store; the sweeps
that meet real outages are in ``tests/system/test_faults_cluster.py``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from helpers.processes import free_port
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, TEMPORARILY_UNAVAILABLE
from mlflow.tracking import MlflowClient

from raysweep.shell.tracking.patience import (
    MLFLOW_HTTP_ATTEMPT_ENV,
    TrackingPatience,
    TrackingUnavailable,
    is_transient,
    short_mlflow_http_attempts,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]


@pytest.fixture(autouse=True)
def short_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow's per-request retries as the launcher and the trials set them."""
    for name, value in MLFLOW_HTTP_ATTEMPT_ENV.items():
        monkeypatch.setenv(name, value)


def test_short_attempts_keep_what_a_user_exported(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in MLFLOW_HTTP_ATTEMPT_ENV:
        monkeypatch.delenv(name)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "5")
    short_mlflow_http_attempts()
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "5"
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == MLFLOW_HTTP_ATTEMPT_ENV["MLFLOW_HTTP_REQUEST_TIMEOUT"]


def test_an_unreachable_server_fails_after_the_limit_naming_the_uri(capsys: pytest.CaptureFixture) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    patience = TrackingPatience(uri, outage_limit_s=4)
    started = time.monotonic()
    with pytest.raises(TrackingUnavailable) as raised:
        patience.call(lambda: MlflowClient(uri).get_experiment_by_name("x"))
    waited = time.monotonic() - started
    assert 4 <= waited < 20, waited  # the limit, plus at most one short attempt
    assert str(raised.value).startswith(f"MLflow tracking store {uri} unreachable for ")
    assert "past the outage limit of 4s (--tracking-outage-limit)" in str(raised.value)
    assert f"MLflow at {uri} unreachable" in capsys.readouterr().err  # said once, when it started


def test_a_store_that_comes_back_within_the_limit_is_waited_for() -> None:
    failures = iter([MlflowException("x", error_code=TEMPORARILY_UNAVAILABLE)] * 3)

    def flaky() -> str:
        error = next(failures, None)
        if error is not None:
            raise error
        return "logged"

    assert TrackingPatience("sqlite:///x.db", outage_limit_s=30).call(flaky) == "logged"


def test_errors_that_waiting_cannot_fix_are_raised_at_once(tmp_path: Path) -> None:
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    started = time.monotonic()
    with pytest.raises(MlflowException) as raised:
        TrackingPatience(f"sqlite:///{tmp_path / 'mlflow.db'}", 60).call(lambda: client.get_run("0" * 32))
    assert time.monotonic() - started < 10
    assert not isinstance(raised.value, TrackingUnavailable) and not is_transient(raised.value)


def test_transient_errors() -> None:
    assert is_transient(
        MlflowException("API request to http://h/api failed with exception Max retries exceeded")
    )
    assert is_transient(MlflowException("busy", error_code=TEMPORARILY_UNAVAILABLE))
    assert is_transient(MlflowException("(sqlite3.OperationalError) database is locked"))
    assert not is_transient(MlflowException("no such run", error_code=RESOURCE_DOES_NOT_EXIST))
    assert not is_transient(ValueError("bad value"))


def test_the_last_error_s_first_line_is_what_is_said() -> None:
    from raysweep.shell.tracking.patience import first_line

    assert first_line(ValueError("no route\nmore detail")) == "no route"
    assert first_line(ValueError("")) == "ValueError"
