"""The one signature every selection heuristic shares.

A heuristic gets a :class:`SelectionContext` (what the trained task model says about pool points,
the VAE embeddings when the trial uses them, how alpha weighs them, the label mask, a seeded
generator) and a budget, and returns a :class:`Selection`: ``budget`` unique, previously unlabeled
pool indices in pick order, one finite score per pick, and diagnostics of how much the VAE block
weighed (see :mod:`raysweep.heuristics.weighting`). Top-k heuristics only implement ``score``; the base class ranks
with a deterministic tie-break (higher score first, then lower pool index). Greedy heuristics
(core-set, MedAL) override ``select``.

A heuristic is one module: its config class (a :class:`HeuristicConfigBase` with its name and
fields) and its :class:`Heuristic` subclass, registered with :func:`register_heuristic`. The class
states what the heuristic can do (``supports_vae``, ``supports_vae_only``,
``model_independent_of_alpha``, ``draws_at_random``) and what it needs of the trained model
(:meth:`Heuristic.loss_module`, ``needs_model_dropout``); the config validation, the sweep's trial
list, the loop and the training ask it, so a new heuristic is one new module.

Everything is batched tensor work on ``context.device``; no Python loop over pool points.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

import torch

from raysweep import schema
from raysweep.heuristics.weighting import AlphaScaling, vae_share_of_differences, weigh_features
from raysweep.models.loss_module import LossModuleTraining
from raysweep.registry import Registry
from raysweep.typed_config import Frozen


class HeuristicConfigBase(Frozen):
    """A heuristic's config: its registry ``name`` (a ``Literal`` in each subclass, which makes the
    sweep's ``heuristics`` axis a tagged union) and its own fields."""

    name: str


@dataclass(frozen=True)
class PoolInference:
    """The trained task model's outputs for some pool points (rows follow the requested indices)."""

    logits: torch.Tensor
    """(n, num_outputs) float32."""
    features: torch.Tensor
    """(n, 512) float32 penultimate ResNet features T_f(x)."""
    predicted_loss: torch.Tensor | None = None
    """(n,) float32 from the loss-prediction module, when the trial trains one."""
    loss_head_input: torch.Tensor | None = None
    """(n, 512 + latent) float32: what the loss module's last layer saw, [c ⁀ VAE block], when the
    loss module takes VAE features (for the block diagnostics)."""


@dataclass(frozen=True)
class ClassifierHead:
    """The trained task model's last layer: logits = dropout(T_f(x)) @ weight.T + bias.

    Heuristics that sample the model (MC-dropout BALD) run it on the pool's features themselves:
    dropout sits only in front of this layer, so the network below it is deterministic and the T
    stochastic passes need one pass through the backbone, not T.
    """

    weight: torch.Tensor
    """(num_outputs, 512) float32 on the trial's device."""
    bias: torch.Tensor
    """(num_outputs,) float32."""
    dropout: float
    """Rate of the dropout the model was trained with in front of this layer (0: none)."""


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
    """Weight of the VAE block; inf: the VAE block alone (distance-based heuristics only)."""
    alpha_scaling: AlphaScaling = "balanced"
    """``raw``: the paper's literal [T_f ⁀ alpha V]; ``balanced``: each block over its pool spread first."""
    head: ClassifierHead | None = None
    """The trained model's classifier, for heuristics that sample it (BALD)."""

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
    diagnostics: dict[str, float] = field(default_factory=dict)
    """Per-round numbers about the selection (block spreads, ``vae_share``), logged with the metrics."""


def augment_features(
    task_features: torch.Tensor,
    embeddings: torch.Tensor | None,
    alpha: float,
    scaling: AlphaScaling = "raw",
) -> torch.Tensor:
    """[T_f(x) ⁀ alpha V(x)] (paper eq. for the VAE-augmented core-set), under ``scaling``.

    alpha == 0 returns the task features untouched (no zero columns), so the plain heuristic's picks
    come out bit for bit. See :func:`raysweep.heuristics.weighting.weigh_features`.
    """
    return weigh_features(task_features, embeddings, alpha, scaling).features


