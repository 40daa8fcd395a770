"""A trial's per-round checkpoint: the format's round trip, every kind of damage detected, the furthest
intact checkpoint chosen (and said why), the trial's folders found again and pruned to the newest two. A real sweep resumed from
damaged checkpoints is ``tests/system/test_faults_checkpoint.py``."""

from __future__ import annotations

import errno
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from helpers.fault_sweep import truncate
from helpers.s3 import S3Server

from raysweep.labels import LabelState
from raysweep.loop import RoundResult, TrajectoryState
from raysweep.shell.checkpoints import (
    KEEP_CHECKPOINTS,
    PICKS_FILE,
    STATE_FILE,
    DamagedCheckpoint,
    StorageFull,
    choose_restore_point,
    is_no_space,
    load_checkpoint,
    prune_checkpoints,
    save_checkpoint,
    trial_checkpoints,
    trial_dir_name,
    trial_dirs,
)
from raysweep.storage import parse_storage


def trajectory_state(done_rounds: int) -> TrajectoryState:
    labels = LabelState.start(50, np.arange(5))
    curve = []
    for round_index in range(done_rounds):
        labels.advance(np.arange(5 + 3 * round_index, 8 + 3 * round_index))
        curve.append(RoundResult(round_index, 5 + 3 * round_index, {"accuracy": 0.1 * round_index}))
    return TrajectoryState(labels, curve)


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, trajectory_state(2), "run-1")
    state, run_id = load_checkpoint(tmp_path)
    assert run_id == "run-1" and state.labels.next_round == 2
    assert [p.tolist() for p in state.labels.picks] == [[0, 1, 2, 3, 4], [5, 6, 7], [8, 9, 10]]
    assert [(r.round_index, r.n_labels, r.metrics["accuracy"]) for r in state.curve] == [
        (0, 5, 0.0),
        (1, 8, 0.1),
    ]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: truncate(f / "state.json"), "JSONDecodeError"),
        (lambda f: truncate(f / "picks.npz"), "does not match the checksum"),
        (lambda f: (f / "picks.npz").unlink(), "FileNotFoundError"),
        (lambda f: (f / "state.json").write_text(json.dumps({"run_id": "x"})), "KeyError"),
    ],
    ids=["truncated state", "truncated picks", "missing picks", "state without fields"],
)
def test_a_damaged_checkpoint_is_detected(tmp_path: Path, damage, message: str) -> None:
    save_checkpoint(tmp_path, trajectory_state(2), "run-1")
    damage(tmp_path)
    with pytest.raises(DamagedCheckpoint, match=message):
        load_checkpoint(tmp_path)


def test_restore_point_is_the_furthest_intact_checkpoint(tmp_path: Path) -> None:
    folders = [tmp_path / f"checkpoint_{i:06d}" for i in range(3)]
    for done, folder in zip((1, 2, 3), folders, strict=True):
        folder.mkdir()
        save_checkpoint(folder, trajectory_state(done), "run-1")
    assert choose_restore_point(folders).note == "resuming from checkpoint_000002 at round 3"
    truncate(folders[2] / "picks.npz")
    point = choose_restore_point(folders)
    assert point.folder == folders[1] and point.state.labels.next_round == 2
    assert point.note.startswith("damaged checkpoint (checkpoint_000002: picks.npz does not match")
    assert point.note.endswith("resuming from checkpoint_000001 at round 2")
    for folder in folders[:2]:
        truncate(folder / "state.json")
    point = choose_restore_point(folders)
    assert point.state is None and point.run_id is None
    assert point.note.endswith("no intact checkpoint left, restarting the trajectory from round 0")
    assert choose_restore_point([]).note == ""  # a first start says nothing


def test_a_finished_trajectory_s_checkpoint_has_no_picks_for_a_next_round(tmp_path: Path) -> None:
    state = trajectory_state(2)
    state.labels.advance(None)  # the last round buys nothing
    state.curve.append(RoundResult(2, 11, {"accuracy": 0.3}))
    save_checkpoint(tmp_path, state, "run-1")
    loaded, _ = load_checkpoint(tmp_path)
    assert loaded.labels.next_round == 3 and len(loaded.labels.picks) == 3


def test_a_curve_that_disagrees_with_the_rounds_is_damage(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, trajectory_state(2), "run-1")
    meta = json.loads((tmp_path / "state.json").read_text())
    meta["curve"] = meta["curve"][:1]
    (tmp_path / "state.json").write_text(json.dumps(meta))
    with pytest.raises(DamagedCheckpoint, match="the curve and the label rounds disagree"):
        load_checkpoint(tmp_path)


def test_a_checkpoint_from_before_the_checksum_is_still_read(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, trajectory_state(1), "run-1")
    meta = json.loads((tmp_path / "state.json").read_text())
    del meta["picks_sha256"]
    (tmp_path / "state.json").write_text(json.dumps(meta))
    state, run_id = load_checkpoint(tmp_path)
    assert run_id == "run-1" and state.labels.next_round == 1


