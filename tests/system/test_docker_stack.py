"""docker/ built and run for real (marker ``docker``, left out of the fast suite).

    python -m pytest -m docker tests/system/test_docker_stack.py      # as root; about 10 minutes on 2 idle cores

What users do, in order: build the CPU image from a checkout that holds a ``.git`` and a
``docker/.env`` with secrets, bring ``docker/compose.yaml`` up with two Ray workers, run the launch
service's quickstart ``--smoke`` sweep, and read the results back through the MLflow REST API on the
published 127.0.0.1 port, as the admin of its basic-auth (the server refuses anonymous calls and
foreign Host headers); the artifacts must be in the stand-in S3 bucket, a launch with a wrong password
must exit 2 saying so, and no secret of docker/.env may show in the image or any container's log.
Then ``down -v`` and removal of everything the test created (containers, volumes, network, the image
and its build layers), also when a step fails.

Prerequisites, each found or made here: a Docker engine (``docker info``; if none answers and we are
root, ``dockerd`` is started and stopped again at the end), a Compose (``docker compose`` v2 if the
plugin is installed, else ``docker-compose`` v1; ``RAYSWEEP_COMPOSE`` picks one), and base images. Where
Docker Hub is unreachable, ``docker/stand-in-images.sh`` builds stand-ins from Debian packages and the
Dockerfile and compose file take them through their variables (PYTHON_IMAGE, POSTGRES_IMAGE); where the
PyTorch wheel index is unreachable, TORCH_INDEX_URL points at the package index (torch's CUDA build,
several GB). The stand-in images stay cached between runs under tags that hash their inputs, so a tag
that exists was built from the same script and certificates. Missing prerequisites skip the test, or
fail it when ``RAYSWEEP_REQUIRE_DOCKER=1``.

One run per Docker engine at a time: the cleanup removes every image id that appeared since the
build started (a failed legacy build leaves untagged layers no name points to), which would include
another run's.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers.mlflow_rest import metrics, tags
from helpers.paths import REPO
from helpers.processes import free_port
from helpers.secured_tracking import AuthenticatedRest

from raysweep.sweep.config import load_sweep_config
from raysweep.sweep.smoke import smoke
from raysweep.sweep.trials import expand_trials

pytestmark = [pytest.mark.docker, pytest.mark.timeout(3600)]

QUICKSTART = "configs/quickstart.yaml"
EXPERIMENT = "raysweep-quickstart"
WORKERS = 2
REAL_BASE_IMAGES = {"PYTHON_IMAGE": "python:3.11-slim-bookworm", "POSTGRES_IMAGE": "postgres:17-bookworm"}
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PACKAGE_INDEX = "https://pypi.org/simple"
# What Ray logs when its object store does not fit in /dev/shm and falls back to disk.
SHM_FALLBACK = re.compile(r"instead of\s+/dev/shm|will harm performance", re.IGNORECASE)
# Variables that compose.yaml reads: the test's own values come from docker/.env only.
COMPOSE_VARIABLES = re.compile(
    r"^(POSTGRES_|RAY_|MLFLOW_|AWS_|BIND_|RAYSWEEP_|PYTHON_IMAGE|PIP_INDEX|TORCH_)"
)
SECRETS = (
    "POSTGRES_PASSWORD",
    "RAY_AUTH_TOKEN",
    "MLFLOW_AUTH_ADMIN_PASSWORD",
    "MLFLOW_FLASK_SERVER_SECRET_KEY",
    "AWS_SECRET_ACCESS_KEY",
)
"""The values of docker/.env that may show nowhere: not in the image, not in a log."""
BUCKET = "mlflow-artifacts"
ADMIN = "admin"


def run(command: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    """A command with a bound on its time; its output in the error when it fails."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"{shlex.join(command)} still running after {timeout:.0f} s") from exc
    assert result.returncode == 0, (
        f"{shlex.join(command)} exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


def answers(command: list[str], timeout: float = 30) -> bool:
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        return subprocess.run(command, capture_output=True, timeout=timeout).returncode == 0
    return False


def unavailable(reason: str) -> None:
    if os.environ.get("RAYSWEEP_REQUIRE_DOCKER") == "1":
        pytest.fail(f"RAYSWEEP_REQUIRE_DOCKER=1 but {reason}")
    pytest.skip(reason)


def reachable(url: str) -> bool:
    with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=15) as response:
        return response.status < 400
    return False


