"""Algorithm 1 on digits: every heuristic through two rounds, determinism, resume, shared initial
labels, the VAE arms' diagnostics, the raw mode's literal concatenation, medmnist-shaped data.

The trajectories the tests only read are run once (the module's ``trajectory`` fixture) and shared.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from helpers.datafiles import write_chestmnist, write_pathmnist
from helpers.trajectories import ListSink, RecordingProvider

from raysweep.config import TrialConfig
from raysweep.data import load_dataset
from raysweep.encoders import FixedEmbeddings
from raysweep.heuristics import HEURISTICS, build_heuristic
from raysweep.heuristics.base import PoolInference
from raysweep.heuristics.coreset import greedy_k_center
from raysweep.labels import LabelState, initial_label_indices
from raysweep.loop import (
    MemoisedInference,
    RoundResult,
    TrajectoryResult,
    TrajectoryState,
    build_models,
    deterministic_torch,
    load_embeddings,
    run_trajectory,
    seeded_generator,
    seeded_global_rng,
    start_state,
)
from raysweep.models.vae import train_vae
from raysweep.train import DeviceData, DeviceError, autocast, infer, resolve_device, train_round


@dataclass
class Trajectory:
    config: TrialConfig
    result: TrajectoryResult
    sink: ListSink
    calls: list[tuple[int, int]]
    """The (round, labels) the embedding provider was asked for."""
    states: list[dict]
    """The trajectory's state after each round, as a checkpoint holds it."""


@pytest.fixture(scope="module")
def trajectory(digits, digits_embeddings, tiny_trial):
    """``trajectory(heuristic, alpha, scaling, **schedule)``: the tiny trial's trajectory on digits with
    the pool's VAE embeddings, run once per config and shared by the tests that only read it."""
    runs: dict[str, Trajectory] = {}

    def run(heuristic: str, alpha: float = 0.0, scaling: str = "balanced", **kwargs) -> Trajectory:
        config = tiny_trial(heuristic, alpha, **kwargs).model_copy(update={"alpha_scaling": scaling})
        key = config.model_dump_json()
        if key not in runs:
            provider = RecordingProvider(lambda round_index, labeled: digits_embeddings)
            sink, states = ListSink(), []
            result = run_trajectory(
                config,
                digits,
                embeddings=provider,
                sink=sink,
                on_state=lambda s: states.append(s.state_dict()),
            )
            runs[key] = Trajectory(config, result, sink, provider.calls, states)
        return runs[key]

    return run


def alphas_of(name: str) -> list[float]:
    """Every kind of arm a heuristic has: plain, with VAE features, on the VAE features alone."""
    heuristic = HEURISTICS.get(name)
    return [0.0] + [1.0] * heuristic.supports_vae + [math.inf] * heuristic.supports_vae_only


ARMS = [(name, alpha) for name in HEURISTICS.names() for alpha in alphas_of(name)]


@pytest.mark.parametrize(("heuristic", "alpha"), ARMS, ids=[f"{h}-{a:g}" for h, a in ARMS])
def test_every_heuristic_runs_two_rounds(trajectory, digits, heuristic: str, alpha: float) -> None:
    run = trajectory(heuristic, alpha)
    rows = run.sink.rows
    assert [row[1] for row in rows] == [30, 50, 70]
    assert [len(p) for p in run.result.picks] == [30, 20, 20]
    labeled = np.concatenate(run.result.picks)
    assert len(np.unique(labeled)) == 70 and labeled.max() < digits.n_pool
    assert all(0 <= row[2]["accuracy"] <= 1 and 0 <= row[2]["auc"] <= 1 for row in rows)
    assert "selection_seconds" in rows[0][2] and "selection_seconds" not in rows[-1][2]
    # Asked once per round that uses V(x), with that round's labels: loss prediction trains with them
    # in every round, the feature-space heuristics read them only when they select; never at alpha 0.
    expected = {0: [], 1: [(0, 30), (1, 50)]}[int(alpha > 0)]
    trains_with_them = alpha > 0 and build_heuristic(run.config.heuristic).loss_module() is not None
    assert run.calls == ([*expected, (2, 70)] if trains_with_them else expected)
    assert ("encoder_seconds" in rows[0][2]) == (alpha > 0)
    same_model = HEURISTICS.get(heuristic).model_independent_of_alpha
    for _, _, metrics in rows[:-1]:
        assert metrics["selection_seconds"] >= 0
        if alpha > 0:  # the VAE arms log how the blocks weighed and, on the same model, the plain picks
            assert 0 <= metrics["vae_share"] <= 1
            assert (0 <= metrics["plain_overlap"] <= 1) if same_model else "plain_overlap" not in metrics
            if alpha == 1.0 and same_model:
                assert metrics["vae_share"] == pytest.approx(0.5)
        else:
            assert "vae_share" not in metrics and "plain_overlap" not in metrics


