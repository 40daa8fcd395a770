"""A real SQLite MLflow store per test module (creating one runs MLflow's migrations: seconds), one
basic-auth MLflow server for the whole session (starting one takes a minute on 2 cores; each module
makes its own users and experiments on it), and an environment without the developer's MLflow
credentials."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count

import pytest
from helpers.cluster import start_cluster_or_skip
from helpers.secured_tracking import SecuredServer
from mlflow.tracking import MlflowClient

from raysweep.shell.tracking.access import CREDENTIAL_VARIABLES
from raysweep.shell.tracking.patience import MLFLOW_HTTP_ATTEMPT_ENV, TrackingPatience
from raysweep.shell.tracking.sweep_run import ensure_experiment


@dataclass
class Store:
    uri: str
    client: MlflowClient
    patience: TrackingPatience
    _names = count()

    def experiment(self) -> str:
        """A fresh experiment (its id), so tests of one module never see each other's runs."""
        return ensure_experiment(self.client, f"experiment-{next(self._names)}", self.uri)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    return Store(uri, MlflowClient(uri), TrackingPatience(uri, outage_limit_s=30))


@pytest.fixture(scope="session")
def secured_server() -> Iterator[SecuredServer]:
    """``mlflow server --app-name basic-auth`` (host check: 127.0.0.1:PORT only, artifacts in an S3
    bucket), shared by the modules that test refusals; stopped by PID at the session's end."""
    server = start_cluster_or_skip(SecuredServer.start)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def no_credentials_of_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """No credentials of the developer's shell, and MLflow's request retries as the launcher sets them."""
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in MLFLOW_HTTP_ATTEMPT_ENV.items():
        monkeypatch.setenv(name, value)
