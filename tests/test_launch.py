"""The launcher as users run it: real subprocesses, a real local Ray, a real SQLite MLflow store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "configs" / "quickstart.yaml"
# A small slice of the quickstart: a plain and a VAE heuristic, both seeds; --smoke shrinks the rest.
SLICE = ["--smoke", "--set", "sweep.heuristics=[random,coreset]", "--set", "sweep.alphas=[0,1]"]
SLICE_TRIALS = {"digits/random/0/0", "digits/random/0/1"} | {
    f"digits/coreset/{a}/{s}" for a in (0, 1) for s in (0, 1)
}
SMOKE_STEPS = [40, 80, 120]


def launch(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "raysweep.launch", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def trial_runs(cwd: Path, experiment: str = "raysweep-quickstart") -> tuple[MlflowClient, list, list]:
    client = MlflowClient(f"sqlite:///{cwd / 'mlflow.db'}")
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    runs = client.search_runs([experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("raysweep.role") == "sweep"]
    trials = [r for r in runs if r.data.tags.get("raysweep.role") == "trial"]
    return client, parents, trials


def vae_rows(client: MlflowClient, parent_run_id: str) -> list[dict]:
    with tempfile.TemporaryDirectory() as folder:
        path = client.download_artifacts(parent_run_id, "vae_trainings.json", folder)
        return json.loads(Path(path).read_text())["vaes"]


def steps_per_trial(client: MlflowClient, trials: list, metric: str = "accuracy") -> dict[str, Counter]:
    return {
        run.data.tags["raysweep.trial_key"]: Counter(
            m.step for m in client.get_metric_history(run.info.run_id, metric)
        )
        for run in trials
    }


def curves(client: MlflowClient, trials: list) -> dict[str, list[tuple[int, float]]]:
    return {
        run.data.tags["raysweep.trial_key"]: sorted(
            (m.step, m.value) for m in client.get_metric_history(run.info.run_id, "accuracy")
        )
        for run in trials
    }


# ---------------------------------------------------------------------------------------------
# Bad input: exit 2, one clear message, nothing left behind
# ---------------------------------------------------------------------------------------------

BAD_CONFIGS = {
    "yaml_error": ("experiment: x\nsweep: [1, 2\n", "not valid YAML"),
    "unknown_key": (
        "experiment: x\nsweep: {datasets: [digits], heuristics: [random], seeds: [0]}\ntrainng: {}\n",
        "trainng: unknown key",
    ),
    "wrong_type": (
        "experiment: x\nsweep: {datasets: [digits], heuristics: [random], seeds: [0]}\ntraining: {lr: fast}\n",
        "training.lr",
    ),
    "empty_axis": (
        "experiment: x\nsweep: {datasets: [digits], heuristics: [], seeds: [0]}\n",
        "sweep.heuristics",
    ),
    "unknown_heuristic": (
        "experiment: x\nsweep: {datasets: [digits], heuristics: [corset], seeds: [0]}\n",
        "corset",
    ),
    "budget_over_pool": (
        "experiment: x\nsweep: {datasets: [digits], heuristics: [random], seeds: [0]}\nmodel: {pretrained: false}\n"
        "schedule: {initial_labels: 5000}\n",
        "exceeds the pool",
    ),
    "missing_data": (
        "experiment: x\nsweep: {datasets: [mnist], heuristics: [random], seeds: [0]}\nmodel: {pretrained: false}\n"
        "dataset: {root: nowhere}\n",
        "train-images-idx3-ubyte",
    ),
    "missing_npz": (
        "experiment: x\nsweep: {datasets: ['npz:missing.npz'], heuristics: [random], seeds: [0]}\nmodel: {pretrained: false}\n",
        "missing.npz",
    ),
    "missing_weights": (
        "experiment: x\nsweep: {datasets: [digits], heuristics: [random], seeds: [0]}\nmodel: {weights_path: w.pth}\n",
        "pretrained: false",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_input_exits_2_and_leaves_nothing(tmp_path: Path, case: str) -> None:
    text, expected = BAD_CONFIGS[case]
    (tmp_path / "sweep.yaml").write_text(text)
    result = launch(tmp_path, "sweep.yaml")
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.yaml"]  # no mlflow.db, no storage


def test_nonexistent_config_and_dry_run(tmp_path: Path) -> None:
    missing = launch(tmp_path, "nope.yaml")
    assert missing.returncode == 2 and "config file not found" in missing.stderr
    dry = launch(tmp_path, str(QUICKSTART), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "16 trials" in dry.stdout and "digits/lloss/1/1" in dry.stdout
    assert list(tmp_path.iterdir()) == []


def test_unreachable_cluster_address(tmp_path: Path) -> None:
    result = launch(tmp_path, str(QUICKSTART), *SLICE, "--address", "127.0.0.1:1", timeout=120)
    assert result.returncode == 2 and "no Ray cluster answers there" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_gpu_requested_on_a_cluster_without_gpus(tmp_path: Path) -> None:
    result = launch(tmp_path, str(QUICKSTART), *SLICE, "--set", "resources.gpu=0.5")
    assert result.returncode == 2
    assert "has 0 GPUs" in result.stderr
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "raysweep_runs").exists()


# ---------------------------------------------------------------------------------------------
# A real sweep: schema, shared VAE, a killed worker, reproducibility, a killed driver
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    """One smoke sweep in which a VAE trial's worker process is killed after its first round."""
    cwd = tmp_path_factory.mktemp("sweep")
    result = launch(cwd, str(QUICKSTART), *SLICE, env={"RAYSWEEP_FAULT_AFTER_ROUND": "0:coreset/1/0"})
    return cwd, result