# ---------------------------------------------------------------------------------------------
# Prerequisites: engine, compose, base images
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def docker_engine(workdir: Path) -> Iterator[None]:
    """A reachable engine: the one that answers, or ``dockerd`` started here and stopped after."""
    if shutil.which("docker") is None:
        unavailable("no docker client (apt-get install docker.io)")
    if answers(["docker", "info"]):
        yield
        return
    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        unavailable("no Docker engine answers and dockerd cannot be started here (root + docker.io)")
    log = (workdir / "dockerd.log").open("wb")
    daemon = subprocess.Popen(
        ["dockerd", "--pidfile", str(workdir / "dockerd.pid")],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not answers(["docker", "info"], timeout=10):
            assert daemon.poll() is None, (workdir / "dockerd.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "dockerd did not answer within 90 s"
            time.sleep(1)
        yield
    finally:
        # dockerd stops its containerd and containers on SIGTERM; the group kill is the fallback.
        with contextlib.suppress(ProcessLookupError):
            daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait(timeout=30)
        log.close()


def compose_command() -> list[str]:
    """``docker compose`` (v2) when installed, else ``docker-compose`` (v1); RAYSWEEP_COMPOSE chooses."""
    chosen = os.environ.get("RAYSWEEP_COMPOSE")
    candidates = [shlex.split(chosen)] if chosen else [["docker", "compose"], ["docker-compose"]]
    for command in candidates:
        if shutil.which(command[0]) and answers([*command, "version"]):
            return command
    unavailable(f"no Compose among {[' '.join(c) for c in candidates]} (apt-get install docker-compose)")
    raise AssertionError("unreachable")


def base_images() -> tuple[dict[str, str], str]:
    """The base images to build and run with, and where they came from."""
    if all(answers(["docker", "image", "inspect", image]) for image in REAL_BASE_IMAGES.values()):
        return dict(REAL_BASE_IMAGES), "local copies of the real images"
    if all(answers(["docker", "pull", "-q", image], timeout=180) for image in REAL_BASE_IMAGES.values()):
        return dict(REAL_BASE_IMAGES), "pulled from the registry"
    if os.geteuid() != 0 or shutil.which("debootstrap") is None:
        unavailable("Docker Hub unreachable and no stand-ins possible (root + apt-get install debootstrap)")
    result = run(["bash", str(REPO / "docker" / "stand-in-images.sh")], timeout=1800)
    images = dict(line.split("=", 1) for line in result.stdout.split() if "=" in line)
    assert set(images) == set(REAL_BASE_IMAGES), result.stdout
    return images, "stand-ins from Debian packages (docker/stand-in-images.sh)"


# ---------------------------------------------------------------------------------------------
# The stack
# ---------------------------------------------------------------------------------------------


@dataclass
class Stack:
    compose: list[str]
    context: Path
    project: str
    image: str
    env_values: dict[str, str]
    base_images: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def compose_run(self, *arguments: str, timeout: float, check: bool = True) -> subprocess.CompletedProcess:
        """compose with this project's file; variables only from its docker/.env, as users have it."""
        environment = {k: v for k, v in os.environ.items() if not COMPOSE_VARIABLES.match(k)}
        command = [*self.compose, "-p", self.project, "-f", "docker/compose.yaml", *arguments]
        if check:
            return run(command, timeout=timeout, cwd=self.context, env=environment)
        return subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=self.context, env=environment
        )

    @property
    def tracking_uri(self) -> str:
        return f"http://127.0.0.1:{self.env_values['MLFLOW_PORT']}"

    def rest(self) -> AuthenticatedRest:
        """The MLflow REST API on the published port, as the server's admin."""
        return AuthenticatedRest(self.tracking_uri, ADMIN, self.env_values["MLFLOW_AUTH_ADMIN_PASSWORD"])

    def timed(self, name: str, started: float) -> None:
        self.timings[name] = time.perf_counter() - started

    @contextlib.contextmanager
    def explained(self) -> Iterator[None]:
        """A failing step's error gets the containers' states and the tails of their logs."""
        try:
            yield
        except (AssertionError, subprocess.TimeoutExpired) as exc:
            states = self.compose_run("ps", "-a", timeout=120, check=False)
            logs = self.compose_run("logs", "--no-color", "--tail", "60", timeout=300, check=False)
            raise AssertionError(f"{exc}\n{states.stdout}\n{logs.stdout[-12000:]}") from exc


def copy_checkout(destination: Path) -> None:
    """The working tree as a clone has it (tracked and not-ignored files), plus a real ``.git``."""
    listed = run(["git", "ls-files", "-z", "-co", "--exclude-standard"], timeout=60, cwd=REPO).stdout
    for relative in filter(None, listed.split("\0")):
        source = REPO / relative
        if source.is_file():
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    run(["git", "init", "-q"], timeout=60, cwd=destination)


def image_ids() -> set[str]:
    return set(run(["docker", "images", "-a", "-q", "--no-trunc"], timeout=60).stdout.split())


def remove_project(stack: Stack, images_before: set[str]) -> list[str]:
    """``down -v``, then whatever of the project is still there; returns what it had to force."""
    forced = []
    with contextlib.suppress(AssertionError):
        stack.compose_run(
            "--profile", "launch", "down", "-v", "--remove-orphans", "--timeout", "20", timeout=300
        )
    label = f"label=com.docker.compose.project={stack.project}"
    for kind, listing in (
        ("container", ["docker", "ps", "-aq", "--filter", label]),
        ("volume", ["docker", "volume", "ls", "-q", "--filter", label]),
        ("network", ["docker", "network", "ls", "-q", "--filter", label]),
    ):
        leftovers = subprocess.run(listing, capture_output=True, text=True, timeout=60).stdout.split()
        if leftovers:
            forced.append(f"{kind}s {leftovers}")
            remove = ["docker", kind, "rm", *(["-f"] if kind != "network" else []), *leftovers]
            subprocess.run(remove, capture_output=True, timeout=120)
    # The image, and the layers its build left (a failed legacy build keeps its intermediates):
    # every image id that appeared since before the build.
    subprocess.run(["docker", "image", "rm", "-f", stack.image], capture_output=True, timeout=300)
    created = image_ids() - images_before
    if created:
        subprocess.run(["docker", "image", "rm", "-f", *created], capture_output=True, timeout=300)
    return forced


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = Path(tempfile.mkdtemp(prefix="rs-docker-"))
    suffix = secrets.token_hex(4)
    with docker_engine(workdir):
        compose = compose_command()
        started = time.perf_counter()
        bases, origin = base_images()
        base_seconds = time.perf_counter() - started
        context = workdir / "checkout"
        copy_checkout(context)
        mlflow_port = str(free_port())
        admin_password = secrets.token_hex(16)
        env_values = {
            "POSTGRES_PASSWORD": secrets.token_hex(24),
            "RAY_AUTH_TOKEN": secrets.token_hex(24),
            "MLFLOW_AUTH_ADMIN_PASSWORD": admin_password,
            "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(24),
            "MLFLOW_TRACKING_USERNAME": ADMIN,
            "MLFLOW_TRACKING_PASSWORD": admin_password,
            "MLFLOW_ALLOWED_HOSTS": f"mlflow:5000,127.0.0.1:{mlflow_port},localhost:{mlflow_port}",
            "AWS_ACCESS_KEY_ID": secrets.token_hex(8),
            "AWS_SECRET_ACCESS_KEY": secrets.token_hex(24),
            "BIND_ADDRESS": "127.0.0.1",
            "MLFLOW_PORT": mlflow_port,
            "RAY_DASHBOARD_PORT": str(free_port()),
            "RAYSWEEP_IMAGE": f"raysweep-stack-test-{suffix}:cpu",
            "RAYSWEEP_DATA": str(tmp_path_factory.mktemp("data")),
            "POSTGRES_IMAGE": bases["POSTGRES_IMAGE"],
        }
        (context / "docker" / ".env").write_text("".join(f"{k}={v}\n" for k, v in env_values.items()))
        stack = Stack(
            compose, context, f"raysweepstack{suffix}", env_values["RAYSWEEP_IMAGE"], env_values, bases
        )
        stack.timings["base images"] = base_seconds
        stack.notes += [f"compose: {' '.join(compose)}", f"base images: {origin}"]
        images_before = image_ids()
        try:
            yield stack
        finally:
            started = time.perf_counter()
            forced = remove_project(stack, images_before)
            stack.timed("down and removal", started)
            print(
                f"\ndocker stack ({'; '.join(stack.notes)}), seconds: "
                + ", ".join(f"{k} {v:.0f}" for k, v in stack.timings.items())
            )
            shutil.rmtree(workdir, ignore_errors=True)
            assert not forced, f"left behind by down -v: {forced}"


@pytest.fixture(scope="module")
def built(stack: Stack) -> Stack:
    """The CPU image, built by the legacy builder (the one that reads only the root .dockerignore)."""
    arguments = [f"--build-arg=PYTHON_IMAGE={stack.base_images['PYTHON_IMAGE']}"]
    if not reachable(f"{TORCH_CPU_INDEX}/"):
        arguments.append(f"--build-arg=TORCH_INDEX_URL={PACKAGE_INDEX}")
        stack.notes.append("torch from the package index (CUDA build): PyTorch's index is unreachable")
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"):
        if os.environ.get(proxy):
            arguments.append(f"--build-arg={proxy}={os.environ[proxy]}")
    started = time.perf_counter()
    run(
        ["docker", "build", "--force-rm", "-f", "docker/Dockerfile", "-t", stack.image, *arguments, "."],
        timeout=2700,
        cwd=stack.context,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )
    stack.timed("build", started)
    size = run(["docker", "image", "inspect", "-f", "{{.Size}}", stack.image], timeout=60).stdout
    stack.notes.append(f"image {int(size) / 1e9:.1f} GB")
    return stack


@pytest.fixture(scope="module")
def up(built: Stack) -> Stack:
    """postgres, mlflow, the Ray head and two workers, healthy, every worker joined."""
    started = time.perf_counter()
    with built.explained():
        built.compose_run("up", "-d", "--no-build", "--scale", f"ray-worker={WORKERS}", timeout=600)
        # Workers that miss Ray's startup deadline on a loaded host restart and join later.
        cluster_nodes(built, timeout=600)
    built.timed("compose up", started)
    return built


@dataclass(frozen=True)
class RayNode:
    node_id: str
    name: str
    object_store_bytes: float
    head: bool


def ray_nodes(stack: Stack) -> list[RayNode]:
    """Every alive node of the cluster, asked on the head; [] while it does not answer."""
    probe = (
        "import ray; ray.init(address='auto', logging_level='ERROR')\n"
        "for n in ray.nodes():\n"
        "    r = n['Resources']\n"
        "    if n['Alive']: print(n['NodeID'], n['NodeName'], r.get('object_store_memory', 0),"
        " int('node:__internal_head__' in r))"
    )
    try:
        result = stack.compose_run("exec", "-T", "ray-head", "python", "-c", probe, timeout=120, check=False)
    except subprocess.TimeoutExpired:
        return []
    if result.returncode != 0:
        return []
    rows = [line.split() for line in result.stdout.splitlines()]
    return [RayNode(row[0], row[1], float(row[2]), row[3] == "1") for row in rows if len(row) == 4]


def cluster_nodes(stack: Stack, timeout: float) -> list[RayNode]:
    """The head and the workers, once exactly those are alive (the launcher's node, which joins
    for a sweep, has left)."""
    deadline = time.monotonic() + timeout
    while len(nodes := ray_nodes(stack)) != 1 + WORKERS:
        assert time.monotonic() < deadline, f"after {timeout:.0f} s: {nodes}, expected {1 + WORKERS} nodes"
        time.sleep(3)
    return nodes


@pytest.fixture(scope="module")
def swept(up: Stack) -> tuple[Stack, subprocess.CompletedProcess]:
    started = time.perf_counter()
    with up.explained():
        result = up.compose_run(
            "--profile", "launch", "run", "--rm", "-T", "launch", QUICKSTART, "--smoke", timeout=2400
        )
    up.timed("smoke sweep", started)
    return up, result


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------


def test_image_holds_no_secrets_and_no_git(built: Stack) -> None:
    """Bug 1: the build context had .git and docker/.env; the image must hold neither."""
    assert (built.context / ".git").is_dir() and (built.context / "docker" / ".env").is_file()
    listing = run(
        ["docker", "run", "--rm", "--entrypoint", "sh", built.image, "-c", "ls -a /app /app/docker"],
        timeout=120,
    ).stdout.split()
    assert ".git" not in listing and ".env" not in listing, listing
    assert "compose.yaml" in listing and "pyproject.toml" in listing  # the listing is of the project
    # The build context reaches the image only through COPY: into /app and /opt (not the venv).
    for name in SECRETS:
        secret = built.env_values[name]
        grep = ["grep", "-rlF", "--exclude-dir=venv", secret, "/app", "/opt"]
        found = subprocess.run(
            ["docker", "run", "--rm", "--entrypoint", grep[0], built.image, *grep[1:]],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert found.returncode == 1 and not found.stdout, f"{name} found in the image: {found.stdout}"


def test_every_installed_distribution_pinned(built: Stack) -> None:
    """Bug 3: docker/check_pins.py, which the build runs before installing the project, passes on
    the finished image too, with the project itself (installed last, from /app) as the one addition."""
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    check = (
        f"{{ cat /opt/constraints.txt; echo raysweep=={version}; }} > /tmp/pins.txt"
        " && python /app/docker/check_pins.py /tmp/pins.txt"
    )
    result = run(["docker", "run", "--rm", "--entrypoint", "sh", built.image, "-c", check], timeout=120)
    assert "every installed distribution is pinned" in result.stdout


def test_object_store_in_shared_memory_on_every_node(swept) -> None:
    """Bug 2: every node's store fits its /dev/shm (RAY_SHM_SIZE), and no node fell back to disk."""
    stack, result = swept
    nodes = cluster_nodes(stack, timeout=60)
    shm = 4 * 1024**3  # compose's default RAY_SHM_SIZE, 4gb
    for node in nodes:
        assert 0.85 * shm <= node.object_store_bytes <= 0.9 * shm + 2**20, node  # ray-start.sh: 90%
    logs = stack.compose_run("--profile", "launch", "logs", "--no-color", timeout=300).stdout
    output = result.stdout + result.stderr
    # The logs hold what `ray start` printed on each node (so a fallback warning would be there).
    assert logs.count("Ray runtime started") >= 1 + WORKERS, logs[-3000:]
    assert "Ray runtime started" in output, output[-3000:]
    for text in (logs, output):
        assert not SHM_FALLBACK.search(text), SHM_FALLBACK.search(text).string[-3000:]


def test_smoke_sweep_complete_in_mlflow(swept) -> None:
    """One parent, every trial FINISHED with a full curve and its artifacts, over the published port."""
    stack, result = swept
    sweep = smoke(load_sweep_config(REPO / QUICKSTART))
    expected_keys = {trial.key for trial in expand_trials(sweep)}
    schedule = sweep.schedule
    steps = [schedule.initial_labels + k * schedule.labels_per_round for k in range(schedule.rounds + 1)]
    rest = stack.rest()
    runs = rest.search_runs(rest.experiment_id(EXPERIMENT))
    [parent] = [r for r in runs if tags(r).get("raysweep.role") == "sweep"]
    trials = [r for r in runs if tags(r).get("raysweep.role") == "trial"]
    assert len(runs) == 1 + len(expected_keys)
    assert parent["info"]["status"] == "FINISHED"
    assert metrics(parent)["trials_finished"] == len(expected_keys)
    assert "sweep_config.yaml" in rest.artifacts(parent["info"]["run_id"])
    assert sorted(tags(r)["raysweep.trial_key"] for r in trials) == sorted(expected_keys)
    for run_ in trials:
        run_id, key = run_["info"]["run_id"], tags(run_)["raysweep.trial_key"]
        assert run_["info"]["status"] == "FINISHED", key
        assert tags(run_)["mlflow.parentRunId"] == parent["info"]["run_id"], key
        history = rest.metric_history(run_id, "accuracy")
        assert sorted(int(m["step"]) for m in history) == steps, key
        assert all(0.0 <= m["value"] <= 1.0 for m in history), key
        assert {"curve.csv", "picks.npz"} <= set(rest.artifacts(run_id)), key
    curve = rest.download(trials[0]["info"]["run_id"], "curve.csv").decode().strip().splitlines()
    assert len(curve) == 1 + len(steps), curve  # header and one row per round, through the proxy
    link = f"http://mlflow:5000/#/experiments/{parent['info']['experiment_id']}/runs?workflowType=machine_learning"
    assert link in result.stdout


def test_trials_spread_over_worker_containers(swept) -> None:
    stack, _ = swept
    nodes = cluster_nodes(stack, timeout=60)
    workers = {node.node_id for node in nodes if not node.head}
    assert len(workers) == WORKERS, nodes
    rest = stack.rest()
    runs = rest.search_runs(rest.experiment_id(EXPERIMENT))
    split = Counter(tags(r)["raysweep.node_id"] for r in runs if tags(r).get("raysweep.role") == "trial")
    stack.notes.append("trials per worker " + "/".join(str(n) for n in sorted(split.values())))
    assert set(split) <= workers, (split, nodes)  # no trial on the head or the launcher's node
    assert len(split) >= 2, split


def test_artifacts_in_the_bucket_through_the_server(swept) -> None:
    """Every trial's curve and picks, and the sweep's config, are objects in the stand-in bucket
    (under the server's --artifacts-destination); only the server holds the bucket's keys."""
    stack, _ = swept
    listing = (
        "import boto3, json; print(json.dumps([o['Key'] for o in boto3.client('s3', "
        f"endpoint_url='http://127.0.0.1:9000').list_objects_v2(Bucket='{BUCKET}').get('Contents', [])]))"
    )
    result = stack.compose_run("exec", "-T", "s3", "python", "-c", listing, timeout=120)
    keys = set(json.loads(result.stdout.strip().splitlines()[-1]))
    rest = stack.rest()
    runs = rest.search_runs(rest.experiment_id(EXPERIMENT))
    for run_ in runs:
        info = run_["info"]
        names = (
            ("sweep_config.yaml",) if tags(run_)["raysweep.role"] == "sweep" else ("curve.csv", "picks.npz")
        )
        for name in names:
            assert f"mlflow/{info['experiment_id']}/{info['run_id']}/artifacts/{name}" in keys, (name, keys)


def test_the_server_refuses_anonymous_calls_and_foreign_hosts(up: Stack) -> None:
    search = f"{up.tracking_uri}/api/2.0/mlflow/experiments/search?max_results=1"
    admin = up.rest().auth

    def status(headers: dict[str, str]) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(
                urllib.request.Request(search, headers=headers), timeout=30
            ) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    assert status(admin)[0] == 200
    assert status({})[0] == 401
    code, body = status({**admin, "Host": f"mlflow.elsewhere.example:{up.env_values['MLFLOW_PORT']}"})
    assert code == 403 and "Invalid Host header" in body


def test_a_wrong_password_stops_the_launch_with_exit_2(up: Stack) -> None:
    """A user's own run with a password the server does not know: refused before the sweep starts."""
    with up.explained():
        result = up.compose_run(
            "--profile", "launch", "run", "--rm", "-T", "-e", "MLFLOW_TRACKING_PASSWORD=not-the-password",
            "launch", QUICKSTART, "--smoke", timeout=900, check=False,
        )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert "error: MLflow tracking store http://mlflow:5000 refused authentication (HTTP 401)" in output
    assert "not-the-password" not in output


def test_no_secret_in_any_log(swept) -> None:
    stack, result = swept
    logs = stack.compose_run("--profile", "launch", "logs", "--no-color", timeout=300).stdout
    for name in SECRETS:
        value = stack.env_values[name]
        assert value not in logs and value not in result.stdout + result.stderr, f"{name} in a log"
