"""A sweep whose driver is killed outright still ends KILLED in MLflow.

The driver marks its runs KILLED when it is stopped (``stop_signals``), but some stops leave it no
time: ``ray job stop`` SIGKILLs it ``RAY_JOB_STOP_WAIT_TIME_S`` seconds after its SIGTERM (3 by
default, 0 if so configured), a deleted pod or the OOM killer do not signal first. On a cluster the
driver joined, a detached actor (it outlives the driver's job) watches the driver's Ray job: once Ray
reports that job dead while the sweep's parent run is still RUNNING, it marks the parent and every
unfinished trial run KILLED, as the driver's own cleanup would have, and ends. A driver that ended its
sweep itself left the parent run FINISHED, FAILED or KILLED, and the watch just ends. (A local Ray
the driver started dies with the driver, watch included: there is none there.)
"""

from __future__ import annotations

import time

import ray

from raysweep.shell.sweep_record import SweepRecord
from raysweep.shell.tracking.access import TrackingCredentials

POLL_S = 1.0
"""How often the watch asks Ray whether the driver's job is still alive (one GCS call)."""
PATIENCE_S = 60.0
"""How long the watch waits out an unreachable MLflow store to mark the runs."""


@ray.remote(num_cpus=0, max_restarts=0)
class DriverWatch:
    def watch(
        self, record: SweepRecord, job_id: str, credentials: TrackingCredentials, poll_s: float = POLL_S
    ) -> None:
        """Block until the driver's job is dead; then end the sweep KILLED if it is still RUNNING, with
        the launcher's MLflow credentials (the node's environment is not the launcher's)."""
        import ray._private.state

        while True:
            jobs = {job["JobID"]: job for job in ray._private.state.state.job_table()}
            if job_id not in jobs or jobs[job_id]["IsDead"]:
                break
            time.sleep(poll_s)
        from mlflow.tracking import MlflowClient

        from raysweep.shell.tracking.patience import TrackingError, TrackingPatience
        from raysweep.shell.tracking.sweep_run import finish_sweep_run, mark_unfinished_trials_killed

        credentials.apply()
        patience = TrackingPatience(record.tracking_uri, PATIENCE_S)
        client = MlflowClient(record.tracking_uri)
        try:
            status = patience.call(lambda: client.get_run(record.parent_run_id)).info.status
            if status == "RUNNING":
                finish_sweep_run(record, {}, "KILLED", patience)
            elif status == "KILLED":  # a stop the driver began marking and did not finish
                mark_unfinished_trials_killed(client, record.experiment_id, record.sweep_id, patience)
            if status in ("RUNNING", "KILLED"):
                print(f"sweep {record.sweep_id}: its driver died; its runs are marked KILLED", flush=True)
        except TrackingError as exc:
            print(f"sweep {record.sweep_id}: its driver died; its runs keep their status: {exc}", flush=True)
        ray.actor.exit_actor()


def watch_driver(record: SweepRecord) -> None:
    """Start the watch of this driver's sweep, beside the driver on its node (call once the sweep's
    parent run exists, on a cluster the driver joined)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    context = ray.get_runtime_context()
    here = NodeAffinitySchedulingStrategy(node_id=context.get_node_id(), soft=True)
    watch = DriverWatch.options(
        name=f"raysweep_watch_{record.sweep_id}_{context.get_job_id()}",
        lifetime="detached",
        scheduling_strategy=here,
    ).remote()
    watch.watch.remote(record, context.get_job_id(), TrackingCredentials.from_environment())
