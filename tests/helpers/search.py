"""Searches for the tests: a search sweep file, and Tune's side of a searcher played by hand.

:class:`TuneDriver` calls a :class:`~raysweep.shell.search.searcher.PairedSeedSearch` the way Tune's
SearchGenerator does (fresh trial ids, configs handed out in order, completions reported), so the
searcher and the early stopping can be tested without Ray running.
"""

from __future__ import annotations

from pathlib import Path

LOG_ALPHA = "{settings: 3, max_concurrent_settings: 1, space: {alpha: {low: 0.05, high: 5, scale: log}}}"
"""A search block: three settings of a log-scaled alpha, one at a time."""


def write_search_sweep(
    folder: Path, search: str, heuristics: str = "[random, coreset]", seeds: str = "[0, 1, 2]"
) -> Path:
    """``folder/search.yaml``: a digits sweep with the ``search`` block given."""
    path = folder / "search.yaml"
    path.write_text(
        "experiment: search-test\n"
        f"sweep:\n  datasets: [digits]\n  heuristics: {heuristics}\n  seeds: {seeds}\n"
        f"  search: {search}\n"
        "model: {pretrained: false}\n"
    )
    return path


def new_searcher(folder: Path, block: str = LOG_ALPHA, **kwargs):
    """A PairedSeedSearch over :func:`write_search_sweep`'s sweep, its ledger under ``folder/sweep``."""
    from raysweep.search.ledger import LEDGER
    from raysweep.shell.search.searcher import PairedSeedSearch
    from raysweep.sweep.config import load_sweep_config
    from raysweep.sweep.trials import expand_trials

    sweep = load_sweep_config(write_search_sweep(folder, block, **kwargs))
    return PairedSeedSearch(sweep, expand_trials(sweep), folder / "sweep" / LEDGER)


class TuneDriver:
    """Calls a searcher the way Tune's SearchGenerator does: fresh trial ids, configs handed out in order."""

    def __init__(self, searcher) -> None:
        self.searcher = searcher
        self.count = 0
        self.ids: dict[str, str] = {}  # key -> latest trial id

    def next(self) -> dict | str | None:
        trial_id = f"trial{self.count:04d}"
        self.count += 1
        config = self.searcher.suggest(trial_id)
        if isinstance(config, dict):
            self.ids[config["trial"]] = trial_id
        return config

    def finish(self, key: str, objective: float, rounds: int = 3, last_round: int | None = None) -> None:
        last = rounds - 1 if last_round is None else last_round
        self.searcher.on_trial_complete(
            self.ids[key], {"objective": objective, "round": last, "rounds": rounds}
        )


def inner_values(searcher, group: str = "digits/coreset") -> list[tuple[dict, float | None, str]]:
    """(params, value, state) of every trial the group's inner Optuna study holds."""
    study = searcher._inner[group]._ot_study
    return [(t.params, t.value, t.state.name) for t in study.trials]
