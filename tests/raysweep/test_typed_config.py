"""Frozen config models that reject unknown keys, and YAML loading whose errors name file and field."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import pytest
from pydantic import Field, ValidationError

from raysweep.typed_config import ConfigError, Frozen, read_yaml, validate_config


class Inner(Frozen):
    rate: float = Field(default=0.1, gt=0)


class Cat(Frozen):
    kind: Literal["cat"] = "cat"


class Dog(Frozen):
    kind: Literal["dog"] = "dog"


class Outer(Frozen):
    inner: Inner = Inner()
    pet: Cat | Dog = Field(default_factory=Cat, discriminator="kind")


def test_models_are_frozen_and_reject_unknown_keys() -> None:
    config = Outer()
    with pytest.raises(ValidationError):
        config.inner = Inner(rate=2.0)  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        Outer.model_validate({"innr": {}})


def test_validation_errors_name_the_source_and_every_field_path() -> None:
    with pytest.raises(ConfigError) as raised:
        validate_config(Outer, {"inner": {"rate": -1, "rat": 2}, "pet": {"kind": "cow"}}, "sweep.yaml")
    lines = str(raised.value).splitlines()
    assert lines[0] == "sweep.yaml: invalid config (3 problem(s))"
    assert "  inner.rate: Input should be greater than 0" in lines
    assert "  inner.rat: unknown key" in lines
    [pet] = [line for line in lines if line.startswith("  pet:")]
    assert "unknown name 'cow'; known: 'cat', 'dog'" in pet
    assert validate_config(Outer, {"inner": {"rate": 2}}, "x").inner.rate == 2.0


def test_read_yaml_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"^{re.escape(str(tmp_path))}: is a folder, not a config file$"):
        read_yaml(tmp_path)
    with pytest.raises(ConfigError, match=r"nope\.yaml: config file not found"):
        read_yaml(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("training: [1, 2\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml: not valid YAML"):
        read_yaml(broken)
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match=r"list\.yaml: the top level must be a mapping of keys, not list"):
        read_yaml(listed)


def test_read_yaml_reads_a_mapping_and_an_empty_file_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("alpha: .inf\ntraining: {lr: 0.5}\n")
    assert read_yaml(str(path)) == {"alpha": float("inf"), "training": {"lr": 0.5}}
    path.write_text("# nothing but a comment\n")
    assert read_yaml(path) == {}
