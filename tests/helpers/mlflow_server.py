"""``mlflow server`` for the tests, as docker/compose.yaml runs it: a database backend, proxied
artifact serving into a folder, ``--allowed-hosts``, one worker, on a free port of 127.0.0.1."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from helpers.processes import VENV_BIN, free_port
from helpers.supervisor import Managed, Supervisor


@dataclass
class MlflowServer:
    supervisor: Supervisor
    backend_store_uri: str
    port: int = 0

    @property
    def tracking_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def artifacts(self) -> Path:
        """``--artifacts-destination``: where the server writes what clients upload through it."""
        return self.supervisor.root / "artifacts"

    def spawn(self) -> Managed:
        """Start the server (a restarted one keeps its port); :meth:`wait` for it to answer."""
        self.port = self.port or free_port()
        self.artifacts.mkdir(exist_ok=True)
        return self.supervisor.spawn(
            "mlflow",
            [
                str(VENV_BIN / "mlflow"),
                "server",
                "--backend-store-uri",
                self.backend_store_uri,
                "--artifacts-destination",
                str(self.artifacts),
                "--serve-artifacts",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--allowed-hosts",
                f"127.0.0.1:{self.port},localhost:{self.port}",
                "--workers",
                "1",
            ],
            cwd=self.supervisor.root,
            grace=5.0,  # uvicorn waits for idle keep-alive connections; nothing to flush
        )

    def wait(self, server: Managed) -> None:
        """Until ``/health`` answers 200 (its schema migrations take a while on 2 cores)."""

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"{self.tracking_uri}/health", timeout=3) as response:
                    return response.status == 200
            except (OSError, urllib.error.URLError):
                return False

        self.supervisor.wait(server, healthy, "mlflow server", timeout=180)

    def restart(self) -> None:
        """A new server on the same port, database and artifact folder."""
        self.wait(self.spawn())
