"""The t-SNE study (analysis/tsne.py): known-answer picks on tiny arrays, and the CLI end to end on digits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.__main__ import _parser, main
from analysis.tsne import TsneStudy, select_both

REPO = Path(__file__).resolve().parents[1]


def test_select_both_known_answer_and_alpha_zero_gives_the_same_picks():
    # Labeled: index 0 at the origin. On the task features index 3 is the farthest point; on the VAE
    # features index 1 is far away, so with a large alpha the augmented core-set picks 1 first.
    task = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.5], [3.0, 0.0], [2.0, 0.0]])
    vae = np.array([[0.0], [10.0], [0.0], [0.0], [0.0]])
    labeled = np.array([True, False, False, False, False])
    picks = select_both(task, vae, labeled, budget=2, alpha=1.0, scaling="raw")
    assert picks.plain.tolist() == [3, 2]  # 3 is farthest (3); then 2 (1.5 to point 0) beats 1 and 4 (1)
    assert picks.vae[0] == 1 and picks.overlap == 0.5
    same = select_both(task, vae, labeled, budget=3, alpha=0.0)
    np.testing.assert_array_equal(same.plain, same.vae)
    assert same.vae_share == 0.0 and same.overlap == 1.0


def test_balanced_weighting_lets_a_small_vae_block_count():
    # The VAE block spreads little (RMS 0.4 against the task block's sqrt(1.72) = 1.31): taken raw
    # at alpha 1 it holds 0.16 / 1.88 of the squared distances and changes no pick; balanced at
    # alpha 1 it holds half, and point 1 (2.5 spreads away in the VAE block) goes first.
    task = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.5], [3.0, 0.0], [2.0, 0.0]])
    vae = np.array([[0.0], [1.0], [0.0], [0.0], [0.0]])
    labeled = np.array([True, False, False, False, False])
    raw = select_both(task, vae, labeled, budget=2, alpha=1.0, scaling="raw")
    assert raw.vae.tolist() == raw.plain.tolist() == [3, 2]
    assert raw.vae_share == pytest.approx(0.16 / 1.88)
    balanced = select_both(task, vae, labeled, budget=2, alpha=1.0)  # the study's default weighting
    assert balanced.vae.tolist() == [1, 3] and balanced.overlap == 0.5
    assert balanced.vae_share == pytest.approx(0.5)
    # the VAE panel's t-SNE shows the space the picks were made on: each block at unit spread
    assert balanced.vae_space.shape == (5, 3)
    assert balanced.vae_space[1, 2] - balanced.vae_space[0, 2] == pytest.approx(1.0 / 0.4)


def test_defaults_are_the_papers_sizes_and_a_weighting_that_matters():
    parser = _parser()
    args = parser.parse_args(["tsne", "--dataset", "medmnist:chestmnist", "--out", "o"])
    assert (args.initial_labels, args.candidate_fraction, args.select) == (1000, 0.05, 100)
    assert (args.alpha, args.alpha_scaling) == (1.0, "balanced")
    study = TsneStudy(dataset="medmnist:chestmnist")
    assert (study.initial_labels, study.candidate_fraction, study.select) == (1000, 0.05, 100)
    assert (study.alpha, study.alpha_scaling) == (1.0, "balanced")


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
