"""The t-SNE study (analysis/tsne.py): known-answer picks on tiny arrays, and the CLI end to end on digits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.__main__ import main
from analysis.tsne import select_both

REPO = Path(__file__).resolve().parents[1]


def test_select_both_known_answer_and_alpha_zero_gives_the_same_picks():
    # Labeled: index 0 at the origin. On the task features index 3 is the farthest point; on the VAE
    # features index 1 is far away, so with a large alpha the augmented core-set picks 1 first.
    task = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.5], [3.0, 0.0], [2.0, 0.0]])
    vae = np.array([[0.0], [10.0], [0.0], [0.0], [0.0]])
    labeled = np.array([True, False, False, False, False])
    picks = select_both(task, vae, labeled, budget=2, alpha=1.0)
    assert picks["plain"].tolist() == [3, 2]  # 3 is farthest (3); then 2 (1.5 to point 0) beats 1 and 4 (1)
    assert picks["vae"][0] == 1
    same = select_both(task, vae, labeled, budget=3, alpha=0.0)
    np.testing.assert_array_equal(same["plain"], same["vae"])


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


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--dataset", "nope"], "unknown dataset source 'nope'"),
        (
            ["--dataset", "digits", "--candidate-fraction", "0.01", "--select", "100"],
            "fewer than --select 100",
        ),
    ],
)
def test_tsne_bad_input_exits_2(tmp_path, capsys, extra, message):
    code = main(["tsne", *extra, "--initial-labels", "40", "--no-pretrained", "--out", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
