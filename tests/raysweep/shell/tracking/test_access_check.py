"""The check before a sweep starts, against a real ``mlflow server --app-name basic-auth`` on 127.0.0.1
(``helpers.secured_tracking``): right credentials pass, a refusal says what was refused within seconds,
stores without a server and an unreachable server are left to the sweep's own calls."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from helpers.processes import free_port
from helpers.secured_tracking import SecuredServer, new_password

from raysweep.shell.tracking.access import PASSWORD_VARIABLE, TOKEN_VARIABLE, USERNAME_VARIABLE
from raysweep.shell.tracking.access_check import check_access
from raysweep.shell.tracking.patience import REFUSED_AUTHENTICATION, REFUSED_HOST, TrackingRefused

pytestmark = [
    pytest.mark.faults,
    pytest.mark.timeout(300),
    pytest.mark.usefixtures("no_credentials_of_the_shell"),
]

USER = "alice"


@pytest.fixture(scope="module")
def server(secured_server: SecuredServer) -> tuple[SecuredServer, str]:
    """The secured server, with one user (``alice``) and her password."""
    password = new_password()
    secured_server.create_user(USER, password)
    return secured_server, password


def login(monkeypatch: pytest.MonkeyPatch, **variables: str) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)


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
