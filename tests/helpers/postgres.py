"""A real PostgreSQL server for the tests (Debian's ``postgresql``): ``initdb`` + ``postgres`` in a
temp folder on a free port of 127.0.0.1, password auth, run as the ``postgres`` system user when the
tests run as root (``initdb`` and ``postgres`` refuse root)."""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.processes import free_port
from helpers.supervisor import ClusterUnavailable, Managed, Supervisor

PG_USER, PG_DATABASE = "raysweep", "mlflow"


def postgres_bin_dir() -> Path:
    """Debian's versioned server binaries (``/usr/lib/postgresql/<v>/bin``), else ``initdb`` on PATH."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3].split(".")[0])
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found and (Path(found).resolve().parent / "postgres").exists():
        return Path(found).resolve().parent
    raise ClusterUnavailable("PostgreSQL server binaries not found: apt-get install postgresql")


@dataclass
class Postgres:
    """One server with the database ``mlflow`` owned by ``raysweep``, under ``supervisor.root/pg``."""

    supervisor: Supervisor
    bin_dir: Path
    port: int = 0
    password: str = ""
    run_as: dict[str, Any] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.supervisor.root / "pg"

    @property
    def backend_store_uri(self) -> str:
        # SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3; the project ships psycopg2-binary.
        return f"postgresql+psycopg2://{PG_USER}:{self.password}@127.0.0.1:{self.port}/{PG_DATABASE}"

    def start(self) -> None:
        """initdb, the server, and the ``mlflow`` database."""
        self.root.mkdir()
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise ClusterUnavailable("running as root and no 'postgres' system user") from exc
            self.run_as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
            os.chmod(self.supervisor.root, 0o755)  # let the postgres user reach the pg folder
            os.chown(self.root, account.pw_uid, account.pw_gid)
        self.port = free_port()
        self.password = secrets.token_hex(12)
        password_file = self.root / "pwfile"
        password_file.write_text(self.password + "\n")
        if self.run_as:
            os.chown(password_file, self.run_as["user"], self.run_as["group"])
        init = subprocess.run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.root / "data"),
                "-U",
                PG_USER,
                f"--pwfile={password_file}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            cwd=self.root,
            **self.run_as,
        )
        password_file.unlink()
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{init.stdout}\n{init.stderr}")
        self.supervisor.wait(self._spawn(), lambda: self._accepts("postgres"), "postgres", timeout=60)
        conn = self.connect("postgres")
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {PG_DATABASE}")
        conn.close()

    def restart(self) -> None:
        """The server again on the same data folder and port (clients keep their address)."""
        self.supervisor.wait(self._spawn(), lambda: self._accepts(PG_DATABASE), "postgres", timeout=60)

    def connect(self, database: str) -> Any:
        import psycopg2

        return psycopg2.connect(
            host="127.0.0.1",
            port=self.port,
            user=PG_USER,
            password=self.password,
            dbname=database,
            connect_timeout=3,
        )

    def _accepts(self, database: str) -> bool:
        try:
            self.connect(database).close()
        except Exception:
            return False
        return True

    def _spawn(self) -> Managed:
        return self.supervisor.spawn(
            "postgres",
            [
                str(self.bin_dir / "postgres"),
                "-D",
                str(self.root / "data"),
                "-p",
                str(self.port),
                "-k",
                str(self.root),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=100",
            ],
            cwd=self.root,
            stop_signal=signal.SIGINT,  # "fast" shutdown: ends sessions, then exits
            **self.run_as,
        )
