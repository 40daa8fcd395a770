"""The peers' strategies: margin, least confidence, BALD, BADGE, TypiClust.

Known answers on tiny arrays for each (the shared contract is in test_heuristics.py), the exactness of
the rejection-sampled k-means++ and of BADGE's factorised distances against the materialised
embedding, MC dropout's model side (only BALD's model has dropout, seeded per round), and a digits
trajectory of two rounds per strategy, plain and with VAE features where supported.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from test_heuristics import make_context, random_pool, select

from raysweep.config import TrialConfig
from raysweep.heuristics import ClassifierHead, build_heuristic
from raysweep.heuristics.badge import gradient_embedding_spread, gradient_factor
from raysweep.heuristics.bald import BaldHeuristicConfig, mc_dropout_logits, mutual_information
from raysweep.heuristics.kmeans import BlockEmbedding, EmbeddingBlock, cluster_sums, kmeans, kmeans_pp_seeding
from raysweep.heuristics.typiclust import (
    TypiclustHeuristicConfig,
    mean_neighbour_sq_distances,
    typical_picks,
    visiting_order,
)
from raysweep.heuristics.weighting import rms_spread
from raysweep.models.resnet import ResNet18Task


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: threads only add overhead (and stall badly when the cores are shared)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def no_labels(n: int) -> torch.Tensor:
    return torch.zeros(n, dtype=torch.bool)


# ------------------------------------------------------------------------------------------------
# Margin and least confidence
# ------------------------------------------------------------------------------------------------


def test_margin_and_least_confidence_rank_differently_as_they_should():
    # Row 0: p = (.5, .5, 0): top-2 tie (margin 0), confidence .5. Row 1: p = (.4, .3, .3): margin .1,
    # confidence .4 (the least confident). Row 2: p = (.9, .05, .05): sure on both counts.
    probabilities = torch.tensor([[0.5, 0.5, 1e-9], [0.4, 0.3, 0.3], [0.9, 0.05, 0.05]])
    context = make_context(torch.zeros(3, 2), no_labels(3), logits=probabilities.log())
    margin = select("margin", context, 3)
    least = select("least_confidence", context, 3)
    assert margin.indices.tolist() == [0, 1, 2]
    assert margin.scores.tolist() == pytest.approx([1.0, 0.9, 0.15], abs=1e-6)
    assert least.indices.tolist() == [1, 0, 2]
    assert least.scores.tolist() == pytest.approx([0.6, 0.5, 0.1], abs=1e-6)


def test_margin_picks_the_closest_top_two_and_breaks_ties_by_index():
    logits = torch.tensor(
        [[3.0, 0.0, 0.0], [1.0, 1.0, -5.0], [2.0, 1.5, 0.0], [0.0, 0.0, 0.0], [80.0, -80.0, 0.0]]
    )
    selection = select("margin", make_context(torch.zeros(5, 2), no_labels(5), logits=logits), 5)
    assert selection.indices.tolist() == [1, 3, 2, 0, 4]  # rows 1 and 3 both have margin 0
    assert selection.scores[-1].item() == 0.0 and torch.isfinite(selection.scores).all()


@pytest.mark.parametrize(
    ("name", "expected_scores"),
    [
        # Per-label margin |2 sigmoid(z) - 1| = tanh(|z| / 2), averaged; the score is 1 - the mean.
        ("margin", [1.0, 1 - math.tanh(0.5) / 2, 0.5, 0.0]),
        # Per-label min(p, 1 - p) = sigmoid(-|z|), averaged.
        ("least_confidence", [0.5, (0.5 + 1 / (1 + math.e)) / 2, 0.25, 0.0]),
    ],
)
def test_multi_label_forms_average_per_label_scores(name, expected_scores):
    # Row 0: both labels at p = .5. Row 1: one at .5, one at logit -1. Row 2: one at .5, one
    # saturated. Row 3: both saturated.
    logits = torch.tensor([[0.0, 0.0], [0.0, -1.0], [0.0, 200.0], [-200.0, 200.0]])
    context = make_context(torch.zeros(4, 2), no_labels(4), logits=logits, multi_label=True)
    selection = select(name, context, 4)
    assert selection.indices.tolist() == [0, 1, 2, 3]
    assert selection.scores.tolist() == pytest.approx(expected_scores, abs=1e-6)


# ------------------------------------------------------------------------------------------------
# BALD
# ------------------------------------------------------------------------------------------------


def two_class_head(w: float, dropout: float = 0.5, labels: int | None = None) -> ClassifierHead:
    """d = 1 feature; logits (w h, -w h) for two classes, or ``labels`` labels of logit w h each."""
    rows = labels if labels is not None else 2
    weight = torch.full((rows, 1), w) if labels is not None else torch.tensor([[w], [-w]])
    return ClassifierHead(weight=weight, bias=torch.zeros(rows), dropout=dropout)


def test_bald_is_zero_for_a_deterministic_model():
    # A classifier that ignores its input: every pass gives the same prediction, no disagreement.
    head = ClassifierHead(weight=torch.zeros(3, 4), bias=torch.tensor([1.0, 0.0, -1.0]), dropout=0.5)
    gen = torch.Generator().manual_seed(0)
    logits = mc_dropout_logits(torch.randn(6, 4, generator=gen), head, 20, torch.Generator().manual_seed(1))
    assert mutual_information(logits, multi_label=False).abs().max() < 1e-12
    assert mutual_information(logits, multi_label=True).abs().max() < 1e-12
    context = make_context(torch.randn(6, 4, generator=gen), no_labels(6), head=head)
    selection = select("bald", context, 6)
    assert selection.indices.tolist() == list(range(6))  # all zero: the index breaks the ties
    assert selection.scores.abs().max() < 1e-6


@pytest.mark.parametrize("multi_label", [False, True])
def test_bald_known_mutual_information(multi_label):
    """Dropout 0.5 on one feature h = 1 with a large weight: half the passes are sure of class 0, half
    see logit 0 (p = 1/2). MI = H(3/4, 1/4) - ln(2)/2 = 0.2158 nats; per label for multi-label, summed.
    A point with h = 0 never changes its prediction: MI 0."""
    labels = 2 if multi_label else None
    head = two_class_head(50.0, labels=labels)
    features = torch.tensor([[0.0], [1.0]])
    logits = mc_dropout_logits(features, head, 20_000, torch.Generator().manual_seed(0))
    scores = mutual_information(logits, multi_label)
    per_point = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25)) - math.log(2) / 2
    assert scores[0].item() == pytest.approx(0.0, abs=1e-12)
    assert scores[1].item() == pytest.approx(per_point * (2 if multi_label else 1), abs=0.01)
    context = make_context(
        features, no_labels(2), logits=torch.zeros(2, 2), head=head, multi_label=multi_label
    )
    assert build_heuristic(BaldHeuristicConfig(mc_passes=200)).select(context, 1).indices.tolist() == [1]


def test_bald_passes_follow_the_trial_s_generator():
    gen = torch.Generator().manual_seed(5)
    features, logits = torch.randn(30, 6, generator=gen), torch.randn(30, 4, generator=gen)
    heuristic = build_heuristic(BaldHeuristicConfig(mc_passes=3))

    def scores(seed: int) -> torch.Tensor:
        context = make_context(features, no_labels(30), logits=logits, seed=seed)
        return heuristic.score(context, context.unlabeled_indices())

    assert torch.equal(scores(0), scores(0))
    assert not torch.equal(scores(0), scores(1))


def test_bald_without_dropout_says_so():
    head = ClassifierHead(weight=torch.ones(3, 2), bias=torch.zeros(3), dropout=0.0)
    with pytest.raises(RuntimeError, match="no dropout"):
        select("bald", make_context(torch.zeros(4, 2), no_labels(4), head=head), 2)


def test_dropout_is_in_the_model_only_when_asked_and_only_in_training():
    torch.manual_seed(0)
    plain = ResNet18Task(1, 10)
    torch.manual_seed(0)
    with_dropout = ResNet18Task(1, 10, dropout=0.5)
    assert isinstance(plain.dropout, torch.nn.Identity) and plain.dropout_rate == 0.0
    # The dropout layer has no parameters: the same initial weights, the same state dict keys.
    assert plain.state_dict().keys() == with_dropout.state_dict().keys()
    assert all(
        torch.equal(a, b)
        for a, b in zip(plain.state_dict().values(), with_dropout.state_dict().values(), strict=True)
    )
    x = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    with_dropout.eval()
    plain.eval()
    first, second = with_dropout(x), with_dropout(x)
    assert torch.equal(first.logits, second.logits) and torch.equal(first.logits, plain(x).logits)
    with_dropout.train()
    plain.train()
    a, b = with_dropout(x), with_dropout(x)
    assert torch.equal(a.features, b.features)  # T_f is taken before the dropout
    assert not torch.equal(a.logits, b.logits)
    with pytest.raises(ValueError, match="dropout"):
        ResNet18Task(1, 10, dropout=1.0)


# ------------------------------------------------------------------------------------------------
# k-means++ (rejection-sampled, on implicit embeddings) and BADGE
# ------------------------------------------------------------------------------------------------


def exact_kmeans_pp_distribution(points: np.ndarray, first: int, k: int) -> dict[tuple[int, ...], float]:
    """Probability of every ordered sequence of k-means++ picks after ``first`` (brute force)."""
    n = len(points)
    sq = ((points[:, None] - points[None]) ** 2).sum(2)
    result = {}
    for sequence in itertools.permutations([i for i in range(n) if i != first], k - 1):
        chosen, probability = [first], 1.0
        for pick in sequence:
            d2 = sq[:, chosen].min(1)
            probability *= d2[pick] / d2.sum()
            chosen.append(pick)
        result[sequence] = probability
    return result


@pytest.mark.parametrize("max_pending", [1, 2, 256])
def test_kmeans_pp_draws_exactly_from_the_d2_distribution(max_pending):
    """Stale bounds, pending centres and refreshes must not bias the draws (total variation < .04)."""
    points = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [3.0, 2.0], [0.0, 2.5]])
    expected = exact_kmeans_pp_distribution(points, first=0, k=3)
    embedding = BlockEmbedding([EmbeddingBlock(torch.tensor(points, dtype=torch.float64))])
    runs = 3000
    counts: dict[tuple[int, ...], int] = {}
    for seed in range(runs):
        picks, _ = kmeans_pp_seeding(
            embedding, 3, torch.Generator().manual_seed(seed), first=0, max_pending=max_pending
        )
        key = tuple(picks.tolist()[1:])
        counts[key] = counts.get(key, 0) + 1
    total_variation = 0.5 * sum(abs(counts.get(key, 0) / runs - p) for key, p in expected.items())
    assert set(counts) <= set(expected)
    assert total_variation < 0.04


def test_kmeans_pp_never_picks_a_point_on_a_centre_while_others_remain_and_ends_uniformly():
    points = torch.tensor([[5.0], [5.0], [0.0], [0.0], [5.0]])  # two places, three and two points
    embedding = BlockEmbedding([EmbeddingBlock(points)])
    for seed in range(30):
        picks, values = kmeans_pp_seeding(embedding, 5, torch.Generator().manual_seed(seed), first=0)
        assert picks[1].item() in (2, 3) and values[1].item() == pytest.approx(25.0)
        assert sorted(picks.tolist()) == [0, 1, 2, 3, 4] and values[2:].abs().max() < 1e-6
    # One candidate left: it is the pick, at its exact distance.
    line = BlockEmbedding([EmbeddingBlock(torch.tensor([[0.0], [1.0], [3.0]]))])
    for seed in range(10):
        picks, values = kmeans_pp_seeding(line, 3, torch.Generator().manual_seed(seed), first=0)
        assert sorted(picks.tolist()) == [0, 1, 2]
        assert values[2].item() == pytest.approx(1.0 if picks[2].item() == 1 else 4.0)


def materialised_gradient_embedding(logits: torch.Tensor, features: torch.Tensor, multi_label: bool):
    factor = gradient_factor(logits, multi_label).double()
    return (factor[:, :, None] * features.double()[:, None, :]).reshape(len(logits), -1)


@pytest.mark.parametrize("multi_label", [False, True])
def test_badge_distances_equal_the_materialised_gradient_embedding(multi_label):
    gen = torch.Generator().manual_seed(3)
    n = 50
    logits, features = 3 * torch.randn(n, 4, generator=gen), torch.relu(torch.randn(n, 6, generator=gen))
    labeled = torch.zeros(n, dtype=torch.bool)
    labeled[::5] = True
    context = make_context(features, labeled, logits=logits, multi_label=multi_label, seed=4)
    selection = select("badge", context, 20)
    g = materialised_gradient_embedding(logits, features, multi_label)
    picks = selection.indices
    assert not labeled[picks].any() and len(set(picks.tolist())) == 20
    # The first centre: the largest gradient-embedding norm among the unlabeled points.
    norms = g.norm(dim=1).masked_fill(labeled, -1)
    assert picks[0].item() == int(norms.argmax())
    assert selection.scores[0].item() == pytest.approx(norms.max().item(), rel=1e-5)
    # Every later score is the pick's distance to its nearest earlier pick in the materialised space.
    for step in range(1, 20):
        nearest = (g[picks[:step]] - g[picks[step]]).norm(dim=1).min()
        assert selection.scores[step].item() == pytest.approx(
            nearest.item(), rel=1e-4, abs=1e-3 * norms.max().item()
        )


def test_gradient_factor_known_values():
    multi_class = gradient_factor(torch.tensor([[0.0, 0.0], [math.log(3), 0.0]]), multi_label=False)
    assert multi_class.tolist() == [pytest.approx([-0.5, 0.5]), pytest.approx([-0.25, 0.25])]
    multi_label = gradient_factor(torch.tensor([[math.log(3), -math.log(3), 0.0]]), multi_label=True)
    assert multi_label.tolist() == [pytest.approx([-0.25, 0.25, 0.5])]  # 0 is predicted negative


def test_gradient_embedding_spread_is_the_materialised_one():
    gen = torch.Generator().manual_seed(8)
    logits, features = torch.randn(300, 5, generator=gen), torch.randn(300, 7, generator=gen) + 2
    g = materialised_gradient_embedding(logits, features, multi_label=False)
    assert gradient_embedding_spread(gradient_factor(logits, False), features) == pytest.approx(
        rms_spread(g), rel=1e-9
    )


def test_badge_vae_blocks_weigh_like_core_set_s():
    gen = torch.Generator().manual_seed(11)
    n = 60
    logits, features = torch.randn(n, 3, generator=gen), torch.relu(torch.randn(n, 5, generator=gen))
    embeddings = torch.randn(n, 2, generator=gen)
    labeled = torch.zeros(n, dtype=torch.bool)
    labeled[:6] = True

    def badge(**kwargs):
        return select("badge", make_context(features, labeled, logits=logits, seed=1, **kwargs), 10)

    plain = badge()
    zero = badge(embeddings=embeddings * 100, alpha=0.0)
    assert torch.equal(plain.indices, zero.indices) and zero.diagnostics == {}
    balanced = badge(embeddings=embeddings, alpha=2.0)
    assert balanced.diagnostics["vae_share"] == pytest.approx(0.8)
    assert balanced.diagnostics["task_feature_spread"] == pytest.approx(1.0)
    # Balanced: the same picks whatever the blocks' own scales (the point of balancing).
    rescaled = select(
        "badge",
        make_context(features * 30, labeled, logits=logits, seed=1, embeddings=embeddings * 0.05, alpha=2.0),
        10,
    )
    assert torch.equal(balanced.indices, rescaled.indices)
    # The VAE end: k-means++ on V alone, first centre the largest ||V|| among the unlabeled.
    vae_only = badge(embeddings=embeddings, alpha=math.inf)
    assert vae_only.diagnostics["vae_share"] == 1.0
    assert vae_only.indices[0].item() == int(embeddings.norm(dim=1).masked_fill(labeled, -1).argmax())
    raw = badge(embeddings=embeddings, alpha=0.5, alpha_scaling="raw")
    assert raw.diagnostics["equivalent_raw_alpha"] == 0.5


# ------------------------------------------------------------------------------------------------
# TypiClust
# ------------------------------------------------------------------------------------------------


def test_visiting_order_fewest_labels_then_largest_then_small_clusters_last():
    sizes = torch.tensor([10, 30, 3, 30, 20])
    labeled = torch.tensor([0, 1, 0, 0, 0])
    # Large clusters (> 5) without labels, largest first (3: 30, 4: 20, 0: 10), then cluster 1
    # (one label); the 3-point cluster 2 comes last.
    assert visiting_order(sizes, labeled, min_cluster_size=5).tolist() == [3, 4, 0, 1, 2]


def test_typicality_is_the_mean_squared_distance_to_the_nearest_half():
    features = torch.tensor([[0.0], [1.0], [2.0], [10.0], [7.0], [100.0], [101.0]])
    groups = torch.tensor([0, 0, 0, 0, 1, 2, 2])
    # Group 0 (4 points): 2 neighbours each. 0: {1, 4} -> 2.5; 1: {1, 1} -> 1; 2: {1, 4} -> 2.5;
    # 10: {64, 81} -> 72.5. Group 1: a lone point, 0. Group 2: one neighbour, 1 each.
    means = mean_neighbour_sq_distances(features, groups, neighbours=20)
    assert means.tolist() == pytest.approx([2.5, 1.0, 2.5, 72.5, 0.0, 1.0, 1.0])
    # The cap: at most ``neighbours`` neighbours.
    assert mean_neighbour_sq_distances(features[:4], groups[:4], neighbours=1).tolist() == pytest.approx(
        [1.0, 1.0, 1.0, 64.0]
    )


def test_typical_picks_visit_unlabeled_clusters_first_and_take_their_densest_point():
    # Cluster 0 (indices 0-6): 7 points, 3 neighbours each; 4 is the most typical (1 + 4 + 16) / 3 = 7,
    # and once it is gone 6 is ((1 + 36 + 36) / 3 against 5's (1 + 25 + 49) / 3). Cluster 1 (7-14):
    # 50..57 with 50 labeled; 52..56 tie at 2, the lowest index (9, i.e. 52) wins. Cluster 2: 2 points.
    features = torch.tensor([0.0, 4, 5, 6, 12, 20, 30, 50, 51, 52, 53, 54, 55, 56, 57, 200, 201])[:, None]
    clusters = torch.tensor([0] * 7 + [1] * 8 + [2] * 2)
    labeled = torch.zeros(17, dtype=torch.bool)
    labeled[7] = True
    picks, scores = typical_picks(features, clusters, labeled, 3, neighbours=20, min_cluster_size=5)
    # Pass 1: cluster 0 (no labels), then cluster 1; pass 2: cluster 0 again (cluster 2 is small).
    assert picks.tolist() == [1, 9, 3]
    assert scores.tolist() == pytest.approx([1 / (7 + 1e-5), 1 / (2 + 1e-5), 1 / (73 / 3 + 1e-5)])
    # Every unlabeled point, in the end: the small cluster is used once the others run out.
    everything, _ = typical_picks(features, clusters, labeled, 16, neighbours=20, min_cluster_size=5)
    assert sorted(everything.tolist()) == [i for i in range(17) if i != 7]
    assert everything[-2:].tolist() == [15, 16]


def blobs(n_per: int = 30, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    membership = torch.arange(3).repeat_interleave(n_per)
    return centres[membership] + 0.5 * torch.randn(3 * n_per, 2, generator=gen), membership


def test_kmeans_finds_separated_blobs_and_is_seeded():
    points, membership = blobs()
    clusters = kmeans(points, 3, torch.Generator().manual_seed(0), max_iterations=50)
    # Each blob is one cluster, a different one each (ids may be permuted).
    assert all(len(set(clusters[membership == b].tolist())) == 1 for b in range(3))
    assert len(set(clusters.tolist())) == 3
    assert torch.equal(clusters, kmeans(points, 3, torch.Generator().manual_seed(0), max_iterations=50))


def test_cluster_sums_known_answer_with_an_empty_cluster():
    x = torch.tensor([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])
    assignment = torch.tensor([2, 0, 2])
    sums = cluster_sums(x, assignment, torch.bincount(assignment, minlength=3))
    assert sums.tolist() == [[2.0, 20.0], [0.0, 0.0], [4.0, 40.0]]


def test_typiclust_on_vae_features_alone_picks_the_typical_point_of_each_unlabeled_blob():
    embeddings, membership = blobs(seed=1)
    labeled = torch.zeros(90, dtype=torch.bool)
    labeled[0] = True  # blob 0 has a label
    # Task features that would mislead (noise); alpha = inf must ignore them.
    features = torch.randn(90, 4, generator=torch.Generator().manual_seed(2)) * 100
    context = make_context(features, labeled, embeddings=embeddings, alpha=math.inf)
    selection = build_heuristic(TypiclustHeuristicConfig()).select(context, 2)
    assert sorted(membership[selection.indices].tolist()) == [1, 2]
    for pick in selection.indices.tolist():
        blob = membership == membership[pick]
        sq = ((embeddings[blob][:, None] - embeddings[blob][None]) ** 2).sum(2)
        mean_nearest = sq.sort(dim=1).values[:, 1:16].mean(1)  # 30 points: 15 neighbours
        assert embeddings[pick].tolist() == embeddings[blob][mean_nearest.argmin()].tolist()
    assert selection.diagnostics["vae_share"] == 1.0


# ------------------------------------------------------------------------------------------------
# Every new strategy on multi-label data, and on digits through Algorithm 1
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["margin", "least_confidence", "bald", "badge", "typiclust"])
def test_new_strategies_take_multi_label_data(name):
    context = random_pool(seed=3, multi_label=True)
    first = select(name, context, 6)
    assert len(set(first.indices.tolist())) == 6 and not context.labeled_mask[first.indices].any()
    assert torch.isfinite(first.scores).all()
    assert torch.equal(first.indices, select(name, random_pool(seed=3, multi_label=True), 6).indices)


def tiny_config(heuristic: dict, alpha: float = 0.0, seed: int = 0) -> TrialConfig:
    return TrialConfig.model_validate(
        {
            "dataset": {"name": "digits", "pool_size": 300, "eval_size": 120},
            "model": {"pretrained": False},
            "training": {"initial_epochs": 1, "epochs_per_round": 1, "batch_size": 32},
            "schedule": {"initial_labels": 30, "labels_per_round": 20, "rounds": 2},
            "heuristic": heuristic,
            "vae": {"epochs": 1, "latent_dim": 8},
            "alpha": alpha,
            "seed": seed,
            "device": "cpu",
        }
    )


@pytest.fixture(scope="module")
def digits():
    from raysweep.data import load_dataset

    return load_dataset(tiny_config({"name": "random"}).dataset)


@pytest.fixture(scope="module")
def embeddings(digits):
    from raysweep.models.vae import train_vae

    return train_vae(digits, tiny_config({"name": "random"}).vae)


class ListSink:
    def __init__(self) -> None:
        self.rows: list[tuple[int, int, dict]] = []

    def log_round(self, round_index, n_labels, metrics) -> None:
        self.rows.append((round_index, n_labels, dict(metrics)))


TRAJECTORIES = [
    ({"name": "margin"}, 0.0),
    ({"name": "least_confidence"}, 0.0),
    ({"name": "bald", "mc_passes": 5}, 0.0),
    ({"name": "badge"}, 0.0),
    ({"name": "badge"}, 1.0),
    ({"name": "badge"}, math.inf),
    ({"name": "typiclust"}, 0.0),
    ({"name": "typiclust"}, 1.0),
    ({"name": "typiclust"}, math.inf),
]


@pytest.mark.parametrize(
    ("heuristic", "alpha"), TRAJECTORIES, ids=[f"{h['name']}-{a:g}" for h, a in TRAJECTORIES]
)
def test_two_rounds_on_digits(digits, embeddings, heuristic, alpha):
    from raysweep.loop import run_trajectory

    sink = ListSink()
    result = run_trajectory(
        tiny_config(heuristic, alpha), digits, embeddings=lambda _round, _labeled: embeddings, sink=sink
    )
    assert [row[1] for row in sink.rows] == [30, 50, 70]
    assert [len(p) for p in result.picks] == [30, 20, 20]
    assert len(np.unique(np.concatenate(result.picks))) == 70
    for _, _, metrics in sink.rows[:-1]:
        assert metrics["selection_seconds"] >= 0
        if alpha > 0:  # the VAE arms log how the blocks weighed and the same model's plain picks
            assert 0 <= metrics["vae_share"] <= 1 and 0 <= metrics["plain_overlap"] <= 1
            if alpha == 1.0:
                assert metrics["vae_share"] == pytest.approx(0.5)
        else:
            assert "vae_share" not in metrics and "plain_overlap" not in metrics


def test_bald_trajectory_is_bit_identical_whatever_ran_before(digits):
    """The dropout draws come from the round's seed, not from the process's global RNG state."""
    from raysweep.loop import run_trajectory

    config = tiny_config({"name": "bald", "mc_passes": 5})
    first_sink, second_sink = ListSink(), ListSink()
    first = run_trajectory(config, digits, sink=first_sink)
    state = torch.get_rng_state()
    torch.manual_seed(12345)
    torch.rand(7)
    second = run_trajectory(config, digits, sink=second_sink)
    for a, b in zip(first.picks, second.picks, strict=True):
        np.testing.assert_array_equal(a, b)
    strip = lambda rows: [{k: v for k, v in r[2].items() if not k.endswith("seconds")} for r in rows]  # noqa: E731
    assert strip(first_sink.rows) == strip(second_sink.rows)
    torch.set_rng_state(state)


def test_only_bald_trains_a_model_with_dropout(digits):
    from raysweep.loop import build_models

    cpu = torch.device("cpu")
    bald_config, badge_config = tiny_config({"name": "bald", "dropout": 0.3}), tiny_config({"name": "badge"})
    bald, _ = build_models(bald_config, digits, cpu, build_heuristic(bald_config.heuristic), vae_dim=0)
    badge, _ = build_models(badge_config, digits, cpu, build_heuristic(badge_config.heuristic), vae_dim=0)
    assert bald.dropout_rate == 0.3 and isinstance(bald.dropout, torch.nn.Dropout)
    assert badge.dropout_rate == 0.0 and isinstance(badge.dropout, torch.nn.Identity)
    # Same seed, same initial weights: the dropout layer adds no parameter and draws nothing at init.
    assert all(
        torch.equal(a, b)
        for a, b in zip(bald.state_dict().values(), badge.state_dict().values(), strict=True)
    )


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