def test_sweep_logs_the_schema(swept) -> None:
    cwd, result = swept
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    client, parents, trials = trial_runs(cwd)
    assert len(parents) == 1
    parent = parents[0]
    sweep_id = parent.data.tags["raysweep.sweep_id"]
    assert parent.data.metrics["vae_trainings"] == 1  # four coreset trials, one dataset: one VAE
    assert parent.data.metrics["trials_finished"] == len(SLICE_TRIALS)
    assert "sweep_config.yaml" in [a.path for a in client.list_artifacts(parent.info.run_id)]
    # the VAE's training seconds and the trials that shared it, for the analysis' runtime totals
    [vae] = vae_rows(client, parent.info.run_id)
    assert vae["dataset"] == "digits" and vae["trained_this_run"] is True
    assert vae["trials"] == ["digits/coreset/1/0", "digits/coreset/1/1"]
    assert vae["seconds"] > 0 and parent.data.metrics["vae_seconds"] == pytest.approx(vae["seconds"])
    assert {
        t.data.tags["raysweep.trial_key"] for t in trials
    } == SLICE_TRIALS  # one run per trial, retries included
    for run in trials:
        tags, params = run.data.tags, run.data.params
        assert tags["mlflow.parentRunId"] == parent.info.run_id and tags["raysweep.sweep_id"] == sweep_id
        assert params["dataset"] == "digits" and params["uses_vae"] == str(params["alpha"] != "0.0")
        assert len(tags["raysweep.initial_labels_sha256"]) == 64
        assert run.info.status == "FINISHED"
        assert {"curve.csv", "picks.npz"} <= {a.path for a in client.list_artifacts(run.info.run_id)}
        for metric in ("accuracy", "auc", "train_seconds"):
            assert sorted(m.step for m in client.get_metric_history(run.info.run_id, metric)) == SMOKE_STEPS
        assert (
            sorted(m.step for m in client.get_metric_history(run.info.run_id, "selection_seconds"))
            == SMOKE_STEPS[:-1]
        )
    # shared seeds: every trial of a seed starts from the same labels
    hashes = {(t.data.params["seed"], t.data.tags["raysweep.initial_labels_sha256"]) for t in trials}
    assert len(hashes) == 2
    assert "Summary (mean over seeds)" in result.stdout and "workflowType=machine_learning" in result.stdout


def test_killed_worker_resumes_and_logs_each_step_once(swept) -> None:
    cwd, result = swept
    assert "fault injection: killing this worker after round 0" in result.stdout + result.stderr
    assert list((cwd / "raysweep_runs").rglob("injected_faults/digits_coreset_1_0"))
    client, _, trials = trial_runs(cwd)
    for key, counts in steps_per_trial(client, trials).items():
        assert counts == Counter(SMOKE_STEPS), key


def test_rerun_reproduces_curves_and_reuses_the_vae(swept) -> None:
    cwd, _ = swept
    client, parents, trials = trial_runs(cwd)
    first = curves(client, trials)
    again = launch(cwd, str(QUICKSTART), *SLICE)
    assert again.returncode == 0, again.stderr[-3000:]
    client, parents, trials = trial_runs(cwd)
    newest = max(parents, key=lambda r: r.info.start_time)
    assert newest.data.metrics["vae_trainings"] == 0 and newest.data.metrics["vae_cache_hits"] == 1
    # a cached VAE still reports what its training cost: the cache file keeps the seconds
    first_parent = min(parents, key=lambda r: r.info.start_time)
    [cached], [trained] = vae_rows(client, newest.info.run_id), vae_rows(client, first_parent.info.run_id)
    assert cached["trained_this_run"] is False and cached["cache_key"] == trained["cache_key"]
    assert cached["seconds"] == pytest.approx(trained["seconds"])
    second = curves(
        client,
        [t for t in trials if t.data.tags["raysweep.sweep_id"] == newest.data.tags["raysweep.sweep_id"]],
    )
    assert second == first  # same seeds, same curves, bit for bit on CPU


def test_killed_driver_resumes_without_lost_or_duplicated_steps(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "raysweep.launch", str(QUICKSTART), *SLICE]
    driver = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and not list(
            tmp_path.glob("raysweep_runs/*/*/*/checkpoint_000000")
        ):
            time.sleep(1)
        assert driver.poll() is None, "the sweep ended before it could be killed"
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    time.sleep(3)
    resumed = launch(tmp_path, str(QUICKSTART), *SLICE, "--resume")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "resuming sweep" in resumed.stdout
    client, parents, trials = trial_runs(tmp_path)
    assert len(parents) == 1  # the resumed sweep is the same sweep
    counts = steps_per_trial(client, trials)
    assert set(counts) == SLICE_TRIALS
    for key, steps in counts.items():
        assert steps == Counter(SMOKE_STEPS), key
