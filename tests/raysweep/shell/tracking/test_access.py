"""The credential variables, what a sweep's context shows of them, and the check before a sweep starts,
against a real ``mlflow server --app-name basic-auth`` on 127.0.0.1 (``helpers.secured_tracking``)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.cluster import start_cluster_or_skip
from helpers.processes import free_port
from helpers.secured_tracking import SecuredServer, new_password

from raysweep.shell.tracking.access import (
    CREDENTIAL_VARIABLES,
    PASSWORD_VARIABLE,
    TOKEN_VARIABLE,
    USERNAME_VARIABLE,
    TrackingCredentials,
    check_access,
    uri_credentials_problem,
)
from raysweep.shell.tracking.patience import (
    MLFLOW_HTTP_ATTEMPT_ENV,
    REFUSED_AUTHENTICATION,
    REFUSED_HOST,
    TrackingRefused,
)
from raysweep.shell.trainable import SweepContext

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

USER = "alice"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No credentials of the developer's shell, and MLflow's request retries as the launcher sets them."""
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in MLFLOW_HTTP_ATTEMPT_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[SecuredServer, str]]:
    """The secured server alone, with one user (``alice``) and her password."""
    running = start_cluster_or_skip(SecuredServer.start)
    try:
        password = new_password()
        running.create_user(USER, password)
        yield running, password
    finally:
        running.stop()


def login(monkeypatch: pytest.MonkeyPatch, **variables: str) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)


def test_only_the_set_variables_travel_and_a_trial_sets_them(monkeypatch: pytest.MonkeyPatch) -> None:
    environment = {USERNAME_VARIABLE: USER, PASSWORD_VARIABLE: "s3cret-value", "UNRELATED": "x"}
    credentials = TrackingCredentials.from_environment(environment)
    assert dict(credentials.values) == {USERNAME_VARIABLE: USER, PASSWORD_VARIABLE: "s3cret-value"}
    for name in (USERNAME_VARIABLE, PASSWORD_VARIABLE):  # so the test's end removes what apply() sets
        monkeypatch.setenv(name, "a node's own value")
    credentials.apply()  # what a trial on another node does before its first MLflow call
    assert os.environ[PASSWORD_VARIABLE] == "s3cret-value" and os.environ[USERNAME_VARIABLE] == USER
    assert TOKEN_VARIABLE not in os.environ
    assert TrackingCredentials.from_environment({}).values == ()


def test_a_sweep_context_prints_the_names_never_the_values() -> None:
    credentials = TrackingCredentials.from_environment(
        {USERNAME_VARIABLE: USER, TOKEN_VARIABLE: "tok-123456"}
    )
    context = SweepContext(
        sweep_id="s",
        plan=None,
        tracking_uri="http://mlflow:5000",
        experiment_id="1",
        parent_run_id="p",
        dataset_store=None,
        embedding_store=None,
        cpus_per_trial=1.0,
        sweep_dir="/tmp/s",
        tracking_outage_limit_s=600.0,
        tracking_credentials=credentials,
    )
    for text in (repr(context), str(context), repr(credentials)):
        assert "tok-123456" not in text and TOKEN_VARIABLE in text, text
        assert USER not in text  # not even the user: the repr lists names only


def test_a_tracking_uri_with_credentials_in_it_is_refused() -> None:
    problem = uri_credentials_problem("https://alice:pw@mlflow.example.org")
    assert problem and PASSWORD_VARIABLE in problem and ":pw@" not in problem
    assert uri_credentials_problem("https://mlflow.example.org:5000") is None
    # A database URI carries its password by design; it is the store, not a server with users.
    assert uri_credentials_problem("postgresql+psycopg2://mlflow:pw@db:5432/mlflow") is None


def test_right_credentials_pass(server, monkeypatch: pytest.MonkeyPatch) -> None:
    running, password = server
    login(monkeypatch, MLFLOW_TRACKING_USERNAME=USER, MLFLOW_TRACKING_PASSWORD=password)
    check_access(running.tracking_uri, "an-experiment-not-created-yet")


@pytest.mark.parametrize(
    ("variables", "says"),
    [
        ({}, "none: neither MLFLOW_TRACKING_USERNAME nor MLFLOW_TRACKING_TOKEN is set"),
        ({USERNAME_VARIABLE: USER, PASSWORD_VARIABLE: "wrong-password-here"}, "user 'alice'"),
        ({USERNAME_VARIABLE: "mallory", PASSWORD_VARIABLE: "wrong-password-here"}, "user 'mallory'"),
        ({TOKEN_VARIABLE: "not-a-token-this-server-knows"}, "a token from MLFLOW_TRACKING_TOKEN"),
    ],
    ids=["no credentials", "wrong password", "unknown user", "bearer token"],
)
def test_refused_authentication_says_so_within_seconds(
    server, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], says: str
) -> None:
    running, _ = server
    login(monkeypatch, **variables)
    started = time.monotonic()
    with pytest.raises(TrackingRefused) as raised:
        check_access(running.tracking_uri, "raysweep-quickstart")
    assert time.monotonic() - started < 30  # one request; the server hashes the password (2-10 s here)
    message = str(raised.value)
    assert raised.value.refused == REFUSED_AUTHENTICATION
    assert message.startswith(
        f"MLflow tracking store {running.tracking_uri} refused authentication (HTTP 401)"
    )
    assert says in message and f"set {USERNAME_VARIABLE} and {PASSWORD_VARIABLE}" in message
    assert "wrong-password-here" not in message and "not-a-token" not in message


def test_a_host_name_the_server_does_not_allow_is_refused(server, monkeypatch: pytest.MonkeyPatch) -> None:
    running, password = server
    login(monkeypatch, MLFLOW_TRACKING_USERNAME=USER, MLFLOW_TRACKING_PASSWORD=password)
    uri = f"http://localhost:{running.mlflow_port}"  # the server allows 127.0.0.1:PORT only
    with pytest.raises(TrackingRefused) as raised:
        check_access(uri, "raysweep-quickstart")
    assert raised.value.refused == REFUSED_HOST
    assert str(raised.value).startswith(f"MLflow tracking store {uri} refused host (HTTP 403)")
    assert f"'localhost:{running.mlflow_port}'" in str(raised.value) and "--allowed-hosts" in str(
        raised.value
    )


def test_stores_without_a_server_are_not_asked(tmp_path: Path) -> None:
    database = tmp_path / "not-created" / "mlflow.db"
    check_access(f"sqlite:///{database}", "x")  # a first call would create the file
    assert not database.parent.exists()


def test_an_unreachable_server_is_left_to_the_outage_limit() -> None:
    started = time.monotonic()
    check_access(f"http://127.0.0.1:{free_port()}", "x")  # not a refusal: the sweep's calls wait it out
    assert time.monotonic() - started < 30
