"""raysweep.atomic: a write that fails leaves the old content, on a local disk and in an object store
(a real S3 API server on 127.0.0.1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.s3 import S3Server

from raysweep.atomic import atomic_write_bytes, atomic_write_text


def test_local_write_replaces_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "record.json"
    atomic_write_text(target, "old")
    with pytest.raises(TypeError):
        atomic_write_bytes(target, object())  # type: ignore[arg-type]  # fails inside the write
    assert target.read_text() == "old"
    assert sorted(p.name for p in target.parent.iterdir()) == ["record.json"]  # no temp file left


def test_pyarrow_commits_an_object_half_written(s3_server: S3Server, s3_bucket: str) -> None:
    """Why object writes go through a temporary key: closing pyarrow's S3 stream completes the upload,
    also when an exception closes it half way (this test fails if pyarrow ever stops doing that)."""
    filesystem = s3_server.filesystem()
    with pytest.raises(RuntimeError), filesystem.open_output_stream(f"{s3_bucket}/half") as stream:
        stream.write(b"first half")
        raise RuntimeError("the writer died")
    assert s3_server.keys(s3_bucket) == ["half"]


def test_object_write_replaces_whole_or_not_at_all(s3_server: S3Server, s3_bucket: str) -> None:
    filesystem = s3_server.filesystem()
    key = f"{s3_bucket}/runs/record.json"
    atomic_write_text(key, "old", filesystem)
    assert s3_server.keys(s3_bucket) == ["runs/record.json"]
    with pytest.raises(TypeError):
        atomic_write_bytes(key, object(), filesystem)  # type: ignore[arg-type]  # fails inside the write
    with filesystem.open_input_stream(key) as stream:
        assert stream.read() == b"old"
    atomic_write_text(key, "new", filesystem)
    with filesystem.open_input_stream(key) as stream:
        assert stream.read() == b"new"
    assert s3_server.keys(s3_bucket) == ["runs/record.json"]  # no temporary key left either way
