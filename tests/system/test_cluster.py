"""docker/compose.yaml's topology without containers: a two-node Ray cluster, an MLflow server on a
real PostgreSQL, and the launcher run against them as users run it (``--address``,
``--tracking-uri http://...``, ``--storage`` on a path every node sees). Results are read back only
through the MLflow REST API, as a remote user would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter

import pytest
from helpers.cluster import REQUIRE_CLUSTER_ENV, LocalCluster, start_cluster_or_skip
from helpers.mlflow_rest import MlflowRest, metrics, tags
from helpers.paths import QUICKSTART
from helpers.supervisor import ClusterUnavailable

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(600)]

# Half a CPU per trial: each 1-CPU node holds two trial slots, so trials spread over both nodes even
# while the VAE's reserved slot occupies one of them.
SLICE = [
    "--smoke",
    "--set",
    "sweep.heuristics=[random,coreset]",
    "--set",
    "sweep.alphas=[0,1]",
    "--set",
    "resources.cpu=0.5",
]
SLICE_TRIALS = {"digits/random/0/0", "digits/random/0/1"} | {
    f"digits/coreset/{a}/{s}" for a in (0, 1) for s in (0, 1)
}
SMOKE_STEPS = [40, 80, 120]
EXPERIMENT = "raysweep-quickstart"


@pytest.mark.parametrize(
    ("required", "outcome"),
    [("1", pytest.fail.Exception), ("", pytest.skip.Exception), ("0", pytest.skip.Exception)],
)
def test_missing_prerequisites_fail_where_the_cluster_is_required(
    monkeypatch: pytest.MonkeyPatch, required: str, outcome: type
) -> None:
    """CI sets RAYSWEEP_REQUIRE_CLUSTER=1: there a missing PostgreSQL fails the cluster tests; elsewhere
    they skip."""

    def unavailable() -> LocalCluster:
        raise ClusterUnavailable("PostgreSQL server binaries not found: apt-get install postgresql")

    monkeypatch.setattr(LocalCluster, "start", staticmethod(unavailable))
    monkeypatch.setenv(REQUIRE_CLUSTER_ENV, required)
    with pytest.raises(outcome, match="PostgreSQL server binaries not found"):
        start_cluster_or_skip()


@pytest.fixture(scope="module")
def swept(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory):
    """The quickstart slice against the cluster, launched from a directory no node runs in."""
    cwd = tmp_path_factory.mktemp("driver")
    storage = cluster.root / "shared_runs"
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "raysweep.launch",
            str(QUICKSTART),
            *SLICE,
            "--address",
            cluster.ray_address,
            "--tracking-uri",
            cluster.tracking_uri,
            "--storage",
            str(storage),
        ],
        cwd=cwd,
        env={**os.environ, **cluster.ray_env},
        capture_output=True,
        text=True,
        timeout=420,
    )
    print(f"\ncluster test sweep: {time.perf_counter() - started:.1f}s")
    output = result.stdout[-4000:] + result.stderr[-4000:]
    assert result.returncode == 0, f"{output}\n{cluster.logs()}"
    assert cluster.alive() == ["postgres", "mlflow", "ray-head", "ray-worker"], cluster.logs()
    rest = MlflowRest(cluster.tracking_uri)
    experiment_id = rest.experiment_id(EXPERIMENT)
    runs = rest.search_runs(experiment_id)
    return cwd, storage, result, rest, experiment_id, runs


def trial_runs(runs: list[dict]) -> list[dict]:
    return [r for r in runs if tags(r).get("raysweep.role") == "trial"]


def test_every_trial_curve_logged_once_through_the_server(swept) -> None:
    _, _, _, rest, _, runs = swept
    trials = trial_runs(runs)
    assert {tags(r)["raysweep.trial_key"] for r in trials} == SLICE_TRIALS
    assert len(trials) == len(SLICE_TRIALS)  # one run per trial
    for run in trials:
        run_id, key = run["info"]["run_id"], tags(run)["raysweep.trial_key"]
        assert run["info"]["status"] == "FINISHED", key
        for metric in ("accuracy", "auc", "val_accuracy", "train_seconds"):
            history = rest.metric_history(run_id, metric)
            assert Counter(int(m["step"]) for m in history) == Counter(SMOKE_STEPS), (key, metric)
        accuracy = [m["value"] for m in rest.metric_history(run_id, "accuracy")]
        assert all(0.0 <= value <= 1.0 for value in accuracy), key
        # artifacts uploaded by the trial workers through the server's proxy
        assert {"curve.csv", "picks.npz"} <= set(rest.artifacts(run_id)), key


def test_trials_ran_on_both_nodes(swept) -> None:
    _, _, _, _, _, runs = swept
    nodes = Counter(tags(r)["raysweep.node_id"] for r in trial_runs(runs))
    assert len(nodes) >= 2, nodes
    assert all(len(node) == 56 for node in nodes)  # Ray node ids (hex)


def test_parent_run_artifacts_and_shared_stores(swept, cluster: LocalCluster) -> None:
    cwd, storage, result, rest, experiment_id, runs = swept
    [parent] = [r for r in runs if tags(r).get("raysweep.role") == "sweep"]
    parent_id = parent["info"]["run_id"]
    assert parent["info"]["status"] == "FINISHED"
    assert "sweep_config.yaml" in rest.artifacts(parent_id)
    config_text = rest.download(parent_id, "sweep_config.yaml").decode()
    assert f"experiment: {EXPERIMENT}" in config_text
    # Proxied artifact serving: the server wrote the files under --artifacts-destination.
    assert list(cluster.artifacts.rglob("sweep_config.yaml"))
    assert len(list(cluster.artifacts.rglob("curve.csv"))) == len(SLICE_TRIALS)
    # One VAE per seed (vae.seed: trial) for the coreset trials at alpha 1, though they ran on two nodes.
    assert metrics(parent)["vae_trainings"] == 2
    assert metrics(parent)["trials_finished"] == len(SLICE_TRIALS)
    # Tune's storage and the VAE cache on the shared path; nothing in the driver's directory.
    sweep_id = tags(parent)["raysweep.sweep_id"]
    assert (storage / EXPERIMENT / sweep_id / "raysweep.json").is_file()
    assert list((storage / "vae_cache").glob("vae-*.npz"))
    assert list(cwd.iterdir()) == []
    # The printed link opens the runs table on this server.
    link = f"{cluster.tracking_uri}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"
    assert link in result.stdout


def test_mlflow_server_checks_the_host_header(swept, cluster: LocalCluster) -> None:
    """``--allowed-hosts``: the names it lists are served, any other Host is refused."""
    rest = swept[3]
    ok = rest.request("GET", f"/api/2.0/mlflow/experiments/get-by-name?experiment_name={EXPERIMENT}")
    assert ok["experiment"]["name"] == EXPERIMENT
    request = urllib.request.Request(
        f"{cluster.tracking_uri}/api/2.0/mlflow/experiments/search?max_results=1",
        headers={"Host": "attacker.example:5000"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code in (400, 403)
