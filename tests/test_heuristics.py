"""Selection heuristics: one contract every registered heuristic inherits, then known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from raysweep.config import TrialConfig
from raysweep.heuristics import (
    HEURISTICS,
    ClassifierHead,
    PoolInference,
    SelectionContext,
    build_heuristic,
    greedy_centroid,
    greedy_centroid_with_distances,
    greedy_k_center,
    greedy_k_center_with_distances,
    names_where,
)
from raysweep.heuristics.badge import BadgeHeuristicConfig
from raysweep.heuristics.bald import BaldHeuristicConfig
from raysweep.heuristics.coreset import CoresetHeuristicConfig
from raysweep.heuristics.entropy import EntropyHeuristicConfig
from raysweep.heuristics.least_confidence import LeastConfidenceHeuristicConfig
from raysweep.heuristics.lloss import LLossHeuristicConfig
from raysweep.heuristics.margin import MarginHeuristicConfig
from raysweep.heuristics.medal import MedalHeuristicConfig
from raysweep.heuristics.random import RandomHeuristicConfig
from raysweep.heuristics.typiclust import TypiclustHeuristicConfig


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: threads only add overhead (and stall badly when the cores are shared)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


CONFIGS = {
    "random": RandomHeuristicConfig(),
    "entropy": EntropyHeuristicConfig(),
    "coreset": CoresetHeuristicConfig(),
    "medal": MedalHeuristicConfig(),
    "lloss": LLossHeuristicConfig(subset_size=20),
    "margin": MarginHeuristicConfig(),
    "least_confidence": LeastConfidenceHeuristicConfig(),
    "bald": BaldHeuristicConfig(),
    "badge": BadgeHeuristicConfig(),
    "typiclust": TypiclustHeuristicConfig(),
}


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


def select(name: str, context: SelectionContext, budget: int):
    return build_heuristic(CONFIGS[name]).select(context, budget)


# ------------------------------------------------------------------------------------------------
# The contract: every registered heuristic
# ------------------------------------------------------------------------------------------------


def test_every_registered_heuristic_has_a_test_config():
    assert set(HEURISTICS.names()) == set(CONFIGS)


VAE_MODES = {
    "plain": {},
    "raw": {"alpha": 0.5, "alpha_scaling": "raw"},
    "balanced": {"alpha": 0.5, "alpha_scaling": "balanced"},
    "vae_only": {"alpha": math.inf, "alpha_scaling": "balanced"},
}


@pytest.mark.parametrize("name", HEURISTICS.names())
@pytest.mark.parametrize("mode", list(VAE_MODES))
def test_contract(name: str, mode: str):
    heuristic_cls = HEURISTICS.get(name)
    if mode != "plain" and not heuristic_cls.supports_vae:
        pytest.skip(f"{name} takes no VAE features")
    if mode == "vae_only" and not heuristic_cls.supports_vae_only:
        pytest.skip(f"{name} cannot run on the VAE features alone")
    extra = dict(VAE_MODES[mode])
    if extra:
        extra["embeddings"] = torch.randn(40, 3, generator=torch.Generator().manual_seed(9))
    context = random_pool(seed=1, **extra)
    budget = 7
    first = select(name, context, budget)
    assert first.indices.dtype == torch.int64 and first.indices.shape == (budget,)
    assert first.scores.shape == (budget,) and torch.isfinite(first.scores).all()
    assert len(set(first.indices.tolist())) == budget
    assert not context.labeled_mask[first.indices].any()
    assert all(math.isfinite(v) or k == "equivalent_raw_alpha" for k, v in first.diagnostics.items())
    if mode != "plain" and (
        heuristic_cls.supports_vae and build_heuristic(CONFIGS[name]).loss_module() is None
    ):
        assert 0 <= first.diagnostics["vae_share"] <= 1
    again = select(name, random_pool(seed=1, **extra), budget)
    assert torch.equal(first.indices, again.indices)
    with pytest.raises(ValueError, match="budget"):
        select(name, context, int((~context.labeled_mask).sum()) + 1)
    with pytest.raises(ValueError, match="budget"):
        select(name, context, 0)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(KeyError, match="coreset"):
        HEURISTICS.get("nope")


def test_capabilities_are_asked_of_the_heuristic():
    """Each heuristic states what it can do once, on its class; the config and the trial list ask it."""
    assert names_where("supports_vae") == ["badge", "coreset", "lloss", "medal", "typiclust"]
    assert names_where("supports_vae_only") == ["badge", "coreset", "medal", "typiclust"]
    assert set(names_where("supports_vae_only")) <= set(names_where("supports_vae"))
    # Every feature-space heuristic with VAE features gets the plain_overlap reference selection.
    assert names_where("model_independent_of_alpha") == ["badge", "coreset", "medal", "typiclust"]
    assert [n for n in HEURISTICS.names() if build_heuristic(CONFIGS[n]).loss_module() is not None] == [
        "lloss"
    ]
    assert [n for n in HEURISTICS.names() if build_heuristic(CONFIGS[n]).model_dropout() > 0] == ["bald"]
    # The config refuses alpha where the registry says no, naming the heuristics that take it.
    with pytest.raises(ValueError, match="badge, coreset, lloss, medal, typiclust"):
        TrialConfig(heuristic=EntropyHeuristicConfig(), alpha=1.0)
    with pytest.raises(ValueError, match="cannot use"):
        TrialConfig(heuristic=LLossHeuristicConfig(), alpha=float("inf"))


# ------------------------------------------------------------------------------------------------
# Known answers
# ------------------------------------------------------------------------------------------------


def line(points: list[float]) -> torch.Tensor:
    return torch.tensor(points, dtype=torch.float64)[:, None]


def test_k_center_farthest_point_is_index_3():
    features = line([0.0, 1.0, 2.0, 10.0, 3.0])
    labeled = torch.tensor([True, False, False, False, False])
    assert greedy_k_center(features, labeled, 1).tolist() == [3]


def test_k_center_order_on_a_line():
    # Centre at 0; points 1..8 and 16. Picks: 16, then 8 (8 from both 0 and 16), then 4, then 2 and
    # 6 tie at 2 -> the lower index (2).
    features = line([0, 1, 2, 3, 4, 5, 6, 7, 8, 16])
    labeled = torch.zeros(10, dtype=torch.bool)
    labeled[0] = True
    indices, distances = greedy_k_center_with_distances(features, labeled, 4)
    assert indices.tolist() == [9, 8, 4, 2]
    assert distances.tolist() == pytest.approx([16.0, 8.0, 4.0, 2.0])


def test_k_center_without_labels_starts_farthest_from_the_mean():
    features = line([0, 1, 2, 3, 10])  # mean 3.2: index 4 is farthest, then 0
    indices, distances = greedy_k_center_with_distances(features, torch.zeros(5, dtype=torch.bool), 2)
    assert indices.tolist() == [4, 0]
    assert distances.tolist() == pytest.approx([6.8, 10.0])


def test_k_center_ties_go_to_the_lowest_index():
    features = line([0, -5, 5, -5, 5])  # duplicates: four points at distance 5
    labeled = torch.tensor([True, False, False, False, False])
    assert greedy_k_center(features, labeled, 4, block_size=2).tolist() == [1, 2, 3, 4]


def brute_force_k_center(features: np.ndarray, labeled: np.ndarray, budget: int) -> list[int]:
    x = features.astype(np.float64)
    selectable = ~labeled
    picks = []
    if labeled.any():
        dist = ((x[:, None, :] - x[labeled][None]) ** 2).sum(2).min(1)
    else:
        first = int(np.argmax(((x - x.mean(0)) ** 2).sum(1)))
        picks, selectable[first] = [first], False
        dist = ((x - x[first]) ** 2).sum(1)
    while len(picks) < budget:
        pick = int(np.argmax(np.where(selectable, dist, -np.inf)))
        picks.append(pick)
        selectable[pick] = False
        dist = np.minimum(dist, ((x - x[pick]) ** 2).sum(1))
    return picks


def brute_force_centroid(features: np.ndarray, labeled: np.ndarray, budget: int) -> list[int]:
    x = features.astype(np.float64)
    selectable = ~labeled
    picks = []
    if labeled.any():
        total, count = x[labeled].sum(0), int(labeled.sum())
    else:
        first = int(np.argmax(((x - x.mean(0)) ** 2).sum(1)))
        picks, selectable[first], total, count = [first], False, x[first].copy(), 1
    while len(picks) < budget:
        dist = ((x - total / count) ** 2).sum(1)
        pick = int(np.argmax(np.where(selectable, dist, -np.inf)))
        picks.append(pick)
        selectable[pick] = False
        total, count = total + x[pick], count + 1
    return picks


CASES = [(seed, n, d) for seed, (n, d) in enumerate([(60, 2), (200, 5), (300, 16), (150, 1), (250, 40)])]


@pytest.mark.parametrize(("seed", "n", "d"), CASES)
@pytest.mark.parametrize("block_size", [3, 16, 1024])
@pytest.mark.parametrize("empty", [False, True])
def test_k_center_equals_brute_force(seed: int, n: int, d: int, block_size: int, empty: bool):
    rng = np.random.default_rng(seed)
    # Clustered data so the bounds prune and blocks end early with small block sizes.
    features = rng.normal(size=(n, d)) + 4 * rng.normal(size=(5, d))[rng.integers(0, 5, n)]
    labeled = np.zeros(n, dtype=bool) if empty else rng.random(n) < 0.3
    budget = min(int((~labeled).sum()), n // 3)
    expected = brute_force_k_center(features, labeled, budget)
    for dtype in (torch.float64, torch.float32):
        got = greedy_k_center(
            torch.tensor(features, dtype=dtype),
            torch.tensor(labeled),
            budget,
            block_size=block_size,
        )
        assert got.tolist() == expected, dtype


@pytest.mark.parametrize(("seed", "n", "d"), CASES)
@pytest.mark.parametrize("block_size", [2, 16, 1024])
@pytest.mark.parametrize("empty", [False, True])
def test_centroid_equals_brute_force(seed: int, n: int, d: int, block_size: int, empty: bool):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, d)) * rng.uniform(0.2, 3, size=d)
    labeled = np.zeros(n, dtype=bool) if empty else rng.random(n) < 0.3
    budget = min(int((~labeled).sum()), n // 2)
    expected = brute_force_centroid(features, labeled, budget)
    for dtype in (torch.float64, torch.float32):
        got = greedy_centroid(
            torch.tensor(features, dtype=dtype), torch.tensor(labeled), budget, block_size=block_size
        )
        assert got.tolist() == expected, dtype


@pytest.mark.parametrize("fn", [brute_force_k_center, brute_force_centroid])
def test_duplicates_resolve_ties_exactly(fn):
    # Many exact duplicates: blocks keep ending on ties until the exact global fallback step runs.
    rng = np.random.default_rng(11)
    features = np.repeat(rng.normal(size=(6, 3)), 10, axis=0)[rng.permutation(60)]
    labeled = np.zeros(60, dtype=bool)
    labeled[:5] = True
    expected = fn(features, labeled, 40)
    greedy = greedy_k_center if fn is brute_force_k_center else greedy_centroid
    for dtype in (torch.float64, torch.float32):
        got = greedy(torch.tensor(features, dtype=dtype), torch.tensor(labeled), 40, block_size=2)
        assert got.tolist() == expected, dtype


def test_centroid_moves_with_each_pick():
    # Labeled centroid 0. The farthest point is 10; the centroid then moves to 5 and -6 wins over 9.
    features = line([-1, 1, 10, 9, -6])
    labeled = torch.tensor([True, True, False, False, False])
    indices, distances = greedy_centroid_with_distances(features, labeled, 3)
    assert indices.tolist() == [2, 4, 3]
    assert distances.tolist() == pytest.approx([10.0, 6 + 10 / 3, 9 - 1.0])


def test_entropy_picks_the_uniform_row():
    logits = torch.tensor([[5.0, 0.0, 0.0], [0.0, 0.0, 0.0], [2.0, 1.0, 0.0], [100.0, -100.0, 0.0]])
    context = make_context(torch.zeros(4, 2), torch.zeros(4, dtype=torch.bool), logits=logits)
    selection = select("entropy", context, 4)
    assert selection.indices.tolist() == [1, 2, 0, 3]
    assert selection.scores[0].item() == pytest.approx(np.log(3))
    assert torch.isfinite(selection.scores).all()


def test_entropy_multi_label_sums_binary_entropies():
    # Row 0: two labels at p = 0.5 (2 ln 2). Row 1: one at 0.5, one saturated (ln 2). Row 2: sure.
    logits = torch.tensor([[0.0, 0.0], [0.0, 200.0], [-200.0, 200.0]])
    context = make_context(
        torch.zeros(3, 2), torch.zeros(3, dtype=torch.bool), logits=logits, multi_label=True
    )
    selection = select("entropy", context, 3)
    assert selection.indices.tolist() == [0, 1, 2]
    assert selection.scores.tolist() == pytest.approx([2 * np.log(2), np.log(2), 0.0], abs=1e-6)


def test_lloss_picks_the_highest_predicted_loss_within_its_subset():
    n = 50
    loss = torch.arange(n, dtype=torch.float32)
    context = make_context(torch.zeros(n, 2), torch.zeros(n, dtype=torch.bool), predicted_loss=loss, seed=3)
    heuristic = build_heuristic(LLossHeuristicConfig(subset_size=10))
    subset = heuristic.candidates(make_context(torch.zeros(n, 2), torch.zeros(n, dtype=torch.bool), seed=3))
    assert len(subset) == 10
    selection = heuristic.select(context, 3)
    assert selection.indices.tolist() == sorted(subset.tolist(), reverse=True)[:3]
    # Fewer unlabeled points than the subset size: all are scored.
    everything = build_heuristic(LLossHeuristicConfig(subset_size=1000)).select(context, 2)
    assert everything.indices.tolist() == [49, 48]


def test_lloss_without_a_loss_module_says_so():
    context = make_context(torch.zeros(5, 2), torch.zeros(5, dtype=torch.bool))
    with pytest.raises(RuntimeError, match="loss-prediction module"):
        select("lloss", context, 2)


def test_random_is_uniform_over_unlabeled_and_seeded():
    labeled = torch.zeros(30, dtype=torch.bool)
    labeled[:10] = True
    picks = [
        select("random", make_context(torch.zeros(30, 2), labeled, seed=s), 5).indices.tolist()
        for s in range(3)
    ]
    assert all(min(p) >= 10 for p in picks)
    assert picks[0] != picks[1]


@pytest.mark.parametrize("scaling", ["raw", "balanced"])
@pytest.mark.parametrize("name", ["coreset", "medal"])
def test_alpha_zero_gives_the_plain_picks(name: str, scaling: str):
    plain = select(name, random_pool(seed=4), 8)
    embeddings = torch.randn(40, 3, generator=torch.Generator().manual_seed(5)) * 100
    augmented = select(name, random_pool(seed=4, embeddings=embeddings, alpha=0.0, alpha_scaling=scaling), 8)
    assert torch.equal(plain.indices, augmented.indices)
    assert torch.equal(plain.scores, augmented.scores)
    assert augmented.diagnostics == {}


@pytest.mark.parametrize("name", ["coreset", "medal"])
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


@pytest.mark.parametrize("name", ["coreset", "medal"])
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


def test_lloss_reports_the_blocks_of_its_head_input():
    n = 30
    gen = torch.Generator().manual_seed(3)
    head_input = torch.cat([torch.randn(n, 8, generator=gen) * 3.0, torch.randn(n, 2, generator=gen)], dim=1)
    embeddings = torch.randn(n, 2, generator=gen)

    def infer(indices):
        return PoolInference(
            logits=torch.zeros(len(indices), 3),
            features=torch.zeros(len(indices), 4),
            predicted_loss=head_input[indices, 0],
            loss_head_input=head_input[indices],
        )

    labeled = torch.zeros(n, dtype=torch.bool)
    context = SelectionContext(
        labeled_mask=labeled,
        infer=infer,
        generator=torch.Generator().manual_seed(0),
        device=torch.device("cpu"),
        embeddings=embeddings,
        alpha=1.0,
    )
    selection = build_heuristic(LLossHeuristicConfig(subset_size=1000)).select(context, 5)
    task = float((head_input[:, :8] - head_input[:, :8].mean(0)).pow(2).sum(1).mean().sqrt())
    vae = float((head_input[:, 8:] - head_input[:, 8:].mean(0)).pow(2).sum(1).mean().sqrt())
    assert selection.diagnostics["task_feature_spread"] == pytest.approx(task)
    assert selection.diagnostics["vae_feature_spread"] == pytest.approx(vae)
    assert selection.diagnostics["vae_share"] == pytest.approx(vae**2 / (task**2 + vae**2))
    assert selection.indices.tolist() == torch.argsort(head_input[:, 0], descending=True)[:5].tolist()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_picks_equal_cpu_picks():
    rng = np.random.default_rng(7)
    features = torch.tensor(
        rng.normal(size=(3000, 64)) + 3 * rng.normal(size=(8, 64))[rng.integers(0, 8, 3000)]
    )
    labeled = torch.tensor(rng.random(3000) < 0.2)
    for fn in (greedy_k_center, greedy_centroid):
        for dtype in (torch.float64, torch.float32):
            cpu = fn(features.to(dtype), labeled, 300, block_size=64)
            gpu = fn(features.to(dtype).cuda(), labeled.cuda(), 300, block_size=64)
            assert gpu.device.type == "cuda"
            assert torch.equal(cpu, gpu.cpu()), (fn.__name__, dtype)
