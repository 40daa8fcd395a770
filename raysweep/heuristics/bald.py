"""BALD (Houlsby et al. 2011) with MC dropout (Gal et al. 2017): the mutual information between a
point's label and the model, H[mean_t p_t] - mean_t H[p_t] over T stochastic passes.

ResNet-18 has no dropout, so BALD needs the model's dropout before the classifier (``model.dropout``,
shared by every arm of a sweep, so BALD is compared with arms that train the same network; a trial
config without it is refused). Because that is the only random layer,
the network below it is deterministic: the T passes share one backbone pass (``context.infer``'s
features) and differ only in the dropout mask applied to the 512 features before the classifier
(``context.head``). That is exactly T full stochastic forward passes (BatchNorm in eval mode, as at
inference), for the cost of one plus T small matrix products.

The masks are drawn on the trial's device from a generator seeded by one draw of the trial's
generator: the same picks on every rerun on the same device type (CPU and CUDA draw different
streams, so their picks differ).

Multi-label (ChestMNIST): each label's binary BALD, H_b[mean_t s_t] - mean_t H_b[s_t] with s the
label's sigmoid, summed over labels, as the multi-label entropy sums binary entropies (the
labels are modelled as independent given the features).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator

from raysweep.heuristics.base import (
    ClassifierHead,
    HeuristicConfigBase,
    SelectionContext,
    TopKHeuristic,
    register_heuristic,
)

_ROWS_PER_CHUNK = 2048
"""Pool rows per batch of MC passes: one T x rows x 512 float32 buffer (84 MB at T = 20)."""


def _entropy_terms(log_p: torch.Tensor) -> torch.Tensor:
    """-p log p elementwise from log p (0 where p = 0, never NaN)."""
    return -(log_p.exp() * log_p)


def mutual_information(logits: torch.Tensor, multi_label: bool) -> torch.Tensor:
    """(T, n, outputs) logits of T stochastic passes -> (n,) BALD scores in nats, >= 0.

    Multi-class: H[mean_t softmax] - mean_t H[softmax]. Multi-label: the same for each label's
    Bernoulli, summed over labels. Computed in float64 from log-probabilities, so saturated passes
    give exact zeros and the difference of two entropies does not lose the small differences.
    """
    logits = logits.double()
    passes = logits.shape[0]
    if multi_label:
        # Each label: the two outcomes' log-probabilities, as a trailing axis of two "classes".
        log_p = torch.stack([F.logsigmoid(logits), F.logsigmoid(-logits)], dim=-1)
    else:
        log_p = F.log_softmax(logits, dim=-1).unsqueeze(-2)  # one "label" with all the classes
    expected_entropy = _entropy_terms(log_p).sum(-1).mean(0)  # (n, labels)
    log_mean = torch.logsumexp(log_p, dim=0) - torch.log(torch.tensor(float(passes), dtype=torch.float64))
    entropy_of_mean = _entropy_terms(log_mean).sum(-1)
    # Jensen: the difference is >= 0; rounding can leave -1e-17 on a deterministic point.
    return (entropy_of_mean - expected_entropy).clamp_min(0).sum(-1)


@torch.no_grad()
def mc_dropout_logits(
    features: torch.Tensor, head: ClassifierHead, passes: int, generator: torch.Generator
) -> torch.Tensor:
    """(T, n, outputs) logits of ``passes`` dropout masks on (n, 512) ``features`` through ``head``.

    Inverted dropout as in training: kept units are scaled by 1 / (1 - rate). ``generator`` lives on
    the features' device.
    """
    keep = 1.0 - head.dropout
    # One T x n x 512 buffer, reused in place: uniforms -> 0/1 mask -> masked, rescaled features.
    dropped = torch.rand(
        (passes, *features.shape), generator=generator, device=features.device, dtype=torch.float32
    )
    dropped.lt_(keep).mul_(features.float() * (1.0 / keep))
    return torch.baddbmm(head.bias.expand(passes, 1, -1), dropped, head.weight.T.expand(passes, -1, -1))


class BaldHeuristicConfig(HeuristicConfigBase):
    name: Literal["bald"] = "bald"
    mc_passes: int = Field(default=20, ge=2)
    """Stochastic passes T over the classifier (more: a less noisy estimate of the mutual information)."""

    @model_validator(mode="before")
    @classmethod
    def _dropout_is_the_models(cls, data: Any) -> Any:
        if isinstance(data, dict) and "dropout" in data:
            raise ValueError(
                "heuristic.dropout is now model.dropout, shared by every arm of the sweep (BALD alone with "
                "dropout would compare a regularised network with plain ones); move it there"
            )
        return data


@register_heuristic
class BaldHeuristic(TopKHeuristic):
    config_class = BaldHeuristicConfig
    config: BaldHeuristicConfig

    needs_model_dropout = True

    def score(self, context: SelectionContext, candidates: torch.Tensor) -> torch.Tensor:
        head = context.head
        if head is None or head.dropout <= 0:
            raise RuntimeError(
                "bald: the task model has no dropout before its classifier, so MC dropout has nothing to "
                "sample; set model.dropout (context.head gives the rate)"
            )
        features = context.infer(candidates).features
        # One draw of the trial's generator seeds the masks' generator on the device, so the masks
        # are drawn where they are used (T x n x 512 of them) and still follow the trial's seed.
        seed = int(torch.randint(0, 2**62, (1,), generator=context.generator))
        mask_generator = torch.Generator(device=features.device).manual_seed(seed)
        scores = [
            mutual_information(
                mc_dropout_logits(chunk, head, self.config.mc_passes, mask_generator), context.multi_label
            )
            for chunk in features.split(_ROWS_PER_CHUNK)
        ]
        return torch.cat(scores)
