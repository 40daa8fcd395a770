"""The one signature every heuristic shares, and the contract every registered heuristic inherits.

The contract runs for every name in ``HEURISTICS`` (a new heuristic module is tested by registering
itself), on multi-class and multi-label pools, plain, with VAE features where the heuristic takes
them (``supports_vae``) and on the VAE block alone where it can (``supports_vae_only``): the same
seed gives the same picks; ``budget`` unique, previously unlabeled int64 indices with one finite
score each; a budget of 0 or above the selectable points is refused; alpha 0 with VAE features is
the plain heuristic. Then the base classes' own behaviour: top-k ranking and its tie-break, the
greedy feature heuristics' alpha, and the budget checks.
"""

from __future__ import annotations

import math

import pytest
import torch
from helpers.selection import line, make_context, random_pool, select

from raysweep.heuristics import HEURISTICS, build_heuristic
from raysweep.heuristics.base import (
    ClassifierHead,
    GreedyFeatureHeuristic,
    HeuristicConfigBase,
    SelectionContext,
    augment_features,
    check_budget,
    check_greedy_inputs,
    top_k,
)

VAE_MODES = {
    "plain": {},
    "raw": {"alpha": 0.5, "alpha_scaling": "raw"},
    "balanced": {"alpha": 0.5, "alpha_scaling": "balanced"},
    "vae_only": {"alpha": math.inf, "alpha_scaling": "balanced"},
}


def modes_of(name: str) -> list[str]:
    """The VAE modes the registered heuristic ``name`` takes, by its declared capabilities."""
    heuristic = HEURISTICS.get(name)
    return [
        mode
        for mode in VAE_MODES
        if mode == "plain" or (heuristic.supports_vae and (mode != "vae_only" or heuristic.supports_vae_only))
    ]


CASES = [
    pytest.param(
        name, mode, multi_label, id=f"{name}-{mode}-{'multi_label' if multi_label else 'multi_class'}"
    )
    for name in HEURISTICS.names()
    for mode in modes_of(name)
    for multi_label in (False, True)
]


def pool(mode: str, multi_label: bool, **extra) -> SelectionContext:
    vae = dict(VAE_MODES[mode], **extra)
    if vae:
        vae["embeddings"] = torch.randn(40, 3, generator=torch.Generator().manual_seed(9))
    return random_pool(seed=1, multi_label=multi_label, **vae)


@pytest.mark.parametrize(("name", "mode", "multi_label"), CASES)
def test_contract(name: str, mode: str, multi_label: bool) -> None:
    heuristic_cls = HEURISTICS.get(name)
    context = pool(mode, multi_label)
    budget = 7
    first = select(name, context, budget)
    assert first.indices.dtype == torch.int64 and first.indices.shape == (budget,)
    assert first.scores.shape == (budget,) and torch.isfinite(first.scores).all()
    assert len(set(first.indices.tolist())) == budget
    assert not context.labeled_mask[first.indices].any()
    assert all(math.isfinite(v) or k == "equivalent_raw_alpha" for k, v in first.diagnostics.items())
    if mode != "plain" and build_heuristic(heuristic_cls.config_class()).loss_module() is None:
        assert 0 <= first.diagnostics["vae_share"] <= 1
    again = select(name, pool(mode, multi_label), budget)
    assert torch.equal(first.indices, again.indices)
    with pytest.raises(ValueError, match="budget"):
        select(name, context, int((~context.labeled_mask).sum()) + 1)
    with pytest.raises(ValueError, match="budget"):
        select(name, context, 0)
    everything = select(name, context, int((~context.labeled_mask).sum()))
    assert sorted(everything.indices.tolist()) == context.unlabeled_indices().tolist()


