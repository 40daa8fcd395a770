"""The label state and the seeds a trajectory derives everything from."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from raysweep.labels import LabelState, derive_seed, indices_sha256, initial_label_indices


def test_derived_seeds_are_63_bit_distinct_and_the_same_in_another_process() -> None:
    seeds = {derive_seed("train", 0, r) for r in range(50)} | {derive_seed("select", 0, r) for r in range(50)}
    assert len(seeds) == 100 and all(0 <= s < 2**63 for s in seeds)
    assert derive_seed("train", 0, 1) != derive_seed("train", 1, 0)
    here = derive_seed("initial-labels", "digits", 0, 3)
    code = "from raysweep.labels import derive_seed; print(derive_seed('initial-labels', 'digits', 0, 3))"
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(there.stdout) == here  # strings hash with crc32, not Python's salted hash()


def test_initial_labels_are_sorted_unique_and_depend_on_dataset_pool_seed_and_seed() -> None:
    first = initial_label_indices("digits", 300, 0, 0, 30)
    assert first.dtype == np.int64 and len(first) == 30 and len(np.unique(first)) == 30
    assert np.array_equal(first, np.sort(first)) and first.max() < 300
    assert np.array_equal(first, initial_label_indices("digits", 300, 0, 0, 30))
    for other in (("mnist", 300, 0, 0), ("digits", 300, 1, 0), ("digits", 300, 0, 1)):
        assert not np.array_equal(first, initial_label_indices(*other, 30)), other
    with pytest.raises(ValueError, match="31 initial labels asked for, but the pool holds 30"):
        initial_label_indices("digits", 30, 0, 0, 31)


def test_indices_hash_ignores_order_and_dtype() -> None:
    digest = indices_sha256(np.array([3, 1, 2]))
    assert len(digest) == 64 and digest == indices_sha256(np.array([1, 2, 3], dtype=np.int32))
    assert digest != indices_sha256(np.array([1, 2, 4]))


def test_label_state_grows_by_round() -> None:
    state = LabelState.start(10, np.array([0, 5]))
    assert state.next_round == 0 and state.n_labeled == 2
    state.advance(np.array([7, 1]))
    assert state.next_round == 1 and state.labeled_indices.tolist() == [0, 5, 7, 1]
    assert state.labeled_mask.tolist() == [i in (0, 1, 5, 7) for i in range(10)]
    state.advance(None)  # the last round buys nothing
    assert state.next_round == 2 and state.n_labeled == 4 and len(state.picks) == 2


@pytest.mark.parametrize(
    "picked", [np.array([2, 2]), np.array([5, 3]), np.array([0])], ids=["repeated", "labeled", "initial"]
)
def test_advance_refuses_a_repeated_or_already_labeled_pick(picked: np.ndarray) -> None:
    state = LabelState.start(10, np.array([0, 5]))
    with pytest.raises(ValueError, match="repeated a point or picked an already labeled one"):
        state.advance(picked)
    assert state.next_round == 0 and state.n_labeled == 2  # nothing changed


def test_state_dict_round_trip_copies_the_picks() -> None:
    state = LabelState.start(10, np.array([0, 5]))
    state.advance(np.array([7]))
    saved = state.state_dict()
    saved["picks"][0][0] = 9  # the saved copy is not the live state
    assert state.picks[0].tolist() == [0, 5]
    restored = LabelState.from_state_dict(state.state_dict())
    assert (restored.n_pool, restored.next_round) == (10, 1)
    assert [p.tolist() for p in restored.picks] == [[0, 5], [7]]
    assert all(p.dtype == np.int64 for p in restored.picks)
    assert LabelState(n_pool=4).labeled_indices.tolist() == [] and LabelState(n_pool=4).n_labeled == 0
