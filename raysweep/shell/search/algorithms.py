"""The inner searchers: the search algorithm of ``sweep.search.algorithm`` as a Tune searcher.

Each name of :data:`raysweep.search.config.SEARCH_ALGORITHMS` is an Optuna sampler behind Tune's
``OptunaSearch``; one is built per (dataset, heuristic) group.
"""

from __future__ import annotations

from typing import Any

from raysweep.schema import RESULT_OBJECTIVE
from raysweep.search.config import SEARCH_ALGORITHMS, SearchConfig


def optuna_space(search: SearchConfig, kinds: dict[str, type]) -> dict[str, Any]:
    """The search space as Optuna distributions (integer ranges for int fields)."""
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # a study per group: no line per study

    space = {}
    for path, dimension in search.space.items():
        if dimension.choices is not None:
            space[path] = CategoricalDistribution([kinds[path](c) for c in dimension.choices])
        elif kinds[path] is int:
            space[path] = IntDistribution(int(dimension.low), int(dimension.high), log=dimension.is_log)
        else:
            space[path] = FloatDistribution(float(dimension.low), float(dimension.high), log=dimension.is_log)
    return space


def inner_searcher(search: SearchConfig, kinds: dict[str, type], seed: int) -> Any:
    """A fresh Tune searcher for one group, proposing from the space with the algorithm's sampler."""
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    sampler_kind = SEARCH_ALGORITHMS[search.algorithm].sampler
    if sampler_kind == "tpe":
        sampler = optuna.samplers.TPESampler(
            seed=seed,
            n_startup_trials=search.random_startup_settings,
            # Settings still running count as bad ones while TPE proposes the next: concurrent settings
            # spread out instead of piling onto the current best guess.
            constant_liar=True,
        )
    else:
        sampler = optuna.samplers.RandomSampler(seed=seed)
    return OptunaSearch(
        space=optuna_space(search, kinds),
        metric=RESULT_OBJECTIVE,
        mode=search.objective.mode,
        sampler=sampler,
    )
