"""Faults of the driver: Ctrl-C, SIGTERM, a second driver on the same sweep, a SIGKILLed driver.

Each test runs the launcher as users run it (a subprocess in its own session, a real local Ray, a
real SQLite MLflow store), signals it as a terminal or a scheduler would, and checks what the user
is promised: the exit code, the time to stop, no process left, the runs' states in MLflow, the
printed ``--resume`` command, and that running that very command finishes the sweep with every
step logged once.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.drivers import Driver, launch
from helpers.fault_sweep import (
    FAULT_EXPERIMENT,
    checkpoint_dirs,
    fault_sweep_steps,
    resume_command_in,
    write_fault_sweep,
)
from helpers.paths import QUICKSTART
from helpers.sweep_results import sqlite_uri, steps_logged, sweep_runs

from raysweep.schema import TRIAL_CONFIG_KEY
from raysweep.shell.checkpoints import checkpoint_index

pytestmark = [pytest.mark.system, pytest.mark.faults, pytest.mark.timeout(900)]

ROUNDS = 5
TRIALS = {"digits/random/0/0", "digits/random/0/1"}


def first_checkpoint(storage: Path) -> bool:
    return bool(checkpoint_dirs(storage))


def assert_finished_once(cwd: Path) -> None:
    client, parents, trials = sweep_runs(sqlite_uri(cwd), FAULT_EXPERIMENT)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert {t.data.tags["raysweep.trial_key"] for t in trials} == TRIALS  # one run per trial
    assert all(t.info.status == "FINISHED" for t in trials)
    for key, steps in steps_logged(client, trials).items():
        assert steps == fault_sweep_steps(ROUNDS), key


def assert_stopped_cleanly(driver: Driver, cwd: Path) -> None:
    """No process of the driver's left; the parent run and every unfinished trial run KILLED."""
    time.sleep(1)  # processes the kernel is still reaping
    assert driver.ray_session, "the driver's local Ray session was never seen"
    assert driver.leftovers() == [], driver.output[-3000:]
    _, parents, trials = sweep_runs(sqlite_uri(cwd), FAULT_EXPERIMENT)
    assert [p.info.status for p in parents] == ["KILLED"]
    statuses = {t.data.tags["raysweep.trial_key"]: t.info.status for t in trials}
    assert statuses and set(statuses.values()) <= {"KILLED", "FINISHED"}, statuses
    assert "KILLED" in statuses.values(), statuses  # the signal landed mid-trajectory