def test_a_trial_s_folders_and_checkpoints_are_found_again(tmp_path: Path) -> None:
    assert trial_dir_name("digits/coreset/1/0/gmvae", "a1b2c_00003") == "digits-coreset-1-0-gmvae-a1b2c_00003"
    assert trial_dir_name("npz:/d/x.npz/random/0/0", "f_1") == "npz_-d-x.npz-random-0-0-f_1"
    first = tmp_path / trial_dir_name("digits/random/0/1", "a1b2c_00001")
    again = tmp_path / trial_dir_name("digits/random/0/1", "ffff0_00000")  # Tune started afresh
    other = tmp_path / trial_dir_name("digits/random/0/10", "a1b2c_00002")  # a key with the same start
    for folder in (
        first / "checkpoint_000000",
        first / "checkpoint_000001",
        again / "checkpoint_000002",
        other / "checkpoint_000000",
    ):
        folder.mkdir(parents=True)
    (first / "checkpoint_000009").write_text("a file, not a checkpoint folder")
    assert sorted(p.name for p in trial_dirs(tmp_path, "digits/random/0/1")) == [first.name, again.name]
    assert sorted(p.name for p in trial_checkpoints(tmp_path, "digits/random/0/1")) == [
        "checkpoint_000000",
        "checkpoint_000001",
        "checkpoint_000002",
    ]
    assert trial_dirs(tmp_path / "absent", "digits/random/0/1") == []


def test_a_trial_keeps_its_two_newest_checkpoints(tmp_path: Path) -> None:
    """What Tune's num_to_keep=2 did, without Tune's forced state saves (prune_checkpoints says why)."""
    folders = [tmp_path / f"checkpoint_{i:06d}" for i in (0, 1, 2, 9, 10)]
    for done, folder in enumerate(folders, start=1):
        folder.mkdir()
        save_checkpoint(folder, trajectory_state(done), "run-1")
    (tmp_path / "result.json").write_text("{}")  # Tune's own files stay
    prune_checkpoints(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint_000009",
        "checkpoint_000010",
        "result.json",
    ]
    assert choose_restore_point(list(tmp_path.glob("checkpoint_*"))).state.labels.next_round == 5
    prune_checkpoints(tmp_path)  # nothing more to delete
    assert len(list(tmp_path.glob("checkpoint_*"))) == KEEP_CHECKPOINTS == 2


def test_a_trial_s_checkpoints_in_a_bucket_are_pruned_too(s3_server: S3Server, s3_bucket: str) -> None:
    """Pruning goes through the storage layer: a trial folder on an object store keeps its newest two."""
    trial_dir = parse_storage(s3_server.uri(s3_bucket, "runs")).root / "trial"
    for done, index in enumerate((0, 1, 2), start=1):
        folder = trial_dir / f"checkpoint_{index:06d}"
        with tempfile.TemporaryDirectory() as local:
            save_checkpoint(Path(local), trajectory_state(done), "run-1")
            for name in (STATE_FILE, PICKS_FILE):
                (folder / name).write_bytes((Path(local) / name).read_bytes())
    prune_checkpoints(trial_dir)
    assert sorted(p.name for p in trial_dir.iterdir()) == ["checkpoint_000001", "checkpoint_000002"]
    assert choose_restore_point(trial_dir.glob("checkpoint_*")).state.labels.next_round == 3


def test_no_space_is_recognised_by_errno_or_message() -> None:
    assert is_no_space(OSError(errno.ENOSPC, "x")) and is_no_space(RuntimeError("No space left on device"))
    assert is_no_space(StorageFull(errno.ENOSPC, "under the storage path"))
    assert not is_no_space(OSError(errno.EACCES, "denied")) and not is_no_space(ValueError("x"))


@pytest.mark.timeout(1800)  # the first reader of the shared sweep waits for it
def test_a_real_sweep_s_checkpoints_hold_each_trial_s_run_curve_and_picks(smoke_sweep) -> None:
    """The furthest checkpoint of each trial of the shared smoke sweep (``conftest.py``) is what
    MLflow holds of the trial: its run, its curve, its picks."""
    client, _, trials = smoke_sweep.runs()
    for run in trials:
        key = run.data.tags["raysweep.trial_key"]
        point = choose_restore_point(trial_checkpoints(smoke_sweep.sweep_dir, key))
        assert point.run_id == run.info.run_id, key
        assert point.state.labels.next_round == len(smoke_sweep.steps)  # finished: a resume reruns nothing
        history = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, "accuracy"))
        assert [(r.n_labels, r.metrics["accuracy"]) for r in point.state.curve] == history, key
        assert sum(len(p) for p in point.state.labels.picks) == smoke_sweep.steps[-1]
