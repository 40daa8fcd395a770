"""The t-SNE study (analysis/tsne.py): known-answer picks on tiny arrays and the study's defaults; the study
end to end through the command line is in test_main.py."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.tsne import TsneStudy, select_both


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
    study = TsneStudy(dataset="medmnist:chestmnist")
    assert (study.initial_labels, study.candidate_fraction, study.select) == (1000, 0.05, 100)
    assert (study.alpha, study.alpha_scaling) == (1.0, "balanced")
