"""The ``sweep.search`` block: ranges or choices, the objective, early stopping, the algorithms by
name, and the defaults that scale with the number of settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.search import LOG_ALPHA, write_search_sweep

from raysweep.schema import ROUND_METRICS
from raysweep.search.config import (
    SEARCH_ALGORITHMS,
    EarlyStopping,
    Objective,
    SearchConfig,
    SearchDimension,
)
from raysweep.sweep.config import load_sweep_config
from raysweep.typed_config import ConfigError


def test_a_search_block_loads_with_its_defaults(tmp_path: Path) -> None:
    sweep = load_sweep_config(write_search_sweep(tmp_path, LOG_ALPHA))
    search = sweep.sweep.search
    assert search.algorithm == "optuna" and search.objective == Objective() and search.early_stopping is None
    assert (search.seed, search.settings, search.concurrent_settings) == (0, 3, 1)
    assert (
        search.space["alpha"] == SearchDimension(low=0.05, high=5, scale="log")
        and search.space["alpha"].is_log
    )


@pytest.mark.parametrize(
    ("settings", "concurrent", "startup"), [(1, 1, 2), (8, 2, 2), (12, 3, 4), (40, 10, 10), (100, 25, 10)]
)
def test_defaults_scale_with_the_settings(settings: int, concurrent: int, startup: int) -> None:
    search = SearchConfig(settings=settings, space={"alpha": {"low": 0.1, "high": 1}})
    assert (search.concurrent_settings, search.random_startup_settings) == (concurrent, startup)
    given = search.model_copy(update={"max_concurrent_settings": 5, "startup_settings": 7})
    assert (given.concurrent_settings, given.random_startup_settings) == (5, 7)


def test_algorithms_by_name_with_their_sampler() -> None:
    assert sorted(SEARCH_ALGORITHMS) == ["optuna", "random"]
    assert {name: a.sampler for name, a in SEARCH_ALGORITHMS.items()} == {"optuna": "tpe", "random": "random"}
    with pytest.raises(ValueError, match="unknown algorithm 'hyperopt'; known: optuna, random"):
        SearchConfig(algorithm="hyperopt", settings=2, space={"alpha": {"choices": [1]}})


def test_objective_names_a_round_metric() -> None:
    # Choosing reads validation (the test split is what results are reported on).
    assert Objective().label() == "max area of val_accuracy"
    assert Objective(metric="accuracy").label() == "max area of accuracy"
    assert Objective(metric="selection_seconds", summary="final", mode="min").label() == (
        "min final of selection_seconds"
    )
    assert Objective(metric=ROUND_METRICS[-1]).metric == ROUND_METRICS[-1]
    with pytest.raises(ValueError, match="unknown metric 'acuracy'"):
        Objective(metric="acuracy")


def test_early_stopping_defaults() -> None:
    stopping = EarlyStopping()
    assert (stopping.rule, stopping.grace_rounds, stopping.min_settings) == ("median", 1, 3)
    with pytest.raises(ValueError):
        EarlyStopping(grace_rounds=0)


BAD_DIMENSIONS = {
    "empty_range": ({"low": 1, "high": 1}, "empty range: low == high == 1"),
    "low_above_high": ({"low": 2, "high": 1}, "low (2) > high (1)"),
    "log_touching_zero": ({"low": 0, "high": 1, "scale": "log"}, "log range must stay above 0"),
    "half_a_range": ({"low": 1}, "a range needs both low and high"),
    "infinite_end": ({"low": 1, "high": float("inf")}, "a range must have finite ends"),
    "both": ({"low": 1, "high": 2, "choices": [1]}, "give either choices or a range"),
    "empty_choices": ({"choices": []}, "empty choices"),
    "repeated_choices": ({"choices": [1, 1]}, "choices has duplicate entries"),
    "infinite_choice": ({"choices": [1, float("nan")]}, "choices must be finite numbers"),
}


@pytest.mark.parametrize("case", sorted(BAD_DIMENSIONS))
def test_bad_dimensions_say_what_is_wrong(case: str) -> None:
    fields, problem = BAD_DIMENSIONS[case]
    with pytest.raises(ValueError) as raised:
        SearchDimension(**fields)
    assert problem in str(raised.value)


def test_bad_blocks_in_a_file_name_the_file_and_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_sweep_config(write_search_sweep(tmp_path, "{settings: 2, space: {alpha: {low: 2, high: 1}}}"))
    assert "search.yaml" in str(raised.value) and "sweep.search.space.alpha" in str(raised.value)
    with pytest.raises(ConfigError) as raised:
        load_sweep_config(
            write_search_sweep(
                tmp_path, "{settings: 2, space: {alpha: {low: 0.1, high: 1}}, objective: {metric: acuracy}}"
            )
        )
    assert "unknown metric 'acuracy'" in str(raised.value) and "search.yaml" in str(raised.value)
