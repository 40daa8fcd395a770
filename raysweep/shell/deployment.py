"""Where the launcher runs, and what that asks of the sweep's storage and tracking.

- **On one machine** (a local Ray the launcher started, or loopback nodes of one host): every
  process shares the disk, so a relative storage path and a SQLite tracking file work.
- **On a cluster**: under a Ray job (``ray job submit``; Ray's job supervisor gives the entrypoint
  ``RAY_JOB_CONFIG_JSON_ENV_VAR``, and its working directory is a temporary package folder that a
  resubmission replaces), or joined to Ray nodes on several hosts, or to a cluster whose autoscaler
  adds nodes. Trials then run on other machines: a SQLite file or a relative path on the driver's disk
  is a different file (or none) there. The launcher refuses both (exit 2, saying what to pass) before
  anything is written; :mod:`raysweep.shell.storage_probe` then checks that every node sees the
  storage.
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

import ray

from raysweep.shell.capacity import autoscaler_running
from raysweep.shell.exit_codes import LaunchError
from raysweep.sweep.config import SweepConfig, config_digest

JOB_CONFIG_ENV = "RAY_JOB_CONFIG_JSON_ENV_VAR"
"""Set by Ray's job supervisor for a job's entrypoint only (Ray reads it to join the job's runtime env)."""
LOCAL_TRACKING_SCHEMES = ("", "file", "sqlite")
"""MLflow tracking URIs that name a file on the driver's disk (a plain path is MLflow's file store)."""


def under_ray_job() -> bool:
    return JOB_CONFIG_ENV in os.environ


def joined_cluster(address: str | None) -> bool:
    """Whether the driver joined a running cluster (``--address``, or ``RAY_ADDRESS`` as a Ray job has)
    rather than starting a local Ray that ends with it."""
    return bool(address or os.environ.get("RAY_ADDRESS"))


def job_runtime_env() -> dict:
    """The runtime env the job was submitted with (``working_dir``, ``env_vars``, ...); empty outside a job."""
    try:
        return json.loads(os.environ.get(JOB_CONFIG_ENV, "{}")).get("runtime_env") or {}
    except (ValueError, AttributeError):
        return {}


@dataclass(frozen=True)
class Deployment:
    """What the launcher found once Ray was up."""

    job: bool
    hosts: int
    """Distinct node IP addresses among the alive nodes."""
    nodes: int
    autoscaler: bool
    dashboard_url: str | None

    def cluster_reason(self) -> str | None:
        """Why trials may run on another machine than the driver's, or None on one machine."""
        if self.job:
            return "the launcher runs as a Ray job, in a temporary working directory"
        if self.hosts > 1:
            return f"the Ray cluster has {self.nodes} nodes on {self.hosts} hosts"
        if self.autoscaler:
            return "the Ray cluster has an autoscaler, which adds nodes on other hosts"
        return None


def current_deployment(dashboard_url: str | None = None) -> Deployment:
    """The deployment of the Ray the driver is connected to (call after ``ray.init``)."""
    alive = [node for node in ray.nodes() if node.get("Alive")]
    return Deployment(
        job=under_ray_job(),
        hosts=len({node.get("NodeManagerAddress") for node in alive}),
        nodes=len(alive),
        autoscaler=autoscaler_running(),
        dashboard_url=dashboard_url,
    )


def is_local_tracking(uri: str) -> bool:
    if "://" not in uri:
        return not uri.startswith("databricks")  # MLflow's names of remote stores; else a folder path
    return uri.split("://", 1)[0].lower().split("+", 1)[0] in LOCAL_TRACKING_SCHEMES


def check_cluster_requirements(
    deployment: Deployment, tracking_uri: str, relative_storage: str | None
) -> None:
    """On a cluster: refuse a tracking file and a relative storage path on the driver's disk (exit 2).

    ``relative_storage``: the storage as given when it was a relative path (else None).
    """
    reason = deployment.cluster_reason()
    if reason is None:
        return
    problems = []
    if is_local_tracking(tracking_uri):
        problems.append(
            f"MLflow tracking goes to {tracking_uri}, a file on the driver's disk that trials on other nodes "
            "cannot reach: pass --tracking-uri http://MLFLOW_HOST:5000 (an MLflow tracking server every node "
            "reaches) or set MLFLOW_TRACKING_URI"
        )
    if relative_storage is not None:
        problems.append(
            f"the storage {relative_storage!r} is a relative path, a folder under the driver's working "
            "directory: pass --storage with an absolute path every node mounts (NFS, a ReadWriteMany "
            "volume) or a bucket URI (s3://BUCKET/runs, gs://BUCKET/runs)"
        )
    if problems:
        raise LaunchError(f"{reason}; " + "; and ".join(problems))


def job_resubmission(launcher: list[str], dashboard_url: str | None) -> str:
    """The ``ray job submit`` that continues this sweep: ``launcher`` (``-m raysweep.launch CONFIG ...``)
    as a job on the same cluster, from the folder the job was submitted from when it shipped one
    (``--working-dir``), else with the config's absolute path (an image's, the same on every pod)."""
    runtime_env = job_runtime_env()
    address = f"http://{dashboard_url}" if dashboard_url else "http://RAY_HEAD:8265"
    command = ["ray", "job", "submit", "--address", address]
    notes = []
    arguments = list(launcher)
    if runtime_env.get("working_dir"):
        command += ["--working-dir", "."]
        notes.append("from the folder the job was submitted from")
    else:
        arguments[2] = str(Path(arguments[2]).resolve())
    if set(runtime_env) - {"working_dir"}:
        notes.append(
            f"with the job's runtime env as before ({', '.join(sorted(set(runtime_env) - {'working_dir'}))})"
        )
    line = shlex.join([*command, "--", "python", *arguments])
    return f"{line}   # {'; '.join(notes)}" if notes else line


def sweep_digest(sweep: SweepConfig) -> str:
    """The digest that tells whether a resumed sweep is the sweep that started (``config_digest``),
    with the paths inside a Ray job's working directory taken relative to it.

    A job submitted with ``--working-dir`` runs in a temporary copy of that directory, named after its
    content: a relative ``dataset.root`` (or weights, or npz file) resolves into it, and the same job
    submitted again after any file there changed (or after the cluster restarted) resolves it
    elsewhere. It is still the same sweep. Outside such a job the digest is ``config_digest``'s.
    """
    if not job_runtime_env().get("working_dir"):
        return config_digest(sweep)
    here = Path.cwd()

    def relative(path: Path) -> Path:
        return path.relative_to(here) if path.is_relative_to(here) else path

    weights = sweep.model.weights_path
    datasets = [
        f"npz:{relative(Path(name[4:]))}" if name.startswith("npz:") else name
        for name in sweep.sweep.datasets
    ]
    portable = sweep.model_copy(
        update={
            "dataset": sweep.dataset.model_copy(update={"root": relative(sweep.dataset.root)}),
            "model": sweep.model.model_copy(update={"weights_path": weights and relative(weights)}),
            "sweep": sweep.sweep.model_copy(update={"datasets": datasets}),
        }
    )
    return config_digest(portable)