def test_same_seed_is_bit_identical_and_seed_matters(
    trajectory, digits, digits_embeddings, tiny_trial
) -> None:
    first = trajectory("lloss", 1.0)
    provider = FixedEmbeddings(lambda: digits_embeddings)
    second_sink = ListSink()
    second = run_trajectory(first.config, digits, embeddings=provider, sink=second_sink)
    for a, b in zip(first.result.picks, second.picks, strict=True):
        np.testing.assert_array_equal(a, b)
    assert second_sink.without_seconds() == first.sink.without_seconds()
    strip = lambda curve: [{k: v for k, v in p.metrics.items() if not k.endswith("seconds")} for p in curve]  # noqa: E731
    assert strip(first.result.curve) == strip(second.curve)
    other = run_trajectory(tiny_trial("lloss", 1.0, seed=1), digits, embeddings=provider)
    assert not np.array_equal(first.result.picks[0], other.picks[0])


def test_bald_trajectory_is_bit_identical_whatever_ran_before(trajectory, digits) -> None:
    """The dropout draws come from the round's seed, not from the process's global RNG state."""
    first = trajectory("bald")
    state = torch.get_rng_state()
    torch.manual_seed(12345)
    torch.rand(7)
    second_sink = ListSink()
    second = run_trajectory(first.config, digits, sink=second_sink)
    torch.set_rng_state(state)
    for a, b in zip(first.result.picks, second.picks, strict=True):
        np.testing.assert_array_equal(a, b)
    assert first.sink.without_seconds() == second_sink.without_seconds()


@pytest.mark.parametrize(
    ("heuristic", "alpha", "scaling"),
    [("coreset", 1.0, "balanced"), ("medal", math.inf, "balanced"), ("coreset", 1e-6, "raw")],
)
def test_vae_arms_log_block_diagnostics_and_plain_overlap(trajectory, heuristic, alpha, scaling) -> None:
    run = trajectory(heuristic, alpha, scaling)
    selecting = [row[2] for row in run.sink.rows[:-1]]
    assert "plain_overlap" not in run.sink.rows[-1][2]  # the last round selects nothing
    for round_index, metrics in enumerate(selecting):
        if scaling == "balanced" and alpha == 1.0:
            assert metrics["task_feature_spread"] == pytest.approx(1.0)
            assert metrics["vae_feature_spread"] == pytest.approx(1.0)
            assert metrics["vae_share"] == pytest.approx(0.5)
        if alpha == math.inf:
            assert metrics["vae_share"] == 1.0 and metrics["task_feature_spread"] == 0.0
        # The overlap is the fraction of this round's picks the alpha = 0 heuristic also picks on the
        # same model: a raw alpha of 1e-6 changes nothing, the VAE-only end changes most picks.
        if alpha == 1e-6:
            assert metrics["plain_overlap"] == 1.0 and metrics["vae_share"] < 1e-9
        else:
            assert 0 <= metrics["plain_overlap"] < 1
        assert metrics["diagnostics_seconds"] >= 0
        assert len(run.result.picks[round_index + 1]) == 20


def test_plain_and_lloss_arms_log_no_plain_overlap(trajectory) -> None:
    plain, lloss = trajectory("coreset", 0.0).sink, trajectory("lloss", 1.0).sink
    assert not any("vae_share" in row[2] or "plain_overlap" in row[2] for row in plain.rows)
    # Loss prediction's model depends on alpha (the loss module reads the VAE block): no same-model
    # plain reference, but the blocks of its head input are reported. (Not exactly 1:1 here: the
    # balance holds in training mode, and one epoch leaves BatchNorm's eval statistics far off.)
    assert all("plain_overlap" not in row[2] for row in lloss.rows)
    for row in lloss.rows[:-1]:
        metrics = row[2]
        assert 0 < metrics["vae_share"] < 1 and metrics["task_feature_spread"] > 0
        assert metrics["vae_share"] == pytest.approx(
            metrics["vae_feature_spread"] ** 2
            / (metrics["task_feature_spread"] ** 2 + metrics["vae_feature_spread"] ** 2)
        )


