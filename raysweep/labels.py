"""Which pool points are labeled, since which round: the whole state an AL trajectory carries.

All randomness of a trajectory is derived from (seed, round, purpose) by :func:`derive_seed`, so the
label state plus the round number is enough to resume bit for bit: no RNG state needs saving, and a
resumed round draws exactly what the uninterrupted one would have.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def derive_seed(*parts: int | str) -> int:
    """A 63-bit seed from a tuple of ints/strings, stable across processes and platforms."""
    words = [part if isinstance(part, int) else zlib.crc32(part.encode()) for part in parts]
    return int(np.random.SeedSequence([abs(w) for w in words]).generate_state(1, dtype=np.uint64)[0] >> 1)


def initial_label_indices(
    dataset_name: str, n_pool: int, pool_seed: int, seed: int, count: int
) -> np.ndarray:
    """The random initial labels of a trajectory, sorted.

    They depend on (dataset, pool seed, seed) only, never on the heuristic or alpha, so every
    compared method of one seed starts from the same labels (the paper's shared seeds).
    """
    if count > n_pool:
        raise ValueError(f"{count} initial labels asked for, but the pool holds {n_pool} points")
    rng = np.random.default_rng(derive_seed("initial-labels", dataset_name, pool_seed, seed))
    return np.sort(rng.choice(n_pool, size=count, replace=False)).astype(np.int64)


def indices_sha256(indices: np.ndarray) -> str:
    """Hash of a set of pool indices (order-insensitive), tagged on runs to prove pairs share labels."""
    return hashlib.sha256(np.sort(np.asarray(indices, dtype=np.int64)).tobytes()).hexdigest()


@dataclass
class LabelState:
    """The labeled set of one trajectory and how it grew.

    ``picks[0]`` holds the initial labels, ``picks[r]`` the points bought in selection round r.
    ``next_round`` is the round whose training comes next.
    """

    n_pool: int
    picks: list[np.ndarray] = field(default_factory=list)
    next_round: int = 0

    @classmethod
    def start(cls, n_pool: int, initial: np.ndarray) -> LabelState:
        return cls(n_pool=n_pool, picks=[np.asarray(initial, dtype=np.int64)], next_round=0)

    @property
    def labeled_indices(self) -> np.ndarray:
        return np.concatenate(self.picks) if self.picks else np.zeros(0, dtype=np.int64)

    @property
    def labeled_mask(self) -> np.ndarray:
        mask = np.zeros(self.n_pool, dtype=bool)
        mask[self.labeled_indices] = True
        return mask

    @property
    def n_labeled(self) -> int:
        return int(sum(len(p) for p in self.picks))

    def advance(self, picked: np.ndarray | None = None) -> None:
        """End the round whose training came next: buy ``picked`` (None after the last round, which
        selects nothing) and move on to the next round."""
        if picked is not None:
            picked = np.asarray(picked, dtype=np.int64)
            if len(np.unique(picked)) != len(picked) or self.labeled_mask[picked].any():
                raise ValueError("a selection repeated a point or picked an already labeled one")
            self.picks.append(picked)
        self.next_round += 1

    def state_dict(self) -> dict[str, Any]:
        return {
            "n_pool": self.n_pool,
            "next_round": self.next_round,
            "picks": [p.copy() for p in self.picks],
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> LabelState:
        return cls(
            n_pool=int(state["n_pool"]),
            picks=[np.asarray(p, dtype=np.int64) for p in state["picks"]],
            next_round=int(state["next_round"]),
        )
