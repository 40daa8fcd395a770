"""Selection heuristics, one module each, chosen by name from ``HEURISTICS``.

Importing this package imports every module in it, and a heuristic module registers itself
(:func:`raysweep.heuristics.base.register_heuristic`): a new heuristic is one new module, with its
config class and its capabilities. ``HeuristicConfig`` is the tagged union of every registered
heuristic's config (the trial config's ``heuristic`` field); ``build_heuristic(config)`` makes one
from its config and ``heuristic_class(name)`` answers what a heuristic can do without building it.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Annotated, Union

from pydantic import Field

from raysweep.heuristics.base import (
    HEURISTICS,
    ClassifierHead,
    Heuristic,
    HeuristicConfigBase,
    PoolInference,
    Selection,
    SelectionContext,
    TopKHeuristic,
    augment_features,
    check_budget,
)

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

from raysweep.heuristics.coreset import (  # noqa: E402
    greedy_k_center,
    greedy_k_center_with_distances,
)
from raysweep.heuristics.medal import (  # noqa: E402
    greedy_centroid,
    greedy_centroid_with_distances,
)

HeuristicConfig = Annotated[
    Union[tuple(HEURISTICS.get(name).config_class for name in HEURISTICS.names())],  # noqa: UP007
    Field(discriminator="name"),
]
"""Any registered heuristic's config, told apart by ``name`` (pydantic's tagged union): an unknown
name is refused with the list of known ones."""


def heuristic_class(name: str) -> type[Heuristic]:
    """The registered heuristic ``name``: its capabilities are class attributes (``supports_vae``, ...)."""
    return HEURISTICS.get(name)


def names_where(capability: str) -> list[str]:
    """The registered heuristics whose class attribute ``capability`` is true, sorted."""
    return [name for name in HEURISTICS.names() if getattr(HEURISTICS.get(name), capability)]


def build_heuristic(config: HeuristicConfigBase) -> Heuristic:
    """The registered heuristic named ``config.name``, built from its config."""
    return HEURISTICS.get(config.name).from_config(config)


__all__ = [
    "HEURISTICS",
    "ClassifierHead",
    "Heuristic",
    "HeuristicConfig",
    "HeuristicConfigBase",
    "PoolInference",
    "Selection",
    "SelectionContext",
    "TopKHeuristic",
    "augment_features",
    "build_heuristic",
    "check_budget",
    "greedy_centroid",
    "greedy_centroid_with_distances",
    "greedy_k_center",
    "greedy_k_center_with_distances",
    "heuristic_class",
    "names_where",
]
