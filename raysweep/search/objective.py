"""What a search judges a setting by: each trial's curve summarised, then the mean over its seeds.

Pure (no Ray, no MLflow). The area is :func:`raysweep.curves.normalised_area`, the number the
analysis report prints.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from raysweep.curves import final_value, normalised_area
from raysweep.search.config import Objective

if TYPE_CHECKING:
    from raysweep.loop import RoundResult


def trial_objective(curve: Sequence[RoundResult], objective: Objective) -> float:
    """One trial's objective from its curve so far (NaN when the metric was never finite)."""
    n_labels = [point.n_labels for point in curve]
    values = [point.metrics.get(objective.metric, math.nan) for point in curve]
    summarise = final_value if objective.summary == "final" else normalised_area
    return summarise(n_labels, values)


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
