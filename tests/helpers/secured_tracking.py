"""A shared, authenticated MLflow as a team runs it, on 127.0.0.1: ``mlflow server --app-name
basic-auth``, a host check that allows only ``127.0.0.1:PORT``, and artifacts in an S3 bucket served by
moto's S3 API server (:mod:`helpers.s3`), the server proxying every upload (``--serve-artifacts``).

:class:`SecuredMlflowServer` is that server (``helpers.mlflow_server.MlflowServer`` with auth and the
bucket); :class:`SecuredCluster` is ``helpers.cluster.LocalCluster`` (PostgreSQL, two Ray nodes, the
same process handling and cleanup by process group) with it in place of the plain one, and
:class:`SecuredServer` is the server alone (SQLite backend, no PostgreSQL, no Ray), for tests of the
tracking package. The Ray nodes get no MLflow credentials: trials that reach the server prove that
the launcher handed its own to them. Users are created and changed through the server's own REST API
with the admin's credentials, as an admin does.
"""

from __future__ import annotations

import base64
import secrets
import tempfile
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.cluster import LocalCluster
from helpers.mlflow_rest import MlflowRest
from helpers.mlflow_server import MlflowServer
from helpers.processes import VENV_BIN, free_port
from helpers.s3 import S3Server
from helpers.supervisor import ClusterUnavailable, Managed, Supervisor

ADMIN = "admin"
ARTIFACT_BUCKET = "raysweep-artifacts"
ARTIFACT_PREFIX = "mlflow"


def basic_auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class AuthenticatedRest(MlflowRest):
    """The plain REST reader of ``helpers.mlflow_rest``, sending a user's basic-auth header."""

    def __init__(self, base: str, user: str, password: str) -> None:
        super().__init__(base)
        self.auth = basic_auth(user, password)

    def request(self, method: str, path: str, body: dict | None = None, headers: dict | None = None) -> Any:
        return super().request(method, path, body, {**self.auth, **(headers or {})})

    def download(self, run_id: str, path: str) -> bytes:
        url = f"{self.base}/get-artifact?{urllib.parse.urlencode({'run_id': run_id, 'path': path})}"
        with urllib.request.urlopen(urllib.request.Request(url, headers=self.auth), timeout=30) as response:
            return response.read()


