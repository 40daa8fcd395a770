"""moto's S3 API server (``moto_server``) for the tests, as docker/s3-stand-in.sh runs it in compose:
a bucket for MLflow's artifacts, on a free port of 127.0.0.1, with keys of its own."""

from __future__ import annotations

import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from helpers.processes import VENV_BIN, free_port
from helpers.supervisor import Supervisor

BUCKET = "raysweep-artifacts"
REGION = "us-east-1"


@dataclass
class S3StandIn:
    supervisor: Supervisor
    port: int = 0
    keys: tuple[str, str] = field(default_factory=lambda: ("test-key-id", secrets.token_hex(16)))
    """The access key id and secret the tracking server is given (moto accepts any)."""

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """What a client of the bucket (the tracking server) needs in its environment."""
        key_id, secret = self.keys
        return {
            "MLFLOW_S3_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": key_id,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_DEFAULT_REGION": REGION,
        }

    def start(self) -> None:
        """The server, until it answers, and the bucket."""
        self.port = free_port()
        server = self.supervisor.spawn(
            "s3",
            [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
            cwd=self.supervisor.root,
        )
        self.supervisor.wait(
            server, lambda: answers(f"{self.endpoint}/moto-api/"), "moto_server", timeout=120
        )
        self.client().create_bucket(Bucket=BUCKET)

    def client(self) -> Any:
        """A boto3 S3 client on this server, with the keys the tracking server has."""
        import boto3

        key_id, secret = self.keys
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            region_name=REGION,
        )

    def bucket_keys(self) -> list[str]:
        """Every object key in the bucket, page after page."""
        keys, token = [], None
        while True:
            page = self.client().list_objects_v2(
                Bucket=BUCKET, **({"ContinuationToken": token} if token else {})
            )
            keys += [item["Key"] for item in page.get("Contents", [])]
            token = page.get("NextContinuationToken")
            if not token:
                return keys


def answers(url: str) -> bool:
    """Whether anything answers at ``url`` (any HTTP status will do)."""
    try:
        with urllib.request.urlopen(url, timeout=3):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
