"""An S3 API server on 127.0.0.1 for the object-storage tests: moto's server mode (``moto_server``, from
``moto[server]`` on PyPI), a real HTTP server that speaks S3's REST protocol, as MinIO or Ceph's RGW
would, started as a child process in its own process group and stopped by PID.

Clients reach it as an S3-compatible store is reached in production: a URI with pyarrow's endpoint
query (``s3://BUCKET/PREFIX?endpoint_override=127.0.0.1:PORT&scheme=http``) and the standard AWS
credential variables (moto accepts any key; ``testing`` is its convention).
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

from helpers.processes import VENV_BIN, die_with_parent, free_port

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",  # no instance-metadata lookups from the credential chain
}


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
    process: subprocess.Popen
    port: int
    log: Path

    @classmethod
    def start(cls, folder: Path) -> S3Server:
        binary = VENV_BIN / "moto_server"
        if not binary.exists():
            raise S3Unavailable(f"{binary} not found: pip install -e '.[dev]' (moto[server])")
        port = free_port()
        log = folder / "moto_server.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [str(binary), "-H", "127.0.0.1", "-p", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=die_with_parent,  # no server left if the test process is SIGKILLed
                env={**os.environ, **CREDENTIALS},
            )
        server = cls(process, port, log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(
                    f"moto_server exited with {process.returncode}:\n{log.read_text()[-2000:]}"
                )
            with contextlib.suppress(OSError, urllib.error.URLError):
                urllib.request.urlopen(f"{server.url}/", timeout=2).close()
                return server
            time.sleep(0.3)
        server.stop()
        raise RuntimeError(f"moto_server not answering after 60s:\n{log.read_text()[-2000:]}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def uri(self, bucket: str, prefix: str = "runs") -> str:
        """The storage URI of ``bucket/prefix`` on this server, as a user passes ``--storage``."""
        return f"s3://{bucket}/{prefix}?endpoint_override={self.endpoint}&scheme=http"

    def filesystem(self):  # -> pyarrow.fs.S3FileSystem
        import pyarrow.fs

        return pyarrow.fs.S3FileSystem(
            access_key=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            secret_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region=CREDENTIALS["AWS_DEFAULT_REGION"],
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
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
