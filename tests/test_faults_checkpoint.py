"""A damaged checkpoint, and the restart from it; plus the checkpoint format's own checks.

The sweep's driver is SIGKILLed (with its Ray) once both trials hold two checkpoints, as a crashed
machine would leave them; the newest checkpoints are then damaged as a full disk or a lost node
damages them (a truncated ``state.json``, a truncated ``picks.npz``). ``--resume`` must fall back to
the previous checkpoint, or restart the trajectory when none is intact, say which, and still log
every step exactly once. The SIGKILLed driver's lock must not block that resume.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers.cluster import (
    Driver,
    checkpoint_dirs,
    fault_sweep_steps,
    steps_logged,
    sweep_runs,
    write_fault_sweep,
)

from raysweep.labels import LabelState
from raysweep.loop import RoundResult, TrajectoryState
from raysweep.shell.checkpoints import (
    KEEP_CHECKPOINTS,
    DamagedCheckpoint,
    choose_restore_point,
    load_checkpoint,
    prune_checkpoints,
    save_checkpoint,
)

ROUNDS = 5


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


# ---------------------------------------------------------------------------------------------
# The format: round trip, detection, choice
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# A real sweep resumed from damaged checkpoints
# ---------------------------------------------------------------------------------------------


def intact_by_trial(storage: Path) -> dict[str, list[tuple[int, Path]]]:
    """Trial folder prefix (``digits-random-0-<seed>``) -> [(next_round, checkpoint folder)], intact only."""
    found: dict[str, list[tuple[int, Path]]] = {}
    for folder in checkpoint_dirs(storage):
        try:
            state, _ = load_checkpoint(folder)
        except DamagedCheckpoint:
            continue
        trial = folder.parent.name.rsplit("-", 1)[0]
        found.setdefault(trial, []).append((state.labels.next_round, folder))
    return {trial: sorted(points) for trial, points in found.items()}


@pytest.mark.faults
@pytest.mark.timeout(900)
def test_resume_falls_back_from_damaged_checkpoints(tmp_path: Path, drivers: list[Driver]) -> None:
    config = str(write_fault_sweep(tmp_path, rounds=ROUNDS))
    storage = tmp_path / "raysweep_runs"
    driver = Driver.start(tmp_path, [config], name="crashed")
    drivers.append(driver)

    def two_checkpoints_each() -> bool:
        intact = intact_by_trial(storage)
        return len(intact) == 2 and all(len(points) >= 2 for points in intact.values())

    driver.wait_until(two_checkpoints_each, "two checkpoints for each trial", 500)
    driver.kill()  # the driver and its Ray, SIGKILLed: a crash with the checkpoints as they are
    assert driver.process.returncode == -9

    intact = intact_by_trial(storage)
    seed0, seed1 = intact["digits-random-0-0"], intact["digits-random-0-1"]
    # Seed 0: its newest state.json truncated -> back to the one before.
    truncate(seed0[-1][1] / "state.json")
    fallback_round, fallback = seed0[-2]
    # Seed 1: its newest picks.npz truncated, every older state.json too -> restart from round 0.
    truncate(seed1[-1][1] / "picks.npz")
    for _, folder in seed1[:-1]:
        truncate(folder / "state.json")

    resumed = Driver.start(tmp_path, [config, "--resume"], name="resumed")
    drivers.append(resumed)
    assert resumed.wait(timeout=600) == 0, resumed.output[-4000:]
    output = resumed.output
    lines = {
        key: [line for line in output.splitlines() if f"[{key}] damaged checkpoint (" in line]
        for key in ("digits/random/0/0", "digits/random/0/1")
    }
    [seed0_line] = lines["digits/random/0/0"]
    assert f"{seed0[-1][1].name}: JSONDecodeError" in seed0_line
    assert seed0_line.endswith(f"resuming from {fallback.name} at round {fallback_round}")
    [seed1_line] = lines["digits/random/0/1"]
    assert f"{seed1[-1][1].name}: picks.npz does not match the checksum" in seed1_line
    assert seed1_line.endswith("no intact checkpoint left, restarting the trajectory from round 0")

    client, parents, trials = sweep_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert all(t.info.status == "FINISHED" for t in trials)
    steps = steps_logged(client, trials)
    assert set(steps) == {"digits/random/0/0", "digits/random/0/1"}
    for key, logged in steps.items():
        assert logged == fault_sweep_steps(ROUNDS), key
