"""The sweep folder's record, ``raysweep.json``: written whole, read back, the sweep found again by
id or as the latest; and whether Tune's own state there can be restored."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from raysweep.shell.exit_codes import LaunchError
from raysweep.shell.sweep_record import (
    SWEEP_FILE,
    SweepRecord,
    find_sweep_folder,
    new_sweep_id,
    tune_state_problem,
)
from raysweep.storage import location

RECORD = SweepRecord("20261206-014935-a1b2c3", "7", "f" * 32, "sqlite:////x/mlflow.db", "a1b2c3d4e5f6")


def test_record_round_trip(tmp_path: Path) -> None:
    folder = location(tmp_path / "exp" / RECORD.sweep_id)
    RECORD.write(folder)  # the folder is created
    assert SweepRecord.read(folder) == RECORD
    assert [p.name for p in folder.iterdir()] == [SWEEP_FILE]  # no temp file left


def test_sweep_ids_say_when_and_which_config() -> None:
    sweep_id = new_sweep_id("a1b2c3d4e5f6")
    assert re.fullmatch(r"\d{8}-\d{6}-a1b2c3", sweep_id)


def test_find_a_sweep_by_id_or_the_latest(tmp_path: Path) -> None:
    experiment = location(tmp_path)
    for index, sweep_id in enumerate(
        ["20261206-000001-aaaaaa", "20261206-000002-bbbbbb", "20261205-235959-cccccc"]
    ):
        RECORD.write(experiment / sweep_id)
        os.utime(tmp_path / sweep_id / SWEEP_FILE, (1000 + index, 1000 + index))
    (tmp_path / "vae_cache").mkdir()  # not a sweep
    assert find_sweep_folder(experiment, "20261206-000001-aaaaaa") == experiment / "20261206-000001-aaaaaa"
    # latest: the record written last, whatever the id says
    assert find_sweep_folder(experiment, "latest") == experiment / "20261205-235959-cccccc"
    with pytest.raises(LaunchError, match="--resume nope: no sweep at"):
        find_sweep_folder(experiment, "nope")
    with pytest.raises(LaunchError, match="--resume vae_cache: no sweep at"):
        find_sweep_folder(experiment, "vae_cache")
    with pytest.raises(LaunchError, match="--resume: no sweep to resume under"):
        find_sweep_folder(experiment / "empty", "latest")


def test_tune_state_that_cannot_be_restored_says_why_and_a_damaged_file_is_set_aside(tmp_path: Path) -> None:
    sweep_dir = location(tmp_path)
    assert tune_state_problem(sweep_dir) == "Tune had not saved its state"
    (tmp_path / "tuner.pkl").write_bytes(b"")
    assert tune_state_problem(sweep_dir) == "Tune had not saved its state"  # no experiment state yet
    (tmp_path / "experiment_state-2026-12-06_00-00-00.json").write_text('{"trials": [')
    problem = tune_state_problem(sweep_dir)
    assert problem == (
        "Tune's state file experiment_state-2026-12-06_00-00-00.json is damaged (JSONDecodeError)"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "experiment_state-2026-12-06_00-00-00.json.damaged",
        "tuner.pkl",
    ]  # no later resume picks it again
    (tmp_path / "experiment_state-2026-12-06_00-00-01.json").write_text('{"trials": []}')
    assert tune_state_problem(sweep_dir) is None
