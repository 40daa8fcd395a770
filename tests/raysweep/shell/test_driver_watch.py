"""The watch of a driver's sweep, as a detached actor runs it in a local Ray against a real SQLite
MLflow store: once Ray reports the driver's job dead, a sweep still RUNNING ends KILLED with its
unfinished trial runs; a sweep its driver ended keeps its status; a live driver is left alone.
(A driver SIGKILLed by ``ray job stop``, end to end: tests/system/test_ray_jobs.py.)"""

from __future__ import annotations

import contextlib

import pytest
import ray
from mlflow.tracking import MlflowClient

from raysweep.schema import ROLE_TAG, ROLE_TRIAL, SWEEP_ID_TAG, TRIAL_KEY_TAG
from raysweep.shell.driver_watch import DriverWatch
from raysweep.shell.sweep_record import SweepRecord
from raysweep.shell.tracking.access import TrackingCredentials
from raysweep.shell.tracking.patience import TrackingPatience
from raysweep.shell.tracking.sweep_run import create_sweep_run, finish_sweep_run

DEAD_JOB = "ffffffff"
"""A job id Ray's job table does not hold: a driver that is gone."""
NO_CREDENTIALS = TrackingCredentials()
"""A SQLite store asks for none."""


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


def sweep_with_trials(tracking_uri: str, sweep_id: str) -> tuple[SweepRecord, str, str]:
    """A RUNNING parent run with one RUNNING and one FINISHED trial run."""
    patience = TrackingPatience(tracking_uri, outage_limit_s=30)
    experiment_id, parent = create_sweep_run(
        tracking_uri, f"watch-{sweep_id}", sweep_id, 2, {"trials": 2}, "experiment: x\n", patience
    )
    client = MlflowClient(tracking_uri)
    runs = []
    for key in ("digits/random/0/0", "digits/random/0/1"):
        tags = {SWEEP_ID_TAG: sweep_id, TRIAL_KEY_TAG: key, ROLE_TAG: ROLE_TRIAL}
        runs.append(client.create_run(experiment_id, tags=tags).info.run_id)
    client.set_terminated(runs[1], status="FINISHED")
    return SweepRecord(sweep_id, experiment_id, parent, tracking_uri, "digest"), runs[0], runs[1]


def watch_until_it_ends(record: SweepRecord, job_id: str) -> None:
    watch = DriverWatch.remote()
    with contextlib.suppress(ray.exceptions.RayActorError):  # it exits itself once done
        ray.get(watch.watch.remote(record, job_id, NO_CREDENTIALS, 0.1), timeout=180)


def status(tracking_uri: str, run_id: str) -> str:
    return MlflowClient(tracking_uri).get_run(run_id).info.status


def test_a_dead_driver_leaves_its_running_sweep_killed(local_ray, tracking_uri: str) -> None:
    record, running, finished = sweep_with_trials(tracking_uri, "dead")
    watch_until_it_ends(record, DEAD_JOB)
    assert status(tracking_uri, record.parent_run_id) == "KILLED"
    assert status(tracking_uri, running) == "KILLED"
    assert status(tracking_uri, finished) == "FINISHED"  # finished trials keep their status


def test_a_sweep_its_driver_ended_keeps_its_status(local_ray, tracking_uri: str) -> None:
    record, running, _ = sweep_with_trials(tracking_uri, "ended")
    finish_sweep_run(record, {}, "FAILED", TrackingPatience(tracking_uri, outage_limit_s=30))
    after_driver = status(tracking_uri, running)
    watch_until_it_ends(record, DEAD_JOB)
    assert status(tracking_uri, record.parent_run_id) == "FAILED"
    assert status(tracking_uri, running) == after_driver


def test_a_live_driver_is_left_alone(local_ray, tracking_uri: str) -> None:
    record, running, _ = sweep_with_trials(tracking_uri, "alive")
    watch = DriverWatch.remote()
    pending = watch.watch.remote(
        record, ray.get_runtime_context().get_job_id(), NO_CREDENTIALS, 0.1
    )  # this process's job
    ready, _ = ray.wait([pending], timeout=5)
    assert ready == []  # still watching
    assert status(tracking_uri, record.parent_run_id) == "RUNNING"
    assert status(tracking_uri, running) == "RUNNING"
    ray.kill(watch)
