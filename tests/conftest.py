"""Shared fixtures. Data-file fixtures write tiny datasets in the real formats (see tests/helpers/datafiles.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from helpers.datafiles import Written, write_chestmnist, write_mnist, write_pathmnist
from helpers.s3 import CREDENTIALS, S3Server, S3Unavailable

if TYPE_CHECKING:  # the cluster helpers import Ray: only the type is needed here
    from helpers.cluster import Driver


@pytest.fixture
def mnist_files(tmp_path: Path) -> Written:
    """A tiny MNIST (40 train, 12 test) as the four IDX files in ``tmp_path/MNIST/raw``."""
    return write_mnist(tmp_path)


@pytest.fixture
def chestmnist_file(tmp_path: Path) -> Written:
    """A tiny ``tmp_path/chestmnist.npz`` (30/8/10 images, 14 binary labels)."""
    return write_chestmnist(tmp_path)


@pytest.fixture
def pathmnist_file(tmp_path: Path) -> Written:
    """A tiny ``tmp_path/pathmnist.npz`` (30/8/10 RGB images, 9 classes)."""
    return write_pathmnist(tmp_path)


@pytest.fixture
def drivers() -> Iterator[list[Driver]]:
    """Every sweep driver a test starts; whatever is left of them is killed when the test ends,
    also when it fails."""
    started: list[Driver] = []
    yield started
    for driver in started:
        driver.kill()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One S3 API server (moto's server mode) on 127.0.0.1 for the session, stopped by PID at its end."""
    try:
        server = S3Server.start(tmp_path_factory.mktemp("s3"))
    except S3Unavailable as exc:
        pytest.skip(str(exc))
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
    bucket = f"raysweep-{secrets.token_hex(4)}"
    s3_server.create_bucket(bucket)
    return bucket
