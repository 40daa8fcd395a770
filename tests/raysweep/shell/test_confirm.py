"""``--confirm``'s plan: which trials rerun a choice on fresh seeds (the chosen arm, its alpha-0 partner
and the floor of heuristics without VAE features), what its runs and folder keep, and the input it
refuses before anything is written; the choice kept in the confirmation's folder and read back by the
resume, in a local folder and in a bucket (a real S3 API server on 127.0.0.1), as the rest of a sweep's
files are. (The whole flow runs in ``tests/system/test_confirm.py``.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.paths import QUICKSTART
from helpers.s3 import S3Server

from raysweep.choice import CHOSEN_BY
from raysweep.schema import (
    CHOICE_ARTIFACT,
    CHOSEN_BY_PARAM,
    CHOSEN_TAG_PREFIX,
    CONFIRM_SEEDS_PARAM,
    CONFIRMS_PARAM,
    CONFIRMS_TAG,
)
from raysweep.shell.confirm import Choice, ConfirmPlan, confirmation_trials, prepare_confirmation
from raysweep.shell.deployment import sweep_digest
from raysweep.shell.exit_codes import LaunchError
from raysweep.shell.plan import GridPlan
from raysweep.shell.sweep_record import SweepRecord
from raysweep.storage import parse_storage
from raysweep.sweep.config import SweepConfig, config_digest, load_sweep_config
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


TRACKING_URI = "sqlite:////chooser/mlflow.db"
"""The chooser's store, as its record names it (a resumed confirmation logs there; nothing opens it here)."""
CONFIRMED = {f"digits/{arm}/{seed}" for arm in ("random/0", "coreset/0", "coreset/1") for seed in (2, 3)}
"""Seeds 0 and 1 chose core-set at alpha 1: it, its alpha-0 partner and the random floor on 2 and 3."""


def sweep_config(storage: str, seeds: list[int] | None = None) -> SweepConfig:
    return SweepConfig.model_validate(
        {
            "experiment": "x",
            "sweep": {
                "datasets": ["digits"],
                "heuristics": ["random", "coreset"],
                "alphas": [0, 1],
                "seeds": seeds or [0, 1],
            },
            "model": {"pretrained": False},
            "schedule": {"initial_labels": 10, "labels_per_round": 10, "rounds": 1},
            "storage": storage,
        }
    )


def core_set_at_alpha_1() -> Choice:
    return Choice(
        sweep_id="s1",
        chosen_by=CHOSEN_BY,
        seeds=[0, 1],
        confirm_seeds=[2, 3],
        chosen={"digits/coreset": "digits/coreset/1/*"},
        arms=[{"group": "digits/coreset", "arm": "digits/coreset/1/*", "alpha": 1.0, "mean": 0.6}],
    )


def test_the_choice_and_its_partners_run_on_the_fresh_seeds(tmp_path: Path) -> None:
    sweep = sweep_config(str(tmp_path))
    trials = confirmation_trials(sweep, expand_trials(sweep), core_set_at_alpha_1())
    assert {trial.key for trial in trials} == CONFIRMED
    assert {trial.config.seed for trial in trials} == {2, 3}


@pytest.fixture(params=["local", "bucket"])
def storage_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A sweep storage: a local folder, or a bucket on the session's S3 server."""
    if request.param == "local":
        return str(tmp_path / "runs")
    server: S3Server = request.getfixturevalue("s3_server")
    return server.uri(request.getfixturevalue("s3_bucket"))


def test_a_confirmation_resumes_with_the_choice_it_kept_on_the_storage(
    storage_uri: str, tmp_path: Path
) -> None:
    sweep = sweep_config(storage_uri)
    experiment_dir = parse_storage(storage_uri).root / "x"
    SweepRecord("s1", "1", "parent", TRACKING_URI, sweep_digest(sweep)).write(experiment_dir / "s1")
    folder = experiment_dir / "s1-confirm"
    SweepRecord("s1-confirm", "1", "confirm-parent", TRACKING_URI, sweep_digest(sweep)).write(folder)
    kept = core_set_at_alpha_1()
    ConfirmPlan(sweep, [], kept).keep(folder)  # what the confirmation's first driver wrote
    assert (folder / CHOICE_ARTIFACT).is_file() and Choice.read(folder / CHOICE_ARTIFACT) == kept

    for wanted in ("s1", "latest"):  # latest: the newest sweep that is not a confirmation
        plan, sweep_id, exists = prepare_confirmation(
            sweep, GridPlan(sweep, expand_trials(sweep)), wanted, 30
        )
        assert (sweep_id, exists) == ("s1-confirm", True)
        assert plan.choice == kept  # read back, not made again (no MLflow store is reachable here)
        assert {trial.key for trial in plan.trials} == CONFIRMED
        assert plan.sweep.tracking_uri == TRACKING_URI
    if "://" in storage_uri:
        assert not any(p.name.startswith(("s3:", "runs")) for p in tmp_path.iterdir())  # nothing local


def test_a_confirmation_of_another_config_is_refused(storage_uri: str) -> None:
    sweep = sweep_config(storage_uri)
    experiment_dir = parse_storage(storage_uri).root / "x"
    SweepRecord("s1", "1", "parent", TRACKING_URI, sweep_digest(sweep)).write(experiment_dir / "s1")
    other = sweep_config(storage_uri, seeds=[0, 1, 5])
    with pytest.raises(LaunchError, match="the config differs from the one sweep s1 ran with"):
        prepare_confirmation(other, GridPlan(other, expand_trials(other)), "s1", 30)
    with pytest.raises(LaunchError, match="--confirm s2: no sweep at"):
        prepare_confirmation(sweep, GridPlan(sweep, expand_trials(sweep)), "s2", 30)
