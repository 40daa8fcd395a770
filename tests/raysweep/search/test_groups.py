"""A search's groups (one per dataset and VAE-capable heuristic), the trial of each seed of a setting,
the plan in a few lines, and every trial a search has handed out so far."""

from __future__ import annotations

from pathlib import Path

from helpers.paths import CONFIGS
from helpers.search import LOG_ALPHA, write_search_sweep

from raysweep.search.groups import (
    describe_search,
    ledger_trials,
    planned_trial_count,
    prewarm_trials,
    proposed_trial,
    search_groups,
    searched_trials,
    setting_trial,
)
from raysweep.search.ledger import SearchLedger, SettingRecord, ledger_path
from raysweep.sweep.config import load_sweep_config
from raysweep.sweep.trials import expand_trials


def test_search_block_plans_references_plus_settings(tmp_path: Path) -> None:
    sweep = load_sweep_config(write_search_sweep(tmp_path, LOG_ALPHA))
    assert [t.key for t in expand_trials(sweep)] == [
        f"digits/{h}/0/{s}" for h in ("random", "coreset") for s in (0, 1, 2)
    ]  # the reference arms: every heuristic at alpha 0 on every seed
    assert [g.name for g in search_groups(sweep)] == ["digits/coreset"]
    assert planned_trial_count(sweep) == 6 + 3 * 3
    assert planned_trial_count(load_sweep_config(CONFIGS / "quickstart.yaml")) == 16  # a grid: its trials


def test_setting_trials_key_every_searched_field(tmp_path: Path) -> None:
    sweep = load_sweep_config(
        write_search_sweep(
            tmp_path,
            "{settings: 2, space: {alpha: {low: 0.02, high: 20, scale: log}, vae.latent_dim: {low: 4, high: 64},"
            " training.lr: {choices: [0.01, 0.1]}}}",
        )
    )
    [group] = search_groups(sweep)
    values = {"alpha": 0.371326, "vae.latent_dim": 16, "training.lr": 0.1}
    trial = setting_trial(sweep, group, values, 2)
    assert trial.key == "digits/coreset/0.371326/2/vae.latent_dim=16/training.lr=0.1"
    assert (trial.config.alpha, trial.config.vae.latent_dim, trial.config.training.lr, trial.config.seed) == (
        0.371326,
        16,
        0.1,
        2,
    )
    assert f"{trial.config.alpha:g}" == "0.371326"
    proposal = {"group": "digits/coreset", "setting": 1, "seed": 2, "values": values}
    assert proposed_trial(sweep, proposal) == trial
    assert prewarm_trials(sweep) == []  # the VAE is searched: no one VAE to train before the trials


def test_a_search_s_encoder_names_itself_in_the_keys(tmp_path: Path) -> None:
    path = write_search_sweep(tmp_path, LOG_ALPHA)
    sweep = load_sweep_config(path, ["sweep.encoders=[gmvae]"])
    group = search_groups(sweep)[0]
    trial = setting_trial(sweep, group, {"alpha": 0.5}, 1)
    assert trial.key == "digits/coreset/0.5/1/gmvae" and trial.config.encoder.name == "gmvae"
    # One encoder per seed (vae.seed: trial, the default): each seed's settings share their seed's VAE.
    prewarms = prewarm_trials(sweep)
    assert [p.config.seed for p in prewarms] == list(sweep.sweep.seeds)
    for prewarm in prewarms:
        assert prewarm.config.encoder.name == "gmvae" and prewarm.config.uses_vae
        assert prewarm.config.vae == sweep.vae.for_trial(prewarm.config.seed)
    # An integer vae.seed: one encoder draw for every seed, trained once.
    fixed = load_sweep_config(path, ["sweep.encoders=[gmvae]", "vae.seed=3"])
    [prewarm] = prewarm_trials(fixed)
    assert prewarm.config.vae.seed == 3 and prewarm.config.seed == fixed.sweep.seeds[0]


def test_heuristic_fields_are_keyed_too(tmp_path: Path) -> None:
    sweep = load_sweep_config(
        write_search_sweep(
            tmp_path,
            "{settings: 2, space: {alpha: {low: 0.1, high: 1}, heuristic.margin: {low: 0.5, high: 2}}}",
            heuristics="[entropy, lloss]",
        )
    )
    [group] = search_groups(sweep)
    trial = setting_trial(sweep, group, {"alpha": 0.5, "heuristic.margin": 1.5}, 0)
    assert trial.key == "digits/lloss/0.5/0/heuristic.margin=1.5" and trial.config.heuristic.margin == 1.5


def test_describe_search(tmp_path: Path) -> None:
    sweep = load_sweep_config(
        write_search_sweep(tmp_path, LOG_ALPHA.replace("space:", "early_stopping: {}, space:"))
    )
    lines = describe_search(sweep)
    assert lines[0] == (
        "search (optuna, seed 0): 3 settings per group x 3 seeds, at most 1 in flight per group, "
        "objective: max area of val_accuracy (mean over seeds)"
    )
    assert lines[1:] == [
        "  space: alpha in [0.05, 5] log",
        "  groups: digits/coreset (each against its alpha-0 arm above)",
        "  early stopping: median",
        "  at most 15 trials in all",
    ]
    assert describe_search(load_sweep_config(CONFIGS / "quickstart.yaml")) == []


def test_the_trials_handed_out_are_the_references_and_each_setting_on_every_seed(tmp_path: Path) -> None:
    sweep = load_sweep_config(write_search_sweep(tmp_path, LOG_ALPHA, seeds="[0, 1]"))
    references = expand_trials(sweep)
    sweep_dir = tmp_path / "sweep"
    assert searched_trials(sweep, references, sweep_dir) == references  # no ledger yet
    ledger = SearchLedger(path=ledger_path(sweep_dir))
    ledger.settings.append(SettingRecord("digits/coreset", 1, {"alpha": 0.5}, ["k0", "k1"]))
    ledger.save()
    keys = [t.key for t in searched_trials(sweep, references, sweep_dir)]
    assert keys == [t.key for t in references] + ["digits/coreset/0.5/0", "digits/coreset/0.5/1"]
    assert [t.key for t in ledger_trials(sweep, references, ledger)] == keys


def test_alpha_search_is_the_alpha_sweep_as_a_search_within_its_budget() -> None:
    grid = load_sweep_config(CONFIGS / "alpha_sweep.yaml")
    searched = load_sweep_config(CONFIGS / "alpha_search.yaml")
    assert planned_trial_count(searched) <= len(expand_trials(grid))
    assert planned_trial_count(searched) == 15 + 3 * 5 * 5
    same = {"experiment", "sweep"}
    assert {k: v for k, v in searched.model_dump().items() if k not in same} == {
        k: v for k, v in grid.model_dump().items() if k not in same
    }
    assert searched.sweep.model_dump(exclude={"alphas", "search"}) == grid.sweep.model_dump(
        exclude={"alphas", "search"}
    )
    space = searched.sweep.search.space["alpha"]
    assert (space.low, space.high, space.scale) == (0.02, 20, "log")
