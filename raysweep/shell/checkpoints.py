"""A trial's per-round checkpoint on the storage path, and which one a restarted trial resumes from.

A checkpoint folder holds ``picks.npz`` (the label state, no pickle) and ``state.json`` (the rest,
with the SHA-256 of ``picks.npz``). Tune copies the folder file by file into the storage path, so a
full disk, a lost node or a killed worker can leave one half written; the checksum and the loaders'
own checks find that. A restarted trial resumes from the intact checkpoint of its trial folder that
reached the furthest round (Tune's own experiment state can lag behind the folder), and says so when
it had to pass over damaged ones; with none intact it restarts the trajectory. A trial keeps its
newest two checkpoint folders (:func:`prune_checkpoints`).

Checkpoint folders are read where they are: a local folder (the one Tune hands a trial, or a folder
on a local or NFS storage path) or a prefix in an object store (:class:`~raysweep.storage.StoragePath`);
only ``name``, ``/``, ``read_text`` and ``read_bytes`` are used, which both have.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from raysweep.loop import TrajectoryState
from raysweep.storage import StoragePath, location

Folder = Path | StoragePath
"""A checkpoint folder: local, or on the storage."""

STATE_FILE = "state.json"
PICKS_FILE = "picks.npz"


class StorageFull(OSError):
    """The storage path ran out of space while a checkpoint was written."""


def is_no_space(exc: BaseException) -> bool:
    return getattr(exc, "errno", None) == errno.ENOSPC or "no space left" in str(exc).lower()


class DamagedCheckpoint(ValueError):
    """A checkpoint folder that cannot be trusted (truncated, missing or mismatched files)."""


KEEP_CHECKPOINTS = 2
"""Checkpoint folders a trial keeps: the newest, and the one before it in case the newest was cut
short (a full disk, a lost node)."""


def trial_dir_name(key: str, trial_id: str) -> str:
    """The trial's folder under the sweep folder (Tune's ``trial_dirname_creator``)."""
    return f"{key.replace('/', '-').replace(':', '_')}-{trial_id}"


def save_checkpoint(folder: Path, state: TrajectoryState, run_id: str) -> None:
    """Label state as npz, the rest as JSON carrying the npz's checksum."""
    state_dict = state.state_dict()
    labels = state_dict["labels"]
    np.savez(folder / PICKS_FILE, **{f"round_{i}": p for i, p in enumerate(labels["picks"])})
    meta = {
        "run_id": run_id,
        "n_pool": labels["n_pool"],
        "next_round": labels["next_round"],
        "n_picks": len(labels["picks"]),
        "picks_sha256": hashlib.sha256((folder / PICKS_FILE).read_bytes()).hexdigest(),
        "curve": state_dict["curve"],
    }
    (folder / STATE_FILE).write_text(json.dumps(meta))


