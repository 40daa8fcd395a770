"""The ``sweep.search`` block: which search algorithm proposes settings, over which space, judged by
which objective, with which early stopping.

Pure (no Ray, no MLflow). A search replaces the grid's fixed alphas with settings that a search
algorithm proposes from the results so far. Its design keeps what makes the grid's results
trustworthy:

- every proposed setting runs on every seed of the sweep, and the algorithm sees the mean of the
  objective over those seeds (one number per setting, as Tune's ``Repeater`` would hand it);
- the alpha-0 arm of each heuristic runs once per seed, always, from the same initial labels as its
  partners, so each setting can be tested against it seed by seed;
- settings are searched per (dataset, heuristic): the best alpha of core-set need not be loss
  prediction's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator, model_validator

from raysweep.schema import ROUND_METRICS, VALIDATION_METRIC
from raysweep.typed_config import Frozen


@dataclass(frozen=True)
class SearchAlgorithm:
    """A search algorithm by name: what it is, and the Optuna sampler the shell builds for it."""

    description: str
    sampler: Literal["tpe", "random"]


SEARCH_ALGORITHMS = {
    "optuna": SearchAlgorithm(
        "Optuna's TPE sampler (tree-structured Parzen estimator) through Tune's OptunaSearch", "tpe"
    ),
    "random": SearchAlgorithm(
        "Optuna's random sampler through Tune's OptunaSearch: the baseline a model-based search must beat",
        "random",
    ),
}
"""Search algorithms by name, the one list of them; ``raysweep.shell.search.algorithms`` builds each."""


class SearchDimension(Frozen):
    """One searched trial field: a range (``low``, ``high``, ``scale``) or a list of ``choices``.

    Integer fields (``vae.latent_dim``, ``vae.epochs``) get integer ranges; ``scale: log`` samples
    uniformly in the logarithm (the natural scale for alpha and learning rates).
    """

    low: int | float | None = None
    high: int | float | None = None
    scale: Literal["linear", "log"] | None = None
    """Default linear."""
    choices: list[int | float] | None = None

    @model_validator(mode="after")
    def _range_or_choices(self) -> SearchDimension:
        if self.choices is not None:
            if self.low is not None or self.high is not None or self.scale is not None:
                raise ValueError("give either choices or a range (low, high, scale), not both")
            if not self.choices:
                raise ValueError("empty choices: list at least one value")
            if len(set(self.choices)) != len(self.choices):
                raise ValueError(f"choices has duplicate entries: {self.choices}")
            if not all(math.isfinite(c) for c in self.choices):
                raise ValueError(f"choices must be finite numbers, not {self.choices}")
            return self
        if self.low is None or self.high is None:
            raise ValueError("a range needs both low and high (or give choices: [...])")
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError(f"a range must have finite ends, not [{self.low}, {self.high}]")
        if self.low > self.high:
            raise ValueError(f"low ({self.low:g}) > high ({self.high:g})")
        if self.low == self.high:
            raise ValueError(
                f"empty range: low == high == {self.low:g}; to fix the value use choices: [{self.low:g}]"
            )
        if self.scale == "log" and self.low <= 0:
            raise ValueError(f"a log range must stay above 0, but low is {self.low:g}")
        return self

    @property
    def is_log(self) -> bool:
        return self.scale == "log"


class Objective(Frozen):
    """What a setting is judged by: each trial's curve of ``metric`` summarised, then the mean over seeds."""

    metric: str = VALIDATION_METRIC
    """A per-round metric trials log (``raysweep.schema.ROUND_METRICS``). ``val_accuracy`` (default):
    a search chooses on the validation split, so the chosen setting's test results are not the ones it
    was chosen by; choosing on ``accuracy`` (test) biases the reported gain upward."""
    summary: Literal["area", "final"] = "area"
    """``area``: normalised area under the curve (trapezoid over labels / label range, in the
    metric's units); ``final``: the value at the last label count."""
    mode: Literal["max", "min"] = "max"

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in ROUND_METRICS:
            raise ValueError(f"unknown metric {value!r}; per-round metrics: {', '.join(ROUND_METRICS)}")
        return value

    def label(self) -> str:
        return f"{self.mode} {self.summary} of {self.metric}"


class EarlyStopping(Frozen):
    """Stop a setting, all its seeds together, once it is clearly behind the others.

    The median stopping rule applied per setting: after round r (r >= ``grace_rounds``), a setting
    whose mean objective over its seeds so far (the area under the curve up to round r, or the value
    at round r) is worse than the median of the same number for the settings of its group that
    reached round r is stopped, once at least ``min_settings`` such settings exist.
    """

    rule: Literal["median"] = "median"
    grace_rounds: int = Field(default=1, ge=1)
    """Rounds every setting runs before it can be stopped (round 0 has made no selection yet)."""
    min_settings: int = Field(default=3, ge=1)
    """Settings that must have reached a round before the median there is trusted."""


class SearchConfig(Frozen):
    """``sweep.search``: propose settings from the results so far instead of running a fixed grid."""

    algorithm: str = "optuna"
    """A name from :data:`SEARCH_ALGORITHMS`."""
    seed: int = 0
    """The search algorithm's own seed (the trials' seeds are the sweep's)."""
    settings: int = Field(gt=0)
    """Settings tried per (dataset, VAE-capable heuristic); each runs on every seed."""
    max_concurrent_settings: int | None = Field(default=None, gt=0)
    """Settings of one (dataset, heuristic) in flight at once. None: ``max(1, settings // 4)``.
    A proposal made while c settings are unfinished cannot learn from them: the first c proposals
    are blind, and on a large cluster an uncapped search is a random search. Choose it so that
    (settings in flight) x (seeds) x (searched heuristics) fills the cluster's trial slots, and
    keep it at most a quarter of ``settings``; a larger cluster is better spent on more seeds."""
    startup_settings: int | None = Field(default=None, gt=0)
    """Random settings before TPE models the results. None: ``min(10, max(2, settings // 3))``
    (Optuna's default of 10 would make a 10-setting search a random one)."""
    space: dict[str, SearchDimension] = Field(min_length=1)
    """Trial field (dotted path, as in a trial config: ``alpha``, ``vae.latent_dim``, ``vae.epochs``,
    ``training.lr``, ``heuristic.margin``, ...) -> range or choices. Must include ``alpha``."""
    objective: Objective = Objective()
    early_stopping: EarlyStopping | None = None
    """None: every setting runs to the end."""

    @field_validator("algorithm")
    @classmethod
    def _known_algorithm(cls, value: str) -> str:
        if value not in SEARCH_ALGORITHMS:
            raise ValueError(f"unknown algorithm {value!r}; known: {', '.join(sorted(SEARCH_ALGORITHMS))}")
        return value

    @property
    def concurrent_settings(self) -> int:
        return self.max_concurrent_settings or max(1, self.settings // 4)

    @property
    def random_startup_settings(self) -> int:
        return self.startup_settings or min(10, max(2, self.settings // 3))
