"""A damaged checkpoint, and the restart from it (the format's own checks are
``tests/raysweep/shell/test_checkpoints.py``).

The sweep's driver is SIGKILLed (with its Ray) once both trials hold two checkpoints, as a crashed
machine would leave them; the newest checkpoints are then damaged as a full disk or a lost node
damages them (a truncated ``state.json``, a truncated ``picks.npz``). ``--resume`` must fall back to
the previous checkpoint, or restart the trajectory when none is intact, say which, and still log
every step exactly once. The SIGKILLed driver's lock must not block that resume.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.drivers import Driver
from helpers.fault_sweep import (
    FAULT_EXPERIMENT,
    checkpoint_dirs,
    fault_sweep_steps,
    truncate,
    write_fault_sweep,
)
from helpers.sweep_results import sqlite_uri, steps_logged, sweep_runs

from raysweep.shell.checkpoints import (
    DamagedCheckpoint,
    load_checkpoint,
)

ROUNDS = 5


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


@pytest.mark.system
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

    client, parents, trials = sweep_runs(sqlite_uri(tmp_path), FAULT_EXPERIMENT)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert all(t.info.status == "FINISHED" for t in trials)
    steps = steps_logged(client, trials)
    assert set(steps) == {"digits/random/0/0", "digits/random/0/1"}
    for key, logged in steps.items():
        assert logged == fault_sweep_steps(ROUNDS), key
