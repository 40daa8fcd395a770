"""Selection contexts on tiny tensors, for the heuristics' tests: what a trained model would say about
a handful of pool points, looked up in precomputed tensors instead of computed."""

from __future__ import annotations

import torch

from raysweep.heuristics import (
    HEURISTICS,
    ClassifierHead,
    PoolInference,
    Selection,
    SelectionContext,
    build_heuristic,
)


def make_context(
    features: torch.Tensor,
    labeled_mask: torch.Tensor,
    *,
    logits: torch.Tensor | None = None,
    predicted_loss: torch.Tensor | None = None,
    embeddings: torch.Tensor | None = None,
    alpha: float = 0.0,
    alpha_scaling: str = "balanced",
    multi_label: bool = False,
    seed: int = 0,
    head: ClassifierHead | None = None,
) -> SelectionContext:
    """A CPU context whose ``infer`` looks rows up in precomputed tensors. Without a ``head``, the
    classifier is a fixed random layer from the features to the logits' width with dropout 0.5."""
    n = features.shape[0]
    logits = torch.zeros(n, 3) if logits is None else logits
    if head is None:
        gen = torch.Generator().manual_seed(123)
        weight = torch.randn(logits.shape[1], features.shape[1], generator=gen)
        head = ClassifierHead(weight=weight, bias=torch.zeros(logits.shape[1]), dropout=0.5)

    def infer(indices: torch.Tensor) -> PoolInference:
        loss = None if predicted_loss is None else predicted_loss[indices]
        return PoolInference(logits=logits[indices], features=features[indices], predicted_loss=loss)

    return SelectionContext(
        labeled_mask=labeled_mask,
        infer=infer,
        generator=torch.Generator().manual_seed(seed),
        device=torch.device("cpu"),
        multi_label=multi_label,
        embeddings=embeddings,
        alpha=alpha,
        alpha_scaling=alpha_scaling,
        head=head,
    )


def random_pool(n: int = 40, seed: int = 0, **kwargs) -> SelectionContext:
    """``n`` points, a quarter of them labeled, random features (6), logits (4) and predicted losses."""
    gen = torch.Generator().manual_seed(seed)
    labeled = torch.zeros(n, dtype=torch.bool)
    labeled[torch.randperm(n, generator=gen)[: n // 4]] = True
    return make_context(
        torch.randn(n, 6, generator=gen),
        labeled,
        logits=torch.randn(n, 4, generator=gen),
        predicted_loss=torch.rand(n, generator=gen),
        **kwargs,
    )


def select(name: str, context: SelectionContext, budget: int) -> Selection:
    """The registered heuristic ``name`` with its default config, selecting ``budget`` points."""
    return build_heuristic(HEURISTICS.get(name).config_class()).select(context, budget)


def no_labels(n: int) -> torch.Tensor:
    return torch.zeros(n, dtype=torch.bool)


def line(points: list[float]) -> torch.Tensor:
    """Points on a line as (n, 1) float64 features."""
    return torch.tensor(points, dtype=torch.float64)[:, None]


def blobs(n_per: int = 30, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Three well-separated 2-d Gaussian blobs of ``n_per`` points and each point's blob, for the
    clustering heuristics."""
    gen = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    membership = torch.arange(3).repeat_interleave(n_per)
    return centres[membership] + 0.5 * torch.randn(3 * n_per, 2, generator=gen), membership
