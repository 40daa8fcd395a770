"""Early stopping per setting: the median rule decided over all seeds of a setting at once, sharing the
searcher's ledger (also after both are unpickled from Tune's state)."""

from __future__ import annotations

import pickle
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers.search import LOG_ALPHA, TuneDriver, inner_values, new_searcher
from ray.tune.schedulers import TrialScheduler

from raysweep.shell.search.stopping import SettingMedianStopping


def test_median_stopping_stops_a_setting_behind_the_median_with_all_its_seeds(tmp_path: Path) -> None:
    block = LOG_ALPHA.replace("settings: 3", "settings: 6").replace(
        "max_concurrent_settings: 1",
        "max_concurrent_settings: 6, early_stopping: {grace_rounds: 1, min_settings: 2}",
    )
    searcher = new_searcher(tmp_path, block, seeds="[0, 1]", heuristics="[coreset]")
    scheduler = SettingMedianStopping(searcher)
    tune = TuneDriver(searcher)
    configs = {}
    while isinstance(config := tune.next(), dict):
        configs[config["trial"]] = config
    trials = {key: SimpleNamespace(config=config) for key, config in configs.items()}
    by_setting = {}
    for key, config in configs.items():
        if "search" in config:
            by_setting.setdefault(config["search"]["setting"], []).append(key)

    def report(key: str, round_index: int, objective: float) -> str:
        result = {"objective": objective, "round": round_index, "rounds": 5}
        decision = scheduler.on_trial_result(None, trials[key], result)
        if decision != TrialScheduler.STOP:
            searcher.on_trial_result(tune.ids[key], result)
        return decision

    assert report("digits/coreset/0/0", 1, 0.0) == TrialScheduler.CONTINUE  # references always run
    for setting, level in [(1, 0.6), (2, 0.7), (3, 0.8)]:
        for key in by_setting[setting]:
            assert report(key, 0, level) == TrialScheduler.CONTINUE  # grace round
            assert (
                report(key, 1, level) == TrialScheduler.CONTINUE
            )  # fewer than min_settings others, or ahead
    slow_seed, fast_seed = by_setting[4]
    assert report(fast_seed, 1, 0.5) == TrialScheduler.CONTINUE  # the setting's other seed is not there yet
    assert report(fast_seed, 2, 0.5) == TrialScheduler.CONTINUE
    # both seeds at round 1: mean 0.55 is behind the median (0.7) of settings 1-3 at round 1
    assert report(slow_seed, 1, 0.6) == TrialScheduler.STOP
    assert report(fast_seed, 3, 0.5) == TrialScheduler.STOP  # the seed ahead stops at its next report
    assert report(by_setting[4][1], 4, 0.5) == TrialScheduler.CONTINUE  # a last round finishes its run
    searcher.on_trial_complete(tune.ids[slow_seed], {"objective": 0.6, "round": 1, "rounds": 5})
    searcher.on_trial_complete(tune.ids[fast_seed], {"objective": 0.5, "round": 2, "rounds": 5})
    record = searcher.ledger.setting("digits/coreset", 4)
    assert record.status == "stopped" and record.stop_round == 1 and record.objective == pytest.approx(0.55)
    assert record.stopped == {slow_seed: 1, fast_seed: 2}
    assert [s for _, _, s in inner_values(searcher)].count("PRUNED") == 1
    # ahead of the median: runs on
    for key in by_setting[5]:
        report(key, 0, 0.9)
    assert [report(key, 1, 0.9) for key in by_setting[5]] == [TrialScheduler.CONTINUE] * 2


def test_searcher_and_scheduler_share_the_ledger_after_unpickling(tmp_path: Path) -> None:
    block = LOG_ALPHA.replace("max_concurrent_settings: 1", "max_concurrent_settings: 1, early_stopping: {}")
    searcher = new_searcher(tmp_path, block)
    scheduler = SettingMedianStopping(searcher)
    searcher_again, scheduler_again = pickle.loads(
        pickle.dumps((searcher, scheduler))
    )  # as tuner.pkl holds both
    assert scheduler_again.searcher is searcher_again