@pytest.mark.parametrize("name", [n for n in HEURISTICS.names() if HEURISTICS.get(n).supports_vae])
@pytest.mark.parametrize("scaling", ["raw", "balanced"])
def test_alpha_zero_with_vae_features_gives_the_plain_picks(name: str, scaling: str) -> None:
    plain = select(name, random_pool(seed=4), 8)
    embeddings = torch.randn(40, 3, generator=torch.Generator().manual_seed(5)) * 100
    augmented = select(name, random_pool(seed=4, embeddings=embeddings, alpha=0.0, alpha_scaling=scaling), 8)
    assert torch.equal(plain.indices, augmented.indices)
    assert torch.equal(plain.scores, augmented.scores)
    assert augmented.diagnostics == {}


def test_every_heuristic_names_itself_from_its_config() -> None:
    for name in HEURISTICS.names():
        heuristic_cls = HEURISTICS.get(name)
        assert heuristic_cls.name == name == heuristic_cls.config_class().name
        assert issubclass(heuristic_cls.config_class, HeuristicConfigBase)
        assert not heuristic_cls.supports_vae_only or heuristic_cls.supports_vae
        built = build_heuristic(heuristic_cls.config_class())
        assert isinstance(built, heuristic_cls) and built.config == heuristic_cls.config_class()


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(KeyError, match="coreset"):
        HEURISTICS.get("nope")


# ------------------------------------------------------------------------------------------------
# Top-k ranking, budgets, the augmented features
# ------------------------------------------------------------------------------------------------


def test_top_k_ranks_by_score_and_breaks_ties_by_lower_index() -> None:
    candidates = torch.tensor([2, 5, 7, 9, 11])
    scores = torch.tensor([0.5, 0.9, 0.5, 0.9, 0.1], dtype=torch.float64)
    selection = top_k(candidates, scores, 4)
    assert selection.indices.tolist() == [5, 9, 2, 7]
    assert selection.scores.dtype == torch.float32 and selection.scores.tolist() == pytest.approx(
        [0.9, 0.9, 0.5, 0.5]
    )


def test_budget_checks_name_the_heuristic() -> None:
    check_budget(3, 3, "x")
    with pytest.raises(ValueError, match="coreset: budget must be positive, got 0"):
        check_budget(0, 5, "coreset")
    with pytest.raises(ValueError, match="coreset: budget 6 exceeds the 5 selectable points"):
        check_budget(6, 5, "coreset")
    with pytest.raises(ValueError, match=r"features must be \(n, d\) and labeled_mask \(n,\)"):
        check_greedy_inputs(torch.zeros(4, 2), torch.zeros(3, dtype=torch.bool), 1, "x")
    mask = check_greedy_inputs(torch.zeros(4, 2), torch.tensor([1, 0, 0, 0]), 3, "x")
    assert mask.dtype == torch.bool and mask.tolist() == [True, False, False, False]


def test_augment_features_is_the_concatenation_and_alpha_zero_is_the_task_block_itself() -> None:
    task, vae = torch.randn(5, 3), torch.randn(5, 2)
    assert augment_features(task, vae, 0.0) is task
    assert torch.equal(
        augment_features(task, vae, 0.5), torch.cat([task, 0.5 * vae], dim=1)
    )  # raw by default


def test_selection_context_pool_and_unlabeled() -> None:
    context = make_context(torch.zeros(5, 2), torch.tensor([True, False, True, False, False]))
    assert context.n_pool == 5 and context.unlabeled_indices().tolist() == [1, 3, 4]
    assert isinstance(context.head, ClassifierHead)


# ------------------------------------------------------------------------------------------------
# The greedy feature heuristics (core-set, MedAL): what alpha does to their picks
# ------------------------------------------------------------------------------------------------

GREEDY = [n for n in HEURISTICS.names() if issubclass(HEURISTICS.get(n), GreedyFeatureHeuristic)]


def test_the_greedy_heuristics_are_core_set_and_medal() -> None:
    assert GREEDY == ["coreset", "medal"]


