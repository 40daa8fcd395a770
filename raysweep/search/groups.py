"""The settings of one (dataset, heuristic) are searched together: the groups of a sweep, the trial
of each seed of a proposed setting, and every trial a search has handed out so far.

Pure (no Ray, no MLflow).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raysweep.config import EncoderConfig
from raysweep.heuristics import HeuristicConfig
from raysweep.search.ledger import SearchLedger, ledger_path
from raysweep.search.space import apply_setting, key_suffix, searched_heuristics
from raysweep.storage import StoragePath
from raysweep.sweep.config import SweepConfig
from raysweep.sweep.trials import Trial, expand_trials, trial_config, trial_key


@dataclass(frozen=True)
class SearchGroup:
    """The settings of one (dataset, heuristic) are searched together, against its alpha-0 arm."""

    dataset: str
    heuristic: HeuristicConfig

    @property
    def name(self) -> str:
        return f"{self.dataset}/{self.heuristic.name}"


def search_groups(sweep: SweepConfig) -> list[SearchGroup]:
    return [
        SearchGroup(dataset, heuristic)
        for dataset in sweep.sweep.datasets
        for heuristic in searched_heuristics(sweep.sweep.heuristics)
    ]


def setting_trial(sweep: SweepConfig, group: SearchGroup, values: dict[str, Any], seed: int) -> Trial:
    """One seed of a proposed setting: key ``dataset/heuristic/alpha/seed`` plus ``/field=value`` for
    every other searched field."""
    encoder = search_encoder(sweep)
    config = apply_setting(trial_config(sweep, group.dataset, group.heuristic, 0.0, seed, encoder), values)
    key = trial_key(group.dataset, group.heuristic.name, config.alpha, seed, encoder.name) + key_suffix(
        values
    )
    return Trial(key, config)


def search_encoder(sweep: SweepConfig) -> EncoderConfig:
    """The one encoder a search's settings use (``load_sweep_config`` refuses a search over several)."""
    return sweep.sweep.encoders[0]


def proposed_trial(sweep: SweepConfig, proposal: dict[str, Any]) -> Trial:
    """The trial of one seed of a searcher's proposal (``{group, setting, seed, values}``)."""
    group = next(g for g in search_groups(sweep) if g.name == proposal["group"])
    return setting_trial(sweep, group, proposal["values"], proposal["seed"])


def prewarm_trials(sweep: SweepConfig) -> list[Trial]:
    """For a search that leaves the VAE's fields alone: one trial per (dataset, seed) with the VAE every
    setting of that seed shares, so the launcher trains them before the trials start (as it does for a
    grid). One seed is enough when every seed shares one VAE (an integer ``vae.seed``)."""
    search = sweep.sweep.search
    if search is None or any(path.startswith("vae.") for path in search.space):
        return []
    groups = {group.dataset: group for group in search_groups(sweep)}
    seeds = sweep.sweep.seeds if sweep.vae.seed == "trial" else sweep.sweep.seeds[:1]
    return [
        Trial(
            "prewarm", trial_config(sweep, group.dataset, group.heuristic, 1.0, seed, search_encoder(sweep))
        )
        for group in groups.values()
        for seed in seeds
    ]


def describe_search(sweep: SweepConfig) -> list[str]:
    """The search plan in a few lines (``--dry-run`` and the start of a sweep)."""
    search = sweep.sweep.search
    if search is None:
        return []
    space = ", ".join(
        f"{path} in {d.choices}"
        if d.choices is not None
        else f"{path} in [{d.low:g}, {d.high:g}] {d.scale or 'linear'}"
        for path, d in search.space.items()
    )
    groups = search_groups(sweep)
    return [
        f"search ({search.algorithm}, seed {search.seed}): {search.settings} settings per group x "
        f"{len(sweep.sweep.seeds)} seeds, at most {search.concurrent_settings} in flight per group, "
        f"objective: {search.objective.label()} (mean over seeds)",
        f"  space: {space}",
        f"  groups: {', '.join(g.name for g in groups)} (each against its alpha-0 arm above)",
        f"  early stopping: {'none' if search.early_stopping is None else search.early_stopping.rule}",
        f"  at most {planned_trial_count(sweep)} trials in all",
    ]


def planned_trial_count(sweep: SweepConfig) -> int:
    """Trials of the sweep: the grid's, or a search's reference arms plus every setting on every seed."""
    trials = len(expand_trials(sweep))
    if sweep.sweep.search is not None:
        trials += len(search_groups(sweep)) * sweep.sweep.search.settings * len(sweep.sweep.seeds)
    return trials


def ledger_trials(sweep: SweepConfig, references: list[Trial], ledger: SearchLedger) -> list[Trial]:
    """Every trial the search handed out: the reference arms and each setting's seeds."""
    groups = {group.name: group for group in search_groups(sweep)}
    trials = list(references)
    for record in ledger.settings:
        trials.extend(
            setting_trial(sweep, groups[record.group], record.values, seed) for seed in sweep.sweep.seeds
        )
    return trials


def searched_trials(
    sweep: SweepConfig, references: list[Trial], sweep_dir: StoragePath | Path
) -> list[Trial]:
    """Every trial the search has handed out so far (the reference arms alone before its ledger exists)."""
    path = ledger_path(sweep_dir)
    if not path.is_file():
        return list(references)
    return ledger_trials(sweep, references, SearchLedger.read(path))
