"""A shared, authenticated MLflow as a team runs it, on 127.0.0.1: ``mlflow server --app-name
basic-auth``, a host check that allows only ``127.0.0.1:PORT``, and artifacts in an S3 bucket served by
moto's S3 API server (``moto_server``), the server proxying every upload (``--serve-artifacts``).

:class:`SecuredCluster` is ``helpers.cluster.LocalCluster`` (PostgreSQL, two Ray nodes, the same
process handling and cleanup by PID) with that server in place of the plain one; its
:meth:`SecuredCluster.start_server` starts the server alone (SQLite backend, no Ray), for tests of
the tracking package. The Ray nodes get no MLflow credentials: trials that reach the server prove
that the launcher handed its own to them. Users are created and changed through the server's own
REST API with the admin's credentials, as an admin does.
"""

from __future__ import annotations

import base64
import secrets
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.cluster import VENV_BIN, ClusterUnavailable, LocalCluster, Managed, MlflowRest, free_port

ADMIN = "admin"
BUCKET = "raysweep-artifacts"
ARTIFACT_PREFIX = "mlflow"
REGION = "us-east-1"


def basic_auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class AuthenticatedRest(MlflowRest):
    """The plain REST reader of ``helpers.cluster``, sending a user's basic-auth header."""

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
class SecuredCluster(LocalCluster):
    admin_password: str = field(default_factory=lambda: secrets.token_hex(16))
    s3_port: int = 0
    s3_keys: tuple[str, str] = field(default_factory=lambda: ("test-key-id", secrets.token_hex(16)))
    backend: str = ""
    """The tracking server's backend store: PostgreSQL in a cluster, SQLite for the server alone."""

    @classmethod
    def start_server(cls) -> SecuredCluster:
        """The S3 server and the secured tracking server alone, on a SQLite backend (no PostgreSQL, no Ray)."""
        for tool in ("mlflow", "moto_server"):
            if not (VENV_BIN / tool).exists():
                raise ClusterUnavailable(f"{VENV_BIN / tool} not found: pip install -e .[dev]")
        server = cls(root=Path(tempfile.mkdtemp(prefix="rs-auth-")))
        server.backend = f"sqlite:///{server.root / 'mlflow.db'}"
        try:
            server._start_reaper()
            server._wait_mlflow(server._spawn_mlflow())
        except BaseException:
            server.stop()
            raise
        return server

    @property
    def backend_store_uri(self) -> str:
        return self.backend or super().backend_store_uri

    @property
    def s3_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def artifacts_destination(self) -> str:
        return f"s3://{BUCKET}/{ARTIFACT_PREFIX}"

    def _start_s3(self) -> None:
        self.s3_port = free_port()
        server = self._spawn(
            "s3", [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.s3_port)], cwd=self.root
        )
        self._wait(server, lambda: self._answers(f"{self.s3_endpoint}/moto-api/"), "moto_server", timeout=120)
        self.s3().create_bucket(Bucket=BUCKET)

    @staticmethod
    def _answers(url: str) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=3):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    def s3(self) -> Any:
        """A boto3 S3 client on the bucket's server, with the keys the tracking server has."""
        import boto3

        key_id, secret = self.s3_keys
        return boto3.client(
            "s3",
            endpoint_url=self.s3_endpoint,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            region_name=REGION,
        )

    def bucket_keys(self) -> list[str]:
        keys, token = [], None
        while True:
            page = self.s3().list_objects_v2(Bucket=BUCKET, **({"ContinuationToken": token} if token else {}))
            keys += [item["Key"] for item in page.get("Contents", [])]
            token = page.get("NextContinuationToken")
            if not token:
                return keys

    def _spawn_mlflow(self) -> Managed:
        if not self.s3_port:
            self._start_s3()
        self._mlflow_spawned = time.perf_counter()
        self.mlflow_port = self.mlflow_port or free_port()
        config = self.root / "basic_auth.ini"
        config.write_text(
            "[mlflow]\n"
            "default_permission = READ\n"
            f"database_uri = sqlite:///{self.root / 'basic_auth.db'}\n"
            f"admin_username = {ADMIN}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        )
        key_id, secret = self.s3_keys
        return self._spawn(
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
                str(self.mlflow_port),
                # Only the address the tests use: http://localhost:PORT is a host it refuses.
                "--allowed-hosts",
                f"127.0.0.1:{self.mlflow_port}",
                "--workers",
                "1",
            ],
            cwd=self.root,
            env={
                "MLFLOW_AUTH_CONFIG_PATH": str(config),
                "MLFLOW_AUTH_ADMIN_PASSWORD": self.admin_password,
                "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
                "MLFLOW_S3_ENDPOINT_URL": self.s3_endpoint,
                "AWS_ACCESS_KEY_ID": key_id,
                "AWS_SECRET_ACCESS_KEY": secret,
                "AWS_DEFAULT_REGION": REGION,
            },
            grace=5.0,  # uvicorn waits for idle keep-alive connections; nothing to flush
        )

    # ------------------------------------------------------------------ users, as the admin

    def admin(self) -> AuthenticatedRest:
        return AuthenticatedRest(self.tracking_uri, ADMIN, self.admin_password)

    def rest(self, user: str, password: str) -> AuthenticatedRest:
        return AuthenticatedRest(self.tracking_uri, user, password)

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


def new_password() -> str:
    """A password MLflow's basic-auth accepts (12 characters at least), unique per call."""
    return secrets.token_hex(12)