def test_raw_mode_is_the_paper_s_literal_concatenation(digits, digits_embeddings, tiny_trial) -> None:
    """raw: the picks of the greedy on [T_f ⁀ alpha V] computed by hand on the same trained model."""
    config = tiny_trial("coreset", 0.5, rounds=1).model_copy(update={"alpha_scaling": "raw"})
    result = run_trajectory(config, digits, embeddings=FixedEmbeddings(lambda: digits_embeddings))
    with deterministic_torch():
        device = torch.device("cpu")
        data = DeviceData(digits, device)
        model, _ = build_models(config, digits, device, build_heuristic(config.heuristic), vae_dim=0)
        labeled = torch.as_tensor(result.picks[0])
        train_round(model, data, labeled, config.training, 1, seeded_generator("train", 0, 0))
        pool = torch.arange(digits.n_pool)
        features = infer(model, data, data.pool_images, pool, 1024).features
        mask = torch.zeros(digits.n_pool, dtype=torch.bool)
        mask[labeled] = True
        literal = torch.cat([features, 0.5 * torch.as_tensor(digits_embeddings)], dim=1)
        expected = greedy_k_center(literal, mask, 20)
    np.testing.assert_array_equal(result.picks[1], expected.numpy())


def test_initial_labels_depend_on_seed_not_heuristic(trajectory, digits) -> None:
    runs = [trajectory("coreset", 1.0), trajectory("entropy"), trajectory("random")]
    expected = initial_label_indices("digits", digits.n_pool, 0, 0, 30)
    for run in runs:
        np.testing.assert_array_equal(run.result.picks[0], expected)
        assert run.result.initial_labels_sha256 == runs[0].result.initial_labels_sha256


def test_resume_from_a_saved_state_matches_the_uninterrupted_run(trajectory, digits, tiny_trial) -> None:
    full = trajectory("entropy")
    # the state after round 0 of a run, fed back in, continues as if never stopped
    state = TrajectoryState.from_state_dict(full.states[0])
    assert state.labels.next_round == 1 and [r.n_labels for r in state.curve] == [30]
    resumed_sink = ListSink()
    resumed = run_trajectory(full.config, digits, sink=resumed_sink, resume_from=state)
    assert [row[1] for row in resumed_sink.rows] == [50, 70]
    for a, b in zip(full.result.picks, resumed.picks, strict=True):
        np.testing.assert_array_equal(a, b)
    assert resumed_sink.rows[-1][2]["accuracy"] == full.sink.rows[-1][2]["accuracy"]
    assert resumed_sink.without_seconds() == full.sink.without_seconds()[1:]


def test_a_finished_trajectory_resumes_to_its_result_without_training(trajectory, digits, tiny_trial) -> None:
    full = trajectory("entropy")
    finished = TrajectoryState.from_state_dict(full.states[-1])
    sink = ListSink()
    config = tiny_trial("entropy").model_copy(update={"device": "cuda:7"})
    again = run_trajectory(config, digits, sink=sink, resume_from=finished)
    assert sink.rows == []  # nothing built (not even the device checked), nothing trained or logged
    assert [p.tolist() for p in again.picks] == [p.tolist() for p in full.result.picks]
    assert (
        again.curve == full.result.curve and again.initial_labels_sha256 == full.result.initial_labels_sha256
    )


def test_the_state_a_checkpoint_holds_round_trips(tiny_trial, digits) -> None:
    state = start_state(tiny_trial(seed=2), digits)
    assert state.labels.next_round == 0 and state.curve == []
    np.testing.assert_array_equal(state.labels.picks[0], initial_label_indices("digits", 300, 0, 2, 30))
    state.labels.advance(np.setdiff1d(np.arange(300), state.labels.picks[0])[:2])
    state.curve.append(RoundResult(0, 30, {"accuracy": 0.5}))
    again = TrajectoryState.from_state_dict(state.state_dict())
    assert again.curve == state.curve and [p.tolist() for p in again.labels.picks] == [
        p.tolist() for p in state.labels.picks
    ]
    assert TrajectoryResult.of(state).picks[1].tolist() == state.labels.picks[1].tolist()


