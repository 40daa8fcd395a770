"""The normalised area under a curve and the final value: known answers and every edge case."""

from __future__ import annotations

import math

import numpy as np
import pytest

from raysweep.curves import final_value, normalised_area


def test_area_is_the_trapezoid_over_the_label_range() -> None:
    # (0.5 + 0.7) / 2 * 100 + (0.7 + 0.8) / 2 * 200 = 210 over 300 labels
    assert normalised_area([100, 200, 400], [0.5, 0.7, 0.8]) == pytest.approx(0.7)
    assert normalised_area(np.array([10, 20]), np.array([1.0, 1.0])) == 1.0  # a flat curve: its level
    assert isinstance(normalised_area([1, 2], [0.0, 1.0]), float)


def test_points_are_taken_in_label_order() -> None:
    assert normalised_area([400, 100, 200], [0.8, 0.5, 0.7]) == pytest.approx(0.7)


def test_normalised_area_of_a_known_curve() -> None:
    # trapezoid: 100 * (0.5 + 0.7) / 2 + 200 * (0.7 + 0.8) / 2 = 60 + 150 = 210, range 300 -> 0.7
    assert normalised_area(np.array([100, 200, 400]), np.array([0.5, 0.7, 0.8])) == pytest.approx(0.7)
    # order of the points does not matter; a flat curve has its own value as area
    assert normalised_area(np.array([400, 100, 200]), np.array([0.8, 0.5, 0.7])) == pytest.approx(0.7)
    assert normalised_area(np.array([10, 20, 30]), np.full(3, 0.9)) == pytest.approx(0.9)
    assert normalised_area(np.array([10]), np.array([0.4])) == pytest.approx(0.4)


def test_a_non_finite_point_is_left_out_not_counted_as_zero() -> None:
    with_nan = normalised_area([100, 200, 400], [0.5, math.nan, 0.8])
    assert with_nan == pytest.approx((0.5 + 0.8) / 2)
    assert normalised_area([100, 200, 400], [0.5, math.inf, 0.8]) == pytest.approx(with_nan)


def test_one_point_is_its_value_and_no_finite_point_is_nan() -> None:
    assert normalised_area([100], [0.42]) == 0.42
    assert normalised_area([100, 200], [math.nan, 0.6]) == 0.6  # one finite point left
    assert math.isnan(normalised_area([100, 200], [math.nan, math.nan]))
    assert math.isnan(normalised_area([], []))


def test_a_repeated_label_count_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"one value per label count; repeated: \[200\.0\]$"):
        normalised_area([100, 200, 200], [0.5, 0.6, 0.7])
    # A repeat whose second value is not finite is left out first: no repeat remains.
    assert normalised_area([100, 200, 200], [0.5, 0.6, math.nan]) == pytest.approx(0.55)


def test_shapes_must_match() -> None:
    with pytest.raises(ValueError, match="two equal 1-d sequences"):
        normalised_area([1, 2, 3], [0.5, 0.6])
    with pytest.raises(ValueError, match="two equal 1-d sequences"):
        normalised_area([[1, 2]], [[0.5, 0.6]])


def test_final_value_is_at_the_largest_label_count_with_a_finite_value() -> None:
    assert final_value([100, 400, 200], [0.5, 0.8, 0.7]) == 0.8
    assert final_value([100, 200, 400], [0.5, 0.7, math.nan]) == 0.7
    assert math.isnan(final_value([100, 200], [math.nan, math.nan]))
