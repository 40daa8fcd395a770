"""Write a file whole or not at all, on a local disk or in an object store.

A killed process or a full disk leaves the old file (or none), never half a new one: the sweep
record, the search ledger and the encoder cache are read back by later drivers and trials.

- Local (or NFS) paths: a temp file in the same folder, renamed over the target (``rename(2)`` is
  atomic within a filesystem).
- Object stores (``pyarrow.fs.S3FileSystem``, ``GcsFileSystem``): an object appears whole when its
  upload completes, but pyarrow's output stream *completes* the upload when it is closed, also when
  closed by an exception half way through its writes. So the bytes go to a temporary key first and
  are then copied server-side over the target (one CopyObject: the target is the old object or the
  new one, never a mix), and the temporary key is deleted.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow.fs


def atomic_write_bytes(
    path: Path | str, data: bytes, filesystem: pyarrow.fs.FileSystem | None = None
) -> None:
    """``path`` holds ``data`` afterwards, or is unchanged if the write failed (folders are created).

    ``filesystem``: where ``path`` lives (a pyarrow filesystem; ``path`` is then a path on it, e.g.
    ``bucket/runs/x.json``); None or a local one: the local disk.
    """
    if filesystem is not None and filesystem.type_name != "local":
        _put_object(filesystem, str(path), data)
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_text(path: Path | str, text: str, filesystem: pyarrow.fs.FileSystem | None = None) -> None:
    """:func:`atomic_write_bytes` of ``text`` in UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"), filesystem)


def _put_object(filesystem: pyarrow.fs.FileSystem, key: str, data: bytes) -> None:
    folder, _, name = key.rpartition("/")
    temporary = f"{folder}/.{name}.{secrets.token_hex(6)}.tmp"
    try:
        stream = filesystem.open_output_stream(temporary)
        try:
            stream.write(data)
        finally:
            # Closed either way: an unclosed stream keeps pyarrow's S3 client from shutting down.
            # After a failed write the temporary key may hold part of ``data``; the target does not.
            stream.close()
        filesystem.copy_file(temporary, key)
    finally:
        # A leftover temporary key is harmless: nothing reads keys named .<name>.*.tmp.
        with contextlib.suppress(OSError):
            filesystem.delete_file(temporary)
