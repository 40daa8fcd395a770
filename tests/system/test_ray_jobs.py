"""The launcher as a Ray job: ``ray job submit --working-dir . -- python -m raysweep.launch ...`` against a
loopback head started with Ray's dashboard and job server (``ray start --head``, the project's own
install), a second node, and an MLflow server.

- A job with the single-machine defaults (SQLite tracking, a relative storage path) is refused with
  exit 2 saying what to pass; nothing is written.
- A smoke sweep with ``--sweep-id`` runs as a job, MLflow from ``MLFLOW_TRACKING_URI`` (the job's
  runtime env). ``ray job stop`` leaves the parent run and every unfinished trial run KILLED, also
  with no stop window at all: the head runs with ``RAY_JOB_STOP_WAIT_TIME_S=0`` (SIGKILL right after
  the SIGTERM; Ray's default is 3 s); the same job resubmitted continues the same sweep to its end, every step once, also
  though a file of the submitted folder changed in between (the job then runs in another temporary
  copy of it).

Jobs are submitted from a checkout made for the test (the package and the configs), as a user submits
from theirs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.cluster import LocalCluster, start_cluster_or_skip
from helpers.mlflow_rest import MlflowRest, tags
from helpers.paths import REPO
from helpers.processes import VENV_BIN

# 6 minutes on loaded 2 cores: .ci/run's second step
pytestmark = [pytest.mark.cluster, pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(1800)]

EXPERIMENT = "raysweep-quickstart"
SMOKE = ["configs/quickstart.yaml", "--smoke", "--set", "sweep.heuristics=[random,coreset]"]
SMOKE += ["--set", "sweep.alphas=[0,1]", "--set", "sweep.seeds=[0]", "--set", "resources.cpu=0.5"]
TRIALS = {"digits/random/0/0", "digits/coreset/0/0", "digits/coreset/1/0"}
SMOKE_STEPS = [40, 80, 120]
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    node_env = {
        # A job's entrypoint runs `python` from the head's PATH: this venv's, as in the project's image.
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        # Ray kills the newest workers when the machine's memory is 95% used, whoever uses it; on a
        # shared test machine that is other people's processes. Not what this test is about.
        "RAY_memory_monitor_refresh_ms": "0",
        # `ray job stop`: SIGKILL right after SIGTERM, the driver has no time to mark its runs.
        "RAY_JOB_STOP_WAIT_TIME_S": "0",
    }
    running = start_cluster_or_skip(postgres=False, dashboard=True, node_env=node_env)
    try:
        yield running
    finally:
        running.stop()
        print("\nray jobs test timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in TIMINGS.items()))


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's checkout to submit from: the package and the configs (``--working-dir .``)."""
    folder = tmp_path_factory.mktemp("checkout")
    for part in ("raysweep", "configs"):
        shutil.copytree(REPO / part, folder / part, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "NOTES.md").write_text("first submission\n")
    return folder


