"""Heuristics by name (``raysweep.heuristics``): every module registers itself, each heuristic says
once, on its class, what it can do, and the config's tagged union is built from the registry."""

from __future__ import annotations

import pkgutil

import pytest
from pydantic import TypeAdapter

import raysweep.heuristics
from raysweep.config import TrialConfig
from raysweep.heuristics import (
    HEURISTICS,
    HeuristicConfig,
    build_heuristic,
    heuristic_class,
    names_where,
)
from raysweep.heuristics.entropy import EntropyHeuristicConfig
from raysweep.heuristics.lloss import LLossHeuristicConfig

SUPPORT_MODULES = {"base", "weighting", "kmeans"}
"""Modules of the package that hold shared machinery, not a heuristic."""


def default(name: str):
    return build_heuristic(HEURISTICS.get(name).config_class())


def test_every_heuristic_module_registers_the_heuristic_it_is_named_after() -> None:
    modules = {m.name for m in pkgutil.iter_modules(raysweep.heuristics.__path__)} - SUPPORT_MODULES
    assert set(HEURISTICS.names()) == modules
    assert {heuristic_class(name).__module__ for name in modules} == {
        f"raysweep.heuristics.{name}" for name in modules
    }


def test_capabilities_are_asked_of_the_heuristic():
    """Each heuristic states what it can do once, on its class; the config and the trial list ask it."""
    assert names_where("supports_vae") == ["badge", "coreset", "lloss", "medal", "typiclust"]
    assert names_where("supports_vae_only") == ["badge", "coreset", "medal", "typiclust"]
    assert set(names_where("supports_vae_only")) <= set(names_where("supports_vae"))
    # Every feature-space heuristic with VAE features gets the plain_overlap reference selection.
    assert names_where("model_independent_of_alpha") == ["badge", "coreset", "medal", "typiclust"]
    assert [n for n in HEURISTICS.names() if default(n).loss_module() is not None] == ["lloss"]
    assert names_where("needs_model_dropout") == ["bald"]
    # The config refuses alpha where the registry says no, naming the heuristics that take it.
    with pytest.raises(ValueError, match="badge, coreset, lloss, medal, typiclust"):
        TrialConfig(heuristic=EntropyHeuristicConfig(), alpha=1.0)
    with pytest.raises(ValueError, match="cannot use"):
        TrialConfig(heuristic=LLossHeuristicConfig(), alpha=float("inf"))


def test_the_config_union_holds_every_registered_heuristic_and_refuses_others() -> None:
    adapter = TypeAdapter(HeuristicConfig)
    for name in HEURISTICS.names():
        config = adapter.validate_python({"name": name})
        assert type(config) is HEURISTICS.get(name).config_class
    assert adapter.validate_python({"name": "lloss", "subset_size": 5}).subset_size == 5
    with pytest.raises(ValueError, match="corset"):
        adapter.validate_python({"name": "corset"})
    with pytest.raises(ValueError, match="subset_size"):
        adapter.validate_python({"name": "entropy", "subset_size": 5})  # another heuristic's field


def test_build_heuristic_keeps_the_config() -> None:
    config = LLossHeuristicConfig(subset_size=7)
    built = build_heuristic(config)
    assert built.config is config and built.name == "lloss"
    with pytest.raises(KeyError, match="known: badge, bald"):
        heuristic_class("nope")
