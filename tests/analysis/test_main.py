"""The command line (analysis/__main__.py): ``report`` and ``tsne`` end to end in a subprocess, the
parser's defaults, and bad input as one line on stderr with exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from analysis.__main__ import build_parser, main

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "analysis", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=300,
    )


def test_cli_report_writes_files_and_logs_artifacts_to_the_parent_run(store, identical, tmp_path):
    out = tmp_path / "cli-out"
    result = _cli("report", "--tracking-uri", store["uri"], "--experiment", "identical", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "report:" in result.stdout
    assert {
        "report.md",
        "report.html",
        "curves_digits_coreset.png",
        "alpha_sweep_digits.pdf",
        "runtime.csv",
    } <= {p.name for p in out.iterdir()}
    parent = identical.parent_run_id
    logged = {a.path for a in MlflowClient(store["uri"]).list_artifacts(parent, "analysis")}
    assert {"analysis/report.md", "analysis/curves_digits_coreset.png", "analysis/paired_tests.csv"} <= logged
    # what the CLI prints: the two files and the figures by stem, in the report's order
    assert result.stdout.splitlines() == [
        f"report: {out / 'report.md'}",
        f"html:   {out / 'report.html'}",
        "figures: 3 (curves_digits_coreset, alpha_sweep_digits, runtime)",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--experiment", "no-such-experiment"), "error: unknown experiment 'no-such-experiment'"),
        (
            ("--experiment", "study", "--metric", "f1"),
            "error: metric 'f1' was not logged by these runs; logged metrics: accuracy",
        ),
    ],
)
def test_cli_bad_input_exits_2_with_one_clear_message(store, study, tmp_path, args, message):
    result = _cli("report", "--tracking-uri", store["uri"], *args, "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()


def test_tsne_defaults_are_the_papers_sizes_and_a_weighting_that_matters():
    args = build_parser().parse_args(["tsne", "--dataset", "medmnist:chestmnist", "--out", "o"])
    assert (args.initial_labels, args.candidate_fraction, args.select) == (1000, 0.05, 100)
    assert (args.alpha, args.alpha_scaling) == (1.0, "balanced")


def test_tsne_cli_on_digits_writes_the_two_panels(tmp_path):
    out = tmp_path / "tsne"
    args = [
        *(
            "--dataset",
            "digits",
            "--pool-size",
            "300",
            "--initial-labels",
            "40",
            "--candidate-fraction",
            "0.25",
        ),
        *("--select", "10", "--epochs", "1", "--vae-epochs", "1", "--no-pretrained", "--device", "cpu"),
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "analysis", "tsne", *args, "--out", str(out)],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert {"tsne.png", "tsne.pdf", "tsne.csv", "tsne_summary.csv"} <= {p.name for p in out.iterdir()}
    points = pd.read_csv(out / "tsne.csv")
    n_candidates = round(0.25 * (300 - 40))
    for panel in ("plain", "vae"):
        roles = points[points.panel == panel]["role"].value_counts()
        assert roles.to_dict() == {"labeled": 40, "candidate": n_candidates - 10, "selected": 10}
        assert np.isfinite(points[points.panel == panel][["x", "y"]].to_numpy()).all()
    # both panels embed the same pool points; picks are candidates, never labeled points
    plain, vae = (points[points.panel == p].set_index("pool_index") for p in ("plain", "vae"))
    assert sorted(plain.index) == sorted(vae.index) and plain.index.is_unique
    summary = pd.read_csv(out / "tsne_summary.csv").set_index("panel")
    assert summary.loc["plain", "feature_dim"] == 512 and summary.loc["vae", "feature_dim"] == 512 + 32
    assert 0 <= summary.loc["plain", "picks_shared"] <= 10
    # balanced alpha 1 by default: the VAE block carries half the squared distances
    assert summary.loc["vae", "vae_share"] == pytest.approx(0.5) and summary.loc["plain", "vae_share"] == 0
    # the selections' overlap is printed, and is the one the picks give
    shared = len(set(plain.index[plain.role == "selected"]) & set(vae.index[vae.role == "selected"]))
    assert summary.loc["vae", "picks_shared"] == shared
    assert (
        f"selections: {shared} of 10 picks shared by both panels (overlap {shared / 10:.2f})" in result.stdout
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--dataset", "nope"], "unknown dataset source 'nope'"),
        (
            ["--dataset", "digits", "--candidate-fraction", "0.01", "--select", "100"],
            "fewer than --select 100",
        ),
        # 100 picks of 125 candidates: both panels must share at least 75 of them
        (
            ["--dataset", "digits", "--pool-size", "540", "--candidate-fraction", "0.25", "--select", "100"],
            "--select 100 of 125 candidates (0.25 of the 500 unlabeled points) is 80% of them: the two "
            "panels must share at least 75 picks",
        ),
    ],
)
def test_tsne_bad_input_exits_2(tmp_path, capsys, extra, message):
    code = main(["tsne", *extra, "--initial-labels", "40", "--no-pretrained", "--out", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
