"""``--confirm`` end to end: a real sweep chooses on validation, its confirmation reruns the choice on
fresh seeds (real CLI subprocesses, a real local Ray, a real SQLite MLflow store)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.drivers import launch as launch_cli
from helpers.paths import QUICKSTART
from helpers.sweep_results import sqlite_uri, sweep_runs

from raysweep import schema

# Plain and one VAE arm of core-set, and random, on two seeds; --smoke shrinks the rest.
SLICE = ["--smoke", "--set", "sweep.heuristics=[random,coreset]", "--set", "sweep.alphas=[0,1]"]


def launch(cwd: Path, *args: str):
    return launch_cli(cwd, str(QUICKSTART), *args, timeout=900)


def runs_by_role(cwd: Path):
    return sweep_runs(sqlite_uri(cwd), "raysweep-quickstart")


@pytest.fixture(scope="module")
def confirmed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A sweep that chose, then its confirmation, then the confirmation again (it continues)."""
    cwd = tmp_path_factory.mktemp("confirm")
    chose = launch(cwd, *SLICE)
    assert chose.returncode == 0, chose.stdout[-3000:] + chose.stderr[-3000:]
    first = launch(cwd, *SLICE, "--confirm")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    again = launch(cwd, *SLICE, "--confirm")
    return {"cwd": cwd, "first": first, "again": again}


def test_confirm_without_a_sweep_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    result = launch(tmp_path, *SLICE, "--confirm")
    assert result.returncode == 2
    assert "no sweep to confirm" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_confirmation_reruns_the_choice_on_fresh_seeds(confirmed: dict) -> None:
    cwd = confirmed["cwd"]
    client, parents, trials = runs_by_role(cwd)
    [chooser] = [p for p in parents if schema.CONFIRMS_TAG not in p.data.tags]
    [confirmation] = [p for p in parents if schema.CONFIRMS_TAG in p.data.tags]
    sweep_id = chooser.data.tags[schema.SWEEP_ID_TAG]
    assert confirmation.data.tags[schema.SWEEP_ID_TAG] == f"{sweep_id}-confirm"
    assert confirmation.data.tags[schema.CONFIRMS_TAG] == sweep_id
    # One VAE arm to choose from: core-set at alpha 1, rerun with its partner and the random floor.
    assert confirmation.data.tags[f"{schema.CHOSEN_TAG_PREFIX}digits/coreset"] == "digits/coreset/1/*"
    assert confirmation.data.params[schema.CONFIRM_SEEDS_PARAM] == "2,3"
    confirming = [t for t in trials if t.data.tags.get(schema.CONFIRMS_TAG) == sweep_id]
    assert sorted(t.data.tags[schema.TRIAL_KEY_TAG] for t in confirming) == [
        "digits/coreset/0/2",
        "digits/coreset/0/3",
        "digits/coreset/1/2",
        "digits/coreset/1/3",
        "digits/random/0/2",
        "digits/random/0/3",
    ]
    assert all(t.info.status == "FINISHED" for t in confirming)
    # Every trial logs what choosing and reporting read, as one number for the UI.
    for trial in trials:
        for name in schema.TRIAL_SUMMARY_METRICS:
            assert 0.0 <= trial.data.metrics[name] <= 1.0, (trial.data.tags[schema.TRIAL_KEY_TAG], name)
    # The choice is kept with the confirmation (its resume reads it) and on its parent run.
    folder = cwd / "raysweep_runs" / "raysweep-quickstart" / f"{sweep_id}-confirm"
    kept = json.loads((folder / schema.CHOICE_ARTIFACT).read_text())
    assert kept["chosen"] == {"digits/coreset": "digits/coreset/1/*"}
    assert kept["seeds"] == [0, 1] and kept["confirm_seeds"] == [2, 3]
    scores = {arm["arm"]: arm["scores"] for arm in kept["arms"]}
    chooser_trials = {
        t.data.tags[schema.TRIAL_KEY_TAG]: t for t in trials if schema.CONFIRMS_TAG not in t.data.tags
    }
    for seed in (0, 1):
        logged = chooser_trials[f"digits/coreset/1/{seed}"].data.metrics["val_accuracy_area"]
        assert scores["digits/coreset/1/*"][str(seed)] == pytest.approx(logged)
    assert schema.CHOICE_ARTIFACT in {a.path for a in client.list_artifacts(confirmation.info.run_id)}


def test_a_second_confirm_continues_the_same_confirmation(confirmed: dict) -> None:
    again = confirmed["again"]
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "-confirm from" in again.stdout  # "resuming sweep <id>-confirm from <folder>"
    _, parents, trials = runs_by_role(confirmed["cwd"])
    assert len(parents) == 2 and len(trials) == 12  # nothing new: 6 chose, 6 confirmed


def test_confirm_with_another_config_or_with_resume_exits_2(confirmed: dict) -> None:
    cwd = confirmed["cwd"]
    other = launch(cwd, *SLICE, "--set", "training.lr=0.02", "--confirm")
    assert other.returncode == 2 and "config differs" in other.stderr
    both = launch(cwd, *SLICE, "--confirm", "--resume")
    assert both.returncode == 2 and "leave out --resume" in both.stderr