@pytest.mark.parametrize("name", GREEDY)
def test_alpha_can_change_the_picks(name: str):
    # Task features say index 2 is farthest; the VAE features put index 1 far away.
    features = line([0.0, 1.0, 3.0]).float()
    embeddings = torch.tensor([[0.0], [10.0], [0.0]])
    labeled = torch.tensor([True, False, False])
    plain = select(name, make_context(features, labeled), 1)
    raw = select(
        name, make_context(features, labeled, embeddings=embeddings, alpha=1.0, alpha_scaling="raw"), 1
    )
    assert plain.indices.tolist() == [2]
    assert raw.indices.tolist() == [1]
    # Balanced: spreads 1.247 (task) and 4.714 (VAE) become 1 and alpha. At alpha 1 the VAE block's
    # 10 shrinks to 2.12 and the task block's 3 grows to 2.41: point 2 stays farthest
    # (sqrt(0.80^2 + 2.12^2) = 2.27 < 2.41); at alpha 2 point 1 wins (sqrt(0.80^2 + 4.24^2) = 4.32).
    balanced = {
        alpha: select(name, make_context(features, labeled, embeddings=embeddings, alpha=alpha), 1)
        for alpha in (1.0, 2.0, math.inf)
    }
    assert balanced[1.0].indices.tolist() == [2]
    assert balanced[2.0].indices.tolist() == [1]
    assert balanced[math.inf].indices.tolist() == [1]
    assert balanced[1.0].diagnostics["vae_share"] == pytest.approx(0.5)
    assert balanced[2.0].diagnostics["vae_share"] == pytest.approx(0.8)
    assert balanced[math.inf].diagnostics["vae_share"] == 1.0


@pytest.mark.parametrize("name", GREEDY)
def test_balanced_picks_do_not_depend_on_either_block_s_scale(name: str):
    """The point of balancing: the same alpha means the same weight whatever the blocks' sizes."""
    gen = torch.Generator().manual_seed(11)
    features = torch.randn(60, 5, generator=gen, dtype=torch.float64)
    embeddings = torch.randn(60, 3, generator=gen, dtype=torch.float64)
    labeled = torch.zeros(60, dtype=torch.bool)
    labeled[:6] = True
    reference = select(name, make_context(features, labeled, embeddings=embeddings, alpha=0.7), 12)
    for task_scale, vae_scale in [(30.0, 1.0), (1.0, 0.05), (583.0, 27.0)]:
        scaled = select(
            name,
            make_context(features * task_scale, labeled, embeddings=embeddings * vae_scale, alpha=0.7),
            12,
        )
        assert torch.equal(scaled.indices, reference.indices), (task_scale, vae_scale)
    raw_small = select(
        name,
        make_context(features * 30, labeled, embeddings=embeddings, alpha=0.7, alpha_scaling="raw"),
        12,
    )
    plain = select(name, make_context(features, labeled), 12)
    assert torch.equal(raw_small.indices, plain.indices)  # raw: a small block weighs nothing


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ["margin", "least_confidence", "bald", "badge", "typiclust"])
def test_cuda_selection_keeps_the_contract(name):
    """On a GPU: picks on the device, unique, unlabeled, finite, and the same on a rerun. (BALD's
    masks come from a CUDA generator, so its picks differ from the CPU's; the others may differ from
    the CPU's only where float32 sums in another order move a near-tie.)"""
    gen = torch.Generator().manual_seed(4)
    n = 2000
    features = torch.relu(torch.randn(n, 64, generator=gen)).cuda()
    logits = (3 * torch.randn(n, 10, generator=gen)).cuda()
    embeddings = torch.randn(n, 8, generator=gen).cuda()
    labeled = torch.zeros(n, dtype=torch.bool)
    labeled[:200] = True
    head = ClassifierHead(torch.randn(10, 64, generator=gen).cuda(), torch.zeros(10).cuda(), 0.5)
    uses_vae = name in ("badge", "typiclust")

    def run():
        context = make_context(
            features,
            labeled.cuda(),
            logits=logits,
            head=head,
            **({"embeddings": embeddings, "alpha": 1.0} if uses_vae else {}),
        )
        context.device = torch.device("cuda")
        return select(name, context, 300)

    first, second = run(), run()
    assert first.indices.device.type == "cuda"
    assert len(set(first.indices.tolist())) == 300 and not labeled[first.indices.cpu()].any()
    assert torch.isfinite(first.scores).all()
    assert torch.equal(first.indices, second.indices)
