"""docker/: the compose file as Compose renders it, and lint-level checks of the images.

There is no Docker engine on the CI machines, so nothing is built or run here: ``docker-compose
config`` (Debian's ``docker-compose``, or the ``docker compose`` plugin) validates and renders the
file, and the tests assert on the rendered services. tests/test_cluster.py runs the same topology
without containers.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DOCKER = REPO / "docker"
COMPOSE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / ".env.example"
RAY_SERVICES = ("ray-head", "ray-worker", "ray-worker-gpu", "launch")


@cache
def compose_command() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


def compose_config(env_file: Path) -> subprocess.CompletedProcess:
    command = compose_command()
    if command is None:
        pytest.skip("docker-compose not installed (apt-get install docker-compose); .ci/run installs it")
    return subprocess.run(
        [
            *command,
            "--env-file",
            str(env_file),
            "--profile",
            "gpu",
            "--profile",
            "launch",
            "-f",
            str(COMPOSE),
            "config",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={
            k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "RAY_", "MLFLOW_", "BIND_"))
        },
        timeout=60,
    )


@pytest.fixture(scope="module")
def rendered() -> dict[str, Any]:
    result = compose_config(ENV_EXAMPLE)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def service(rendered: dict, name: str) -> dict:
    return rendered["services"][name]


def published_ports(spec: dict) -> list[tuple[str, int, int]]:
    """(host_ip, published, target) whatever syntax this Compose version renders."""
    out = []
    for port in spec.get("ports", []):
        if isinstance(port, dict):  # Compose v2: long syntax
            out.append((port.get("host_ip", ""), int(port["published"]), int(port["target"])))
            continue
        text = str(port).split("/")[0]
        parts = text.rsplit(":", 2)
        host_ip = parts[0] if len(parts) == 3 else ""
        out.append((host_ip, int(parts[-2]) if len(parts) >= 2 else 0, int(parts[-1])))
    return out


def mounts(spec: dict) -> dict[str, str]:
    """target -> source for volumes and bind mounts, either syntax."""
    out = {}
    for volume in spec.get("volumes", []):
        if isinstance(volume, dict):
            out[volume["target"]] = str(volume.get("source", ""))
        else:
            source, target = str(volume).split(":")[:2]
            out[target] = source
    return out


def size_in_bytes(value: Any) -> int:
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"(\d+)\s*([kmg]?)b?", str(value).strip().lower())
    assert match, value
    return int(match[1]) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[match[2]]


def argument(command: list[str], flag: str) -> str:
    """The value of ``--flag VALUE`` or ``--flag=VALUE`` in a command list."""
    for i, item in enumerate(command):
        if item == flag:
            return command[i + 1]
        if item.startswith(f"{flag}="):
            return item.split("=", 1)[1]
    raise AssertionError(f"{flag} not in {command}")


# ---------------------------------------------------------------------------------------------
# compose.yaml, rendered
# ---------------------------------------------------------------------------------------------


def test_only_mlflow_and_dashboard_published_on_loopback(rendered) -> None:
    published = {
        name: published_ports(spec) for name, spec in rendered["services"].items() if spec.get("ports")
    }
    assert set(published) == {"mlflow", "ray-head"}
    assert published["mlflow"] == [("127.0.0.1", 5000, 5000)]
    assert published["ray-head"] == [("127.0.0.1", 8265, 8265)]


def test_mlflow_server_on_postgres_with_proxied_artifacts_and_allowed_hosts(rendered) -> None:
    mlflow = service(rendered, "mlflow")
    command = mlflow["command"]
    assert command[:2] == ["mlflow", "server"]
    backend = argument(command, "--backend-store-uri")
    assert re.fullmatch(r"postgresql(\+psycopg2)?://[^:]+:[^@]+@postgres:5432/\w+", backend), backend
    assert "--serve-artifacts" in command
    assert argument(command, "--artifacts-destination") in mounts(mlflow)  # on a volume
    hosts = argument(command, "--allowed-hosts").split(",")
    assert "mlflow:5000" in hosts and "127.0.0.1:5000" in hosts
    assert argument(command, "--host") == "0.0.0.0" and argument(command, "--port") == "5000"
    assert "postgres" in mlflow["depends_on"]
    assert mlflow["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "healthcheck" in mlflow


def test_postgres_healthcheck_and_credentials_from_env(rendered) -> None:
    postgres = service(rendered, "postgres")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert (
        postgres["environment"]["POSTGRES_PASSWORD"] == "change-me-to-a-long-hex-string"
    )  # from .env.example
    assert "/var/lib/postgresql/data" in mounts(postgres)


def test_missing_secrets_fail_clearly(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = compose_config(empty)
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr or "RAY_AUTH_TOKEN" in result.stderr, result.stderr


def test_env_file_is_not_committed() -> None:
    ignored = subprocess.run(["git", "check-ignore", "-q", "docker/.env"], cwd=REPO)
    assert ignored.returncode == 0, "docker/.env must be gitignored"
    example = subprocess.run(["git", "check-ignore", "-q", "docker/.env.example"], cwd=REPO)
    assert example.returncode == 1, "docker/.env.example must be committable"
    tracked = subprocess.run(["git", "ls-files", "docker/.env"], cwd=REPO, capture_output=True, text=True)
    assert tracked.stdout.strip() == ""
    for ignore_file in ("Dockerfile.dockerignore", "Dockerfile.cuda.dockerignore"):
        lines = (DOCKER / ignore_file).read_text().splitlines()
        assert {"**/.env", ".venv", ".git"} <= set(lines), ignore_file  # no secrets in build context


def test_ray_nodes_share_storage_and_have_shm(rendered) -> None:
    for name in RAY_SERVICES:
        spec = service(rendered, name)
        assert mounts(spec).get("/shared") == "shared", name
        assert size_in_bytes(spec["shm_size"]) >= 1024**3, name
        environment = spec["environment"]
        assert environment["RAY_AUTH_MODE"] == "token" and environment["RAY_AUTH_TOKEN"], name
    assert "shared" in rendered["volumes"]
    launch_storage = argument(service(rendered, "launch")["entrypoint"], "--storage")
    assert launch_storage.startswith("/shared/")


def test_head_worker_and_gpu_worker_commands(rendered) -> None:
    head = service(rendered, "ray-head")["command"]
    assert head[:3] == ["ray", "start", "--head"] and "--block" in head
    assert argument(head, "--port") == "6379" and argument(head, "--dashboard-host") == "0.0.0.0"
    for name in ("ray-worker", "ray-worker-gpu"):
        spec = service(rendered, name)
        assert argument(spec["command"], "--address") == "ray-head:6379" and "--block" in spec["command"]
        assert spec["depends_on"]["ray-head"]["condition"] == "service_healthy"
        assert not spec.get("container_name"), "a fixed container name breaks --scale"
        assert not spec.get("ports"), "a published port breaks --scale"
    gpu = service(rendered, "ray-worker-gpu")
    assert gpu["build"]["dockerfile"].endswith("Dockerfile.cuda")
    [device] = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    assert "gpu" in gpu.get("profiles", ["gpu"])


def test_launch_service_runs_a_config_against_the_cluster(rendered) -> None:
    launch = service(rendered, "launch")
    entrypoint = launch["entrypoint"]
    assert entrypoint[:2] == ["sh", "/app/docker/launch.sh"]
    assert argument(entrypoint, "--address") == "ray-head:6379"
    assert argument(entrypoint, "--tracking-uri") == "http://mlflow:5000"
    assert launch["command"] == ["configs/quickstart.yaml"]
    assert (REPO / launch["command"][0]).is_file()
    assert {"ray-head", "mlflow"} <= set(launch["depends_on"])
    assert "launch" in launch.get("profiles", ["launch"])


def test_launch_entrypoint_joins_runs_and_leaves(tmp_path: Path) -> None:
    """docker/launch.sh with stub ``ray`` and ``python``: join with 0 CPUs, run, exit code kept, leave."""
    calls = tmp_path / "calls"
    for tool, code in (("ray", 0), ("python", 3)):
        stub = tmp_path / tool
        stub.write_text(f'#!/bin/sh\necho "{tool} $*" >> {calls}\nexit {code}\n')
        stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    args = ["--address", "ray-head:6379", "--tracking-uri", "http://mlflow:5000", "--storage", "/shared/runs"]
    result = subprocess.run(
        ["sh", str(DOCKER / "launch.sh"), *args, "configs/quickstart.yaml", "--smoke"],
        env={**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 3  # the launcher's exit code (0/1/2) reaches docker compose run
    lines = calls.read_text().splitlines()
    assert lines[0] == "ray start --address=ray-head:6379 --num-cpus=0 --num-gpus=0 --disable-usage-stats"
    assert lines[1] == f"python -m raysweep.launch {' '.join(args)} configs/quickstart.yaml --smoke"
    assert lines[2] == "ray stop --force"
    missing = subprocess.run(
        ["sh", str(DOCKER / "launch.sh"), "configs/quickstart.yaml"], capture_output=True
    )
    assert missing.returncode == 2


# ---------------------------------------------------------------------------------------------
# Dockerfiles, lint level
# ---------------------------------------------------------------------------------------------


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def project_pins() -> dict[str, str]:
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = {}
    for requirement in dependencies:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?==([\w.]+)", requirement)
        if match:
            pins[match[1].lower()] = match[3]
    return pins


@pytest.mark.parametrize(
    ("dockerfile", "base", "index"),
    [
        ("Dockerfile", r"python:3\.11-slim(-\w+)?", "https://download.pytorch.org/whl/cpu"),
        (
            "Dockerfile.cuda",
            r"nvidia/cuda:13\.0\.\d+-(cudnn-)?runtime-ubuntu\d+\.\d+",
            "https://download.pytorch.org/whl/cu130",
        ),
    ],
)
def test_dockerfile_pins_torch_installs_project_runs_as_non_root(
    dockerfile: str, base: str, index: str
) -> None:
    steps = instructions(DOCKER / dockerfile)
    [from_line] = [v for k, v in steps if k == "FROM"]
    if from_line.startswith("${"):  # FROM ${CUDA_IMAGE}: the ARG's default
        name = from_line.strip("${}")
        from_line = next(v.split("=", 1)[1] for k, v in steps if k == "ARG" and v.startswith(f"{name}="))
    assert re.fullmatch(base, from_line), from_line
    runs = " ".join(v for k, v in steps if k == "RUN")
    pins = project_pins()
    assert f"torch=={pins['torch']}" in runs and f"torchvision=={pins['torchvision']}" in runs
    assert f"--index-url {index}" in runs
    assert not re.search(r"\btorch(?![=\w-])", runs.replace("import torch", "").replace("torch.", "")), (
        "every torch install is pinned"
    )
    assert "-c /opt/constraints.txt" in runs and "pyproject.toml" in runs
    assert "pip install --no-deps /app" in runs  # the project itself
    assert "ray --version" in runs and "python -m raysweep.launch --help" in runs  # on PATH
    users = [v for k, v in steps if k == "USER"]
    assert users and users[-1] not in {"root", "0"} and not users[-1].startswith(("root:", "0:"))
    assert "useradd" in runs and "--uid 10001" in runs  # same uid in both images (shared volumes)
    assert steps[-1][0] in {"CMD", "ENTRYPOINT"} and steps.index(("USER", users[-1])) < len(steps) - 1


def test_constraints_agree_with_pyproject() -> None:
    constraints = {}
    for line in (DOCKER / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            constraints[name.lower()] = version
    assert "raysweep" not in constraints
    for name, version in project_pins().items():
        assert constraints.get(name) == version, name
    assert "psycopg2-binary" in constraints


def test_readme_covers_the_workflow() -> None:
    readme = (DOCKER / "README.md").read_text()
    for needle in (
        "cp docker/.env.example docker/.env",
        "--scale ray-worker=",
        "run --rm launch",
        "#/experiments/",
        "runs?workflowType=machine_learning",
        "down",
        "--profile gpu",
    ):
        assert needle in readme, needle
