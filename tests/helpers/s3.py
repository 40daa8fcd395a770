"""An S3 API server on 127.0.0.1 for the tests: moto's server mode (``moto_server``, from ``moto[server]``
on PyPI), a real HTTP server that speaks S3's REST protocol, as MinIO or Ceph's RGW would, in a process
group of its own and stopped by PID. The one helper for every test that needs object storage:

- :meth:`S3Server.start`: stand-alone, for the storage tests' session fixtures, which stop it.
  Clients reach it as an S3-compatible store is reached in production: a URI with pyarrow's endpoint
  query (``s3://BUCKET/PREFIX?endpoint_override=127.0.0.1:PORT&scheme=http``) and the standard AWS
  credential variables (moto accepts any key; ``testing`` is its convention).
- :meth:`S3Server.start_supervised`: a child of a :class:`helpers.supervisor.Supervisor`, which stops
  it with the rest of a cluster, with a secret of its own, so a test can check that the secret
  appears in no log; the authenticated tracking server keeps its artifacts there (:attr:`client_env`).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from helpers.processes import VENV_BIN, die_with_parent, free_port

if TYPE_CHECKING:
    import pyarrow.fs

    from helpers.supervisor import Supervisor

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",  # no instance-metadata lookups from the credential chain
}
"""What a stand-alone server's clients put in their environment (moto accepts any key)."""

READY_SECONDS = 120.0
"""How long a starting server may take to answer (moto imports slowly on a loaded 2-core machine)."""


class S3Unavailable(RuntimeError):
    """moto's server is not installed: the test skips with this reason."""


def start_s3_or_skip(folder: Path) -> S3Server:
    """``S3Server.start(folder)`` for a session fixture; without moto's server the test skips."""
    import pytest

    try:
        return S3Server.start(folder)
    except S3Unavailable as exc:
        pytest.skip(str(exc))


@dataclass
class S3Server:
    port: int
    access_key: str = CREDENTIALS["AWS_ACCESS_KEY_ID"]
    secret_key: str = CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
    region: str = CREDENTIALS["AWS_DEFAULT_REGION"]
    process: subprocess.Popen | None = None
    """The server when started stand-alone (:meth:`stop` ends it); None when a supervisor owns it."""

    @staticmethod
    def command(port: int) -> list[str]:
        binary = VENV_BIN / "moto_server"
        if not binary.exists():
            raise S3Unavailable(f"{binary} not found: pip install -e '.[dev]' (moto[server])")
        return [str(binary), "-H", "127.0.0.1", "-p", str(port)]

    @classmethod
    def start(cls, folder: Path) -> S3Server:
        """A server of the test process's own, its output in ``folder/moto_server.log``."""
        port = free_port()
        command = cls.command(port)
        log = folder / "moto_server.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=die_with_parent,  # no server left if the test process is SIGKILLed
                env={**os.environ, **CREDENTIALS},
            )
        server = cls(port, process=process)
        deadline = time.monotonic() + READY_SECONDS
        while not answers(f"{server.url}/"):
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                state = (
                    f"exited with {process.returncode}" if process.returncode is not None else "not answering"
                )
                raise RuntimeError(f"moto_server {state}:\n{log.read_text()[-2000:]}")
            time.sleep(0.3)
        return server

    @classmethod
    def start_supervised(cls, supervisor: Supervisor) -> S3Server:
        """A server the supervisor stops with everything else it started, with a random secret."""
        server = cls(free_port(), access_key="test-key-id", secret_key=secrets.token_hex(16))
        managed = supervisor.spawn("s3", cls.command(server.port), cwd=supervisor.root)
        supervisor.wait(managed, lambda: answers(f"{server.url}/"), "moto_server", timeout=READY_SECONDS)
        return server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def client_env(self) -> dict[str, str]:
        """What a boto3 client of this server (MLflow's artifact store) needs in its environment."""
        return {
            "MLFLOW_S3_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }

    def uri(self, bucket: str, prefix: str = "runs") -> str:
        """The storage URI of ``bucket/prefix`` on this server, as a user passes ``--storage``."""
        return f"s3://{bucket}/{prefix}?endpoint_override={self.endpoint}&scheme=http"

    def filesystem(self) -> pyarrow.fs.S3FileSystem:
        import pyarrow.fs

        return pyarrow.fs.S3FileSystem(
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
            endpoint_override=self.endpoint,
            scheme="http",
            allow_bucket_creation=True,
            allow_bucket_deletion=True,
        )

    def create_bucket(self, name: str) -> None:
        self.filesystem().create_dir(name)

    def new_bucket(self) -> str:
        """A fresh bucket of a random name (tests sharing the server never see each other's keys)."""
        name = f"raysweep-{secrets.token_hex(4)}"
        self.create_bucket(name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every object under ``bucket/prefix`` (its keys, without the bucket)."""
        import pyarrow.fs

        selector = pyarrow.fs.FileSelector(
            f"{bucket}/{prefix}".rstrip("/"), recursive=True, allow_not_found=True
        )
        return sorted(
            info.path.removeprefix(f"{bucket}/")
            for info in self.filesystem().get_file_info(selector)
            if info.type == pyarrow.fs.FileType.File
        )

    def stop(self) -> None:
        """End a stand-alone server by its process group (a supervised one is its supervisor's)."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def answers(url: str) -> bool:
    """Whether anything answers at ``url`` (any HTTP status will do)."""
    try:
        with urllib.request.urlopen(url, timeout=3):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
