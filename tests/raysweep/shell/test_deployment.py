"""raysweep.shell.deployment: what a cluster asks of tracking and storage, and the resume command of a
launcher run as a Ray job (the end-to-end runs: tests/system/test_ray_jobs.py)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from raysweep.shell.cli import parse_args
from raysweep.shell.deployment import (
    JOB_CONFIG_ENV,
    Deployment,
    check_cluster_requirements,
    is_local_tracking,
)
from raysweep.shell.exit_codes import LaunchError
from raysweep.shell.resume import resume_command

ONE_MACHINE = Deployment(job=False, hosts=1, nodes=2, autoscaler=False, dashboard_url=None)


@pytest.mark.parametrize(
    ("uri", "local"),
    [
        ("sqlite:////tmp/mlflow.db", True),
        ("file:///tmp/mlruns", True),
        ("./mlruns", True),
        ("http://mlflow:5000", False),
        ("https://mlflow.example.org", False),
        ("postgresql+psycopg2://u:p@db:5432/mlflow", False),  # a database every node reaches
        ("databricks", False),
    ],
)
def test_which_tracking_uris_are_files_on_the_driver(uri: str, local: bool) -> None:
    assert is_local_tracking(uri) is local


@pytest.mark.parametrize(
    ("deployment", "reason"),
    [
        (Deployment(job=True, hosts=1, nodes=1, autoscaler=False, dashboard_url=None), "runs as a Ray job"),
        (Deployment(job=False, hosts=3, nodes=3, autoscaler=False, dashboard_url=None), "3 nodes on 3 hosts"),
        (Deployment(job=False, hosts=1, nodes=1, autoscaler=True, dashboard_url=None), "has an autoscaler"),
    ],
)
def test_a_cluster_refuses_files_on_the_drivers_disk(deployment: Deployment, reason: str) -> None:
    with pytest.raises(LaunchError) as refused:
        check_cluster_requirements(deployment, "sqlite:////work/mlflow.db", "raysweep_runs")
    message = str(refused.value)
    assert reason in message
    assert "sqlite:////work/mlflow.db" in message and "--tracking-uri http://MLFLOW_HOST:5000" in message
    assert "'raysweep_runs' is a relative path" in message and "s3://BUCKET/runs" in message
    with pytest.raises(LaunchError, match="relative path"):
        check_cluster_requirements(deployment, "http://mlflow:5000", "raysweep_runs")
    check_cluster_requirements(deployment, "http://mlflow:5000", None)  # what it asks for passes


def test_one_machine_keeps_the_single_machine_defaults() -> None:
    """Loopback nodes (the fault tests, the tracking benchmark) share the disk: nothing is refused."""
    check_cluster_requirements(ONE_MACHINE, "sqlite:////work/mlflow.db", "raysweep_runs")


def job_env(monkeypatch: pytest.MonkeyPatch, runtime_env: dict) -> None:
    """The variable Ray's job supervisor gives a job's entrypoint, as it writes it."""
    monkeypatch.setenv(JOB_CONFIG_ENV, json.dumps({"runtime_env": runtime_env, "metadata": {}}))


def test_a_job_prints_the_job_submission_that_resumes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    args = parse_args(["configs/quickstart.yaml", "--smoke", "--storage", "s3://b/runs", "--sweep-id", "s-1"])
    job_env(monkeypatch, {"working_dir": "gcs://_ray_pkg_0123.zip", "env_vars": {"MLFLOW_TRACKING_URI": "x"}})
    command = resume_command(args, "s-1", dashboard_url="10.0.0.5:8265")
    line, _, note = command.partition("   # ")
    assert shlex.split(line) == [
        *["ray", "job", "submit", "--address", "http://10.0.0.5:8265", "--working-dir", ".", "--"],
        *["python", "-m", "raysweep.launch", "configs/quickstart.yaml", "--smoke"],
        *["--storage", "s3://b/runs", "--sweep-id", "s-1"],  # start-or-resume: the same job again
    ]
    assert "from the folder the job was submitted from" in note and "env_vars" in note
    assert "cd " not in command  # not the job's temporary working directory


def test_a_job_without_a_working_dir_names_the_config_by_its_absolute_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """KubeRay's RayJob runs the image's code: the config's path is the same on every pod."""
    monkeypatch.chdir(tmp_path)
    args = parse_args(["configs/alpha_sweep.yaml", "--storage", "/shared/runs"])
    job_env(monkeypatch, {})
    line = resume_command(args, "20261206-000000-abcdef", dashboard_url="head:8265")
    config = str(tmp_path / "configs" / "alpha_sweep.yaml")
    assert shlex.split(line)[-5:] == [
        config,
        "--storage",
        "/shared/runs",
        "--resume",
        "20261206-000000-abcdef",
    ]
    assert "--working-dir" not in line and "#" not in line


def test_outside_a_job_the_resume_command_runs_where_the_driver_ran(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(JOB_CONFIG_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    args = parse_args(["configs/quickstart.yaml"])
    command = resume_command(args, "s-2")
    assert command.startswith(f"cd {tmp_path} && ") and command.endswith("--resume s-2")


def test_a_job_in_another_temporary_copy_of_its_folder_is_the_same_sweep(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``ray job submit --working-dir .`` runs each submission in a copy named after the folder's
    content: relative paths resolve elsewhere once a file changed, and it is still the same sweep."""
    from raysweep.shell.deployment import sweep_digest
    from raysweep.shell.preflight import resolve_paths
    from raysweep.sweep.config import config_digest, load_sweep_config

    config = Path(__file__).resolve().parents[3] / "configs" / "quickstart.yaml"
    args = parse_args([str(config), "--storage", "/shared/runs", "--tracking-uri", "http://mlflow:5000"])
    resolved, digests = {}, {}
    for package in ("_ray_pkg_0123", "_ray_pkg_4567"):  # each submission, in its own copy
        (tmp_path / package).mkdir()
        monkeypatch.chdir(tmp_path / package)
        sweep = resolved[package] = resolve_paths(load_sweep_config(config), args)
        monkeypatch.delenv(JOB_CONFIG_ENV, raising=False)
        assert sweep_digest(sweep) == config_digest(sweep)  # outside a job: the digest it always was
        job_env(monkeypatch, {"working_dir": f"gcs://{package}.zip"})
        digests[package] = sweep_digest(sweep)
    first, second = resolved.values()
    assert first.dataset.root != second.dataset.root  # data/ inside each copy
    assert config_digest(first) != config_digest(second)
    assert len(set(digests.values())) == 1
    other = second.model_copy(update={"max_failures": second.max_failures + 1})
    assert sweep_digest(other) != sweep_digest(second)  # a changed config is still another sweep
