"""A shared, authenticated MLflow as a team runs it, and what the launcher does with it: the
docker/compose.yaml topology without containers (two ``ray start`` nodes, PostgreSQL, all on
127.0.0.1) with ``mlflow server --app-name basic-auth``, a host check that allows ``127.0.0.1:PORT``
only, and artifacts in an S3 bucket of moto's S3 API server (``helpers.secured_tracking``).

- the right credentials: the sweep finishes, every artifact lands in the bucket through the server,
  and the trials (on nodes that have no MLflow credentials of their own) logged as the launcher's user;
  the password is in no output, no file of the sweep folder or of the Ray nodes, no run;
- a wrong password, or a host name the server does not allow: exit 2 before Ray, naming the URI;
- a user who may read the experiment but not write to it: exit 2, nothing written;
- the password changed mid-sweep: the trials fail at once (not after the outage limit), and say what
  to fix; Tune's retries fail as fast.

Slow (a cluster and five sweeps, about 10 minutes on 2 loaded cores): ``pytest -m faults``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.cluster import start_cluster_or_skip
from helpers.drivers import Driver
from helpers.fault_sweep import fault_sweep_steps, write_fault_sweep
from helpers.mlflow_rest import tags
from helpers.processes import pids_in_group
from helpers.secured_tracking import ARTIFACT_PREFIX, SecuredCluster, new_password

from raysweep.schema import (
    ACCURACY,
    CURVE_ARTIFACT,
    PICKS_ARTIFACT,
    ROLE_SWEEP,
    ROLE_TAG,
    ROLE_TRIAL,
    SWEEP_CONFIG_ARTIFACT,
)
from raysweep.shell.tracking.access import CREDENTIAL_VARIABLES

pytestmark = [
    pytest.mark.system,
    pytest.mark.faults,
    pytest.mark.cluster,
    pytest.mark.timeout(2400),
]

ROUNDS = 2
OUTAGE_LIMIT = "600"


@pytest.fixture(scope="module")
def cluster() -> Iterator[SecuredCluster]:
    # The Ray nodes start without any MLflow credentials, whatever the developer's shell exports.
    with pytest.MonkeyPatch.context() as patch:
        for name in CREDENTIAL_VARIABLES:
            patch.delenv(name, raising=False)
        running = start_cluster_or_skip(SecuredCluster.start)
    try:
        yield running
    finally:
        groups = [m.process.pid for m in running.processes]
        running.stop()
        leftovers = {pgid: pids_in_group(pgid) for pgid in groups if pids_in_group(pgid)}
        assert not leftovers, f"processes left behind: {leftovers}"


@pytest.fixture(autouse=True)
def no_credentials_of_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each driver gets the credentials its test gives it, and nothing from the developer's shell."""
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def user(cluster: SecuredCluster) -> tuple[str, str]:
    """A user of its own per test (a password change touches nobody else), and its password."""
    name = f"user{time.monotonic_ns()}"
    password = new_password()
    cluster.create_user(name, password)
    return name, password


def start_sweep(
    cluster: SecuredCluster,
    folder: Path,
    name: str,
    credentials: dict[str, str],
    tracking_uri: str | None = None,
    rounds: int = ROUNDS,
) -> Driver:
    """A random-heuristic sweep of two trials on the cluster, half a CPU each, run as the user whose
    ``credentials`` (MLflow's variables) the launcher's environment holds."""
    config = write_fault_sweep(folder, rounds=rounds, seeds="0, 1", cpu=0.5, experiment=f"auth-{name}")
    args = [str(config), "--address", cluster.ray_address, "--storage", str(folder / "shared")]
    args += ["--tracking-uri", tracking_uri or cluster.tracking_uri, "--tracking-outage-limit", OUTAGE_LIMIT]
    return Driver.start(folder, args, env=cluster.ray_env | credentials, name=name)


def runs_of(cluster: SecuredCluster, experiment: str) -> list[dict]:
    rest = cluster.admin()
    return rest.search_runs(rest.experiment_id(experiment))


def files_holding(text: str, *roots: Path) -> list[str]:
    """Every regular file under ``roots`` whose bytes contain ``text``."""
    needle = text.encode()
    found = []
    for root in roots:
        for path in root.rglob("*"):
            try:
                if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
                    found.append(str(path))
            except OSError:
                continue
    return found