def test_sigterm_stops_and_a_second_driver_is_refused(tmp_path: Path, drivers: list[Driver]) -> None:
    """SIGTERM (as a scheduler sends it): exit 143 within 30 s, runs KILLED, the resume command.
    While a driver runs, a ``--resume`` of its sweep exits 2 naming the running driver's host and PID."""
    config = str(write_fault_sweep(tmp_path, rounds=ROUNDS))
    first = Driver.start(tmp_path, [config], name="first")
    drivers.append(first)
    first.wait_until(lambda: first_checkpoint(tmp_path / "raysweep_runs"), "first checkpoint", 400)

    # The first driver is paused while the second tries: on a loaded machine the second's imports
    # can outlast the whole short sweep, and a finished sweep holds no lock to be refused by. A
    # paused driver keeps its lock, and the sweep cannot end without it.
    os.kill(first.process.pid, signal.SIGSTOP)
    try:
        second = subprocess.run(
            [sys.executable, "-m", "raysweep.launch", config, "--resume"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        os.kill(first.process.pid, signal.SIGCONT)
    assert second.returncode == 2, second.stdout[-2000:] + second.stderr[-2000:]
    assert "already running" in second.stderr
    assert f"driver PID {first.process.pid} on host {socket.gethostname()}" in second.stderr
    assert "resuming sweep" not in second.stdout  # refused before it touched Ray or the runs

    started = time.monotonic()
    first.send(signal.SIGTERM)
    assert first.wait(timeout=60) == 143, first.output[-3000:]
    assert time.monotonic() - started < 30, f"stopping took {time.monotonic() - started:.0f}s"
    assert "stopped by SIGTERM" in first.output
    assert_stopped_cleanly(first, tmp_path)

    resumed = Driver.shell(tmp_path, resume_command_in(first.output), name="resumed")
    drivers.append(resumed)
    assert resumed.wait(timeout=600) == 0, resumed.output[-4000:]
    assert "resuming sweep" in resumed.output
    assert_finished_once(tmp_path)


def test_ctrl_c_twice_stops_at_once_and_the_printed_command_resumes(
    tmp_path: Path, drivers: list[Driver]
) -> None:
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it), then Ctrl-C again: the
    second one stops the driver at once; exit 130, nothing left, and the printed command resumes."""
    config = str(write_fault_sweep(tmp_path, rounds=ROUNDS))
    driver = Driver.start(tmp_path, [config], name="driver")
    drivers.append(driver)
    driver.wait_until(lambda: first_checkpoint(tmp_path / "raysweep_runs"), "first checkpoint", 400)

    started = time.monotonic()
    driver.send(signal.SIGINT, group=True)
    driver.wait_until(lambda: "stopping the sweep" in driver.output, "graceful stop message", 30)
    second = time.monotonic()
    driver.send(signal.SIGINT, group=True)
    assert driver.wait(timeout=60) == 130, driver.output[-3000:]
    assert time.monotonic() - second < 15, f"the second Ctrl-C took {time.monotonic() - second:.0f}s"
    assert time.monotonic() - started < 30
    assert_stopped_cleanly(driver, tmp_path)

    command = resume_command_in(driver.output)
    [parent] = sweep_runs(sqlite_uri(tmp_path), FAULT_EXPERIMENT)[1]
    assert command.startswith(f"cd {tmp_path} && ")
    assert command.endswith(f"{config} --resume {parent.data.tags['raysweep.sweep_id']}")
    resumed = Driver.shell(tmp_path, command, name="resumed")
    drivers.append(resumed)
    assert resumed.wait(timeout=600) == 0, resumed.output[-4000:]
    assert_finished_once(tmp_path)


SLICE = ["--smoke", "--set", "sweep.heuristics=[random,coreset]", "--set", "sweep.alphas=[0,1]"]
SLICE_TRIALS = {"digits/random/0/0", "digits/random/0/1"} | {
    f"digits/coreset/{a}/{s}" for a in (0, 1) for s in (0, 1)
}


def test_killed_driver_resumes_without_lost_or_duplicated_steps(
    tmp_path: Path, drivers: list[Driver]
) -> None:
    """SIGKILL (a crash) once a first checkpoint exists: its lock died with it, and ``--resume``
    continues the same sweep, its VAE trials included, with every step logged once."""
    driver = Driver.start(tmp_path, [str(QUICKSTART), *SLICE], name="killed")
    drivers.append(driver)
    driver.wait_until(
        lambda: bool(list(tmp_path.glob("raysweep_runs/*/*/*/checkpoint_000000"))), "a first checkpoint", 300
    )
    driver.send(signal.SIGKILL)  # the driver alone, as the OOM killer ends it
    driver.process.wait(timeout=60)
    time.sleep(3)
    resumed = launch(tmp_path, str(QUICKSTART), *SLICE, "--resume")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "resuming sweep" in resumed.stdout
    # It says what is left before Tune's table scrolls past: the finished and the rest make the sweep.
    progress = re.search(r": (\d+) trials \((\d+) finished, (\d+) to run\)", resumed.stdout)
    assert progress is not None, resumed.stdout[:2000]
    total, finished, left = map(int, progress.groups())
    assert total == len(SLICE_TRIALS) == finished + left
    client, parents, trials = sweep_runs(sqlite_uri(tmp_path), "raysweep-quickstart")
    assert len(parents) == 1  # the resumed sweep is the same sweep
    steps = steps_logged(client, trials)
    assert set(steps) == SLICE_TRIALS
    for key, logged in steps.items():
        assert logged == [40, 80, 120], key


def checkpoints_tune_saved(storage: Path) -> dict[str, Path]:
    """The checkpoint Tune's saved experiment state names for each unfinished trial, read as Tune's own
    ``ExperimentAnalysis`` reads it."""
    from ray.tune import ExperimentAnalysis

    [sweep_dir] = storage.glob(f"{FAULT_EXPERIMENT}/*")
    return {
        trial.config[TRIAL_CONFIG_KEY]: Path(trial.checkpoint.path)
        for trial in ExperimentAnalysis(str(sweep_dir)).trials
        if trial.status != "TERMINATED" and trial.checkpoint is not None
    }


def test_a_killed_driver_s_trials_resume_past_checkpoints_pruned_since_its_last_state_save(
    tmp_path: Path, drivers: list[Driver]
) -> None:
    """Trials prune their own checkpoints while Tune saves its experiment state on its own clock, so a
    killed driver's state can name a checkpoint deleted since (``checkpoints.prune_checkpoints``).
    Tune saves its state at every step here (``TUNE_GLOBAL_CHECKPOINT_S=0``) and the driver is killed
    mid-trajectory; then each checkpoint the state names is gone and a later one is there, as the
    trial's next round and its pruning leave them. ``--resume`` hands each such trial the newest one
    left, where Tune alone fails the trial on every retry, and every step is still logged once."""
    config = str(write_fault_sweep(tmp_path, rounds=ROUNDS))
    driver = Driver.start(tmp_path, [config], env={"TUNE_GLOBAL_CHECKPOINT_S": "0"}, name="killed")
    drivers.append(driver)
    storage = tmp_path / "raysweep_runs"
    driver.wait_until(lambda: bool(list(storage.glob("*/*/*/checkpoint_000001"))), "a second checkpoint", 400)
    driver.send(signal.SIGKILL)  # the driver alone, as the OOM killer ends it
    driver.process.wait(timeout=60)
    time.sleep(3)

    named = checkpoints_tune_saved(storage)
    assert named, "Tune's saved state names no checkpoint of an unfinished trial"
    for folder in named.values():
        later = folder.with_name(f"checkpoint_{checkpoint_index(folder) + 1:06d}")
        if later.exists():
            shutil.rmtree(folder)  # the round after it is there: the named one is what pruning deletes
        else:
            folder.rename(later)  # the same round, under the name the next checkpoint would take
    resumed = launch(tmp_path, config, "--resume")
    output = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, output[-4000:]
    for key, folder in named.items():
        assert (
            f"[{key}] Tune's saved state names {folder.name}, pruned since; restoring from checkpoint_"
            in output
        )
    assert "does not exist on storage anymore" not in output
    assert_finished_once(tmp_path)
