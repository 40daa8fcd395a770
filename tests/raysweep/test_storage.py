"""raysweep.storage: one path type over a local folder and an S3-compatible object store (a real S3 API
server on 127.0.0.1, moto's server mode), parsed from what users pass as ``--storage``."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.s3 import S3Server

from raysweep.storage import (
    StorageError,
    StoragePath,
    is_relative_path,
    location,
    parse_storage,
    topmost_missing,
)


def test_a_relative_path_is_made_absolute_and_said_to_be_relative(tmp_path: Path) -> None:
    storage = parse_storage("runs/../runs2", base=tmp_path)
    assert storage.uri == str(tmp_path / "runs2") and storage.is_local
    assert storage.root.local_path == tmp_path / "runs2"
    assert is_relative_path("raysweep_runs") and is_relative_path("./x")
    assert not is_relative_path(str(tmp_path)) and not is_relative_path("s3://bucket/runs")
    assert parse_storage("~/runs").uri == str(Path.home() / "runs")
    assert parse_storage(f"file://{tmp_path}/a").uri == str(tmp_path / "a")


def test_a_uri_is_not_a_local_folder(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bug of issue 23: ``--storage s3://bucket/runs`` became the local folder ``./s3:/bucket/runs``."""
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    storage = parse_storage(s3_server.uri("bucket", "runs/x"))
    assert not storage.is_local and storage.root.local_path is None
    assert storage.root.path == "bucket/runs/x" and str(storage.root) == "s3://bucket/runs/x"
    assert str(storage.root / "exp" / "sweep") == "s3://bucket/runs/x/exp/sweep"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("s3:/bucket/runs", "one slash; write s3://bucket/runs"),  # what pathlib made of the URI
        ("nosuchscheme://bucket/runs", "nosuchscheme://bucket/runs"),
        ("gs://bucket/runs?anonymous=yes", "Unexpected query parameter"),
    ],
)
def test_unusable_storage_is_refused_with_its_name(text: str, message: str) -> None:
    with pytest.raises(StorageError, match="storage") as refused:
        parse_storage(text)
    assert message in str(refused.value)


@pytest.fixture(params=["local", "s3"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> StoragePath:
    """An empty storage root: a local folder, or a prefix in a fresh bucket on the S3 server."""
    if request.param == "local":
        return parse_storage(str(tmp_path / "runs")).root
    bucket = request.getfixturevalue("s3_bucket")
    server = request.getfixturevalue("s3_server")
    return parse_storage(server.uri(bucket, "runs")).root


def test_files_round_trip_and_list(root: StoragePath) -> None:
    assert not root.exists() and root.iterdir() == []
    (root / "exp" / "b" / "raysweep.json").write_text('{"id": "b"}')
    time.sleep(1.1)  # object stores keep whole seconds
    (root / "exp" / "a" / "raysweep.json").write_text('{"id": "a"}')
    (root / "exp" / "c" / "other.json").write_text("{}")  # a folder without a record
    (root / "exp" / "top.json").write_bytes(b"\x00\x01")

    assert (root / "exp" / "a" / "raysweep.json").read_text() == '{"id": "a"}'
    assert (root / "exp" / "top.json").read_bytes() == b"\x00\x01"
    assert (root / "exp" / "a").is_dir() and not (root / "exp" / "a").is_file()
    assert sorted(p.name for p in (root / "exp").iterdir()) == ["a", "b", "c", "top.json"]
    found = (root / "exp").glob("*/raysweep.json")
    assert sorted(p.parent.name for p in found) == ["a", "b"]
    assert [p.parent.name for p in sorted(found, key=lambda p: p.mtime())] == ["b", "a"]
    assert sorted(p.name for p in (root / "exp").glob("*.json")) == ["top.json"]
    assert (root / "exp").glob("nothing/*") == []

    with pytest.raises(FileNotFoundError):
        (root / "exp" / "missing.json").read_text()
    moved = (root / "exp" / "top.json").rename(root / "exp" / "top.json.damaged")
    assert moved.read_bytes() == b"\x00\x01" and not (root / "exp" / "top.json").exists()
    moved.unlink()
    moved.unlink(missing_ok=True)
    (root / "exp").rmtree()
    assert not (root / "exp" / "a" / "raysweep.json").exists()


def test_a_path_travels_to_another_process_with_its_endpoint(root: StoragePath, tmp_path: Path) -> None:
    """Trials and store actors get the StoragePath pickled: the copy reaches the same files."""
    (root / "record.json").write_text("from the driver")
    pickled = tmp_path / "path.pickle"
    pickled.write_bytes(pickle.dumps(root))
    code = (
        "import pickle, sys; p = pickle.loads(open(sys.argv[1], 'rb').read()); "
        "print((p / 'record.json').read_text()); (p / 'answer.json').write_text('from elsewhere')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(pickled)],
        capture_output=True,
        text=True,
        env=os.environ,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "from the driver"
    assert (root / "answer.json").read_text() == "from elsewhere"


def test_equal_paths_are_one_path(tmp_path: Path) -> None:
    one, two = location(tmp_path / "a"), location(str(tmp_path / "a"))
    assert one == two and len({one, two}) == 1 and one != location(tmp_path / "b")
    assert location(one) is one


def test_topmost_missing_is_what_creating_a_folder_creates(tmp_path: Path) -> None:
    (tmp_path / "exists").mkdir()
    folder = location(tmp_path / "exists" / "runs" / "experiment" / "sweep")
    assert topmost_missing(folder) == location(tmp_path / "exists" / "runs")
    (tmp_path / "exists" / "runs" / "experiment").mkdir(parents=True)
    assert topmost_missing(folder) == folder  # only the sweep's own folder is new
