"""Fixtures every test tree shares: the S3 API server on 127.0.0.1 (``helpers.s3``) and a fresh bucket
on it, for the storage tests of the core and shell (tests/raysweep) and the end-to-end ones
(tests/system)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers.s3 import CREDENTIALS, S3Server, start_s3_or_skip


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One S3 API server (moto's server mode) for the session, started when a test first asks for it
    and stopped by PID at the session's end; skipped where moto's server is not installed."""
    server = start_s3_or_skip(tmp_path_factory.mktemp("s3"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket on the session's S3 server, with the AWS credential variables set for this test
    (and the processes it starts)."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    return s3_server.new_bucket()