class Heuristic(ABC):
    name: ClassVar[str]
    """The registry name (set by :func:`register_heuristic` from the config class's ``name``)."""
    config_class: ClassVar[type[HeuristicConfigBase]]
    supports_vae: ClassVar[bool] = False
    """Takes alpha-scaled VAE features (it selects on a feature space, or feeds its loss module)."""
    supports_vae_only: ClassVar[bool] = False
    """Also works on the VAE block alone (alpha = inf): the heuristic needs no task-model output."""
    model_independent_of_alpha: ClassVar[bool] = False
    """The trained task model does not depend on alpha (alpha only enters the selection), so the
    same model's alpha = 0 picks are a fair reference: the loop logs ``plain_overlap`` for these."""
    draws_at_random: ClassVar[bool] = False
    """Its picks are a random draw (seeded by the trial's generator), so even the plain heuristic under
    another seed picks other points: ``plain_overlap`` is read against ``plain_overlap_baseline``."""
    needs_model_dropout: ClassVar[bool] = False
    """Samples the trained model with MC dropout: the config must give the model dropout
    (``model.dropout``), which every arm of the sweep then shares."""

    def __init__(self, config: HeuristicConfigBase) -> None:
        self.config = config

    @classmethod
    def from_config(cls, config: HeuristicConfigBase) -> Heuristic:
        return cls(config)

    def loss_module(self) -> LossModuleTraining | None:
        """How to train a loss-prediction module with the task model, when the heuristic reads one."""
        return None

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
        return top_k(candidates, self.score(context, candidates), budget)


def top_k(candidates: torch.Tensor, scores: torch.Tensor, budget: int) -> Selection:
    """The ``budget`` highest-scoring candidates (ascending pool indices); ties: lower index first."""
    scores = scores.float()
    # Stable descending sort over ascending candidates: equal scores keep the lower index first.
    order = torch.sort(scores, descending=True, stable=True).indices[:budget]
    return Selection(indices=candidates[order], scores=scores[order])


class GreedyFeatureHeuristic(Heuristic):
    """Greedy picks on [T_f(x) ⁀ alpha V(x)] of the whole pool, the labeled points as the start set.

    Subclasses name the greedy function: ``(features, labeled_mask, budget) -> (indices, distances)``.
    """

    supports_vae = True
    supports_vae_only = True
    model_independent_of_alpha = True

    @staticmethod
    @abstractmethod
    def greedy(
        features: torch.Tensor, labeled_mask: torch.Tensor, budget: int
    ) -> tuple[torch.Tensor, torch.Tensor]: ...

    @staticmethod
    @abstractmethod
    def deciding_differences(
        features: torch.Tensor, labeled_mask: torch.Tensor, picks: torch.Tensor
    ) -> torch.Tensor:
        """(k, d) float64: each pick minus the point its greedy measured it from when it was picked."""

    def select(self, context: SelectionContext, budget: int) -> Selection:
        pool = torch.arange(context.n_pool, device=context.device)
        weighted = weigh_features(
            context.infer(pool).features, context.embeddings, context.alpha, context.alpha_scaling
        )
        indices, distances = self.greedy(weighted.features, context.labeled_mask, budget)
        diagnostics = weighted.diagnostics()
        if weighted.uses_vae:
            # vae_share is the block's share of the pool's spread; this is its share of the distances
            # that decided the picks, which is what the selection actually saw.
            differences = self.deciding_differences(weighted.features, context.labeled_mask, indices)
            vae_width = context.embeddings.shape[1]
            diagnostics[schema.VAE_SHARE_OF_PICK_DISTANCES] = vae_share_of_differences(differences, vae_width)
        return Selection(indices=indices, scores=distances.float(), diagnostics=diagnostics)


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


HEURISTICS: Registry[type[Heuristic]] = Registry("heuristic")
"""Name -> heuristic class. Here, not in ``__init__``, so heuristic modules register without cycles."""

HeuristicT = TypeVar("HeuristicT", bound=type[Heuristic])


def register_heuristic(cls: HeuristicT) -> HeuristicT:
    """Class decorator: register ``cls`` under its config class's ``name``, the one place it is written."""
    cls.name = cls.config_class.model_fields["name"].default
    return HEURISTICS.register(cls.name)(cls)
