"""Early stopping per setting: the median stopping rule, decided over all seeds of a setting at once.

Tune's docs advise against a scheduler beside a ``Repeater``: a per-trial scheduler stops single
seeds (the paired design loses them) and the Repeater then averages a stopped seed's partial
objective with finished ones. Here the whole setting stops when its mean over seeds at round r is
behind the median of its group's settings at round r; its trials are tagged
``raysweep.stopped_early`` in MLflow and the searcher records it as pruned.
"""

from __future__ import annotations

import math
from typing import Any

from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from raysweep.schema import (
    PROPOSAL_CONFIG_KEY,
    RESULT_OBJECTIVE,
    RESULT_ROUND,
    RESULT_ROUNDS,
    TRIAL_CONFIG_KEY,
)
from raysweep.search.objective import behind_median
from raysweep.shell.search.searcher import PairedSeedSearch


class SettingMedianStopping(FIFOScheduler):
    """The median stopping rule, decided per setting over all its seeds (see the module docstring).

    Shares the searcher's ledger (both are pickled together in Tune's tuner state, so they still
    share it after ``Tuner.restore``), which holds every trial's objective per round.
    """

    def __init__(self, searcher: PairedSeedSearch) -> None:
        super().__init__()
        self.searcher = searcher

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        payload = trial.config.get(PROPOSAL_CONFIG_KEY)
        stopping = self.searcher.search.early_stopping
        if payload is None or stopping is None or RESULT_OBJECTIVE not in result:
            return TrialScheduler.CONTINUE  # reference arms always run to the end
        ledger = self.searcher.ledger
        record = ledger.setting(payload["group"], payload["setting"])
        if record is None:
            return TrialScheduler.CONTINUE
        round_index = int(result[RESULT_ROUND])
        ledger.record_round(trial.config[TRIAL_CONFIG_KEY], round_index, result[RESULT_OBJECTIVE])
        if round_index + 1 >= result.get(RESULT_ROUNDS, math.inf):
            return TrialScheduler.CONTINUE  # its last round is in: let it finish its run and artifacts
        if record.stop_round is not None:
            return TrialScheduler.STOP  # another seed of the setting already decided it
        if round_index < stopping.grace_rounds:
            return TrialScheduler.CONTINUE
        mean_here = ledger.round_mean(record, round_index)
        if mean_here is None:
            return TrialScheduler.CONTINUE  # not every seed has reached this round yet
        others = ledger.settings_behind_at(record, round_index)
        if len(others) < stopping.min_settings or not behind_median(
            mean_here, others, self.searcher.search.objective.mode
        ):
            return TrialScheduler.CONTINUE
        record.stop_round = round_index
        ledger.save()
        print(
            f"search {record.group}: stopping setting {record.index} ({record.label}) after round {round_index}: "
            f"mean objective {mean_here:.4f} behind the median of {len(others)} settings",
            flush=True,
        )
        return TrialScheduler.STOP
