"""Algorithm 1 on digits: determinism, resume, shared initial labels, import hygiene."""

from __future__ import annotations

import numpy as np
import pytest

from raysweep.config import TrialConfig
from raysweep.data import load_dataset
from raysweep.encoders import FixedEmbeddings
from raysweep.labels import initial_label_indices
from raysweep.loop import TrajectoryState, run_trajectory
from raysweep.models.vae import train_vae
from raysweep.schedule import ScheduleError, label_schedule


def tiny_config(heuristic: str = "coreset", alpha: float = 0.0, seed: int = 0, **schedule) -> TrialConfig:
    return TrialConfig.model_validate(
        {
            "dataset": {"name": "digits", "pool_size": 300, "eval_size": 120},
            "model": {"pretrained": False},
            "training": {"initial_epochs": 1, "epochs_per_round": 1, "batch_size": 32},
            "schedule": {"initial_labels": 30, "labels_per_round": 20, "rounds": 2, **schedule},
            "heuristic": {"name": heuristic, **({"subset_size": 200} if heuristic == "lloss" else {})},
            "vae": {"epochs": 1, "latent_dim": 8},
            "alpha": alpha,
            "seed": seed,
            "device": "cpu",
        }
    )


@pytest.fixture(scope="module")
def digits():
    return load_dataset(tiny_config().dataset)


@pytest.fixture(scope="module")
def embeddings(digits):
    return train_vae(digits, tiny_config().vae)


class ListSink:
    def __init__(self) -> None:
        self.rows: list[tuple[int, int, dict]] = []

    def log_round(self, round_index, n_labels, metrics) -> None:
        self.rows.append((round_index, n_labels, dict(metrics)))


@pytest.mark.parametrize(
    ("heuristic", "alpha"), [("random", 0), ("entropy", 0), ("coreset", 1.0), ("medal", 1.0), ("lloss", 1.0)]
)
def test_every_heuristic_runs_two_rounds(digits, embeddings, heuristic, alpha) -> None:
    calls = []

    def provider(round_index, labeled_indices):
        calls.append((round_index, len(labeled_indices)))
        return embeddings

    sink = ListSink()
    result = run_trajectory(tiny_config(heuristic, alpha), digits, embeddings=provider, sink=sink)
    assert [row[1] for row in sink.rows] == [30, 50, 70]
    assert [len(p) for p in result.picks] == [30, 20, 20]
    labeled = np.concatenate(result.picks)
    assert len(np.unique(labeled)) == 70 and labeled.max() < digits.n_pool
    assert all(0 <= row[2]["accuracy"] <= 1 and 0 <= row[2]["auc"] <= 1 for row in sink.rows)
    assert "selection_seconds" in sink.rows[0][2] and "selection_seconds" not in sink.rows[-1][2]
    # Asked once per round that uses V(x), with that round's labels: loss prediction trains with them
    # in every round, core-set and MedAL read them only when they select; never at alpha 0.
    expected = {0: [], 1: [(0, 30), (1, 50)]}[int(alpha > 0)]
    assert calls == ([*expected, (2, 70)] if heuristic == "lloss" else expected)
    assert ("encoder_seconds" in sink.rows[0][2]) == (alpha > 0)


def test_same_seed_is_bit_identical_and_seed_matters(digits, embeddings) -> None:
    first = run_trajectory(tiny_config("lloss", 0.5), digits, embeddings=FixedEmbeddings(lambda: embeddings))
    second = run_trajectory(tiny_config("lloss", 0.5), digits, embeddings=FixedEmbeddings(lambda: embeddings))
    for a, b in zip(first.picks, second.picks, strict=True):
        np.testing.assert_array_equal(a, b)
    strip = lambda curve: [{k: v for k, v in p.metrics.items() if not k.endswith("seconds")} for p in curve]  # noqa: E731
    assert strip(first.curve) == strip(second.curve)
    other = run_trajectory(
        tiny_config("lloss", 0.5, seed=1), digits, embeddings=FixedEmbeddings(lambda: embeddings)
    )
    assert not np.array_equal(first.picks[0], other.picks[0])


@pytest.mark.parametrize(
    ("heuristic", "alpha", "scaling"),
    [("coreset", 1.0, "balanced"), ("medal", float("inf"), "balanced"), ("coreset", 1e-6, "raw")],
)
def test_vae_arms_log_block_diagnostics_and_plain_overlap(
    digits, embeddings, heuristic, alpha, scaling
) -> None:
    sink = ListSink()
    config = tiny_config(heuristic, alpha).model_copy(update={"alpha_scaling": scaling})
    result = run_trajectory(config, digits, embeddings=FixedEmbeddings(lambda: embeddings), sink=sink)
    selecting = [row[2] for row in sink.rows[:-1]]
    assert "plain_overlap" not in sink.rows[-1][2]  # the last round selects nothing
    for round_index, metrics in enumerate(selecting):
        if scaling == "balanced" and alpha == 1.0:
            assert metrics["task_feature_spread"] == pytest.approx(1.0)
            assert metrics["vae_feature_spread"] == pytest.approx(1.0)
            assert metrics["vae_share"] == pytest.approx(0.5)
        if alpha == float("inf"):
            assert metrics["vae_share"] == 1.0 and metrics["task_feature_spread"] == 0.0
        # The overlap is the fraction of this round's picks the alpha = 0 heuristic also picks on the
        # same model: a raw alpha of 1e-6 changes nothing, the VAE-only end changes most picks.
        if alpha == 1e-6:
            assert metrics["plain_overlap"] == 1.0 and metrics["vae_share"] < 1e-9
        else:
            assert 0 <= metrics["plain_overlap"] < 1
        assert metrics["diagnostics_seconds"] >= 0
        assert len(result.picks[round_index + 1]) == 20


