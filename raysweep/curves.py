"""The study's headline number: the normalised area under a learning curve.

One definition, used by the trainable (Tune's progress column), the search objective, the analysis
report and the benchmarks, so the number a search optimises is the number the report prints.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def normalised_area(n_labels: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray) -> float:
    """Trapezoid area under ``values`` over ``n_labels``, divided by the label range: in the metric's
    units (an accuracy curve's area is an accuracy), comparable across budgets.

    Edge cases, decided here once:

    - points are taken in label order, whatever order they come in;
    - a point whose value is not finite (a metric undefined in that round, such as an AUC with one
      class) is left out, not counted as 0;
    - one finite point has no range: its value is the area; no finite point: NaN;
    - two points at one label count are an error (a curve has one value per label count).
    """
    x = np.asarray(n_labels, dtype=float)
    y = np.asarray(values, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"n_labels and values must be two equal 1-d sequences, got {x.shape} and {y.shape}")
    finite = np.isfinite(y)
    x, y = x[finite], y[finite]
    if len(x) == 0:
        return math.nan
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    if len(x) > 1 and (np.diff(x) == 0).any():
        raise ValueError(
            f"a curve has one value per label count; repeated: {sorted(set(x[1:][np.diff(x) == 0].tolist()))}"
        )
    if len(x) == 1:
        return float(y[0])
    return float(np.trapezoid(y, x) / (x[-1] - x[0]))


def final_value(n_labels: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray) -> float:
    """The value at the largest label count with a finite value (NaN when there is none)."""
    x = np.asarray(n_labels, dtype=float)
    y = np.asarray(values, dtype=float)
    finite = np.isfinite(y)
    if not finite.any():
        return math.nan
    return float(y[finite][np.argmax(x[finite])])
