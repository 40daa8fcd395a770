"""Selection heuristics, one module each, chosen by name from ``HEURISTICS``.

Importing this package registers every heuristic; ``build_heuristic(config)`` makes one from its
config (``config.name`` is the registry name).
"""

from __future__ import annotations

from raysweep.config import HeuristicConfig
from raysweep.heuristics import (  # noqa: F401  (importing a module registers its heuristic)
    badge,
    bald,
    coreset,
    entropy,
    least_confidence,
    lloss,
    margin,
    medal,
    random,
    typiclust,
)
from raysweep.heuristics.base import (
    HEURISTICS,
    ClassifierHead,
    Heuristic,
    PoolInference,
    Selection,
    SelectionContext,
    TopKHeuristic,
    augment_features,
    check_budget,
)
from raysweep.heuristics.coreset import greedy_k_center, greedy_k_center_with_distances
from raysweep.heuristics.medal import greedy_centroid, greedy_centroid_with_distances


def build_heuristic(config: HeuristicConfig) -> Heuristic:
    """The registered heuristic named ``config.name``, built from its config."""
    return HEURISTICS.get(config.name).from_config(config)


__all__ = [
    "HEURISTICS",
    "ClassifierHead",
    "Heuristic",
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
]