@dataclass
class SecuredMlflowServer(MlflowServer):
    """``mlflow server --app-name basic-auth`` with its artifacts in the bucket of ``s3`` (started
    with the server, unless it runs already)."""

    s3: S3Server | None = None
    admin_password: str = field(default_factory=lambda: secrets.token_hex(16))

    @property
    def artifacts_destination(self) -> str:
        return f"s3://{ARTIFACT_BUCKET}/{ARTIFACT_PREFIX}"

    def spawn(self) -> Managed:
        if self.s3 is None:  # a restarted tracking server keeps its bucket
            self.s3 = S3Server.start_supervised(self.supervisor)
            self.s3.create_bucket(ARTIFACT_BUCKET)
        self.port = self.port or free_port()
        root = self.supervisor.root
        config = root / "basic_auth.ini"
        config.write_text(
            "[mlflow]\n"
            "default_permission = READ\n"
            f"database_uri = sqlite:///{root / 'basic_auth.db'}\n"
            f"admin_username = {ADMIN}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        )
        return self.supervisor.spawn(
            "mlflow",
            [
                str(VENV_BIN / "mlflow"),
                "server",
                "--app-name",
                "basic-auth",
                "--backend-store-uri",
                self.backend_store_uri,
                "--artifacts-destination",
                self.artifacts_destination,
                "--serve-artifacts",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                # Only the address the tests use: http://localhost:PORT is a host it refuses.
                "--allowed-hosts",
                f"127.0.0.1:{self.port}",
                "--workers",
                "1",
            ],
            cwd=root,
            env={
                "MLFLOW_AUTH_CONFIG_PATH": str(config),
                "MLFLOW_AUTH_ADMIN_PASSWORD": self.admin_password,
                "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
                **self.s3.client_env,
            },
            grace=5.0,  # uvicorn waits for idle keep-alive connections; nothing to flush
        )


class SecuredAccess:
    """Users and the bucket of a secured server (``self.mlflow``), as its admin handles them."""

    mlflow: SecuredMlflowServer

    @property
    def mlflow_port(self) -> int:
        return self.mlflow.port

    def bucket_keys(self) -> list[str]:
        return self.mlflow.s3.keys(ARTIFACT_BUCKET)

    def admin(self) -> AuthenticatedRest:
        return AuthenticatedRest(self.mlflow.tracking_uri, ADMIN, self.mlflow.admin_password)

    def rest(self, user: str, password: str) -> AuthenticatedRest:
        return AuthenticatedRest(self.mlflow.tracking_uri, user, password)

    def create_user(self, user: str, password: str) -> None:
        self.admin().request("POST", "/api/2.0/mlflow/users/create", {"username": user, "password": password})

    def update_password(self, user: str, password: str) -> None:
        self.admin().request(
            "PATCH", "/api/2.0/mlflow/users/update-password", {"username": user, "password": password}
        )

    def create_experiment(self, name: str) -> str:
        """An experiment the admin owns: other users get the server's default permission, READ."""
        return self.admin().request("POST", "/api/2.0/mlflow/experiments/create", {"name": name})[
            "experiment_id"
        ]

    def credentials(self, user: str, password: str) -> dict[str, str]:
        """The environment a launcher run as ``user`` gets (MLflow's own variables)."""
        return {"MLFLOW_TRACKING_USERNAME": user, "MLFLOW_TRACKING_PASSWORD": password}


@dataclass
class SecuredCluster(SecuredAccess, LocalCluster):
    """``LocalCluster`` with the secured server on its PostgreSQL."""

    mlflow: SecuredMlflowServer

    @classmethod
    def start(cls, **options: Any) -> SecuredCluster:
        """``LocalCluster.start``'s options (PostgreSQL is what the secured server's tests need)."""
        if not (VENV_BIN / "moto_server").exists():
            raise ClusterUnavailable(f"{VENV_BIN / 'moto_server'} not found: pip install -e .[dev]")
        return super().start(**options)

    @classmethod
    def mlflow_server(cls, supervisor: Supervisor) -> SecuredMlflowServer:
        return SecuredMlflowServer(supervisor, "")


@dataclass
class SecuredServer(SecuredAccess):
    """The S3 stand-in and the secured tracking server alone, on a SQLite backend (no PostgreSQL, no Ray)."""

    supervisor: Supervisor
    mlflow: SecuredMlflowServer

    @classmethod
    def start(cls) -> SecuredServer:
        for tool in ("mlflow", "moto_server"):
            if not (VENV_BIN / tool).exists():
                raise ClusterUnavailable(f"{VENV_BIN / tool} not found: pip install -e .[dev]")
        supervisor = Supervisor(Path(tempfile.mkdtemp(prefix="rs-auth-")))
        server = cls(
            supervisor, SecuredMlflowServer(supervisor, f"sqlite:///{supervisor.root / 'mlflow.db'}")
        )
        try:
            supervisor.start_reaper()
            server.mlflow.wait(server.mlflow.spawn())
        except BaseException:
            server.stop()
            raise
        return server

    def stop(self) -> list[str]:
        return self.supervisor.stop()

    @property
    def root(self) -> Path:
        return self.supervisor.root

    @property
    def processes(self) -> list[Managed]:
        return self.supervisor.processes

    @property
    def tracking_uri(self) -> str:
        return self.mlflow.tracking_uri


def new_password() -> str:
    """A password MLflow's basic-auth accepts (12 characters at least), unique per call."""
    return secrets.token_hex(12)
