"""A grid or a search behind one interface: which trial a Tune config names, its tags and objective,
what the driver prints and logs, what Tune is given, and every trial handed out so far."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers.paths import QUICKSTART
from helpers.search import LOG_ALPHA, write_search_sweep

from raysweep.loop import RoundResult
from raysweep.schema import (
    PROPOSAL_CONFIG_KEY,
    SEARCH_GROUP_TAG,
    SEARCH_PARAM_PREFIX,
    SETTING_INDEX_TAG,
    SETTING_TAG,
    TRIAL_CONFIG_KEY,
)
from raysweep.search.ledger import SearchLedger, SettingRecord, ledger_path
from raysweep.shell.plan import GridPlan, SearchPlan, plan_for
from raysweep.shell.search.searcher import PairedSeedSearch
from raysweep.shell.search.stopping import SettingMedianStopping
from raysweep.sweep.config import load_sweep_config
from raysweep.sweep.trials import expand_trials

# Validation is what a search chooses by; the test accuracy beside it must not count.
CURVE = [
    RoundResult(0, 100, {"accuracy": 0.9, "val_accuracy": 0.5}),
    RoundResult(1, 200, {"accuracy": 0.9, "val_accuracy": 0.7}),
]


@pytest.fixture
def grid() -> GridPlan:
    sweep = load_sweep_config(QUICKSTART, ["sweep.heuristics=[random, coreset]"])
    return plan_for(sweep, expand_trials(sweep))


@pytest.fixture
def search(tmp_path: Path) -> SearchPlan:
    sweep = load_sweep_config(
        write_search_sweep(
            tmp_path, LOG_ALPHA.replace("space:", "early_stopping: {}, space:"), seeds="[0, 1]"
        )
    )
    return plan_for(sweep, expand_trials(sweep))


def test_a_grid_hands_tune_its_trial_keys(grid: GridPlan, tmp_path: Path) -> None:
    assert type(grid) is GridPlan
    keys = [t.key for t in grid.trials]
    setup = grid.tune_setup(tmp_path, recover=False)
    assert setup.param_space == {TRIAL_CONFIG_KEY: {"grid_search": keys}} and setup.tune_config == {}
    trial = grid.trials[3]
    assert grid.resolve({TRIAL_CONFIG_KEY: trial.key}) is trial
    assert grid.tags(trial, {TRIAL_CONFIG_KEY: trial.key}) == {} and grid.objective(CURVE) is None
    assert grid.describe() == [] and grid.parent_params() == {}
    assert grid.pool_encoder_trials() == grid.trials == grid.trials_so_far(tmp_path)
    assert grid.finish(tmp_path, None, None, log=True) == grid.trials  # nothing to say or log
    with pytest.raises(KeyError):
        grid.resolve({TRIAL_CONFIG_KEY: "digits/nope/0/0"})


def test_a_search_resolves_references_and_proposals(search: SearchPlan) -> None:
    assert type(search) is SearchPlan
    reference = search.trials[-1]
    assert reference.key == "digits/coreset/0/1"
    assert search.resolve({TRIAL_CONFIG_KEY: reference.key}) is reference
    proposal = {"group": "digits/coreset", "setting": 2, "seed": 1, "values": {"alpha": 0.37}}
    config = {TRIAL_CONFIG_KEY: "digits/coreset/0.37/1", PROPOSAL_CONFIG_KEY: proposal}
    trial = search.resolve(config)
    assert trial.key == "digits/coreset/0.37/1" and trial.config.alpha == 0.37 and trial.config.seed == 1
    assert search.tags(trial, config) == {
        SEARCH_GROUP_TAG: "digits/coreset",
        SETTING_TAG: "alpha=0.37",
        SETTING_INDEX_TAG: "2",
    }
    # the alpha-0 reference of a searched heuristic is setting 0 of its group; random is in none
    assert search.tags(reference, {TRIAL_CONFIG_KEY: reference.key}) == {
        SEARCH_GROUP_TAG: "digits/coreset",
        SETTING_TAG: "alpha=0",
        SETTING_INDEX_TAG: "0",
    }
    random_reference = search.trials[0]
    assert random_reference.heuristic == "random"
    assert search.tags(random_reference, {TRIAL_CONFIG_KEY: random_reference.key}) == {}
    assert search.objective(CURVE) == pytest.approx(0.6)


def test_a_search_tells_tune_its_searcher_scheduler_and_budget(
    search: SearchPlan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = search.tune_setup(tmp_path, recover=False)
    assert setup.param_space == {}
    assert isinstance(setup.tune_config["search_alg"], PairedSeedSearch)
    assert isinstance(setup.tune_config["scheduler"], SettingMedianStopping)
    assert setup.tune_config["scheduler"].searcher is setup.tune_config["search_alg"]
    assert setup.tune_config["num_samples"] == 4 + 3 * 2
    assert setup.tune_config["search_alg"].ledger_path == ledger_path(tmp_path)
    monkeypatch.delenv("TUNE_MAX_PENDING_TRIALS_PG", raising=False)
    search.prepare_tune()  # the references, and one setting on both seeds, may wait at once
    assert os.environ["TUNE_MAX_PENDING_TRIALS_PG"] == str(4 + 1 * 2)
    monkeypatch.setenv("TUNE_MAX_PENDING_TRIALS_PG", "3")
    search.prepare_tune()
    assert os.environ["TUNE_MAX_PENDING_TRIALS_PG"] == "3"  # a set value is kept


def test_a_search_says_and_logs_more(search: SearchPlan) -> None:
    assert search.describe()[0].startswith("search (optuna, seed 0): 3 settings per group x 2 seeds")
    params = search.parent_params()
    assert params[f"{SEARCH_PARAM_PREFIX}algorithm"] == "optuna" and all(
        name.startswith(SEARCH_PARAM_PREFIX) for name in params
    )
    # The pool encoders trained before the trials start: one per seed, with that seed's VAE draw.
    prewarms = [t for t in search.pool_encoder_trials() if t not in search.trials]
    assert [p.config.seed for p in prewarms] == [0, 1]
    assert all(p.config.uses_vae and p.dataset == "digits" for p in prewarms)
    assert [p.config.vae.seed for p in prewarms] == [0, 1]


def test_a_search_s_trials_so_far_and_its_outcome(
    search: SearchPlan, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    sweep_dir = tmp_path / "sweep"
    assert search.trials_so_far(sweep_dir) == search.trials
    assert search.finish(sweep_dir, None, None, log=True) == search.trials  # stopped before any proposal
    assert capsys.readouterr().out == ""
    ledger = SearchLedger(path=ledger_path(sweep_dir))
    ledger.settings.append(
        SettingRecord("digits/coreset", 1, {"alpha": 0.5}, ["digits/coreset/0.5/0", "digits/coreset/0.5/1"])
    )
    ledger.save()
    handed = search.finish(sweep_dir, None, None, log=False)  # a stopped sweep: printed, not logged
    assert [t.key for t in handed][-2:] == ["digits/coreset/0.5/0", "digits/coreset/0.5/1"]
    out = capsys.readouterr().out
    assert "Search (optuna" in out and "digits/coreset: 1 settings tried" in out
