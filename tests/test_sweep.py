"""The quickstart and its --smoke variant: shapes of the sweep, and a smoke run that still learns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from raysweep.data import load_dataset
from raysweep.loop import label_schedule, run_trajectory
from raysweep.sweep import SMOKE_BATCH_SIZE, SMOKE_EPOCHS, expand_trials, load_sweep_config, smoke

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_quickstart_keeps_every_heuristic_and_two_seeds() -> None:
    sweep = load_sweep_config(CONFIGS / "quickstart.yaml")
    trials = expand_trials(sweep)
    assert {t.heuristic for t in trials} == {"random", "entropy", "coreset", "medal", "lloss"}
    assert len(sweep.sweep.seeds) >= 2
    assert sweep.training.recalibrate_batchnorm
    dataset = load_dataset(trials[0].config.dataset)
    assert label_schedule(sweep.schedule, dataset.n_pool) == [100, 250, 400]


@pytest.mark.parametrize("name", ["quickstart.yaml", "alpha_sweep.yaml", "paper.yaml"])
def test_smoke_shrinks_steps_but_keeps_them_learning(name: str) -> None:
    sweep = load_sweep_config(CONFIGS / name)
    shrunk = smoke(sweep)
    assert shrunk.training.batch_size == min(sweep.training.batch_size, SMOKE_BATCH_SIZE)
    assert shrunk.training.initial_epochs == min(sweep.training.initial_epochs, SMOKE_EPOCHS)
    assert shrunk.training.epochs_per_round == 0 and shrunk.training.recalibrate_batchnorm
    assert shrunk.training.lr == sweep.training.lr  # the config's own learning rate is what runs
    assert shrunk.dataset.pool_size <= 400 and shrunk.schedule.initial_labels <= 40


def test_smoke_quickstart_learns_on_digits() -> None:
    """Final smoke accuracy is clearly above chance (0.1 for ten classes) for a plain and a VAE-free
    learning-loss trial of each smoke seed: a broken training loop cannot pass this."""
    sweep = smoke(load_sweep_config(CONFIGS / "quickstart.yaml"))
    trials = [t for t in expand_trials(sweep) if t.heuristic in ("random", "lloss") and t.config.alpha == 0]
    assert len(trials) == 4
    dataset = load_dataset(trials[0].config.dataset)
    final = []
    for trial in trials:
        curve = run_trajectory(trial.config, dataset).curve
        assert [point.n_labels for point in curve] == [40, 80, 120]
        final.append(curve[-1].metrics["accuracy"])
    assert np.mean(final) >= 0.45 and min(final) >= 0.3, final