def test_gpu_switches_on_cpu(digits, tiny_trial) -> None:
    """channels_last takes the same code path on CPU; bf16 autocast is left off there with a warning
    (oneDNN's bf16 conv gradients turn NaN now and then on 1x1 inputs), so the curve is float32's."""
    config = tiny_trial("lloss")
    switched = lambda **update: config.model_copy(  # noqa: E731
        update={"training": config.training.model_copy(update=update)}
    )
    plain_sink, bf16_sink, both_sink = ListSink(), ListSink(), ListSink()
    plain = run_trajectory(config, digits, sink=plain_sink)
    with pytest.warns(UserWarning, match="amp_bf16 applies on CUDA only; this trial runs on cpu in float32"):
        bf16 = run_trajectory(switched(amp_bf16=True), digits, sink=bf16_sink)
    assert bf16_sink.without_seconds() == plain_sink.without_seconds()
    assert all(np.array_equal(a, b) for a, b in zip(bf16.picks, plain.picks, strict=True))
    with pytest.warns(UserWarning, match="amp_bf16"):
        both = run_trajectory(switched(amp_bf16=True, channels_last=True), digits, sink=both_sink)
    assert [len(p) for p in both.picks] == [30, 20, 20]
    assert all(np.isfinite(row[2]["accuracy"]) for row in both_sink.rows)


@pytest.mark.filterwarnings("ignore:CUDA is not available:UserWarning")  # built, never entered
def test_bf16_autocast_is_on_for_cuda_only() -> None:
    assert isinstance(autocast(torch.device("cpu"), True), contextlib.nullcontext)
    assert isinstance(autocast(torch.device("cuda"), False), contextlib.nullcontext)
    assert isinstance(autocast(torch.device("cuda"), True), torch.autocast)


def test_device_comes_from_the_config(digits, tiny_trial) -> None:
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        assert resolve_device("auto").type == "cpu"
        with pytest.raises(DeviceError, match="no CUDA GPU"):
            run_trajectory(tiny_trial().model_copy(update={"device": "cuda:0"}), digits)


def test_wrong_embeddings_are_refused(digits, tiny_trial) -> None:
    config = tiny_trial("coreset", 1.0)
    with pytest.raises(ValueError, match=r"vae\.latent_dim=8"):
        run_trajectory(
            config, digits, embeddings=FixedEmbeddings(lambda: np.zeros((digits.n_pool, 5), np.float32))
        )
    with pytest.raises(ValueError, match="no embedding provider was given"):
        run_trajectory(config, digits)
    labels = LabelState.start(4, np.array([0]))
    nan = lambda r, labeled: np.full((4, 2), np.nan, np.float32)  # noqa: E731
    with pytest.raises(ValueError, match="must be finite"):
        load_embeddings(nan, 0, labels, 2, torch.device("cpu"))
    loaded = load_embeddings(
        lambda r, labeled: np.ones((4, 2), np.float64), 0, labels, 2, torch.device("cpu")
    )
    assert loaded.dtype == torch.float32 and loaded.shape == (4, 2)


def test_model_dropout_is_the_sweep_s_for_every_arm_and_bald_needs_it(digits, tiny_trial) -> None:
    cpu = torch.device("cpu")

    def model_of(config):
        return build_models(config, digits, cpu, build_heuristic(config.heuristic), vae_dim=0)[0]

    # BALD and the arms it is compared with train the same network: dropout is the model's, not BALD's.
    bald = model_of(tiny_trial("bald", model={"dropout": 0.3}))
    badge = model_of(tiny_trial("badge", model={"dropout": 0.3}))
    plain = model_of(tiny_trial("badge"))
    assert bald.dropout_rate == badge.dropout_rate == 0.3
    assert isinstance(bald.dropout, torch.nn.Dropout) and isinstance(badge.dropout, torch.nn.Dropout)
    assert plain.dropout_rate == 0.0 and isinstance(plain.dropout, torch.nn.Identity)
    # Same seed, same initial weights: the dropout layer adds no parameter and draws nothing at init.
    assert all(
        torch.equal(a, b)
        for a, b in zip(bald.state_dict().values(), plain.state_dict().values(), strict=True)
    )
    # BALD without model dropout would sample a deterministic network: refused, saying what to set.
    with pytest.raises(ValueError, match=r"model.dropout is 0; set model.dropout \(e.g. 0.5\) for every arm"):
        tiny_trial("bald", model={"dropout": 0.0})
    with pytest.raises(ValueError, match=r"heuristic\.dropout is now model\.dropout"):
        tiny_trial({"name": "bald", "dropout": 0.3})
    lloss_config = tiny_trial("lloss", 1.0)
    _, loss_module = build_models(
        lloss_config, digits, cpu, build_heuristic(lloss_config.heuristic), vae_dim=8
    )
    assert loss_module is not None and loss_module.extra_dim == 8 and loss_module.balance_extra


