"""The machinery of raysweep's typed configs: frozen models that reject unknown keys, and YAML loading
whose errors name the file and the dotted field path.

Every config model (``raysweep.config``, each heuristic's own in ``raysweep.heuristics``, the sweep's
in ``raysweep.sweep``) derives from :class:`Frozen`; every problem found while loading one becomes a
single :class:`ConfigError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)


class ConfigError(ValueError):
    """A config file or value is wrong. The message names the file and the field path."""


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def format_validation_error(error: ValidationError, source: str) -> str:
    """One readable message per problem: ``file: field.path: what is wrong``."""
    lines = [f"{source}: invalid config ({error.error_count()} problem(s))"]
    for problem in error.errors():
        path = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        if problem["type"] == "extra_forbidden":
            message = "unknown key"
        elif problem["type"] == "union_tag_invalid":
            context = problem.get("ctx", {})
            message = f"unknown name {context.get('tag')!r}; known: {context.get('expected_tags')}"
        else:
            message = problem["msg"]
        lines.append(f"  {path}: {message}")
    return "\n".join(lines)


def read_yaml(path: Path | str) -> dict[str, Any]:
    """Read a YAML mapping; missing files and YAML syntax errors become ConfigError."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, not a config file")
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, not {type(data).__name__}")
    return data


def validate_config(model: type[ModelT], data: dict[str, Any], source: str) -> ModelT:
    """Validate ``data`` as ``model``, turning pydantic's error into a ConfigError for ``source``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None
