"""The one signature every selection heuristic shares.

A heuristic gets a :class:`SelectionContext` (what the trained task model says about pool points,
the VAE embeddings when the trial uses them, the label mask, a seeded generator) and a budget, and
returns a :class:`Selection`: ``budget`` unique, previously unlabeled pool indices in pick order
plus one finite score per pick. Top-k heuristics only implement ``score``; the base class ranks
with a deterministic tie-break (higher score first, then lower pool index). Greedy heuristics
(core-set, MedAL) override ``select``.

Everything is batched tensor work on ``context.device``; no Python loop over pool points.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch

from raysweep.config import HeuristicConfig


@dataclass(frozen=True)
class PoolInference:
    """The trained task model's outputs for some pool points (rows follow the requested indices)."""

    logits: torch.Tensor
    """(n, num_outputs) float32."""
    features: torch.Tensor
    """(n, 512) float32 penultimate ResNet features T_f(x)."""
    predicted_loss: torch.Tensor | None = None
    """(n,) float32 from the loss-prediction module, when the trial trains one."""


@dataclass
class SelectionContext:
    labeled_mask: torch.Tensor
    """(n_pool,) bool on ``device``; True where a label is already bought."""
    infer: Callable[[torch.Tensor], PoolInference]
    """Batched inference of the trained model on pool indices (LongTensor on ``device``)."""
    generator: torch.Generator
    """CPU generator seeded from (trial seed, round): the only randomness a heuristic may use."""
    device: torch.device
    multi_label: bool = False
    embeddings: torch.Tensor | None = None
    """(n_pool, latent) float32 VAE posterior means on ``device``; None when alpha == 0."""
    alpha: float = 0.0

    @property
    def n_pool(self) -> int:
        return int(self.labeled_mask.shape[0])

    def unlabeled_indices(self) -> torch.Tensor:
        return torch.nonzero(~self.labeled_mask, as_tuple=False).squeeze(1)


@dataclass(frozen=True)
class Selection:
    indices: torch.Tensor
    """(budget,) int64 pool indices in pick order."""
    scores: torch.Tensor
    """(budget,) float32 score of each pick when it was picked (higher = more wanted)."""


def augment_features(
    task_features: torch.Tensor, embeddings: torch.Tensor | None, alpha: float
) -> torch.Tensor:
    """[T_f(x) ⁀ alpha V(x)] (paper eq. for the VAE-augmented core-set).

    alpha == 0 returns the task features untouched (no zero columns), so the plain heuristic's picks
    come out bit for bit.
    """
    if alpha == 0 or embeddings is None:
        return task_features
    return torch.cat([task_features, alpha * embeddings.to(task_features.dtype)], dim=1)


class Heuristic(ABC):
    name: ClassVar[str]
    supports_vae: ClassVar[bool] = False
    """Takes alpha-scaled VAE features (core-set, MedAL, loss prediction)."""
    trains_loss_module: ClassVar[bool] = False
    """Needs the task model trained jointly with a loss-prediction module (learning loss)."""

    def __init__(self, config: HeuristicConfig) -> None:
        self.config = config

    @classmethod
    def from_config(cls, config: HeuristicConfig) -> Heuristic:
        return cls(config)

    @abstractmethod
    def select(self, context: SelectionContext, budget: int) -> Selection: ...


class TopKHeuristic(Heuristic):
    """Score candidates, take the ``budget`` best (ties: lower pool index first)."""

    def candidates(self, context: SelectionContext) -> torch.Tensor:
        """Pool indices eligible this round (default: every unlabeled point), ascending."""
        return context.unlabeled_indices()

    @abstractmethod
    def score(self, context: SelectionContext, candidates: torch.Tensor) -> torch.Tensor:
        """(len(candidates),) float scores, higher = select first."""

    def select(self, context: SelectionContext, budget: int) -> Selection:
        candidates = self.candidates(context)
        check_budget(budget, len(candidates), self.name)
        scores = self.score(context, candidates).float()
        # Stable descending sort over ascending candidates: equal scores keep the lower index first.
        order = torch.sort(scores, descending=True, stable=True).indices[:budget]
        return Selection(indices=candidates[order], scores=scores[order])


class GreedyFeatureHeuristic(Heuristic):
    """Greedy picks on [T_f(x) ⁀ alpha V(x)] of the whole pool, the labeled points as the start set.

    Subclasses name the greedy function: ``(features, labeled_mask, budget) -> (indices, distances)``.
    """

    supports_vae = True

    @staticmethod
    @abstractmethod
    def greedy(
        features: torch.Tensor, labeled_mask: torch.Tensor, budget: int
    ) -> tuple[torch.Tensor, torch.Tensor]: ...

    def select(self, context: SelectionContext, budget: int) -> Selection:
        pool = torch.arange(context.n_pool, device=context.device)
        features = augment_features(context.infer(pool).features, context.embeddings, context.alpha)
        indices, distances = self.greedy(features, context.labeled_mask, budget)
        return Selection(indices=indices, scores=distances.float())


def check_greedy_inputs(
    features: torch.Tensor, labeled_mask: torch.Tensor, budget: int, name: str
) -> torch.Tensor:
    """Validate (n, d) features and an (n,) mask for a greedy selection; the mask on the features' device."""
    if features.ndim != 2 or labeled_mask.shape != features.shape[:1]:
        raise ValueError(
            f"features must be (n, d) and labeled_mask (n,); got {tuple(features.shape)} "
            f"and {tuple(labeled_mask.shape)}"
        )
    labeled_mask = labeled_mask.to(device=features.device, dtype=torch.bool)
    check_budget(budget, int((~labeled_mask).sum()), name)
    return labeled_mask


def check_budget(budget: int, available: int, name: str) -> None:
    if budget <= 0:
        raise ValueError(f"{name}: budget must be positive, got {budget}")
    if budget > available:
        raise ValueError(f"{name}: budget {budget} exceeds the {available} selectable points")


# The registry lives here (not in __init__) so heuristic modules can register without import cycles.
from raysweep.registry import Registry  # noqa: E402

HEURISTICS: Registry[type[Heuristic]] = Registry("heuristic")
