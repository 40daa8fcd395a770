"""The paired-seed searcher, driven as Tune drives it (suggest, results, completions, Tune's save and
restore) with a real OptunaSearch inside: references first, every setting on every seed, the mean
told, nothing proposed twice, and everything handed out again after a restore that Tune had not saved.
Whole searches through the CLI are in ``tests/system/test_search.py``."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from helpers.search import LOG_ALPHA, TuneDriver, inner_values, new_searcher
from ray.tune.search import Searcher

from raysweep.search.groups import ledger_trials
from raysweep.search.ledger import LEDGER, SearchLedger
from raysweep.search.outcome import search_outcome
from raysweep.shell.search.searcher import PairedSeedSearch
from raysweep.sweep.trials import expand_trials


def test_references_first_then_each_setting_on_every_seed_and_the_mean_told(tmp_path: Path) -> None:
    searcher = new_searcher(tmp_path)
    tune = TuneDriver(searcher)
    references = [tune.next() for _ in range(6)]
    assert [c["trial"] for c in references] == [
        f"digits/{h}/0/{s}" for h in ("random", "coreset") for s in (0, 1, 2)
    ]
    assert all("search" not in c for c in references)
    first = [tune.next() for _ in range(3)]
    values = first[0]["search"]["values"]
    assert [c["search"]["seed"] for c in first] == [0, 1, 2]
    assert all(c["search"]["values"] == values and c["search"]["setting"] == 1 for c in first)
    assert [c["trial"] for c in first] == [f"digits/coreset/{values['alpha']:g}/{s}" for s in (0, 1, 2)]
    assert tune.next() is None  # max_concurrent_settings 1: the next setting waits for this one
    for key, objective in zip([c["trial"] for c in first], [0.6, 0.7, 0.8], strict=True):
        tune.finish(key, objective)
    [(params, value, state)] = inner_values(searcher)
    assert params["alpha"] == pytest.approx(values["alpha"], rel=1e-5)  # runs use it rounded to 6 digits
    assert value == pytest.approx(0.7) and state == "COMPLETE"  # the mean over seeds
    scores = iter([[0.5, 0.5, 0.5], [0.9, 0.8, 0.7]])
    while isinstance(config := tune.next(), dict):
        batch = [config] + [tune.next() for _ in range(2)]
        for c, objective in zip(batch, next(scores), strict=True):
            tune.finish(c["trial"], objective)
    assert config == Searcher.FINISHED
    ledger = SearchLedger.read(tmp_path / "sweep" / LEDGER)
    assert [r.index for r in ledger.settings] == [1, 2, 3]
    assert len({json.dumps(r.values) for r in ledger.settings}) == 3  # no setting twice
    assert [r.objective for r in ledger.settings] == pytest.approx([0.7, 0.5, 0.8])
    assert ledger.best("digits/coreset", "max").index == 3
    assert len(inner_values(searcher)) == 3
    outcome = search_outcome(searcher.sweep, ledger)
    assert outcome["groups"]["digits/coreset"]["best"]["index"] == 3
    assert outcome["groups"]["digits/coreset"]["settings_tried"] == 3
    assert len(ledger_trials(searcher.sweep, expand_trials(searcher.sweep), ledger)) == 6 + 9


def test_minimising_picks_the_smallest(tmp_path: Path) -> None:
    block = LOG_ALPHA.replace(
        "space:", "objective: {metric: selection_seconds, summary: final, mode: min}, space:"
    )
    searcher = new_searcher(tmp_path, block, seeds="[0]", heuristics="[coreset]")
    tune = TuneDriver(searcher)
    tune.next()  # the reference
    scores = iter([3.0, 1.0, 2.0])
    while isinstance(config := tune.next(), dict):
        tune.finish(config["trial"], next(scores))
    assert searcher.ledger.best("digits/coreset", "min").index == 2


def test_a_repeated_proposal_is_answered_from_its_result_and_a_used_up_space_ends(tmp_path: Path) -> None:
    searcher = new_searcher(
        tmp_path, "{settings: 5, space: {alpha: {choices: [0.5, 2]}}}", seeds="[0]", heuristics="[coreset]"
    )
    tune = TuneDriver(searcher)
    assert tune.next()["trial"] == "digits/coreset/0/0"
    tried = []
    while isinstance(config := tune.next(), dict):
        tried.append(config["search"]["values"]["alpha"])
        tune.finish(config["trial"], 0.9 if tried[-1] == 2 else 0.4)
    assert config == Searcher.FINISHED
    assert sorted(tried) == [0.5, 2.0]  # two settings exist; none ran twice
    assert (
        searcher.ledger.exhausted == ["digits/coreset"] and searcher.ledger.duplicates["digits/coreset"] > 0
    )
    repeats = [v for p, v, s in inner_values(searcher) if s == "COMPLETE"]
    assert len(repeats) > 2 and set(repeats) == {0.4, 0.9}  # repeats told the known results


def test_restore_hands_out_again_what_tune_had_not_saved_and_proposes_nothing_twice(tmp_path: Path) -> None:
    searcher = new_searcher(tmp_path, seeds="[0, 1]", heuristics="[coreset]")
    as_pickled_at_start = pickle.dumps(searcher)  # what Tune's tuner.pkl holds
    tune = TuneDriver(searcher)
    for _ in range(2):
        tune.next()  # references
    setting_1 = [tune.next(), tune.next()]
    tune.finish(setting_1[0]["trial"], 0.5)
    snapshot = tmp_path / "searcher-state.json"
    searcher.save(str(snapshot))  # Tune's experiment checkpoint
    tune.finish(setting_1[1]["trial"], 0.6)  # completes setting 1 after the snapshot
    setting_2_seed_0 = tune.next()  # handed out after the snapshot; the driver dies here
    assert setting_2_seed_0["search"]["setting"] == 2

    restored = pickle.loads(as_pickled_at_start)
    restored.restore(str(snapshot))
    again = TuneDriver(restored)
    reissued = again.next()
    assert reissued == setting_2_seed_0  # same key, same values: it reattaches to its MLflow run
    seed_1 = again.next()
    assert seed_1["trial"] == setting_2_seed_0["trial"].removesuffix("/0") + "/1"
    # setting 1 is settled from the ledger; only setting 1's seed that Tune's state holds reruns there
    assert restored.ledger.settings[0].status == "complete" and restored.ledger.settings[
        0
    ].objective == pytest.approx(0.55)
    assert again.next() is None
    for c, objective in [(reissued, 0.7), (seed_1, 0.9)]:
        again.finish(c["trial"], objective)
    rest = []
    while isinstance(config := again.next(), dict):
        rest.append(config)
        again.finish(config["trial"], 0.1)
    assert config == Searcher.FINISHED
    alphas = [r.values["alpha"] for r in restored.ledger.settings]
    assert len(alphas) == len(set(alphas)) == 3 and len(rest) == 2
    # the restored inner searcher learnt settings 1 and 2 from the ledger and the completion
    assert sorted(v for _, v, s in inner_values(restored) if s == "COMPLETE") == pytest.approx(
        [0.1, 0.55, 0.8]
    )


def test_recover_hands_out_every_trial_of_the_ledger_again(tmp_path: Path) -> None:
    searcher = new_searcher(tmp_path, seeds="[0, 1]", heuristics="[coreset]")
    tune = TuneDriver(searcher)
    handed = [tune.next()["trial"] for _ in range(4)]
    fresh = PairedSeedSearch(
        searcher.sweep, expand_trials(searcher.sweep), searcher.ledger_path, recover=True
    )
    assert [TuneDriver(fresh).next()["trial"] for _ in range(4)] == handed


def test_a_setting_without_a_finite_objective_is_told_as_failed_and_the_search_goes_on(
    tmp_path: Path,
) -> None:
    searcher = new_searcher(tmp_path, seeds="[0]", heuristics="[coreset]")
    tune = TuneDriver(searcher)
    tune.next()  # the reference
    first = tune.next()
    tune.finish(first["trial"], float("nan"))  # e.g. a metric this heuristic never logs
    assert [s for _, _, s in inner_values(searcher)] == ["FAIL"]
    assert searcher.ledger.best("digits/coreset", "max") is None
    second = tune.next()
    assert second["search"]["setting"] == 2


def test_a_trial_ended_by_a_stopped_sweep_is_owed_and_handed_out_again(tmp_path: Path) -> None:
    searcher = new_searcher(tmp_path, seeds="[0, 1]", heuristics="[coreset]")
    as_pickled_at_start = pickle.dumps(searcher)
    tune = TuneDriver(searcher)
    references = [tune.next(), tune.next()]
    tune.finish(references[0]["trial"], 0.5)
    setting = [tune.next(), tune.next()]
    tune.finish(setting[0]["trial"], 0.6)
    # Ctrl-C: Tune ends the running trials before their last round, with no early-stopping decision
    tune.finish(setting[1]["trial"], 0.2, last_round=0)
    tune.finish(references[1]["trial"], 0.1, last_round=1)
    record = searcher.ledger.settings[0]
    assert record.status == "running" and not record.accounted(setting[1]["trial"])
    assert not searcher.ledger.references[references[1]["trial"]]["done"]
    snapshot = tmp_path / "searcher-state.json"
    searcher.save(str(snapshot))
    restored = pickle.loads(as_pickled_at_start)
    restored.restore(str(snapshot))
    again = TuneDriver(restored)
    assert [again.next()["trial"], again.next()["trial"]] == [references[1]["trial"], setting[1]["trial"]]


def test_a_searcher_needs_a_search_block(tmp_path: Path) -> None:
    from helpers.paths import QUICKSTART

    from raysweep.sweep.config import load_sweep_config

    grid = load_sweep_config(QUICKSTART)
    with pytest.raises(ValueError, match="needs a sweep with a search block"):
        PairedSeedSearch(grid, expand_trials(grid), tmp_path / LEDGER)
