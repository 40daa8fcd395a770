"""How a sweep hands its trials to Tune: a grid, or a search, behind one interface.

A :class:`GridPlan` knows every trial up front and hands Tune their keys as a grid; a
:class:`SearchPlan` hands Tune the alpha-0 references, then the settings its searcher proposes
(``raysweep.shell.search``). The launcher, the tuner and the trainable ask the plan and never branch
on which one it is: a grid is the trivial search, whose proposals are its trials.

A plan travels to every trial (``tune.with_parameters``): it holds the sweep config and the trial
list, nothing that cannot be pickled.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from raysweep.heuristics import heuristic_class
from raysweep.schema import (
    PROPOSAL_CONFIG_KEY,
    SEARCH_GROUP_TAG,
    SETTING_INDEX_TAG,
    SETTING_TAG,
    TRIAL_CONFIG_KEY,
)
from raysweep.search.groups import (
    describe_search,
    planned_trial_count,
    prewarm_trials,
    proposed_trial,
    search_groups,
    searched_trials,
)
from raysweep.search.ledger import SearchLedger, ledger_path
from raysweep.search.objective import trial_objective
from raysweep.search.outcome import finite_or_none, outcome_lines, search_outcome, search_params
from raysweep.search.space import setting_label
from raysweep.storage import StoragePath
from raysweep.sweep.config import SweepConfig
from raysweep.sweep.trials import Trial

if TYPE_CHECKING:
    from raysweep.loop import RoundResult
    from raysweep.shell.sweep_record import SweepRecord
    from raysweep.shell.tracking.patience import TrackingPatience


@dataclass(frozen=True)
class TuneSetup:
    """What a plan gives ``tune.Tuner``: its param space and the plan's ``TuneConfig`` arguments."""

    param_space: dict[str, Any]
    tune_config: dict[str, Any] = field(default_factory=dict)


@dataclass
class GridPlan:
    """Every trial known up front: Tune's grid over their keys."""

    sweep: SweepConfig
    trials: list[Trial]
    """The grid's trials (a search's: its alpha-0 references)."""

    def __post_init__(self) -> None:
        self._by_key = {trial.key: trial for trial in self.trials}

    # -- the driver's side ---------------------------------------------------------------------

    def describe(self) -> list[str]:
        """Lines for ``--dry-run`` and the sweep's start, after the trial list."""
        return []

    def parent_params(self) -> dict[str, str]:
        """Params the parent run gets beside the sweep's own."""
        return {}

    def parent_tags(self) -> dict[str, str]:
        """Tags the parent run gets beside the sweep's own."""
        return {}

    def parent_texts(self) -> dict[str, str]:
        """Text artifacts of the parent run (file name -> content)."""
        return {}

    def keep(self, sweep_dir: StoragePath) -> None:
        """Save what a resume of this sweep needs beside its record (called once, when it starts)."""

    def pool_encoder_trials(self) -> list[Trial]:
        """Trials whose pool encoders the driver trains before Tune starts (one per encoder suffices)."""
        return list(self.trials)

    def prepare_tune(self) -> None:
        """Settings Tune reads when it starts, fresh or restored."""

    def tune_setup(self, sweep_dir: StoragePath, recover: bool) -> TuneSetup:
        """The Tuner's param space and config for a fresh start (``recover``: of a sweep that ran before)."""
        from ray import tune

        return TuneSetup(param_space={TRIAL_CONFIG_KEY: tune.grid_search([t.key for t in self.trials])})

    def trials_so_far(self, sweep_dir: StoragePath) -> list[Trial]:
        """Every trial handed out to Tune so far, for the summary."""
        return list(self.trials)

    def finish(
        self, sweep_dir: StoragePath, record: SweepRecord, patience: TrackingPatience, log: bool
    ) -> list[Trial]:
        """After Tune: what the plan has to say and log; every trial it handed out."""
        return self.trials_so_far(sweep_dir)

    # -- the trial's side ----------------------------------------------------------------------

    def resolve(self, tune_config: dict[str, Any]) -> Trial:
        """The trial a Tune config names."""
        return self._by_key[tune_config[TRIAL_CONFIG_KEY]]

    def tags(self, trial: Trial, tune_config: dict[str, Any]) -> dict[str, str]:
        """Extra tags of the trial's run."""
        return {}

    def objective(self, curve: list[RoundResult]) -> float | None:
        """What the trial reports for the plan to choose by (None: nothing)."""
        return None


