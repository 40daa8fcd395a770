"""The storage path fills up mid-sweep.

``--storage`` is a small tmpfs of its own (mounting one needs root; the test skips otherwise). Once
the VAE cache and the first checkpoints are written, the test fills the tmpfs. The trials that
checkpoint next must fail naming the path and "no space left", the checkpoints and VAE cache
written before must stay intact, and once space is freed ``--resume`` must finish every trial with
every step logged once, reusing the cached VAE.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from helpers.drivers import Driver
from helpers.fault_sweep import FAULT_EXPERIMENT, checkpoint_dirs, fault_sweep_steps, write_fault_sweep
from helpers.sweep_results import sqlite_uri, steps_logged, sweep_runs

from raysweep.shell.checkpoints import DamagedCheckpoint, load_checkpoint

# Slow (two sweeps of six trials, ~15 min on a loaded 2-core machine): ``pytest -m faults``.
pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(1500)]

ROUNDS = 3
TRIALS = {"digits/random/0/0", "digits/random/0/1"} | {
    f"digits/coreset/{a}/{s}" for a in (0, 1) for s in (0, 1)
}


@pytest.fixture
def small_storage(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs at ``tmp_path/storage``, unmounted again at the end."""
    mount_point = tmp_path / "storage"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs as the storage path needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=False)


def fill(folder: Path) -> Path:
    """Write zeros to ``folder/filler`` until the file system says ENOSPC."""
    filler = folder / "filler"
    with open(filler, "wb") as out:
        try:
            while True:
                out.write(b"\0" * (1 << 16))
                out.flush()
        except OSError as exc:
            assert exc.errno == 28, exc
    return filler


def intact_checkpoints(storage: Path) -> dict[Path, tuple[int, list[np.ndarray]]]:
    found = {}
    for folder in checkpoint_dirs(storage):
        try:
            state, _ = load_checkpoint(folder)
        except DamagedCheckpoint:
            continue
        found[folder] = (state.labels.next_round, [p.copy() for p in state.labels.picks])
    return found


def test_full_storage_fails_trials_by_name_and_resume_finishes(
    tmp_path: Path, small_storage: Path, drivers: list[Driver]
) -> None:
    config = str(
        write_fault_sweep(
            tmp_path, rounds=ROUNDS, heuristics="random, coreset", alphas="0, 1", max_failures=0
        )
    )
    args = [config, "--storage", str(small_storage)]
    driver = Driver.start(tmp_path, args, name="filled")
    drivers.append(driver)
    driver.wait_until(
        lambda: bool(list(small_storage.glob("vae_cache/*.npz"))) and bool(intact_checkpoints(small_storage)),
        "the VAE cache and a first checkpoint",
        600,
    )
    [vae_cache] = small_storage.glob("vae_cache/*.npz")
    vae_digest = hashlib.sha256(vae_cache.read_bytes()).hexdigest()
    before = intact_checkpoints(small_storage)
    filler = fill(small_storage)

    assert driver.wait(timeout=900) == 1, driver.output[-4000:]
    summary = driver.output.split("trial(s) failed:", 1)[1]
    failures = [line for line in summary.splitlines() if line.startswith("  digits/")]
    assert failures, driver.output[-4000:]
    for line in failures:
        assert f"no space left on device under the storage path {small_storage}" in line, line

    # What was written before the disk filled is as it was.
    assert hashlib.sha256(vae_cache.read_bytes()).hexdigest() == vae_digest
    after = intact_checkpoints(small_storage)
    for folder, (next_round, picks) in before.items():
        assert folder in after, f"{folder} was damaged"
        assert after[folder][0] == next_round
        assert all(np.array_equal(a, b) for a, b in zip(after[folder][1], picks, strict=True))

    filler.unlink()
    resumed = Driver.start(tmp_path, [*args, "--resume"], name="resumed")
    drivers.append(resumed)
    assert resumed.wait(timeout=900) == 0, resumed.output[-4000:]
    assert "VAE trainings this run: 0 (cache hits: 1)" in resumed.output
    client, parents, trials = sweep_runs(sqlite_uri(tmp_path), FAULT_EXPERIMENT)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    steps = steps_logged(client, trials)
    assert set(steps) == TRIALS
    for key, logged in steps.items():
        assert logged == fault_sweep_steps(ROUNDS), key
