"""Tracking calls against an unreachable, failing or refusing store: how long they wait, what they say.

A real MLflow client against 127.0.0.1 ports nobody listens on, a real SQLite store, and a real
``mlflow server --app-name basic-auth`` that refuses (``helpers.secured_tracking``); the sweeps that
meet real outages are in ``tests/system/test_faults_cluster.py``, those that meet refusals in
``tests/system/test_tracking_auth.py``.
"""

from __future__ import annotations

import os
import pickle
import time
from pathlib import Path

import pytest
from helpers.processes import free_port
from helpers.secured_tracking import SecuredServer, new_password
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, TEMPORARILY_UNAVAILABLE
from mlflow.tracking import MlflowClient

from raysweep.shell.tracking.access import CREDENTIAL_VARIABLES
from raysweep.shell.tracking.patience import (
    MLFLOW_HTTP_ATTEMPT_ENV,
    REFUSED_AUTHENTICATION,
    REFUSED_HOST,
    REFUSED_PERMISSION,
    TrackingPatience,
    TrackingRefused,
    TrackingUnavailable,
    is_transient,
    refusal,
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


# ---------------------------------------------------------------------------------------------
# Refusals: a server that answers "no" is not an outage
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def refusing(secured_server: SecuredServer) -> tuple[SecuredServer, dict[str, str]]:
    """The basic-auth server with user ``bob`` and an experiment of the admin's, which bob may read
    (the default permission) but not write to."""
    password = new_password()
    secured_server.create_user("bob", password)
    experiment_id = secured_server.create_experiment("the-admins")
    return secured_server, {"password": password, "experiment_id": experiment_id}


@pytest.fixture
def as_user(monkeypatch: pytest.MonkeyPatch):
    def login(user: str, password: str) -> None:
        for name in CREDENTIAL_VARIABLES:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)

    return login


@pytest.mark.parametrize("refused", [REFUSED_AUTHENTICATION, REFUSED_PERMISSION, REFUSED_HOST])
def test_a_refusal_fails_at_once_not_after_the_outage_limit(refusing, as_user, refused: str) -> None:
    server, bob = refusing
    uri = server.tracking_uri
    as_user("bob", bob["password"])
    if refused == REFUSED_AUTHENTICATION:
        as_user("bob", "not-bobs-password")
    elif refused == REFUSED_HOST:
        uri = f"http://localhost:{server.mlflow_port}"
    client = MlflowClient(uri)
    started = time.monotonic()
    with pytest.raises(TrackingRefused) as raised:
        TrackingPatience(uri, outage_limit_s=600).call(lambda: client.create_run(bob["experiment_id"]))
    assert time.monotonic() - started < 60, (
        "waited as if for an outage"
    )  # of 600 s; ~2-10 s on 2 loaded cores
    assert raised.value.refused == refused and refusal(raised.value.__cause__) == refused
    assert str(raised.value).startswith(f"MLflow tracking store {uri} refused {refused} (HTTP 40")
    if refused == REFUSED_PERMISSION:
        assert "user 'bob'" in str(raised.value) and "/api/2.0/mlflow/runs/create" in str(raised.value)


def test_a_refused_artifact_upload_through_the_proxy_is_a_refusal(refusing, as_user, tmp_path: Path) -> None:
    """Uploads go to the server's artifact proxy by plain HTTP, where MLflow raises requests' HTTPError."""
    from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository

    server, _ = refusing
    as_user("bob", "not-bobs-password")
    (tmp_path / "curve.csv").write_text("round,n_labels\n0,40\n")
    repository = HttpArtifactRepository(f"{server.tracking_uri}/api/2.0/mlflow-artifacts/artifacts/0/x")
    with pytest.raises(TrackingRefused) as raised:
        TrackingPatience(server.tracking_uri, 600).call(
            lambda: repository.log_artifact(str(tmp_path / "curve.csv"))
        )
    assert raised.value.refused == REFUSED_AUTHENTICATION
    assert type(raised.value.__cause__).__name__ == "HTTPError"
    assert server.bucket_keys() == []


def test_a_refusal_survives_the_trip_to_the_driver() -> None:
    """Ray pickles a trial's exception to hand it to the driver (a failed unpickle there turns the
    message into a TypeError about __init__)."""
    error = TrackingRefused("MLflow tracking store http://h:5000 refused host (HTTP 403): ...", REFUSED_HOST)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is TrackingRefused and str(copy) == str(error) and copy.refused == REFUSED_HOST


def test_what_is_no_refusal() -> None:
    assert refusal(MlflowException("no such run", error_code=RESOURCE_DOES_NOT_EXIST)) is None
    assert refusal(MlflowException("busy", error_code=TEMPORARILY_UNAVAILABLE)) is None
    assert refusal(ValueError("bad value")) is None