@dataclass
class SearchPlan(GridPlan):
    """The alpha-0 references first, then each group's proposals, every one on every seed."""

    def __post_init__(self) -> None:
        super().__post_init__()
        assert self.sweep.sweep.search is not None
        self.search = self.sweep.sweep.search

    def describe(self) -> list[str]:
        return describe_search(self.sweep)

    def parent_params(self) -> dict[str, str]:
        return search_params(self.search)

    def pool_encoder_trials(self) -> list[Trial]:
        # A search's settings share the VAE of its prewarm trial, trained before any is proposed.
        return [*self.trials, *prewarm_trials(self.sweep)]

    def tune_setup(self, sweep_dir: StoragePath, recover: bool) -> TuneSetup:
        from raysweep.shell.search.searcher import PairedSeedSearch
        from raysweep.shell.search.stopping import SettingMedianStopping

        searcher = PairedSeedSearch(self.sweep, self.trials, ledger_path(sweep_dir), recover=recover)
        scheduler = SettingMedianStopping(searcher) if self.search.early_stopping else None
        return TuneSetup(
            param_space={},
            tune_config={
                "search_alg": searcher,
                "scheduler": scheduler,
                "num_samples": planned_trial_count(self.sweep),
            },
        )

    def prepare_tune(self) -> None:
        """Let Tune start as many of the searcher's trials at once as it may have in flight.

        For a custom searcher Tune keeps one trial pending at a time (TUNE_MAX_PENDING_TRIALS_PG
        "auto" is 1 without a ConcurrencyLimiter), and a trial that waits for an actor counts as
        pending: the trials would run one after another whatever the cluster's size. A set value is kept.
        """
        settings_in_flight = len(search_groups(self.sweep)) * self.search.concurrent_settings
        in_flight = len(self.trials) + settings_in_flight * len(self.sweep.sweep.seeds)
        os.environ.setdefault("TUNE_MAX_PENDING_TRIALS_PG", str(in_flight))

    def trials_so_far(self, sweep_dir: StoragePath) -> list[Trial]:
        return searched_trials(self.sweep, self.trials, sweep_dir)

    def finish(
        self, sweep_dir: StoragePath, record: SweepRecord, patience: TrackingPatience, log: bool
    ) -> list[Trial]:
        """Print the search's outcome; log it to the parent run and tag the trials stopped early,
        once, when the search has ended (``log`` False for a stopped sweep: its resume logs it)."""
        from raysweep.shell.tracking.sweep_run import log_search_outcome

        path = ledger_path(sweep_dir)
        if not path.is_file():
            return list(self.trials)  # stopped before the searcher handed out anything
        ledger = SearchLedger.read(path)
        outcome = finite_or_none(search_outcome(self.sweep, ledger))
        for line in outcome_lines(outcome):
            print(line)
        if log:
            log_search_outcome(record, outcome, ledger, patience)
        return self.trials_so_far(sweep_dir)

    def resolve(self, tune_config: dict[str, Any]) -> Trial:
        key = tune_config[TRIAL_CONFIG_KEY]
        if key in self._by_key:
            return self._by_key[key]
        return proposed_trial(self.sweep, tune_config[PROPOSAL_CONFIG_KEY])

    def tags(self, trial: Trial, tune_config: dict[str, Any]) -> dict[str, str]:
        """Where the trial stands in the search: its group, its setting, the searcher's order (0: the
        alpha-0 reference)."""
        proposal = tune_config.get(PROPOSAL_CONFIG_KEY)
        if proposal is not None:
            return {
                SEARCH_GROUP_TAG: proposal["group"],
                SETTING_TAG: setting_label(proposal["values"]),
                SETTING_INDEX_TAG: str(proposal["setting"]),
            }
        if heuristic_class(trial.heuristic).supports_vae:
            return {
                SEARCH_GROUP_TAG: f"{trial.dataset}/{trial.heuristic}",
                SETTING_TAG: "alpha=0",
                SETTING_INDEX_TAG: "0",
            }
        return {}

    def objective(self, curve: list[RoundResult]) -> float | None:
        return trial_objective(curve, self.search.objective)


def plan_for(sweep: SweepConfig, trials: list[Trial]) -> GridPlan:
    """The sweep's plan: a search where the sweep has a search block, else a grid."""
    return SearchPlan(sweep, trials) if sweep.sweep.search is not None else GridPlan(sweep, trials)
