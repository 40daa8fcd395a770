"""The label schedule: how many labels the task model trains on in each round of Algorithm 1.

Pure and torch-free, so the launcher's input checks and the analysis (which needs the label counts a
sweep was to reach) use the same function the loop does.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from raysweep.config import ScheduleConfig


class ScheduleError(ValueError):
    """The AL schedule does not fit the pool."""


def label_counts(
    initial_labels: int,
    labels_per_round: int,
    rounds: int | None = None,
    max_labels: int | None = None,
    n_pool: int | None = None,
) -> list[int] | None:
    """The label count of every round: the initial labels, then ``labels_per_round`` more per round,
    until ``rounds`` selection rounds, ``max_labels`` or the pool's size (the last round may be smaller).

    ``n_pool`` None: the pool's size is unknown (the analysis reads a schedule from run params); a
    schedule that names neither ``rounds`` nor ``max_labels`` then has no known end and gives None.
    With ``n_pool`` a schedule that does not fit the pool raises :class:`ScheduleError`.
    """
    if n_pool is not None:
        if initial_labels > n_pool:
            raise ScheduleError(
                f"schedule.initial_labels={initial_labels} exceeds the pool of {n_pool} points"
            )
        if max_labels is not None and max_labels > n_pool:
            raise ScheduleError(f"schedule.max_labels={max_labels} exceeds the pool of {n_pool} points")
        if rounds is not None and max_labels is None:
            needed = initial_labels + rounds * labels_per_round
            if needed > n_pool:
                raise ScheduleError(
                    f"{rounds} rounds of {labels_per_round} labels after {initial_labels} "
                    f"initial ones need {needed} points, but the pool holds {n_pool}"
                )
    elif rounds is None and max_labels is None:
        return None
    cap = max_labels if max_labels is not None else (n_pool if n_pool is not None else math.inf)
    counts = [initial_labels]
    while counts[-1] < cap and (rounds is None or len(counts) - 1 < rounds):
        counts.append(int(min(counts[-1] + labels_per_round, cap)))
    return counts


def label_schedule(schedule: ScheduleConfig, n_pool: int) -> list[int]:
    """The label counts of a trial's schedule on a pool of ``n_pool`` points."""
    counts = label_counts(
        schedule.initial_labels, schedule.labels_per_round, schedule.rounds, schedule.max_labels, n_pool
    )
    assert counts is not None  # a known pool size always ends the schedule
    return counts