def ray_job(
    cluster: LocalCluster, cwd: Path, *args: str, timeout: float = 900
) -> subprocess.CompletedProcess:
    """``ray job ...`` as a user runs it, from ``cwd``, against the cluster's job server."""
    return subprocess.run(
        [str(VENV_BIN / "ray"), "job", args[0], "--address", cluster.dashboard_url, *args[1:]],
        cwd=cwd,
        env={**os.environ, **cluster.ray_env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def submit(
    cluster: LocalCluster,
    cwd: Path,
    submission_id: str,
    launcher: list[str],
    env_vars: dict,
    wait: bool = True,
) -> subprocess.CompletedProcess:
    runtime_env = json.dumps({"env_vars": env_vars})
    flags = ["--submission-id", submission_id, "--working-dir", ".", "--runtime-env-json", runtime_env]
    flags += [] if wait else ["--no-wait"]
    return ray_job(cluster, cwd, "submit", *flags, "--", "python", "-m", "raysweep.launch", *launcher)


def job_info(cluster: LocalCluster, submission_id: str) -> dict:
    """The job's status and exit code, through Ray's job SDK (an HTTP client of the job server)."""
    result = subprocess.run(
        [str(VENV_BIN / "python"), "-c", JOB_INFO, cluster.dashboard_url, submission_id],
        env={**os.environ, **cluster.ray_env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


JOB_INFO = """
import json, sys
from ray.job_submission import JobSubmissionClient
info = JobSubmissionClient(sys.argv[1]).get_job_info(sys.argv[2])
print(json.dumps({"status": str(info.status), "driver_exit_code": info.driver_exit_code,
                  "working_dir": (info.runtime_env or {}).get("working_dir")}))
"""


def logs(cluster: LocalCluster, submission_id: str) -> str:
    return ray_job(cluster, REPO, "logs", submission_id, timeout=120).stdout


def test_a_job_refuses_the_single_machine_defaults(cluster: LocalCluster, checkout: Path) -> None:
    started = time.perf_counter()
    result = submit(cluster, checkout, "refused", SMOKE, env_vars={})
    TIMINGS["refused job"] = time.perf_counter() - started
    output = logs(cluster, "refused")
    assert result.returncode != 0, output[-3000:]
    info = job_info(cluster, "refused")
    assert (info["status"], info["driver_exit_code"]) == ("FAILED", 2), output[-3000:]
    [error] = [line for line in output.splitlines() if line.startswith("error: ")]
    assert "the launcher runs as a Ray job" in error
    assert "MLflow tracking goes to sqlite:///" in error and "--tracking-uri http://MLFLOW_HOST:5000" in error
    assert "the storage 'raysweep_runs' is a relative path" in error and "s3://BUCKET/runs" in error
    assert "Traceback" not in output


def mlflow_runs(cluster: LocalCluster) -> tuple[MlflowRest, list[dict], list[dict]]:
    rest = MlflowRest(cluster.tracking_uri)
    runs = rest.search_runs(rest.experiment_id(EXPERIMENT))
    parents = [r for r in runs if tags(r).get("raysweep.role") == "sweep"]
    trials = [r for r in runs if tags(r).get("raysweep.role") == "trial"]
    return rest, parents, trials


def test_ray_job_stop_then_the_same_job_again_finishes_the_sweep(
    cluster: LocalCluster, checkout: Path, tmp_path: Path
) -> None:
    storage = tmp_path / "runs"
    launcher = [*SMOKE, "--sweep-id", "jobs-1", "--storage", str(storage)]
    env_vars = {"MLFLOW_TRACKING_URI": cluster.tracking_uri}  # no --tracking-uri: the variable is honoured

    started = time.perf_counter()
    first = submit(cluster, checkout, "first", launcher, env_vars, wait=False)
    assert first.returncode == 0, first.stderr[-2000:]

    def trials_logging() -> bool:
        try:
            rest, _, trials = mlflow_runs(cluster)
        except OSError:
            return False  # no experiment yet
        return sum(bool(rest.metric_history(r["info"]["run_id"], "accuracy")) for r in trials) >= 2

    deadline = time.monotonic() + 900
    for attempt in range(10**6):
        if trials_logging():
            break
        assert time.monotonic() < deadline, logs(cluster, "first")[-4000:]
        if attempt % 10 == 9:  # now and then: a job that ended will never log
            assert job_info(cluster, "first")["status"] in ("PENDING", "RUNNING"), logs(cluster, "first")[
                -4000:
            ]
        time.sleep(3)
    TIMINGS["first job until two trials logged"] = time.perf_counter() - started

    started = time.perf_counter()
    stopped = ray_job(cluster, REPO, "stop", "first", timeout=300)  # SIGTERM, SIGKILL at once
    assert stopped.returncode == 0, stopped.stderr[-2000:]
    while job_info(cluster, "first")["status"] != "STOPPED":
        assert time.perf_counter() - started < 120
        time.sleep(1)
    TIMINGS["ray job stop"] = time.perf_counter() - started

    def runs_ended() -> bool:
        _, parents, trials = mlflow_runs(cluster)
        return all(r["info"]["status"] != "RUNNING" for r in [*parents, *trials])

    deadline = time.monotonic() + 60  # the driver's watch reacts within seconds of its death
    while not runs_ended():
        assert time.monotonic() < deadline, logs(cluster, "first")[-4000:]
        time.sleep(1)
    TIMINGS["runs KILLED after the stop"] = time.perf_counter() - started
    # Who marked them: the driver on SIGTERM, if it had the time, else the watch beside it.
    by_driver = "marked sweep jobs-1's unfinished runs KILLED" in logs(cluster, "first")
    by_watch = any(
        "sweep jobs-1: its driver died; its runs are marked KILLED" in path.read_text(errors="replace")
        for path in cluster.root.glob("ray-*/session_*/logs/worker-*.out")
    )
    assert by_driver or by_watch
    print(
        f"\nruns marked KILLED by {'the driver' if by_driver else ''}{' and ' * (by_driver and by_watch)}"
        f"{'its watch' if by_watch else ''}"
    )
    _, parents, trials = mlflow_runs(cluster)
    assert [p["info"]["status"] for p in parents] == ["KILLED"], logs(cluster, "first")[-4000:]
    statuses = {tags(r)["raysweep.trial_key"]: r["info"]["status"] for r in trials}
    assert set(statuses.values()) <= {"FINISHED", "KILLED"} and "KILLED" in statuses.values(), statuses

    # The user edits a file before submitting the same job again: Ray ships another package, so the
    # job runs in another temporary directory, where the config's relative dataset.root now points.
    (checkout / "NOTES.md").write_text("second submission\n")
    started = time.perf_counter()
    second = submit(cluster, checkout, "second", launcher, env_vars)  # the same job, submitted again
    output = logs(cluster, "second")
    TIMINGS["second job"] = time.perf_counter() - started
    assert second.returncode == 0 and job_info(cluster, "second")["status"] == "SUCCEEDED", output[-4000:]
    assert "resuming sweep jobs-1" in output
    assert job_info(cluster, "second")["working_dir"] != job_info(cluster, "first")["working_dir"]

    rest, parents, trials = mlflow_runs(cluster)
    assert len(parents) == 1 and parents[0]["info"]["status"] == "FINISHED"
    assert tags(parents[0])["raysweep.sweep_id"] == "jobs-1"
    assert Counter(tags(r)["raysweep.trial_key"] for r in trials) == Counter(TRIALS)  # one run per trial
    for run in trials:
        assert run["info"]["status"] == "FINISHED", tags(run)["raysweep.trial_key"]
        steps = [int(m["step"]) for m in rest.metric_history(run["info"]["run_id"], "accuracy")]
        assert sorted(steps) == SMOKE_STEPS, tags(run)["raysweep.trial_key"]  # every step once
    assert (storage / EXPERIMENT / "jobs-1" / "raysweep.json").is_file()
