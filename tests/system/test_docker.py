"""docker/: the compose file as Compose renders it, and lint-level checks of the images.

Nothing is built or run here (that is tests/system/test_docker_stack.py, marker ``docker``): ``config`` of
every Compose installed (the ``docker compose`` v2 plugin, Debian's ``docker-compose`` v1) validates
and renders the file, and the tests assert on the rendered services, once per Compose.
tests/system/test_cluster.py runs the same topology without containers.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers.paths import REPO

DOCKER = REPO / "docker"
COMPOSE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / ".env.example"
RAY_SERVICES = ("ray-head", "ray-worker", "ray-worker-gpu", "launch")
SECRETS = (
    "POSTGRES_PASSWORD",
    "RAY_AUTH_TOKEN",
    "MLFLOW_AUTH_ADMIN_PASSWORD",
    "MLFLOW_FLASK_SERVER_SECRET_KEY",
    "MLFLOW_TRACKING_PASSWORD",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
)
"""Every secret compose.yaml reads, each required (``${NAME:?...}``) from docker/.env."""
# The variables compose.yaml reads (docker/.env.example lists them); the tests set their own.
COMPOSE_VARIABLES = re.compile(
    r"^(POSTGRES_|RAY_|MLFLOW_|AWS_|BIND_|RAYSWEEP_|PYTHON_IMAGE|CUDA_IMAGE|PIP_INDEX_URL|TORCH_)"
)


@cache
def compose_commands() -> tuple[tuple[str, ...], ...]:
    """Every Compose installed: the v2 plugin first (the README's spelling), then v1."""
    found = []
    for command in (("docker", "compose"), ("docker-compose",)):
        if shutil.which(command[0]):
            probe = subprocess.run([*command, "version"], capture_output=True, text=True, timeout=60)
            if probe.returncode == 0:
                found.append(command)
    return tuple(found)


@pytest.fixture(scope="module", params=["docker compose", "docker-compose"])
def compose(request: pytest.FixtureRequest) -> list[str]:
    command = tuple(request.param.split())
    if command not in compose_commands():
        pytest.skip(f"{request.param} not installed; .ci/run installs both (docker-compose: apt-get)")
    return list(command)


def compose_config(
    compose: list[str], env_file: Path, environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """``compose config`` with only ENV_FILE and ENVIRONMENT as the variables compose.yaml reads."""
    return subprocess.run(
        [
            *compose,
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
        env={k: v for k, v in os.environ.items() if not COMPOSE_VARIABLES.match(k)} | (environment or {}),
        timeout=60,
    )


@pytest.fixture(scope="module")
def rendered(compose: list[str]) -> dict[str, Any]:
    result = compose_config(compose, ENV_EXAMPLE)
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


def test_mlflow_server_with_basic_auth_on_postgres_artifacts_in_a_bucket_and_allowed_hosts(rendered) -> None:
    mlflow = service(rendered, "mlflow")
    command = mlflow["command"]
    assert command[:2] == ["sh", "/app/docker/mlflow-server.sh"]  # mlflow server --app-name basic-auth
    backend = argument(command, "--backend-store-uri")
    assert re.fullmatch(r"postgresql(\+psycopg2)?://[^:]+:[^@]+@postgres:5432/\w+", backend), backend
    assert mlflow["environment"]["MLFLOW_AUTH_DATABASE_URI"] == backend  # users beside the runs
    assert "--serve-artifacts" in command  # clients upload through the server: only it has the keys
    assert argument(command, "--artifacts-destination") == "s3://mlflow-artifacts/mlflow"
    assert mlflow["environment"]["MLFLOW_S3_ENDPOINT_URL"] == "http://s3:9000"
    assert not mounts(mlflow), "artifacts live in the bucket, not on a volume"
    hosts = argument(command, "--allowed-hosts").split(",")
    assert "mlflow:5000" in hosts and "127.0.0.1:5000" in hosts
    assert argument(command, "--host") == "0.0.0.0" and argument(command, "--port") == "5000"
    for dependency in ("postgres", "s3"):
        assert mlflow["depends_on"][dependency]["condition"] == "service_healthy", dependency
    assert "/health" in " ".join(mlflow["healthcheck"]["test"])  # answers without credentials
    s3 = service(rendered, "s3")
    assert s3["command"] == ["sh", "/app/docker/s3-stand-in.sh"] and not s3.get("ports")
    assert "head_bucket" in " ".join(s3["healthcheck"]["test"])


def test_every_secret_comes_from_the_env_file(compose: list[str], tmp_path: Path) -> None:
    """Each secret is required: without it in docker/.env, compose refuses to render and names it."""
    example = ENV_EXAMPLE.read_text().splitlines()
    for name in SECRETS:
        assert any(line.startswith(f"{name}=") for line in example), name
        env_file = tmp_path / f"without-{name}.env"
        env_file.write_text("\n".join(line for line in example if not line.startswith(f"{name}=")) + "\n")
        result = compose_config(compose, env_file)
        assert result.returncode != 0 and name in result.stderr, (name, result.stderr)


def test_only_the_launcher_holds_mlflow_credentials(rendered) -> None:
    """Ray nodes get none: the launcher hands its user's to every trial (raysweep/shell/tracking/access.py)."""
    for name in ("ray-head", "ray-worker", "ray-worker-gpu"):
        environment = service(rendered, name)["environment"]
        assert not {"MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "AWS_SECRET_ACCESS_KEY"} & set(
            environment
        ), name
    launch = service(rendered, "launch")["environment"]
    assert launch["MLFLOW_TRACKING_USERNAME"] == "admin"
    assert launch["MLFLOW_TRACKING_PASSWORD"] == "change-me-to-a-third-long-hex-string"  # from .env.example
    assert "AWS_SECRET_ACCESS_KEY" not in launch


def test_allowed_hosts_and_bucket_from_the_environment(compose: list[str]) -> None:
    values = {
        "MLFLOW_ALLOWED_HOSTS": "mlflow:5000,mlflow.team.example.org",
        "MLFLOW_ARTIFACTS_DESTINATION": "s3://team-bucket/mlflow",
        "MLFLOW_S3_ENDPOINT_URL": "https://minio.team.example.org",
    }
    result = compose_config(compose, ENV_EXAMPLE, values)
    assert result.returncode == 0, result.stderr
    mlflow = service(yaml.safe_load(result.stdout), "mlflow")
    assert argument(mlflow["command"], "--allowed-hosts") == values["MLFLOW_ALLOWED_HOSTS"]
    assert argument(mlflow["command"], "--artifacts-destination") == values["MLFLOW_ARTIFACTS_DESTINATION"]
    assert mlflow["environment"]["MLFLOW_S3_ENDPOINT_URL"] == values["MLFLOW_S3_ENDPOINT_URL"]


def test_mlflow_server_script_writes_a_private_auth_config(tmp_path: Path) -> None:
    """docker/mlflow-server.sh with a stub ``mlflow``: the auth config holds the database URI from the
    environment, readable by its owner only, and mlflow server runs basic-auth with every argument."""
    stub = tmp_path / "mlflow"
    stub.write_text(
        f'#!/bin/sh\necho "$*" > {tmp_path}/args\ncp "$MLFLOW_AUTH_CONFIG_PATH" {tmp_path}/config\n'
        f'stat -c %a "$MLFLOW_AUTH_CONFIG_PATH" > {tmp_path}/mode\n'
    )
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    uri = "postgresql+psycopg2://mlflow:pw-in-env@postgres:5432/mlflow"
    result = subprocess.run(
        ["sh", str(DOCKER / "mlflow-server.sh"), "--port", "5000"],
        env={**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "MLFLOW_AUTH_DATABASE_URI": uri},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "args").read_text().split() == ["server", "--app-name", "basic-auth", "--port", "5000"]
    config = (tmp_path / "config").read_text()
    assert f"database_uri = {uri}" in config and "default_permission = READ" in config
    assert (tmp_path / "mode").read_text().strip() == "600"
    missing = subprocess.run(
        ["sh", str(DOCKER / "mlflow-server.sh")],
        env={k: v for k, v in os.environ.items() if k != "MLFLOW_AUTH_DATABASE_URI"}
        | {"PATH": f"{tmp_path}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode != 0 and "MLFLOW_AUTH_DATABASE_URI" in missing.stderr


def test_postgres_healthcheck_and_credentials_from_env(rendered) -> None:
    postgres = service(rendered, "postgres")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert (
        postgres["environment"]["POSTGRES_PASSWORD"] == "change-me-to-a-long-hex-string"
    )  # from .env.example
    assert "/var/lib/postgresql/data" in mounts(postgres)


def test_missing_secrets_fail_clearly(compose: list[str], tmp_path: Path) -> None:
    """An empty docker/.env: compose refuses and names one required variable and where to set it.
    Which one comes first is compose's choice (v2 walks a map, so it changes from run to run)."""
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = compose_config(compose, empty)
    required = set(re.findall(r"\$\{(\w+):\?", COMPOSE.read_text()))
    assert set(SECRETS) <= required
    named = [name for name in required if f"set {name} in docker/.env" in result.stderr]
    assert result.returncode != 0 and named, result.stderr


def test_env_file_is_not_committed() -> None:
    ignored = subprocess.run(["git", "check-ignore", "-q", "docker/.env"], cwd=REPO)
    assert ignored.returncode == 0, "docker/.env must be gitignored"
    example = subprocess.run(["git", "check-ignore", "-q", "docker/.env.example"], cwd=REPO)
    assert example.returncode == 1, "docker/.env.example must be committable"
    tracked = subprocess.run(["git", "ls-files", "docker/.env"], cwd=REPO, capture_output=True, text=True)
    assert tracked.stdout.strip() == ""


def test_build_context_ignore_file_read_by_every_builder() -> None:
    """The legacy builder and docker-compose v1 read only <context>/.dockerignore; BuildKit reads a
    <Dockerfile>.dockerignore instead when one exists, so none may (tests/system/test_docker_stack.py builds
    an image and looks inside)."""
    lines = (REPO / ".dockerignore").read_text().splitlines()
    assert {".git", "docker/.env", "**/.env", ".venv"} <= set(lines)
    assert "!docker/.env.example" in lines  # the example is documentation, not a secret
    assert not list(DOCKER.glob("*.dockerignore")), "BuildKit would read it instead of the root file"


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
    assert head[:3] == ["sh", "/app/docker/ray-start.sh", "--head"] and "--block" in head
    assert argument(head, "--port") == "6379" and argument(head, "--dashboard-host") == "0.0.0.0"
    # Started after MLflow, and restarted when `ray start` misses Ray's startup deadline.
    assert service(rendered, "ray-head")["depends_on"]["mlflow"]["condition"] == "service_healthy"
    for name in ("ray-head", "ray-worker", "ray-worker-gpu"):
        assert service(rendered, name)["restart"] == "unless-stopped", name
    assert service(rendered, "launch")["restart"] == "no"  # a one-shot sweep is never rerun by Docker
    for name in ("ray-worker", "ray-worker-gpu"):
        spec = service(rendered, name)
        assert spec["command"][:2] == ["sh", "/app/docker/ray-start.sh"], name
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
    store = f"--object-store-memory={shm_bytes() // 10 * 9}"  # docker/ray-start.sh, as on every node
    assert (
        lines[0]
        == f"ray start {store} --address=ray-head:6379 --num-cpus=0 --num-gpus=0 --disable-usage-stats"
    )
    assert lines[1] == f"python -m raysweep.launch {' '.join(args)} configs/quickstart.yaml --smoke"
    assert lines[2] == "ray stop --force"
    missing = subprocess.run(
        ["sh", str(DOCKER / "launch.sh"), "configs/quickstart.yaml"], capture_output=True
    )
    assert missing.returncode == 2


def shm_bytes() -> int:
    """The size of /dev/shm as docker/ray-start.sh reads it (df: blocks times fragment size)."""
    stats = os.statvfs("/dev/shm")
    return stats.f_blocks * stats.f_frsize


def test_ray_start_sizes_the_object_store_to_shm(tmp_path: Path) -> None:
    """Ray keeps its store in /dev/shm only if it fits; ray-start.sh asks for 90% of it."""
    calls = tmp_path / "calls"
    stub = tmp_path / "ray"
    stub.write_text(f'#!/bin/sh\necho "ray $*" >> {calls}\n')
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    result = subprocess.run(
        ["sh", str(DOCKER / "ray-start.sh"), "--head", "--port=6379", "--block"],
        env={**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    store = shm_bytes() // 10 * 9
    assert calls.read_text().splitlines() == [
        f"ray start --object-store-memory={store} --head --port=6379 --block"
    ]
    assert 0 < store < shm_bytes()


def test_one_variable_sizes_shm_and_store_on_every_ray_node(compose: list[str]) -> None:
    """RAY_SHM_SIZE sets every Ray container's /dev/shm; each starts Ray through ray-start.sh, which
    sizes the store from that /dev/shm, so the two cannot disagree."""
    result = compose_config(compose, ENV_EXAMPLE, {"RAY_SHM_SIZE": "2gb"})
    assert result.returncode == 0, result.stderr
    rendered = yaml.safe_load(result.stdout)
    for name in RAY_SERVICES:
        assert size_in_bytes(service(rendered, name)["shm_size"]) == 2 * 1024**3, name
    for name in ("ray-head", "ray-worker", "ray-worker-gpu"):
        command = service(rendered, name)["command"]
        assert command[:2] == ["sh", "/app/docker/ray-start.sh"], name
        assert not any(item.startswith("--object-store-memory") for item in command), name
    assert 'sh "$(dirname "$0")/ray-start.sh"' in (DOCKER / "launch.sh").read_text()
    assert "ray start" not in (DOCKER / "launch.sh").read_text().replace("ray start`", "")


def test_check_pins_names_every_unpinned_distribution(tmp_path: Path) -> None:
    """docker/check_pins.py, run by both Dockerfiles, against this venv."""

    def check(constraints: str) -> subprocess.CompletedProcess:
        path = tmp_path / "constraints.txt"
        path.write_text(constraints)
        command = [sys.executable, str(DOCKER / "check_pins.py"), str(path)]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    nothing_pinned = check("# no pins\n")
    assert nothing_pinned.returncode == 1
    installed = dict(re.findall(r"^  (\S+)==(\S+) is installed but not pinned$", nothing_pinned.stderr, re.M))
    assert {"numpy", "pyyaml", "setuptools"} <= set(installed) and "pip" not in installed
    every_pin = "".join(f"{name}=={version.split('+')[0]}\n" for name, version in installed.items())
    assert check(every_pin).returncode == 0
    without_pyyaml = check(re.sub(r"(?m)^pyyaml==.*\n", "", every_pin))
    assert without_pyyaml.returncode == 1
    assert re.findall(r"^  (\S+)==", without_pyyaml.stderr, re.M) == ["pyyaml"]
    other_numpy = check(re.sub(r"(?m)^numpy==.*$", "numpy==0.0.1", every_pin))
    assert other_numpy.returncode == 1 and "pinned at 0.0.1" in other_numpy.stderr
    assert check("numpy>=1\n").returncode != 0  # only exact pins are pins


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


def build_arguments(path: Path) -> dict[str, str]:
    """ARG NAME=DEFAULT of a Dockerfile."""
    return dict(v.split("=", 1) for k, v in instructions(path) if k == "ARG" and "=" in v)


@pytest.mark.parametrize(
    ("dockerfile", "base_argument", "base", "index"),
    [
        (
            "Dockerfile",
            "PYTHON_IMAGE",
            r"python:3\.11-slim(-\w+)?",
            "https://download.pytorch.org/whl/cpu",
        ),
        (
            "Dockerfile.cuda",
            "CUDA_IMAGE",
            r"nvidia/cuda:13\.0\.\d+-(cudnn-)?runtime-ubuntu\d+\.\d+",
            "https://download.pytorch.org/whl/cu130",
        ),
    ],
)
def test_dockerfile_pins_torch_installs_project_runs_as_non_root(
    dockerfile: str, base_argument: str, base: str, index: str
) -> None:
    steps = instructions(DOCKER / dockerfile)
    defaults = build_arguments(DOCKER / dockerfile)
    # Base image and indexes are build arguments whose defaults are the public ones.
    [from_line] = [v for k, v in steps if k == "FROM"]
    assert from_line == f"${{{base_argument}}}"
    assert re.fullmatch(base, defaults[base_argument]), defaults[base_argument]
    assert defaults["TORCH_INDEX_URL"] == index
    assert defaults["PIP_INDEX_URL"] == "https://pypi.org/simple"  # pip reads it from the environment
    runs = " ".join(v for k, v in steps if k == "RUN")
    pins = project_pins()
    assert f"torch=={pins['torch']}" in runs and f"torchvision=={pins['torchvision']}" in runs
    assert '--index-url "$TORCH_INDEX_URL"' in runs and "download.pytorch.org" not in runs
    assert not re.search(r"\btorch(?![=\w-])", runs.replace("import torch", "").replace("torch.", "")), (
        "every torch install is pinned"
    )
    assert "-c /opt/constraints.txt" in runs and "pyproject.toml" in runs
    assert "python /opt/check_pins.py /opt/constraints.txt" in runs  # nothing installed unpinned
    assert "pip install --no-deps /app" in runs  # the project itself
    assert "ray --version" in runs and "python -m raysweep.launch --help" in runs  # on PATH
    users = [v for k, v in steps if k == "USER"]
    assert users and users[-1] not in {"root", "0"} and not users[-1].startswith(("root:", "0:"))
    assert "useradd" in runs and "--uid 10001" in runs  # same uid in both images (shared volumes)
    assert steps[-1][0] in {"CMD", "ENTRYPOINT"} and steps.index(("USER", users[-1])) < len(steps) - 1


def test_compose_build_arguments_default_to_the_dockerfiles(rendered) -> None:
    """compose.yaml repeats each Dockerfile's defaults (Compose cannot leave an argument unset)."""
    cpu, cuda = build_arguments(DOCKER / "Dockerfile"), build_arguments(DOCKER / "Dockerfile.cuda")
    for name in ("mlflow", "ray-head"):
        assert service(rendered, name)["build"]["args"] == cpu, name
    assert service(rendered, "ray-worker-gpu")["build"]["args"] == cuda
    assert service(rendered, "postgres")["image"] == "postgres:17-bookworm"
    assert {service(rendered, n)["image"] for n in ("mlflow", *RAY_SERVICES) if n != "ray-worker-gpu"} == {
        "raysweep:cpu"
    }
    assert service(rendered, "ray-worker-gpu")["image"] == "raysweep:cuda"


def test_mirror_variables_reach_every_image_and_build(compose: list[str]) -> None:
    """Behind a mirror: one variable per base image and index, and the built images' names."""
    mirror = {
        "PYTHON_IMAGE": "registry.internal/library/python:3.11-slim-bookworm",
        "CUDA_IMAGE": "registry.internal/nvidia/cuda:13.0.1-runtime-ubuntu24.04",
        "POSTGRES_IMAGE": "registry.internal/library/postgres:17-bookworm",
        "PIP_INDEX_URL": "https://pypi.internal/simple",
        "TORCH_INDEX_URL": "https://pypi.internal/torch-cpu",
        "TORCH_CUDA_INDEX_URL": "https://pypi.internal/torch-cu130",
        "RAYSWEEP_IMAGE": "registry.internal/raysweep:cpu",
        "RAYSWEEP_CUDA_IMAGE": "registry.internal/raysweep:cuda",
    }
    result = compose_config(compose, ENV_EXAMPLE, mirror)
    assert result.returncode == 0, result.stderr
    rendered = yaml.safe_load(result.stdout)
    cpu_args = {k: mirror[k] for k in ("PYTHON_IMAGE", "PIP_INDEX_URL", "TORCH_INDEX_URL")}
    assert service(rendered, "mlflow")["build"]["args"] == cpu_args
    assert service(rendered, "ray-worker-gpu")["build"]["args"] == {
        "CUDA_IMAGE": mirror["CUDA_IMAGE"],
        "PIP_INDEX_URL": mirror["PIP_INDEX_URL"],
        "TORCH_INDEX_URL": mirror["TORCH_CUDA_INDEX_URL"],
    }
    assert service(rendered, "postgres")["image"] == mirror["POSTGRES_IMAGE"]
    for name in ("mlflow", "ray-head", "ray-worker", "launch"):
        assert service(rendered, name)["image"] == mirror["RAYSWEEP_IMAGE"], name
    assert service(rendered, "ray-worker-gpu")["image"] == mirror["RAYSWEEP_CUDA_IMAGE"]


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
