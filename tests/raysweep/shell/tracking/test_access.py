"""The credential variables: which travel to the trials, what a sweep's context shows of them, and a
tracking URI that carries them refused. The check against a real server is ``test_access_check.py``."""

from __future__ import annotations

import os

import pytest

from raysweep.shell.tracking.access import (
    PASSWORD_VARIABLE,
    TOKEN_VARIABLE,
    USERNAME_VARIABLE,
    TrackingCredentials,
    uri_credentials_problem,
)
from raysweep.shell.trainable import SweepContext
from raysweep.storage import location

pytestmark = pytest.mark.usefixtures("no_credentials_of_the_shell")

USER = "alice"


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
        sweep_dir=location("/tmp/s"),
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
