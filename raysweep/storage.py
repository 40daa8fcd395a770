"""Where a sweep's files live: a local (or NFS) folder, or an object store, behind one small path type.

``--storage`` / ``storage:`` is made canonical before anything starts (:func:`canonical_storage`, no
I/O; the sweep's config records it) and opened by the driver into a :class:`Storage`
(:func:`parse_storage`): a local path (made absolute) or a URI that pyarrow understands
(``s3://bucket/runs``, ``gs://bucket/runs``, an S3-compatible store through
``s3://bucket/runs?endpoint_override=HOST:PORT&scheme=http`` or the ``AWS_ENDPOINT_URL`` variable). Ray Tune resolves the same URI with the same library
(``pyarrow.fs.FileSystem.from_uri``), so raysweep's own files and Tune's checkpoints land in the same
place with the same endpoint and credentials (the standard ``AWS_*`` / Google environment of each node).

Every file raysweep writes itself (the sweep record, the driver lock, the encoder cache, the search
ledger, the fault-injection markers) and every file it reads back from the storage (checkpoints,
Tune's state) goes through :class:`StoragePath`, a pathlib-like handle on that filesystem. Writes are
whole-or-nothing (``raysweep.atomic``). Pure: no Ray, no MLflow; a StoragePath pickles, so trials and
store actors on other nodes get the same handle.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pyarrow.fs as pafs

from raysweep.atomic import atomic_write_bytes

MANGLED_URI = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):/(?!/)")
"""``s3:/bucket``: what ``pathlib.Path("s3://bucket")`` makes of a URI, or a URI typed with one slash."""


class StorageError(ValueError):
    """A storage path or URI that cannot be used; the message names it."""


@dataclass(frozen=True, eq=False)
class StoragePath:
    """A file or folder on a storage's filesystem: ``path`` is a path on ``filesystem`` (absolute for the
    local disk, ``bucket/key`` for an object store); ``scheme`` only says how to print it."""

    filesystem: pafs.FileSystem
    path: str
    scheme: str = ""
    kind: pafs.FileType | None = field(default=None, repr=False)
    """The type a listing reported, so ``is_dir()`` after ``iterdir()`` costs no request."""

    # -- names ---------------------------------------------------------------------------------

    def __truediv__(self, part: str | os.PathLike) -> StoragePath:
        joined = "/".join(p for p in (self.path.rstrip("/"), str(PurePosixPath(part))) if p)
        return StoragePath(self.filesystem, joined, self.scheme)

    def joinpath(self, *parts: str | os.PathLike) -> StoragePath:
        result = self
        for part in parts:
            result = result / part
        return result

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name

    @property
    def parent(self) -> StoragePath:
        return StoragePath(self.filesystem, str(PurePosixPath(self.path).parent), self.scheme)

    def __str__(self) -> str:
        return f"{self.scheme}://{self.path}" if self.scheme else self.path

    def __repr__(self) -> str:
        return f"StoragePath({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StoragePath) and self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    def _identity(self) -> tuple[str, str, str]:
        return (self.filesystem.type_name, self.scheme, self.path)

    @property
    def is_local(self) -> bool:
        """On the local disk (or a network filesystem mounted there): renames and flock work."""
        return self.filesystem.type_name == "local"

    @property
    def local_path(self) -> Path | None:
        return Path(self.path) if self.is_local else None

    # -- reading -------------------------------------------------------------------------------

    def info(self) -> pafs.FileInfo:
        return self.filesystem.get_file_info(self.path)

    def exists(self) -> bool:
        return self.info().type != pafs.FileType.NotFound

    def is_file(self) -> bool:
        return (self.kind if self.kind is not None else self.info().type) == pafs.FileType.File

    def is_dir(self) -> bool:
        return (self.kind if self.kind is not None else self.info().type) == pafs.FileType.Directory

    def mtime(self) -> float:
        """Last modification, seconds since the epoch (an object's upload time on object stores)."""
        info = self.info()
        if info.type == pafs.FileType.NotFound:
            raise FileNotFoundError(f"{self} does not exist")
        return info.mtime.timestamp() if info.mtime is not None else 0.0

    def read_bytes(self) -> bytes:
        with self.filesystem.open_input_stream(self.path) as stream:
            return stream.read()

    def read_text(self) -> str:
        return self.read_bytes().decode("utf-8")

    def iterdir(self) -> list[StoragePath]:
        """The folder's entries (none when it does not exist: object stores have no empty folders)."""
        selector = pafs.FileSelector(self.path, allow_not_found=True)
        return [
            StoragePath(self.filesystem, info.path, self.scheme, info.type)
            for info in self.filesystem.get_file_info(selector)
        ]

    def glob(self, pattern: str) -> list[StoragePath]:
        """Entries matching ``pattern`` (``*/raysweep.json``, ``checkpoint_*``), one level per ``/``:
        each level is one listing, so an object store is never listed recursively."""
        found = [self]
        parts = pattern.split("/")
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            if last and not any(c in part for c in "*?["):
                candidates = [folder / part for folder in found]
                infos = self.filesystem.get_file_info([c.path for c in candidates])
                return [
                    StoragePath(self.filesystem, c.path, self.scheme, info.type)
                    for c, info in zip(candidates, infos, strict=True)
                    if info.type != pafs.FileType.NotFound
                ]
            found = [
                entry
                for folder in found
                for entry in folder.iterdir()
                if fnmatch.fnmatchcase(entry.name, part) and (last or entry.is_dir())
            ]
        return found

    # -- writing -------------------------------------------------------------------------------

    def write_bytes(self, data: bytes) -> None:
        """Whole or not at all (``raysweep.atomic``); folders are created."""
        atomic_write_bytes(self.path, data, self.filesystem)

    def write_text(self, text: str) -> None:
        self.write_bytes(text.encode("utf-8"))

    def mkdir(self) -> None:
        """The folder and its parents (on object stores a marker object; nothing needs it there)."""
        self.filesystem.create_dir(self.path, recursive=True)

    def rename(self, target: StoragePath) -> StoragePath:
        self.filesystem.move(self.path, target.path)
        return target

    def unlink(self, missing_ok: bool = False) -> None:
        try:
            self.filesystem.delete_file(self.path)
        except FileNotFoundError:
            if not missing_ok:
                raise

    def rmtree(self) -> None:
        """The folder and everything under it; nothing when it does not exist."""
        if self.exists():
            self.filesystem.delete_dir(self.path)


@dataclass(frozen=True)
class Storage:
    """A parsed ``--storage``: its canonical text (an absolute path, or the URI as given) and its root."""

    uri: str
    root: StoragePath

    @property
    def is_local(self) -> bool:
        return self.root.is_local


def topmost_missing(folder: StoragePath) -> StoragePath:
    """``folder``, or its highest ancestor that does not exist yet: what creating ``folder`` creates on
    a local disk, so a launch that fails can remove all of it (an object store has no folders)."""
    top = folder
    if not folder.is_local:
        return top
    while top.parent != top and not top.parent.exists():
        top = top.parent
    return top


def tune_location(folder: StoragePath) -> tuple[str, pafs.FileSystem | None]:
    """``(storage_path, storage_filesystem)`` for Ray Tune (RunConfig, Tuner.restore/can_restore): the
    filesystem object raysweep uses itself, so both write to the same place with the same endpoint; a
    local folder goes by its path alone, as Tune always took it."""
    return folder.path, None if folder.is_local else folder.filesystem


def location(path: StoragePath | Path | str) -> StoragePath:
    """``path`` as a StoragePath: a local path (``Path`` or ``str``) on the local disk."""
    if isinstance(path, StoragePath):
        return path
    return StoragePath(pafs.LocalFileSystem(), str(Path(path)))


def is_uri(text: str) -> bool:
    return "://" in text


def canonical_storage(text: str | os.PathLike, base: Path | None = None) -> str:
    """``text`` as the sweep records it, without touching the storage: a local path made absolute
    against ``base`` (default: the working directory), a URI as given. A URI missing a slash
    (``s3:/bucket``) is an error, not a local folder named ``s3:``."""
    text = str(text)
    mangled = MANGLED_URI.match(text)
    if mangled and len(mangled.group(1)) > 1:  # not a Windows drive letter
        scheme = mangled.group(1)
        raise StorageError(
            f"storage {text!r} looks like a {scheme}:// URI with one slash; write {scheme}://{text[len(scheme) + 2 :]}"
        )
    if text.startswith("file://"):
        text = text.removeprefix("file://")
    if is_uri(text):
        scheme, _, rest = text.partition("://")
        if not rest.split("?", 1)[0].strip("/"):
            raise StorageError(f"storage {text!r}: name a bucket (and a prefix), e.g. {scheme}://BUCKET/runs")
        return text
    local = Path(text).expanduser()
    if not local.is_absolute():
        local = (base or Path.cwd()) / local
    return str(local.resolve())


def parse_storage(text: str | os.PathLike, base: Path | None = None) -> Storage:
    """``text`` as a Storage (see :func:`canonical_storage`); a URI is resolved by pyarrow as Tune
    resolves it, which may ask the store (an S3 bucket's region, when the URI does not give one)."""
    uri = canonical_storage(text, base)
    if not is_uri(uri):
        return Storage(uri, StoragePath(pafs.LocalFileSystem(), uri))
    scheme = uri.split("://", 1)[0].lower()
    try:
        filesystem, path = pafs.FileSystem.from_uri(uri)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError: unknown scheme, bad query
        raise StorageError(f"storage {uri!r}: {exc}") from None
    return Storage(uri, StoragePath(filesystem, path.rstrip("/"), scheme))


def is_relative_path(text: str | os.PathLike) -> bool:
    """A storage given as a relative local path (``raysweep_runs``): it means a different folder in
    every working directory."""
    text = str(text)
    return not is_uri(text) and not text.startswith("file://") and not Path(text).expanduser().is_absolute()
