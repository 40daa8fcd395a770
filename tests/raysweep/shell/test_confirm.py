"""``--confirm``'s plan: which trials rerun a choice on fresh seeds, what its runs and folder keep, and
the input it refuses before anything is written (the whole flow runs in ``tests/system/test_confirm.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.paths import QUICKSTART

from raysweep.schema import (
    CHOICE_ARTIFACT,
    CHOSEN_BY_PARAM,
    CHOSEN_TAG_PREFIX,
    CONFIRM_SEEDS_PARAM,
    CONFIRMS_PARAM,
    CONFIRMS_TAG,
)
from raysweep.shell.confirm import Choice, ConfirmPlan, confirmation_trials, prepare_confirmation
from raysweep.shell.exit_codes import LaunchError
from raysweep.shell.plan import GridPlan
from raysweep.shell.sweep_record import SweepRecord
from raysweep.sweep.config import config_digest, load_sweep_config
from raysweep.sweep.trials import expand_trials

OVERRIDES = ["sweep.heuristics=[random,coreset,medal]", "sweep.alphas=[0,0.5,2]", "sweep.seeds=[0,1]"]


def choice(chosen: dict[str, str]) -> Choice:
    arms = [
        {"arm": arm, "group": group, "alpha": 0.5, "scores": {"0": 0.8}, "mean": 0.8}
        for group, arm in chosen.items()
    ]
    return Choice("S", "mean val_accuracy_area", [0, 1], [2, 3], chosen, arms)


def test_the_chosen_arm_its_alpha_0_partner_and_the_floor_rerun_on_the_fresh_seeds(tmp_path: Path) -> None:
    sweep = load_sweep_config(QUICKSTART, [*OVERRIDES, "sweep.confirm_seeds=[7,9]"])
    made = choice({"digits/coreset": "digits/coreset/0.5/*", "digits/medal": "digits/medal/2/*"})
    made.confirm_seeds = sweep.sweep.confirmation_seeds
    trials = confirmation_trials(sweep, expand_trials(sweep), made)
    assert [t.key for t in trials] == [
        "digits/random/0/7",
        "digits/random/0/9",
        "digits/coreset/0/7",
        "digits/coreset/0/9",
        "digits/coreset/0.5/7",
        "digits/coreset/0.5/9",
        "digits/medal/0/7",
        "digits/medal/0/9",
        "digits/medal/2/7",
        "digits/medal/2/9",
    ]
    # A fresh seed is a fresh trial: its seed and (vae.seed: trial) its VAE draw are the new seed's.
    assert all(t.config.seed == int(t.key.rsplit("/", 1)[1]) == t.config.vae.seed for t in trials)


def test_a_group_without_a_choice_is_not_confirmed_but_the_floor_still_is() -> None:
    sweep = load_sweep_config(QUICKSTART, OVERRIDES)
    trials = confirmation_trials(
        sweep, expand_trials(sweep), choice({"digits/coreset": "digits/coreset/2/*"})
    )
    assert sorted({t.arm for t in trials}) == [
        "digits/coreset/0/*",
        "digits/coreset/2/*",
        "digits/random/0/*",
    ]
    assert sorted({t.config.seed for t in trials}) == [2, 3]  # the default: as many seeds, after the last


def test_the_plan_names_the_choice_on_its_runs_and_keeps_it_for_a_resume(tmp_path: Path) -> None:
    sweep = load_sweep_config(QUICKSTART, OVERRIDES)
    made = choice({"digits/coreset": "digits/coreset/0.5/*"})
    plan = ConfirmPlan(sweep, confirmation_trials(sweep, expand_trials(sweep), made), made)
    assert plan.parent_params() == {
        CONFIRMS_PARAM: "S",
        CONFIRM_SEEDS_PARAM: "2,3",
        CHOSEN_BY_PARAM: "mean val_accuracy_area",
    }
    assert plan.parent_tags() == {
        CONFIRMS_TAG: "S",
        f"{CHOSEN_TAG_PREFIX}digits/coreset": "digits/coreset/0.5/*",
    }
    assert plan.tags(plan.trials[0], {}) == {CONFIRMS_TAG: "S"}
    assert (
        plan.describe()[1] == "  digits/coreset: digits/coreset/0.5/* (mean 0.8000) and its alpha-0 partner"
    )
    plan.keep(tmp_path)
    assert Choice.read(tmp_path / CHOICE_ARTIFACT) == made
    assert plan.parent_texts() == {CHOICE_ARTIFACT: (tmp_path / CHOICE_ARTIFACT).read_text()}


def test_no_sweep_or_another_config_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    sweep = load_sweep_config(QUICKSTART, [*OVERRIDES, f"storage={tmp_path / 'runs'}"])
    plan = GridPlan(sweep, expand_trials(sweep))
    with pytest.raises(LaunchError, match="--confirm: no sweep to confirm under"):
        prepare_confirmation(sweep, plan, "latest", outage_limit=1)
    assert not (tmp_path / "runs").exists()
    folder = tmp_path / "runs" / sweep.experiment / "20261206-000000-abcdef"
    folder.mkdir(parents=True)
    SweepRecord("20261206-000000-abcdef", "1", "r" * 32, "sqlite:///x.db", "0" * 12).write(folder)
    with pytest.raises(LaunchError, match="the config differs from the one sweep 20261206-000000-abcdef ran"):
        prepare_confirmation(sweep, plan, "latest", outage_limit=1)
    assert config_digest(sweep) != "0" * 12
    assert sorted(p.name for p in (tmp_path / "runs" / sweep.experiment).iterdir()) == [
        "20261206-000000-abcdef"
    ]