def test_right_credentials_sweep_finishes_with_artifacts_in_the_bucket(
    cluster: SecuredCluster, user: tuple[str, str], tmp_path: Path, drivers: list[Driver]
) -> None:
    name, password = user
    driver = start_sweep(cluster, tmp_path, "ok", cluster.credentials(name, password))
    drivers.append(driver)
    assert driver.wait(timeout=1200) == 0, driver.output[-4000:]

    runs = runs_of(cluster, "auth-ok")
    [parent] = [r for r in runs if tags(r)[ROLE_TAG] == ROLE_SWEEP]
    trials = [r for r in runs if tags(r)[ROLE_TAG] == ROLE_TRIAL]
    assert len(trials) == 2 and all(r["info"]["status"] == "FINISHED" for r in runs)
    rest = cluster.rest(name, password)
    for run in trials:
        steps = sorted(int(m["step"]) for m in rest.metric_history(run["info"]["run_id"], ACCURACY))
        assert steps == fault_sweep_steps(ROUNDS)
    # Artifacts: in the bucket, under the server's destination, uploaded through its proxy.
    keys = set(cluster.bucket_keys())
    experiment_id = parent["info"]["experiment_id"]
    for run in trials:
        for artifact in (CURVE_ARTIFACT, PICKS_ARTIFACT):
            assert f"{ARTIFACT_PREFIX}/{experiment_id}/{run['info']['run_id']}/artifacts/{artifact}" in keys
    assert (
        f"{ARTIFACT_PREFIX}/{experiment_id}/{parent['info']['run_id']}/artifacts/{SWEEP_CONFIG_ARTIFACT}"
        in keys
    )
    assert not any(cluster.artifacts.rglob("*.csv"))  # nothing in the server's local folder
    curve = rest.download(trials[0]["info"]["run_id"], CURVE_ARTIFACT).decode().splitlines()
    assert len(curve) == 1 + len(fault_sweep_steps(ROUNDS))

    # The password: in no output, no file of the sweep folder or of the cluster (the Ray nodes' logs,
    # the servers' logs and databases), no run's params or tags.
    assert password not in driver.output
    assert files_holding(password, tmp_path / "shared", cluster.root) == []
    assert all(password not in str(run["data"]) for run in runs)
    # The nodes never had it (the server refuses anonymous calls): the trials got it from the launcher.
    for node in ("ray-head", "ray-worker"):
        environ = Path(f"/proc/{cluster.managed(node).process.pid}/environ").read_bytes()
        assert b"MLFLOW_TRACKING_PASSWORD=" not in environ


def test_a_wrong_password_exits_2_before_ray_naming_the_uri(
    cluster: SecuredCluster, user: tuple[str, str], tmp_path: Path, drivers: list[Driver]
) -> None:
    name, _ = user
    started = time.monotonic()
    driver = start_sweep(cluster, tmp_path, "wrong", cluster.credentials(name, "not-the-password"))
    drivers.append(driver)
    assert driver.wait(timeout=300) == 2, driver.output[-4000:]
    seconds = time.monotonic() - started
    output = driver.output
    assert f"error: MLflow tracking store {cluster.tracking_uri} refused authentication (HTTP 401)" in output
    assert f"user {name!r}" in output and "MLFLOW_TRACKING_PASSWORD" in output
    assert "not-the-password" not in output
    assert "Connecting to existing Ray cluster" not in output and "Traceback" not in output
    assert not (tmp_path / "shared").exists()
    print(f"\nwrong password: exit 2 after {seconds:.1f} s (launcher start, input checks, one request)")


def test_a_host_name_the_server_refuses_exits_2_saying_so(
    cluster: SecuredCluster, user: tuple[str, str], tmp_path: Path, drivers: list[Driver]
) -> None:
    uri = f"http://localhost:{cluster.mlflow_port}"  # the server allows 127.0.0.1:PORT only
    driver = start_sweep(cluster, tmp_path, "host", cluster.credentials(*user), tracking_uri=uri)
    drivers.append(driver)
    assert driver.wait(timeout=300) == 2, driver.output[-4000:]
    assert f"error: MLflow tracking store {uri} refused host (HTTP 403)" in driver.output
    assert f"'localhost:{cluster.mlflow_port}'" in driver.output and "--allowed-hosts" in driver.output
    assert not (tmp_path / "shared").exists()


def test_no_permission_to_write_exits_2_with_nothing_written(
    cluster: SecuredCluster, user: tuple[str, str], tmp_path: Path, drivers: list[Driver]
) -> None:
    """The experiment is the admin's: the user may read it (the server's default) but not add runs."""
    cluster.create_experiment("auth-readonly")
    driver = start_sweep(cluster, tmp_path, "readonly", cluster.credentials(*user))
    drivers.append(driver)
    assert driver.wait(timeout=600) == 2, driver.output[-4000:]
    output = driver.output
    assert f"error: MLflow tracking store {cluster.tracking_uri} refused permission (HTTP 403)" in output
    assert "/api/2.0/mlflow/runs/create" in output and "EDIT permission" in output
    assert runs_of(cluster, "auth-readonly") == []
    assert not (tmp_path / "shared").exists()


def test_credentials_refused_mid_sweep_fail_the_trials_at_once(
    cluster: SecuredCluster, user: tuple[str, str], tmp_path: Path, drivers: list[Driver]
) -> None:
    """The admin changes the user's password while the trials run (a revoked or rotated credential):
    each trial fails at its next MLflow call, and Tune's retries fail as fast, far inside the
    600-s outage limit, each saying what to fix."""
    name, password = user
    rounds = 8
    driver = start_sweep(cluster, tmp_path, "revoked", cluster.credentials(name, password), rounds=rounds)
    drivers.append(driver)
    driver.wait_until(lambda: "round 1: " in driver.output, "a trial's second round", 900)
    cluster.update_password(name, new_password())
    changed = time.monotonic()
    assert driver.wait(timeout=900) == 1, driver.output[-4000:]
    seconds = time.monotonic() - changed
    output = driver.output
    assert seconds < float(OUTAGE_LIMIT) / 4, f"{seconds:.0f} s: waited as if for an outage"
    failed = [line for line in output.splitlines() if re.match(r"  digits/random/0/\d: ", line)]
    assert len(failed) == 2, output[-4000:]
    for line in failed:
        assert f"TrackingRefused: MLflow tracking store {cluster.tracking_uri} refused authentication" in line
        assert "MLFLOW_TRACKING_PASSWORD" in line
    trials = [r for r in runs_of(cluster, "auth-revoked") if tags(r)[ROLE_TAG] == ROLE_TRIAL]
    assert all(r["info"]["status"] != "FINISHED" for r in trials)
    print(f"\ncredentials refused mid-sweep: the sweep ended {seconds:.1f} s after the password changed")
