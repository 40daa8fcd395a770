"""The search space against the trial config: which fields may be searched, their types, and what a
proposal becomes (a setting: values rounded, labelled, applied to a trial config).

Pure (no Ray, no MLflow). A proposed value is rounded to :data:`SIGNIFICANT_DIGITS` significant
digits before it is used, so the value a trial runs with is exactly the one its key prints
(``f"{value:g}"``) and the key is stable across processes; two proposals that round to one value
are one setting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from raysweep.config import TrialConfig
from raysweep.heuristics import HeuristicConfig, heuristic_class, names_where
from raysweep.search.config import SearchConfig
from raysweep.typed_config import ConfigError

SIGNIFICANT_DIGITS = 6
"""Searched floats are rounded to this many significant digits: ``f"{value:g}"`` prints them exactly."""

UNSEARCHABLE_PREFIXES = {
    "seed": "the sweep's seeds pair every setting with its alpha-0 partner",
    "dataset": "every setting of a dataset must see the same pool and eval split",
    "schedule": "every setting must follow its alpha-0 partner's label schedule",
    "device": "not a number",
}
"""Trial fields a search may not vary, and why: they would break the pairing with the alpha-0 arm."""


def searched_heuristics(heuristics: Sequence[HeuristicConfig]) -> list[HeuristicConfig]:
    """The heuristics a search covers: those that take VAE features (alpha means something to them)."""
    return [h for h in heuristics if heuristic_class(h.name).supports_vae]


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
    searched = searched_heuristics(heuristics)
    if not searched:
        raise ConfigError(
            f"sweep.search: none of the sweep's heuristics ({', '.join(h.name for h in heuristics)}) takes "
            f"VAE features; a search needs one of {', '.join(names_where('supports_vae'))}"
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
    models = [type(h) for h in searched_heuristics(heuristics)]
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
