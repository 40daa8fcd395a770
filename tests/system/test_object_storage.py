"""A sweep whose storage is a bucket: an S3 API server on 127.0.0.1 (moto's server mode, a real HTTP
server speaking S3's protocol), reached as an S3-compatible store is (``s3://BUCKET/runs?
endpoint_override=HOST:PORT&scheme=http`` and the AWS credential variables).

One trial's worker is killed after its round 1 (Tune retries it from its checkpoint in the bucket), the
driver is SIGKILLed mid-sweep with its Ray, and ``--resume`` finishes the sweep from the bucket alone:
every step once in MLflow, nothing on the local disk under the storage's name. A second sweep with the
same dataset and VAE settings reads the pool encoder from the bucket's cache instead of training it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.drivers import Driver
from helpers.fault_sweep import FAULT_EXPERIMENT, fault_sweep_steps, write_fault_sweep
from helpers.s3 import S3Server
from helpers.sweep_results import sqlite_uri, steps_logged, sweep_runs

pytestmark = pytest.mark.system

ROUNDS = 4
TRIALS = {"digits/random/0/0", "digits/coreset/0/0", "digits/coreset/1/0"}
KILLED_TRIAL = "digits/coreset/1/0"


@pytest.mark.faults
@pytest.mark.slow  # 9 minutes on loaded 2 cores: outside CI (README, "Tests")
@pytest.mark.timeout(1500)
def test_a_sweep_in_a_bucket_survives_a_killed_worker_and_driver(
    tmp_path: Path, s3_server: S3Server, s3_bucket: str, drivers: list[Driver]
) -> None:
    timings = {}
    config = str(
        write_fault_sweep(tmp_path, rounds=ROUNDS, heuristics="random, coreset", alphas="0, 1", seeds="0")
    )
    storage = s3_server.uri(s3_bucket, "runs")
    args = [config, "--storage", storage]

    started = time.perf_counter()
    driver = Driver.start(
        tmp_path, args, env={"RAYSWEEP_FAULT_AFTER_ROUND": f"1:{KILLED_TRIAL}"}, name="crashed"
    )
    drivers.append(driver)

    def worker_killed_and_two_trials_past_round_1() -> bool:
        keys = s3_server.keys(s3_bucket, "runs")
        # Tune keeps a trial's two newest checkpoints: a trial past round 1 holds one numbered >= 1.
        past_round_1 = {
            key.split("/")[3].rsplit("-", 1)[0]
            for key in keys
            if re.search(r"/checkpoint_0*[1-9]\d*/state\.json$", key)
        }
        return any("/injected_faults/" in key for key in keys) and len(past_round_1) >= 2

    driver.wait_until(
        worker_killed_and_two_trials_past_round_1, "a killed worker and two trials past round 1", 900
    )
    driver.kill()  # the driver and its Ray, SIGKILLed mid-sweep
    timings["first driver"] = time.perf_counter() - started
    assert driver.process.returncode == -9
    assert f"[{KILLED_TRIAL}] fault injection: killing this worker after round 1" in driver.output

    started = time.perf_counter()
    resumed = Driver.start(tmp_path, [*args, "--resume"], name="resumed")
    drivers.append(resumed)
    assert resumed.wait(timeout=900) == 0, resumed.output[-4000:]
    timings["resume"] = time.perf_counter() - started
    assert "resuming from checkpoint_" in resumed.output  # read back from the bucket

    client, parents, trials = sweep_runs(sqlite_uri(tmp_path), FAULT_EXPERIMENT)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert {t.data.tags["raysweep.trial_key"] for t in trials} == TRIALS and len(trials) == len(TRIALS)
    assert all(t.info.status == "FINISHED" for t in trials)
    for key, logged in steps_logged(client, trials).items():
        assert logged == fault_sweep_steps(ROUNDS), key  # every step exactly once

    keys = s3_server.keys(s3_bucket, "runs")
    sweep_id = parents[0].data.tags["raysweep.sweep_id"]
    assert f"runs/raysweep-faults/{sweep_id}/raysweep.json" in keys
    assert any(key.startswith("runs/vae_cache/vae-") for key in keys)
    assert any(key.startswith(f"runs/raysweep-faults/{sweep_id}/experiment_state-") for key in keys)
    assert not any(".tmp" in key for key in keys)  # no temporary key of an atomic write left
    assert not any(path.name.startswith(("raysweep_runs", "s3:")) for path in tmp_path.iterdir())

    # A later sweep with the same dataset and VAE settings trains no encoder: the bucket has it.
    started = time.perf_counter()
    second = Driver.start(
        tmp_path,
        [config, "--storage", storage, "--set", "sweep.heuristics=[coreset]", "--set", "sweep.alphas=[1]"],
        name="second",
    )
    drivers.append(second)
    assert second.wait(timeout=600) == 0, second.output[-4000:]
    timings["second sweep"] = time.perf_counter() - started
    assert "VAE trainings this run: 0 (cache hits: 1)" in second.output
    print("\nobject storage test timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()))


@pytest.mark.parametrize(
    ("storage", "message"),
    [
        ("s3:/{bucket}/runs", "looks like a s3:// URI with one slash; write s3://{bucket}/runs"),
        ("s3://no-such-bucket/runs?endpoint_override={endpoint}&scheme=http", "cannot write and read there"),
    ],
)
def test_storage_the_driver_cannot_use_is_bad_input(
    tmp_path: Path, s3_server: S3Server, s3_bucket: str, storage: str, message: str
) -> None:
    """Before Ray starts: exit 2 with the reason, and nothing written (no local folder named after
    the URI, no MLflow store, nothing in the bucket)."""
    config = write_fault_sweep(tmp_path)
    storage = storage.format(bucket=s3_bucket, endpoint=s3_server.endpoint)
    result = subprocess.run(
        [sys.executable, "-m", "raysweep.launch", str(config), "--storage", storage],
        cwd=tmp_path,
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert message.format(bucket=s3_bucket) in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["faults.yaml"]
    assert s3_server.keys(s3_bucket) == []
