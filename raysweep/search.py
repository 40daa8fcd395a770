"""A search instead of a grid: the ``sweep.search`` block, its checks, and what a proposal becomes.

Pure (no Ray, no MLflow). A search replaces the grid's fixed alphas with settings that a search
algorithm proposes from the results so far. Its design keeps what makes the grid's results
trustworthy:

- every proposed setting runs on every seed of the sweep, and the algorithm sees the mean of the
  objective over those seeds (one number per setting, as Tune's ``Repeater`` would hand it);
- the alpha-0 arm of each heuristic runs once per seed, always, from the same initial labels as its
  partners, so each setting can be tested against it seed by seed;
- settings are searched per (dataset, heuristic): the best alpha of core-set need not be loss
  prediction's.

A proposed value is rounded to :data:`SIGNIFICANT_DIGITS` significant digits before it is used, so
the value a trial runs with is exactly the one its key prints (``f"{value:g}"``) and the key is
stable across processes; two proposals that round to one value are one setting.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, get_args, get_origin

import numpy as np
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from raysweep.config import VAE_HEURISTICS, ConfigError, Frozen, HeuristicConfig, TrialConfig

if TYPE_CHECKING:
    from raysweep.loop import RoundResult

SEARCH_ALGORITHMS = {
    "optuna": "Optuna's TPE sampler (tree-structured Parzen estimator) through Tune's OptunaSearch",
    "random": "Optuna's random sampler through Tune's OptunaSearch: the baseline a model-based search must beat",
}
"""Search algorithms by name; the shell (``raysweep.shell.search``) builds each one."""

OBJECTIVE_METRICS = (
    "accuracy",
    "auc",
    "train_seconds",
    "selection_seconds",
    "vae_share",
    "plain_overlap",
    "task_feature_spread",
    "vae_feature_spread",
)
"""Per-round metrics a trial logs (a subset of the MLflow schema's) that an objective may summarise."""

SIGNIFICANT_DIGITS = 6
"""Searched floats are rounded to this many significant digits: ``f"{value:g}"`` prints them exactly."""

UNSEARCHABLE_PREFIXES = {
    "seed": "the sweep's seeds pair every setting with its alpha-0 partner",
    "dataset": "every setting of a dataset must see the same pool and eval split",
    "schedule": "every setting must follow its alpha-0 partner's label schedule",
    "device": "not a number",
}
"""Trial fields a search may not vary, and why: they would break the pairing with the alpha-0 arm."""

MAX_DUPLICATE_PROPOSALS = 50
"""Proposals in a row that repeat a setting already tried before a group counts its space as used up."""


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

    metric: str = "accuracy"
    """A per-round metric every trial logs (see :data:`OBJECTIVE_METRICS`)."""
    summary: Literal["area", "final"] = "area"
    """``area``: normalised area under the curve (trapezoid over labels / label range, in the
    metric's units); ``final``: the value at the last label count."""
    mode: Literal["max", "min"] = "max"

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in OBJECTIVE_METRICS:
            raise ValueError(f"unknown metric {value!r}; per-round metrics: {', '.join(OBJECTIVE_METRICS)}")
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


# ---------------------------------------------------------------------------------------------
# The space against the trial config
# ---------------------------------------------------------------------------------------------


def _numeric_type(annotation: Any) -> type | None:
    """int or float for a numeric field annotation (``int``, ``float | None``), else None."""
    if annotation in (int, float):
        return annotation
    if get_origin(annotation) is not None:
        kinds = {_numeric_type(a) for a in get_args(annotation) if a is not type(None)} - {None}
        return kinds.pop() if len(kinds) == 1 else None
    return None


def field_type(path: str, heuristic_models: Sequence[type[BaseModel]]) -> type:
    """The numeric type (int or float) of a dotted trial-config field; ValueError says what is wrong.

    ``heuristic.<field>`` is looked up in every heuristic the search covers: each must have it.
    """
    parts = path.split(".")
    if parts[0] in UNSEARCHABLE_PREFIXES:
        raise ValueError(f"cannot be searched: {UNSEARCHABLE_PREFIXES[parts[0]]}")
    if parts[0] == "heuristic":
        if len(parts) != 2:
            raise ValueError("unknown trial field: heuristic fields are one level deep (heuristic.<field>)")
        kinds = set()
        for model in heuristic_models:
            info = model.model_fields.get(parts[1])
            if info is None:
                name = model.model_fields["name"].default
                known = ", ".join(sorted(set(model.model_fields) - {"name"})) or "none"
                raise ValueError(
                    f"unknown trial field: heuristic {name} has no field {parts[1]!r} (fields: {known})"
                )
            kinds.add(_numeric_type(info.annotation))
        if len(kinds) != 1 or None in kinds:
            raise ValueError("not a numeric field (only int and float fields can be searched)")
        return kinds.pop()
    model: type[BaseModel] = TrialConfig
    for depth, part in enumerate(parts):
        info = model.model_fields.get(part)
        if info is None:
            where = "a trial config" if depth == 0 else ".".join(parts[:depth])
            raise ValueError(
                f"unknown trial field: {where} has no field {part!r} (fields: {', '.join(sorted(model.model_fields))})"
            )
        if depth < len(parts) - 1:
            section = info.annotation
            if not (isinstance(section, type) and issubclass(section, BaseModel)):
                raise ValueError(
                    f"unknown trial field: {'.'.join(parts[: depth + 1])} is a value, not a section"
                )
            model = section
            continue
        kind = _numeric_type(info.annotation)
        if kind is None:
            raise ValueError("not a numeric field (only int and float fields can be searched)")
        return kind
    raise AssertionError("unreachable")


def check_search(
    search: SearchConfig, heuristics: Sequence[HeuristicConfig], alphas: Sequence[float]
) -> None:
    """Check a search block against the trial config and the sweep's axes; ConfigError names the field."""
    prefix = "sweep.search.space"
    if "alpha" not in search.space:
        raise ConfigError(
            f"{prefix}: must include alpha (a range such as {{low: 0.02, high: 20, scale: log}}, or "
            "choices: [1] to search the other fields at one alpha)"
        )
    if list(alphas) != [0.0]:
        raise ConfigError(
            "sweep.alphas: a search takes its alphas from sweep.search.space.alpha, and the alpha-0 arm "
            f"of each heuristic runs always; remove sweep.alphas (it is {[float(a) for a in alphas]})"
        )
    searched = [h for h in heuristics if h.name in VAE_HEURISTICS]
    if not searched:
        raise ConfigError(
            f"sweep.search: none of the sweep's heuristics ({', '.join(h.name for h in heuristics)}) takes "
            f"VAE features; a search needs one of {', '.join(sorted(VAE_HEURISTICS))}"
        )
    models = [type(h) for h in searched]
    for path, dimension in search.space.items():
        try:
            kind = field_type(path, models)
        except ValueError as exc:
            raise ConfigError(f"{prefix}.{path}: {exc}") from None
        values = dimension.choices if dimension.choices is not None else [dimension.low, dimension.high]
        if kind is int and not all(float(v).is_integer() for v in values):
            raise ConfigError(f"{prefix}.{path}: an integer field needs whole numbers, not {values}")
        if path == "alpha" and min(values) <= 0:
            raise ConfigError(
                f"{prefix}.alpha: searched alphas must be > 0 (alpha 0, the plain heuristic, runs always as "
                f"the reference), not {min(values):g}"
            )
        for heuristic in searched:
            for value in values:
                try:
                    apply_setting(_base_config(heuristic), {path: kind(value)})
                except ValidationError as exc:
                    problem = exc.errors()[0]["msg"]
                    raise ConfigError(
                        f"{prefix}.{path}: {kind(value):g} is not a valid value ({problem})"
                    ) from None


def _base_config(heuristic: HeuristicConfig) -> TrialConfig:
    return TrialConfig(heuristic=heuristic, alpha=1.0)


# ---------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------


def round_significant(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    return float(f"{value:.{digits}g}")


def normalise_setting(search: SearchConfig, proposal: Mapping[str, Any], kinds: Mapping[str, type]) -> dict:
    """A proposal as the values trials run with, in the space's order: integers for int fields, floats
    kept inside their range and rounded to :data:`SIGNIFICANT_DIGITS` significant digits."""
    values = {}
    for path, dimension in search.space.items():
        raw = float(proposal[path])
        if dimension.choices is None:
            raw = min(max(raw, float(dimension.low)), float(dimension.high))
        values[path] = round(raw) if kinds[path] is int else round_significant(raw)
    return values


def space_kinds(search: SearchConfig, heuristics: Sequence[HeuristicConfig]) -> dict[str, type]:
    """Field path -> int or float, for a space :func:`check_search` accepted."""
    models = [type(h) for h in heuristics if h.name in VAE_HEURISTICS]
    return {path: field_type(path, models) for path in search.space}


def format_value(value: float | int) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def setting_label(values: Mapping[str, float | int]) -> str:
    """``alpha=0.371326,vae.latent_dim=16``: a setting in one line (MLflow tag, tables)."""
    return ",".join(f"{path}={format_value(value)}" for path, value in values.items())


def key_suffix(values: Mapping[str, float | int]) -> str:
    """The searched fields other than alpha as extra key segments: ``/vae.latent_dim=16``."""
    return "".join(f"/{path}={format_value(value)}" for path, value in values.items() if path != "alpha")


def apply_setting(config: TrialConfig, values: Mapping[str, float | int]) -> TrialConfig:
    """``config`` with each dotted field set to its value, validated again as a whole."""
    data = config.model_dump()
    for path, value in values.items():
        node = data
        *parents, leaf = path.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
    return TrialConfig.model_validate(data)


# ---------------------------------------------------------------------------------------------
# Objectives
# ---------------------------------------------------------------------------------------------


def trial_objective(curve: Sequence[RoundResult], objective: Objective) -> float:
    """One trial's objective from its curve so far (NaN when the metric was never finite)."""
    points = [
        (point.n_labels, point.metrics[objective.metric])
        for point in curve
        if objective.metric in point.metrics and math.isfinite(point.metrics[objective.metric])
    ]
    if not points:
        return math.nan
    if objective.summary == "final" or len(points) == 1:
        return float(points[-1][1])
    n_labels, values = zip(*points, strict=True)
    return float(np.trapezoid(values, n_labels) / (n_labels[-1] - n_labels[0]))


def mean_objective(values: Sequence[float]) -> float:
    """The setting's objective: the mean over its seeds' finite values (NaN if none)."""
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def is_better(a: float, b: float, mode: str) -> bool:
    return a > b if mode == "max" else a < b


def behind_median(value: float, others: Sequence[float], mode: str) -> bool:
    """The median stopping rule: ``value`` is worse than the median of ``others``."""
    finite = [v for v in others if math.isfinite(v)]
    if not finite or not math.isfinite(value):
        return False
    return is_better(float(np.median(finite)), value, mode)


def search_params(search: SearchConfig) -> dict[str, str]:
    """The search block as parent-run params (MLflow)."""
    space = {
        path: (
            {"choices": d.choices}
            if d.choices is not None
            else {"low": d.low, "high": d.high, "scale": d.scale or "linear"}
        )
        for path, d in search.space.items()
    }
    stopping = search.early_stopping
    return {
        "search.algorithm": search.algorithm,
        "search.seed": str(search.seed),
        "search.settings": str(search.settings),
        "search.max_concurrent_settings": str(search.concurrent_settings),
        "search.startup_settings": str(search.random_startup_settings),
        "search.space": str(space),
        "search.objective": search.objective.label(),
        "search.early_stopping": (
            "none"
            if stopping is None
            else f"{stopping.rule} (grace {stopping.grace_rounds} rounds, min {stopping.min_settings} settings)"
        ),
    }
