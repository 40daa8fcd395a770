"""What a search found: per group its settings, the reference and the best, as a dict, printed
lines and parent-run params; NaN never reaches JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

from helpers.search import LOG_ALPHA, write_search_sweep

from raysweep.schema import SEARCH_PARAM_PREFIX
from raysweep.search.ledger import SearchLedger, SettingRecord
from raysweep.search.outcome import finite_or_none, outcome_lines, search_outcome, search_params
from raysweep.sweep.config import load_sweep_config


def test_outcome_per_group(tmp_path: Path) -> None:
    sweep = load_sweep_config(write_search_sweep(tmp_path, LOG_ALPHA, seeds="[0, 1]"))
    ledger = SearchLedger(
        references={
            "digits/coreset/0/0": {"done": True, "objective": 0.5},
            "digits/coreset/0/1": {"done": True, "objective": 0.7},
            "digits/random/0/0": {"done": True, "objective": 0.1},  # not the group's reference
            "digits/coreset/0/2": {"done": False, "objective": None},
        },
        settings=[
            SettingRecord(
                "digits/coreset",
                1,
                {"alpha": 0.5},
                ["k1", "k2"],
                {"k1": 0.6, "k2": 0.7},
                status="complete",
                objective=0.65,
            ),
            SettingRecord(
                "digits/coreset",
                2,
                {"alpha": 2.0},
                ["k3", "k4"],
                stopped={"k3": 1},
                stop_round=1,
                status="stopped",
                objective=0.2,
            ),
        ],
        duplicates={"digits/coreset": 3},
    )
    outcome = search_outcome(sweep, ledger)
    group = outcome["groups"]["digits/coreset"]
    assert group["reference_objective"] == 0.6 and group["settings_tried"] == 2
    assert group["duplicate_proposals"] == 3
    assert group["best"] == {"index": 1, "setting": "alpha=0.5", "values": {"alpha": 0.5}, "objective": 0.65}
    assert [s["status"] for s in group["settings"]] == ["complete", "stopped"]
    assert group["settings"][1]["stopped_after_round"] == 1 and group["settings"][0]["trial_keys"] == [
        "k1",
        "k2",
    ]
    assert outcome["algorithm"] == "optuna" and outcome["seeds"] == [0, 1]
    assert outcome["space"] == {"alpha": {"low": 0.05, "high": 5, "scale": "log"}}
    lines = outcome_lines(outcome)
    assert lines[0] == "\nSearch (optuna, objective: max area of val_accuracy, mean over seeds [0, 1]):"
    assert lines[1] == "  digits/coreset: 2 settings tried; alpha 0 (reference): 0.6000"
    assert lines[2].split() == ["1", "alpha=0.5", "complete", "0.6500", "<-", "best"]
    assert lines[3].split() == ["2", "alpha=2", "stopped", "0.2000"]


def test_no_reference_yet_is_nan_and_becomes_null(tmp_path: Path) -> None:
    sweep = load_sweep_config(write_search_sweep(tmp_path, LOG_ALPHA))
    outcome = search_outcome(sweep, SearchLedger())
    assert math.isnan(outcome["groups"]["digits/coreset"]["reference_objective"])
    clean = finite_or_none(outcome)
    assert clean["groups"]["digits/coreset"]["reference_objective"] is None
    assert "NaN" not in json.dumps(clean)
    assert outcome_lines(clean)[1].endswith("alpha 0 (reference): n/a")
    assert finite_or_none({"a": [1.0, math.inf, {"b": -math.inf}], "c": "x", "d": 2}) == {
        "a": [1.0, None, {"b": None}],
        "c": "x",
        "d": 2,
    }


def test_search_params(tmp_path: Path) -> None:
    block = "{settings: 8, space: {alpha: {low: 0.05, high: 5, scale: log}, training.lr: {choices: [0.01, 0.1]}}, early_stopping: {grace_rounds: 2}}"
    sweep = load_sweep_config(write_search_sweep(tmp_path, block))
    params = search_params(sweep.sweep.search)
    assert all(name.startswith(SEARCH_PARAM_PREFIX) for name in params)
    assert {name.removeprefix(SEARCH_PARAM_PREFIX): value for name, value in params.items()} == {
        "algorithm": "optuna",
        "seed": "0",
        "settings": "8",
        "max_concurrent_settings": "2",
        "startup_settings": "2",
        "space": str(
            {"alpha": {"low": 0.05, "high": 5, "scale": "log"}, "training.lr": {"choices": [0.01, 0.1]}}
        ),
        "objective": "max area of val_accuracy",
        "early_stopping": "median (grace 2 rounds, min 3 settings)",
    }
