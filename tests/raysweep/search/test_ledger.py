"""The search's ledger: its JSON round trip, saved whole, and the numbers the searcher and early
stopping read from it (a setting's round means, the other settings', the best one)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from raysweep.search.ledger import LEDGER, SearchLedger, SettingRecord, ledger_path
from raysweep.storage import location


def record(index: int, keys=("a", "b"), **fields) -> SettingRecord:
    return SettingRecord("digits/coreset", index, {"alpha": float(index)}, list(keys), **fields)


def test_the_ledger_lives_below_the_sweep_folder_s_top_level() -> None:
    assert ledger_path("/s/x") == location("/s/x/search/ledger.json") and LEDGER.parent.name == "search"


def test_json_round_trip_and_save(tmp_path: Path) -> None:
    path = ledger_path(tmp_path)
    ledger = SearchLedger(
        references={"digits/coreset/0/0": {"done": True, "objective": 0.5}},
        settings=[
            record(1, objectives={"a": 0.6}, stopped={"b": 1}, stop_round=1, status="stopped", objective=0.6)
        ],
        trial_ids={"t1": "a"},
        rounds={"a": {"0": 0.5}},
        exhausted=["digits/medal"],
        duplicates={"digits/coreset": 2},
        completed_ids=["t1"],
        path=path,
    )
    ledger.save()
    assert "path" not in json.loads(path.read_text())
    again = SearchLedger.read(path)
    assert again == ledger and again.path == path
    assert [p.name for p in path.parent.iterdir()] == ["ledger.json"]  # written whole, no temp file left
    with pytest.raises(ValueError, match="no path to be saved to"):
        SearchLedger().save()


def test_a_setting_is_settled_once_every_seed_is_accounted_for() -> None:
    setting = record(1, keys=("a", "b", "c"), objectives={"a": 0.6}, stopped={"b": 1})
    assert setting.label == "alpha=1" and setting.accounted("a") and setting.accounted("b")
    assert not setting.accounted("c") and not setting.settled()
    setting.failed.append("c")
    assert setting.settled()


def test_round_means_once_every_seed_reported_and_the_other_settings_there() -> None:
    ledger = SearchLedger(
        settings=[record(1, keys=("a", "b")), record(2, keys=("c", "d")), record(3, keys=("e",))]
    )
    for key, value in (("a", 0.4), ("b", 0.6), ("c", 0.8), ("e", 0.1)):
        ledger.record_round(key, 1, value)
    ledger.record_round("a", 0, 0.3)
    first, second, third = ledger.settings
    assert ledger.round_mean(first, 1) == pytest.approx(0.5)
    assert ledger.round_mean(second, 1) is None  # d has not reported round 1
    assert ledger.rounds["a"] == {"0": 0.3, "1": 0.4}  # rounds are JSON keys
    assert ledger.settings_behind_at(second, 1) == pytest.approx([0.5, 0.1])
    assert ledger.settings_behind_at(first, 0) == []
    assert ledger.setting("digits/coreset", 2) is second and ledger.setting("digits/coreset", 9) is None
    assert ledger.setting_of_key("e") is third and ledger.setting_of_key("z") is None
    assert ledger.group_settings("digits/medal") == []


def test_best_is_the_best_complete_finite_setting_in_the_mode() -> None:
    ledger = SearchLedger(
        settings=[
            record(1, status="complete", objective=0.6),
            record(2, status="complete", objective=0.8),
            record(3, status="stopped", objective=0.9),  # stopped: not a candidate
            record(4, status="complete", objective=math.nan),
            record(5, status="running"),
        ]
    )
    assert ledger.best("digits/coreset", "max").index == 2
    assert ledger.best("digits/coreset", "min").index == 1
    assert ledger.best("digits/medal", "max") is None
