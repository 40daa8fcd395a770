"""``--smoke``: the same sweep shrunk to run in seconds, every axis kept, and still learning."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.paths import CONFIGS, QUICKSTART, REAL_DATA

from raysweep.data import load_dataset
from raysweep.loop import run_trajectory
from raysweep.sweep.config import load_sweep_config
from raysweep.sweep.smoke import SMOKE_BATCH_SIZE, SMOKE_EPOCHS, smoke
from raysweep.sweep.trials import expand_trials


@pytest.mark.parametrize("name", ["quickstart.yaml", "alpha_sweep.yaml", "paper.yaml", "strategies.yaml"])
def test_shipped_configs_smoke_keeps_axes(name: str) -> None:
    sweep = load_sweep_config(CONFIGS / name)
    shrunk = smoke(sweep)
    assert shrunk.sweep.datasets == sweep.sweep.datasets
    assert shrunk.sweep.heuristics == sweep.sweep.heuristics and shrunk.sweep.alphas == sweep.sweep.alphas
    assert shrunk.sweep.seeds == sweep.sweep.seeds[:2]
    assert shrunk.schedule.rounds <= 2 and shrunk.training.initial_epochs <= 6


def test_smoke_keeps_every_encoder_and_cuts_a_search_to_three_settings() -> None:
    full = load_sweep_config(QUICKSTART, ["sweep.encoders=[vae, gmvae, cvae]"])
    assert [e.name for e in smoke(full).sweep.encoders] == ["vae", "gmvae", "cvae"]
    searched = load_sweep_config(CONFIGS / "alpha_search.yaml")
    assert searched.sweep.search.settings > 3 and smoke(searched).sweep.search.settings == 3
    assert smoke(searched).sweep.search.space == searched.sweep.search.space
    assert smoke(full).vae.epochs == 2


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
    """Final smoke accuracy is clearly above chance (0.1 for ten classes) for a plain trial and a
    learning-loss trial (one per smoke seed): a broken training loop cannot pass this."""
    sweep = smoke(load_sweep_config(QUICKSTART))
    wanted = {"digits/random/0/0", "digits/lloss/0/1"}
    trials = [t for t in expand_trials(sweep) if t.key in wanted]
    assert {t.key for t in trials} == wanted
    dataset = load_dataset(trials[0].config.dataset)
    final = []
    for trial in trials:
        curve = run_trajectory(trial.config, dataset).curve
        assert [point.n_labels for point in curve] == [40, 80, 120]
        final.append(curve[-1].metrics["accuracy"])
    assert np.mean(final) >= 0.45 and min(final) >= 0.3, final


@pytest.mark.slow
@pytest.mark.skipif(not (REAL_DATA / "MNIST" / "raw").is_dir(), reason="no real MNIST in ../shared/data")
def test_smoke_alpha_sweep_learns_on_real_mnist() -> None:
    """The --smoke variant of the MNIST config at the paper's lr 0.001 still learns (chance: 0.1)."""
    sweep = smoke(load_sweep_config(CONFIGS / "alpha_sweep.yaml", [f"dataset.root={REAL_DATA}"]))
    trials = [t for t in expand_trials(sweep) if t.heuristic == "coreset" and t.config.alpha == 0]
    dataset = load_dataset(trials[0].config.dataset)
    final = [run_trajectory(trial.config, dataset).curve[-1].metrics["accuracy"] for trial in trials]
    assert np.mean(final) >= 0.45 and min(final) >= 0.3, final