def test_deterministic_torch_and_seeded_global_rng_restore_what_they_change() -> None:
    before = torch.are_deterministic_algorithms_enabled()
    with deterministic_torch():
        assert (
            torch.are_deterministic_algorithms_enabled()
            and torch.is_deterministic_algorithms_warn_only_enabled()
        )
    assert torch.are_deterministic_algorithms_enabled() == before
    torch.manual_seed(99)
    outside = torch.get_rng_state()
    with seeded_global_rng(5, torch.device("cpu")):
        first = torch.rand(3)
    assert torch.equal(torch.get_rng_state(), outside)
    with seeded_global_rng(5, torch.device("cpu")):
        assert torch.equal(torch.rand(3), first)
    assert seeded_generator("a", 1).initial_seed() == seeded_generator("a", 1).initial_seed()
    assert seeded_generator("a", 1).initial_seed() != seeded_generator("a", 2).initial_seed()


def test_memoised_inference_runs_the_network_once_per_request() -> None:
    calls = []

    def infer_fn(indices: torch.Tensor) -> PoolInference:
        calls.append(indices.tolist())
        return PoolInference(logits=torch.zeros(len(indices), 2), features=torch.zeros(len(indices), 3))

    memo = MemoisedInference(infer_fn)
    first = memo(torch.arange(4))
    assert memo(torch.arange(4)) is first and calls == [[0, 1, 2, 3]]
    memo(torch.tensor([1, 2]))
    assert calls == [[0, 1, 2, 3], [1, 2]] and memo.seconds >= 0


@pytest.mark.parametrize(
    ("flag", "heuristic", "alpha"),
    [("chestmnist", "entropy", 0.0), ("chestmnist", "lloss", 1.0), ("pathmnist", "coreset", 1.0)],
)
def test_medmnist_multilabel_and_rgb_trajectories(tmp_path, tiny_trial, flag, heuristic, alpha) -> None:
    """ChestMNIST-shaped multi-label data (per-label BCE, summed binary entropy, mean per-label AUC)
    and PathMNIST-shaped RGB data run Algorithm 1 through medmnist's real classes."""
    writer = write_chestmnist if flag == "chestmnist" else write_pathmnist
    written = writer(tmp_path, {"train": 90, "val": 10, "test": 40})
    config = tiny_trial(heuristic, alpha).model_copy(
        update={
            "dataset": tiny_trial().dataset.model_copy(
                update={"name": f"medmnist:{flag}", "root": tmp_path, "pool_size": 90, "eval_size": None}
            )
        }
    )
    dataset = load_dataset(config.dataset)
    assert dataset.multi_label == (flag == "chestmnist") and dataset.in_channels == (
        3 if flag == "pathmnist" else 1
    )
    sink = ListSink()
    provider = FixedEmbeddings(lambda: train_vae(dataset, config.vae))
    result = run_trajectory(config, dataset, embeddings=provider, sink=sink)
    assert provider.fetches == (1 if alpha > 0 else 0)
    assert [len(p) for p in result.picks] == [30, 20, 20]
    for _, _, metrics in sink.rows:
        assert 0 <= metrics["accuracy"] <= 1 and 0 <= metrics["auc"] <= 1
    if flag == "chestmnist":  # accuracy is the mean over (sample, label) of sigmoid > 0.5 == label
        labels = written.arrays["test_labels"]
        assert sink.rows[0][2]["accuracy"] * labels.size == pytest.approx(
            round(sink.rows[0][2]["accuracy"] * labels.size), abs=1e-3
        )
