"""Which setting a study chooses: the one rule the confirmation step and the analysis report share.

Per (dataset, heuristic) group, among the arms with VAE features (alpha > 0; for a search, its
settings), the arm whose mean score over the seeds is highest, counting only arms that have a finite
score on every seed. The score is the normalised area under the *validation* curve
(``val_accuracy_area``): a choice made on the test split and then reported on it is biased upward
(Lüth et al. 2023, pitfall P4). Ties go to the smaller alpha, the arm closer to the plain heuristic.

Pure (no Ray, no MLflow, no pandas): the shell feeds it MLflow's runs, the analysis its tidy frame.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

CHOSEN_BY = "mean val_accuracy_area over seeds (normalised area under the validation accuracy curve)"
"""What a choice is made by, in words (logged with every confirmation and printed in the report)."""


@dataclass(frozen=True)
class ArmScores:
    """One arm of a group (every seed of one setting) and its score per seed."""

    group: str
    """``dataset/heuristic``."""
    arm: str
    """The arm's name: its trial key with the seed left out (``digits/coreset/1/*``)."""
    alpha: float
    scores: Mapping[int, float] = field(default_factory=dict)
    """Seed -> score (NaN or missing: the seed did not finish)."""

    def mean_over(self, seeds: Iterable[int]) -> float:
        """The mean score over ``seeds``, or NaN when one of them has no finite score."""
        values = [self.scores.get(seed, math.nan) for seed in seeds]
        if not values or not all(math.isfinite(v) for v in values):
            return math.nan
        return sum(values) / len(values)


def choose_arms(arms: Iterable[ArmScores], seeds: Iterable[int]) -> dict[str, ArmScores]:
    """Group -> the chosen arm (see the module docstring); a group with no complete VAE arm is left out."""
    seeds = list(seeds)
    chosen: dict[str, tuple[float, float, ArmScores]] = {}
    for arm in arms:
        mean = arm.mean_over(seeds)
        if arm.alpha <= 0 or not math.isfinite(mean):
            continue
        best = chosen.get(arm.group)
        # Higher mean wins; on a tie the smaller alpha (then the name, for a stable answer).
        if (
            best is None
            or (mean, -arm.alpha) > (best[0], -best[1])
            or ((mean, arm.alpha) == (best[0], best[1]) and arm.arm < best[2].arm)
        ):
            chosen[arm.group] = (mean, arm.alpha, arm)
    return {group: entry[2] for group, entry in sorted(chosen.items())}
