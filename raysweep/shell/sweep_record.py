"""The sweep folder (``<storage>/<experiment>/<sweep id>``) and its record, ``raysweep.json``: what a
``--resume`` needs to find everything again; whether a sweep of a given id exists (the start-or-resume
of ``--sweep-id`` and ``--confirm``); and whether Tune's own state there can be restored.

Folders are :class:`~raysweep.storage.StoragePath`: a local or NFS folder, or a prefix in a bucket."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from raysweep.shell.exit_codes import LaunchError
from raysweep.storage import StoragePath, tune_location

SWEEP_FILE = "raysweep.json"
CONFIRMATION_SUFFIX = "-confirm"
"""A sweep's confirmation (``--confirm``) lives beside it as ``<sweep id>-confirm``: one per sweep, so
a repeated ``--confirm`` finds and continues it instead of starting another."""
TUNE_STATE_GLOB = "experiment_state-*.json"


@dataclass
class SweepRecord:
    """``raysweep.json`` in the sweep folder."""

    sweep_id: str
    experiment_id: str
    parent_run_id: str
    tracking_uri: str
    config_digest: str

    def write(self, folder: StoragePath) -> None:
        """Whole or not at all: a full disk never leaves half a record."""
        (folder / SWEEP_FILE).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def read(cls, folder: StoragePath) -> SweepRecord:
        return cls(**json.loads((folder / SWEEP_FILE).read_text()))


def new_sweep_id(digest: str) -> str:
    """``20261206-014935-a1b2c3``: when it started, and the config it started with."""
    return f"{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}-{digest[:6]}"


def confirmation_id(sweep_id: str) -> str:
    return f"{sweep_id}{CONFIRMATION_SUFFIX}"


def sweep_exists(folder: StoragePath) -> bool:
    """Whether a sweep was started in ``folder`` (its record was written): a start-or-resume
    (``--sweep-id``, ``--confirm``) resumes it then, and starts it otherwise."""
    return (folder / SWEEP_FILE).is_file()


SWEEP_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_sweep_id(sweep_id: str, flag: str = "--sweep-id") -> str:
    """A sweep id a user chose: a folder name in the storage and an MLflow tag value."""
    if not SWEEP_ID.fullmatch(sweep_id):
        raise LaunchError(
            f"{flag} {sweep_id!r}: use letters, digits, '.', '_' and '-' (at most 100, starting with a letter "
            "or digit)"
        )
    if sweep_id.endswith(CONFIRMATION_SUFFIX):
        raise LaunchError(
            f"{flag} {sweep_id!r}: ids ending in {CONFIRMATION_SUFFIX} name confirmations (--confirm)"
        )
    return sweep_id


def find_sweep_folder(experiment_dir: StoragePath, wanted: str, flag: str = "--resume") -> StoragePath:
    """The folder of sweep ``wanted`` (an id, or ``latest``: the last sweep written that is not a
    confirmation) under the experiment; ``flag`` names the option in the error."""
    if wanted != "latest":
        folder = experiment_dir / wanted
        if not sweep_exists(folder):
            raise LaunchError(f"{flag} {wanted}: no sweep at {folder}")
        return folder
    candidates = sorted(
        (
            p
            for p in experiment_dir.glob(f"*/{SWEEP_FILE}")
            if not p.parent.name.endswith(CONFIRMATION_SUFFIX)
        ),
        key=lambda p: p.mtime(),
    )
    if not candidates:
        purpose = "to resume" if flag == "--resume" else "to confirm"
        raise LaunchError(f"{flag}: no sweep {purpose} under {experiment_dir}")
    return candidates[-1].parent


def tune_state_problem(sweep_dir: StoragePath) -> str | None:
    """Why Tuner.restore cannot take up this sweep folder, or None if it can.

    Tune does not check its experiment state itself: a truncated file makes it log an error and
    restart with no trials. An unreadable state file is renamed so that no later resume picks it.
    """
    from ray import tune

    path, filesystem = tune_location(sweep_dir)
    if not tune.Tuner.can_restore(path, storage_filesystem=filesystem):
        return "Tune had not saved its state"
    states = sorted(sweep_dir.glob(TUNE_STATE_GLOB), key=lambda p: p.name)
    if not states:
        return "Tune had not saved its state"
    try:
        json.loads(states[-1].read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        states[-1].rename(states[-1].parent / f"{states[-1].name}.damaged")
        return f"Tune's state file {states[-1].name} is damaged ({type(exc).__name__})"
    return None