def test_plain_and_lloss_arms_log_no_plain_overlap(digits, embeddings) -> None:
    plain, lloss = ListSink(), ListSink()
    run_trajectory(tiny_config("coreset", 0.0), digits, sink=plain)
    run_trajectory(
        tiny_config("lloss", 1.0), digits, embeddings=FixedEmbeddings(lambda: embeddings), sink=lloss
    )
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


def test_raw_mode_is_the_paper_s_literal_concatenation(digits, embeddings) -> None:
    """raw: the picks of the greedy on [T_f ⁀ alpha V] computed by hand on the same trained model."""
    import torch

    from raysweep.heuristics import build_heuristic
    from raysweep.heuristics.coreset import greedy_k_center
    from raysweep.loop import build_models, deterministic_torch, seeded_generator
    from raysweep.train import DeviceData, infer, train_round

    config = tiny_config("coreset", 0.5, rounds=1).model_copy(update={"alpha_scaling": "raw"})
    result = run_trajectory(config, digits, embeddings=FixedEmbeddings(lambda: embeddings))
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
        literal = torch.cat([features, 0.5 * torch.as_tensor(embeddings)], dim=1)
        expected = greedy_k_center(literal, mask, 20)
    np.testing.assert_array_equal(result.picks[1], expected.numpy())


def test_initial_labels_depend_on_seed_not_heuristic(digits, embeddings) -> None:
    coreset = run_trajectory(
        tiny_config("coreset", 2.0), digits, embeddings=FixedEmbeddings(lambda: embeddings)
    )
    entropy = run_trajectory(tiny_config("entropy"), digits)
    np.testing.assert_array_equal(coreset.picks[0], entropy.picks[0])
    assert coreset.initial_labels_sha256 == entropy.initial_labels_sha256
    np.testing.assert_array_equal(coreset.picks[0], initial_label_indices("digits", digits.n_pool, 0, 0, 30))


def test_resume_from_a_saved_state_matches_the_uninterrupted_run(digits) -> None:
    full_sink = ListSink()
    full = run_trajectory(tiny_config("entropy"), digits, sink=full_sink)
    saved: list[dict] = []
    run_trajectory(tiny_config("entropy", rounds=1), digits, on_state=lambda s: saved.append(s.state_dict()))
    # the state after round 0 of a run, fed back in, continues as if never stopped
    state = TrajectoryState.from_state_dict(saved[0])
    resumed_sink = ListSink()
    resumed = run_trajectory(tiny_config("entropy"), digits, sink=resumed_sink, resume_from=state)
    assert [row[1] for row in resumed_sink.rows] == [50, 70]
    for a, b in zip(full.picks, resumed.picks, strict=True):
        np.testing.assert_array_equal(a, b)
    assert resumed_sink.rows[-1][2]["accuracy"] == full_sink.rows[-1][2]["accuracy"]


def test_schedule_checks_the_pool() -> None:
    config = tiny_config()
    assert label_schedule(config.schedule, 300) == [30, 50, 70]
    assert label_schedule(config.schedule.model_copy(update={"rounds": None, "max_labels": 95}), 300) == [
        30,
        50,
        70,
        90,
        95,
    ]
    with pytest.raises(ScheduleError, match="exceeds the pool"):
        label_schedule(config.schedule.model_copy(update={"initial_labels": 400}), 300)
    with pytest.raises(ScheduleError, match="need 100 points"):
        label_schedule(config.schedule.model_copy(update={"rounds": 2, "initial_labels": 60}), 99)


def test_gpu_switches_run_the_same_code_on_cpu(digits) -> None:
    """bf16 autocast and channels_last are config switches; on CPU they take the same code path."""
    config = tiny_config("lloss")
    config = config.model_copy(
        update={"training": config.training.model_copy(update={"amp_bf16": True, "channels_last": True})}
    )
    sink = ListSink()
    result = run_trajectory(config, digits, sink=sink)
    assert [len(p) for p in result.picks] == [30, 20, 20]
    assert all(np.isfinite(row[2]["accuracy"]) for row in sink.rows)


def test_device_comes_from_the_config(digits) -> None:
    from raysweep.train import DeviceError, resolve_device

    assert resolve_device("cpu").type == "cpu"
    if not __import__("torch").cuda.is_available():
        assert resolve_device("auto").type == "cpu"
        with pytest.raises(DeviceError, match="no CUDA GPU"):
            run_trajectory(tiny_config().model_copy(update={"device": "cuda:0"}), digits)


@pytest.mark.parametrize(
    ("flag", "heuristic", "alpha"),
    [("chestmnist", "entropy", 0.0), ("chestmnist", "lloss", 1.0), ("pathmnist", "coreset", 1.0)],
)
def test_medmnist_multilabel_and_rgb_trajectories(tmp_path, flag, heuristic, alpha) -> None:
    """ChestMNIST-shaped multi-label data (per-label BCE, summed binary entropy, mean per-label AUC)
    and PathMNIST-shaped RGB data run Algorithm 1 through medmnist's real classes."""
    from helpers.datafiles import write_chestmnist, write_pathmnist

    writer = write_chestmnist if flag == "chestmnist" else write_pathmnist
    written = writer(tmp_path, {"train": 90, "val": 10, "test": 40})
    config = tiny_config(heuristic, alpha).model_copy(
        update={
            "dataset": tiny_config().dataset.model_copy(
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
