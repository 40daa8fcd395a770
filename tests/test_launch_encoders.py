"""An encoders sweep as users run it: the CLI, a real local Ray, a real SQLite MLflow store."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from helpers.datafiles import write_mnist
from test_launch import QUICKSTART, curves, launch, steps_per_trial, trial_runs

from raysweep.shell.summary import summary_table

REPO = Path(__file__).resolve().parents[1]
ENCODERS_CONFIG = REPO / "configs" / "encoders.yaml"
SLICE = [
    "--smoke",
    "--set",
    "sweep.heuristics=[coreset]",
    "--set",
    "sweep.alphas=[0,1]",
    "--set",
    "sweep.seeds=[0]",
    "--set",
    "sweep.encoders=[gmvae,cvae]",
]
# The vae arm's store path is test_launch.py's; here the store trains gmvae, the trial trains cvae.
TRIALS = {"digits/coreset/0/0", "digits/coreset/1/0/gmvae", "digits/coreset/1/0/cvae"}
SWEEP_TIMEOUT_S = 840
"""Under pytest-timeout's 900 s per test (fixture included), so a stuck sweep fails with its output."""
SMOKE_STEPS = [40, 80, 120]


def test_summary_table_gets_an_encoder_column_only_when_keys_carry_one() -> None:
    plain = summary_table({("digits", "coreset", "1"): [(0.8, 0.7)]})
    assert "encoder" not in plain[0] and plain[1].split() == [
        "digits",
        "coreset",
        "1",
        "1",
        "0.8000",
        "0.7000",
    ]
    rows = {
        ("digits", "coreset", "0", "-"): [(0.8, 0.7), (0.9, 0.8)],
        ("digits", "coreset", "1", "gmvae"): [(0.85, 0.75)],
        ("digits", "coreset", "1", "cvae"): [(0.87, 0.77)],
    }
    lines = summary_table(rows)
    assert lines[0].split()[:5] == ["dataset", "heuristic", "alpha", "encoder", "seeds"]
    assert [line.split()[:5] for line in lines[1:]] == [
        ["digits", "coreset", "0", "-", "2"],
        ["digits", "coreset", "1", "cvae", "1"],
        ["digits", "coreset", "1", "gmvae", "1"],
    ]
    assert lines[1].split()[5:] == ["0.8500", "0.7500"]  # means over the alpha-0 arm's two seeds
    assert len({len(line) for line in lines}) == 1  # aligned columns


def test_encoders_config_dry_run_keeps_every_encoder(tmp_path: Path) -> None:
    write_mnist(tmp_path / "data", n_train=500, n_test=60)
    result = launch(
        tmp_path,
        str(ENCODERS_CONFIG),
        "--smoke",
        "--dry-run",
        "--set",
        f"dataset.root={tmp_path / 'data'}",
        "--set",
        "model.pretrained=false",
    )
    assert result.returncode == 0, result.stderr
    # 2 heuristics x (the alpha-0 arm + 3 encoders at alpha 1) x 2 smoke seeds
    assert "16 trials" in result.stdout
    for key in ("mnist/coreset/0/1", "mnist/lloss/1/0", "mnist/lloss/1/1/gmvae", "mnist/coreset/1/0/cvae"):
        assert key in result.stdout
    assert "mnist/coreset/0/0/gmvae" not in result.stdout  # alpha 0 is not repeated per encoder


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    """One smoke sweep with every encoder, in which the cvae trial's worker is killed after round 0."""
    cwd = tmp_path_factory.mktemp("encoders")
    result = launch(
        cwd,
        str(QUICKSTART),
        *SLICE,
        env={"RAYSWEEP_FAULT_AFTER_ROUND": "0:coreset/1/0/cvae"},
        timeout=SWEEP_TIMEOUT_S,
    )
    return cwd, result


def test_encoder_sweep_trains_once_per_pool_encoder_and_logs_the_encoder(swept) -> None:
    cwd, result = swept
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    client, parents, trials = trial_runs(cwd)
    [parent] = parents
    metrics = parent.data.metrics
    # gmvae once in the store; cvae trains inside its trial, not in the store
    assert metrics["vae_trainings"] == metrics["encoder_trainings"] == metrics["encoder_trainings.gmvae"] == 1
    assert "encoder_trainings.cvae" not in metrics
    assert parent.data.params["encoders"] == "gmvae,cvae"
    assert [p.name.split("-")[0] for p in (cwd / "raysweep_runs" / "vae_cache").glob("*.npz")] == ["gmvae"]
    by_key = {run.data.tags["raysweep.trial_key"]: run for run in trials}
    assert set(by_key) == TRIALS
    for key, run in by_key.items():
        encoder = key.split("/")[4] if key.count("/") == 4 else "vae"  # alpha 0: the default, unused
        assert run.data.params["encoder"] == run.data.tags["raysweep.encoder"] == encoder
        assert run.data.params["config.encoder.name"] == encoder
        seconds = sorted(m.step for m in client.get_metric_history(run.info.run_id, "encoder_seconds"))
        # read in the rounds that select (core-set), never at alpha 0
        assert seconds == ([] if "/0/0" in key else SMOKE_STEPS[:-1]), key
    cvae_seconds = client.get_metric_history(by_key["digits/coreset/1/0/cvae"].info.run_id, "encoder_seconds")
    assert min(m.value for m in cvae_seconds) > 0.01  # a training, not a lookup
    curve_csv = client.download_artifacts(
        by_key["digits/coreset/1/0/cvae"].info.run_id, "curve.csv", str(cwd)
    )
    assert "encoder_seconds" in Path(curve_csv).read_text().splitlines()[0]
    summary = result.stdout[result.stdout.index("Summary (mean over seeds):") :].splitlines()
    assert "encoder" in summary[1].split()
    assert {tuple(line.split()[1:4]) for line in summary[2:5]} == {
        ("coreset", "0", "-"),
        ("coreset", "1", "gmvae"),
        ("coreset", "1", "cvae"),
    }


def test_killed_cvae_trial_resumes_and_a_rerun_reproduces_every_curve(swept) -> None:
    cwd, result = swept
    assert "fault injection: killing this worker after round 0" in result.stdout + result.stderr
    client, _, trials = trial_runs(cwd)
    for key, counts in steps_per_trial(client, trials).items():
        assert counts == Counter(SMOKE_STEPS), key
    first = curves(client, trials)

    again = launch(cwd, str(QUICKSTART), *SLICE, timeout=SWEEP_TIMEOUT_S)  # no fault: cvae runs uninterrupted
    assert again.returncode == 0, again.stderr[-3000:]
    client, parents, trials = trial_runs(cwd)
    newest = max(parents, key=lambda r: r.info.start_time)
    assert newest.data.metrics["encoder_trainings"] == 0 and newest.data.metrics["encoder_cache_hits"] == 1
    sweep_id = newest.data.tags["raysweep.sweep_id"]
    second = curves(client, [t for t in trials if t.data.tags["raysweep.sweep_id"] == sweep_id])
    assert second == first  # the resumed cvae trial retrained exactly what the uninterrupted one did
    picks = {}
    for run in trials:
        if run.data.tags["raysweep.trial_key"] == "digits/coreset/1/0/cvae":
            path = client.download_artifacts(run.info.run_id, "picks.npz", str(cwd / run.info.run_id))
            with np.load(path) as archive:
                picks[run.data.tags["raysweep.sweep_id"]] = [archive[f"round_{i}"] for i in range(3)]
    [a, b] = picks.values()
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