def load_checkpoint(folder: Folder) -> tuple[TrajectoryState, str]:
    """The trajectory state and MLflow run id in ``folder``; DamagedCheckpoint if it is not intact."""
    try:
        meta = json.loads((folder / STATE_FILE).read_text())
        picks_bytes = (folder / PICKS_FILE).read_bytes()
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DamagedCheckpoint(f"{folder.name}: {type(exc).__name__}: {exc}") from None
    expected = meta.get("picks_sha256") if isinstance(meta, dict) else None
    # Checkpoints written before the checksum existed are still read; the npz's own checks remain.
    if expected is not None and hashlib.sha256(picks_bytes).hexdigest() != expected:
        raise DamagedCheckpoint(f"{folder.name}: {PICKS_FILE} does not match the checksum in {STATE_FILE}")
    try:
        with np.load(io.BytesIO(picks_bytes), allow_pickle=False) as archive:
            picks = [archive[f"round_{i}"] for i in range(meta["n_picks"])]
        state = TrajectoryState.from_state_dict(
            {
                "labels": {"n_pool": meta["n_pool"], "next_round": meta["next_round"], "picks": picks},
                "curve": meta["curve"],
            }
        )
    except (OSError, KeyError, TypeError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DamagedCheckpoint(f"{folder.name}: {type(exc).__name__}: {exc}") from None
    # After round r: r + 1 curve points, and the round's picks unless it was the last round.
    done = state.labels.next_round
    if len(state.curve) != done or len(picks) not in (done, done + 1):
        raise DamagedCheckpoint(f"{folder.name}: the curve and the label rounds disagree")
    return state, meta["run_id"]


@dataclass(frozen=True)
class RestorePoint:
    """Where a (re)started trial begins: a checkpoint's state, or the start of the trajectory."""

    state: TrajectoryState | None
    run_id: str | None
    folder: Folder | None
    note: str
    """What was chosen and why, for the trial's log; empty for a first start."""


def checkpoint_index(folder: Folder) -> int:
    suffix = folder.name.rpartition("_")[2]
    return int(suffix) if suffix.isdigit() else -1


def choose_restore_point(folders: list[Folder]) -> RestorePoint:
    """The intact checkpoint that reached the furthest round (newest folder on ties)."""
    intact: list[tuple[int, int, Folder, TrajectoryState, str]] = []
    damaged: list[str] = []
    for folder in sorted(set(folders), key=lambda f: (checkpoint_index(f), str(f))):
        try:
            state, run_id = load_checkpoint(folder)
        except DamagedCheckpoint as exc:
            damaged.append(str(exc))
            continue
        intact.append((state.labels.next_round, checkpoint_index(folder), folder, state, run_id))
    if not intact:
        if not damaged:
            return RestorePoint(None, None, None, "")
        return RestorePoint(
            None,
            None,
            None,
            f"damaged checkpoint ({'; '.join(damaged)}); no intact checkpoint left, "
            "restarting the trajectory from round 0",
        )
    next_round, _, folder, state, run_id = max(intact, key=lambda item: item[:2])
    resumed = f"resuming from {folder.name} at round {next_round}"
    if damaged:
        return RestorePoint(state, run_id, folder, f"damaged checkpoint ({'; '.join(damaged)}); {resumed}")
    return RestorePoint(state, run_id, folder, resumed)


def trial_dirs(sweep_dir: StoragePath | Path, key: str) -> list[StoragePath]:
    """Every folder Tune gave this trial in the sweep: a resume that cannot restore Tune's own
    state starts Tune afresh, which gives each trial a new id and so a new folder."""
    pattern = re.compile(re.escape(trial_dir_name(key, "")) + r"[0-9a-f]+_\d+")
    return [path for path in location(sweep_dir).iterdir() if pattern.fullmatch(path.name) and path.is_dir()]


def trial_checkpoints(sweep_dir: StoragePath | Path, key: str) -> list[StoragePath]:
    """Every ``checkpoint_*`` folder of this trial in the sweep (one listing per trial folder)."""
    return [
        path
        for trial_dir in trial_dirs(sweep_dir, key)
        for path in trial_dir.glob("checkpoint_*")
        if path.is_dir()
    ]


def checkpoints_by_age(trial_dir: StoragePath | Path) -> list[StoragePath]:
    """The checkpoint folders of one trial folder, oldest first (one listing)."""
    found = location(trial_dir).glob("checkpoint_*")
    return sorted((p for p in found if p.is_dir()), key=checkpoint_index)


def prune_checkpoints(trial_dir: StoragePath | Path, keep: int = KEEP_CHECKPOINTS) -> None:
    """Delete every checkpoint folder of ``trial_dir`` (local or on an object store) but the newest ``keep``.

    raysweep prunes here instead of through Tune's ``CheckpointConfig(num_to_keep=...)``: with
    ``num_to_keep`` set, Tune forces a save of its whole experiment state (every trial's state, so
    O(trials) bytes) each time any trial has written that many checkpoints since the last save, which
    with a checkpoint per round is about once per trial: O(trials^2) work in the driver, the bound of
    a 10,000-trial sweep (benchmarks/README.md, "Scale"). Without it Tune saves its state on its own
    clock (every 10 s or more, about 5% of the driver's time). Tune's saved state may then name a
    checkpoint pruned since: a resumed sweep's trial is handed the newest one left instead
    (``trainable.RestoresPastPrunedCheckpoints``) and weighs every folder it finds from there.
    """
    folders = checkpoints_by_age(trial_dir)
    for folder in folders[: max(0, len(folders) - keep)]:
        with contextlib.suppress(OSError):  # a full disk or a vanished folder: the next round tries again
            folder.rmtree()
