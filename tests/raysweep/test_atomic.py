"""One atomic write: the new content whole, or the old file untouched (and no temp file left), on a
local disk and in an object store (a real S3 API server on 127.0.0.1)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers.s3 import S3Server

from raysweep.atomic import atomic_write_bytes, atomic_write_text


def test_writes_creates_folders_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "record.json"
    atomic_write_bytes(path, b"first")
    assert path.read_bytes() == b"first"
    atomic_write_bytes(path, b"second, longer")
    assert path.read_bytes() == b"second, longer"
    atomic_write_text(str(path), "grüße")  # a str path, UTF-8
    assert path.read_bytes() == "grüße".encode()
    assert sorted(p.name for p in path.parent.iterdir()) == ["record.json"]


def test_a_failed_rename_leaves_the_old_file_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.json"
    path.write_bytes(b"old")

    def full_disk(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["ledger.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    path.write_text("old")
    with pytest.raises(TypeError):
        atomic_write_bytes(path, "not bytes")  # type: ignore[arg-type]  # the write itself fails
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]
    # No old file: still none afterwards.
    with pytest.raises(TypeError):
        atomic_write_bytes(tmp_path / "new.json", 3)  # type: ignore[arg-type]
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


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
