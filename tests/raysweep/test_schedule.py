"""The label schedule: the label count of every round, checked against the pool."""

from __future__ import annotations

import pytest

from raysweep.config import ScheduleConfig
from raysweep.schedule import ScheduleError, label_counts, label_schedule


def test_rounds_max_labels_and_the_pool_end_the_schedule() -> None:
    assert label_counts(30, 20, rounds=2) == [30, 50, 70]
    assert label_counts(30, 20, rounds=0) == [30]
    assert label_counts(30, 20, max_labels=95) == [30, 50, 70, 90, 95]  # the last round is smaller
    assert label_counts(30, 20, rounds=10, max_labels=60) == [30, 50, 60]  # whichever ends first
    assert label_counts(30, 20, n_pool=75) == [30, 50, 70, 75]  # no end given: the pool's size
    assert label_counts(30, 20, rounds=2, n_pool=70) == [30, 50, 70]  # exactly fits


def test_without_a_pool_an_endless_schedule_is_unknown() -> None:
    """The analysis reads schedules from run params, where the pool's size is not known."""
    assert label_counts(30, 20) is None
    assert label_counts(30, 20, max_labels=70) == [30, 50, 70]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rounds": 2, "n_pool": 20}, "schedule.initial_labels=30 exceeds the pool of 20 points"),
        ({"max_labels": 80, "n_pool": 70}, "schedule.max_labels=80 exceeds the pool of 70 points"),
        ({"rounds": 2, "n_pool": 69}, "2 rounds of 20 labels after 30 initial ones need 70 points"),
    ],
)
def test_a_schedule_that_does_not_fit_the_pool_says_why(kwargs: dict, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        label_counts(30, 20, **kwargs)


def test_label_schedule_of_a_trial_config() -> None:
    schedule = ScheduleConfig(initial_labels=30, labels_per_round=20, rounds=2)
    assert label_schedule(schedule, 300) == [30, 50, 70]
    assert label_schedule(schedule.model_copy(update={"rounds": None, "max_labels": 95}), 300) == [
        30,
        50,
        70,
        90,
        95,
    ]
    with pytest.raises(ScheduleError, match="exceeds the pool"):
        label_schedule(schedule.model_copy(update={"initial_labels": 400}), 300)
    with pytest.raises(ScheduleError, match="need 100 points"):
        label_schedule(schedule.model_copy(update={"rounds": 2, "initial_labels": 60}), 99)
    assert issubclass(ScheduleError, ValueError)
