"""Encoders by name, where each trains (once per pool or every round in the trial), their cache keys,
and the providers the loop asks once per round, through Algorithm 1 on digits: each encoder's
embeddings reach the rounds that read them and change the picks; a retrained encoder resumes bit for
bit, retraining only the rounds still to run."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.trajectories import ListSink, RecordingProvider

from raysweep.config import CVAEEncoderConfig, GMVAEEncoderConfig, TrialConfig, VAEConfig, VAEEncoderConfig
from raysweep.data.base import ALDataset
from raysweep.encoders import (
    ENCODERS,
    FixedEmbeddings,
    LabelledEncoder,
    PoolEncoder,
    RetrainedEmbeddings,
    build_encoder,
    embedding_provider,
    trains_per_round,
)
from raysweep.loop import TrajectoryState, run_trajectory
from raysweep.registry import UnknownNameError


def test_registry_and_where_each_encoder_trains() -> None:
    assert ENCODERS.names() == ["cvae", "gmvae", "vae"]
    assert [trains_per_round(c) for c in (VAEEncoderConfig(), GMVAEEncoderConfig(), CVAEEncoderConfig())] == [
        False,
        False,
        True,
    ]
    assert [
        isinstance(build_encoder(c, VAEConfig()), PoolEncoder)
        for c in (VAEEncoderConfig(), GMVAEEncoderConfig())
    ] == [True, True]
    assert isinstance(build_encoder(CVAEEncoderConfig(), VAEConfig()), LabelledEncoder)
    with pytest.raises(UnknownNameError, match="known: cvae, gmvae, vae"):
        ENCODERS.get("vampprior")


def test_a_pool_encoder_s_cache_key_covers_its_whole_setting() -> None:
    vae = VAEConfig()
    encoder = build_encoder(GMVAEEncoderConfig(), vae)
    key = encoder.cache_key("abc")
    changed = [
        build_encoder(GMVAEEncoderConfig(), vae.model_copy(update={field: value})).cache_key("abc")
        for field, value in {
            "latent_dim": 16,
            "epochs": 3,
            "lr": 1e-4,
            "weight_decay": 0.0,
            "batch_size": 64,
            "seed": 7,
        }.items()
    ]
    assert len({key, *changed}) == 7


def trial(
    tiny_trial, encoder: str, heuristic: str = "coreset", alpha: float = 1.0, **schedule
) -> TrialConfig:
    return tiny_trial(
        heuristic,
        alpha,
        seed=3,
        encoder={"name": encoder, **({"components": 4} if encoder == "gmvae" else {})},
        **schedule,
    )


def test_providers_fixed_retrained_and_none(digits: ALDataset, tiny_trial) -> None:
    array = np.ones((digits.n_pool, 8), dtype=np.float32)
    fixed = FixedEmbeddings(lambda: array.copy())
    first = fixed(0, np.arange(30))
    assert fixed(1, np.arange(50)) is first and fixed.fetches == 1  # the same array every round

    assert embedding_provider(trial(tiny_trial, "cvae", alpha=0.0), digits, None) is None
    assert isinstance(embedding_provider(trial(tiny_trial, "gmvae"), digits, lambda: array), FixedEmbeddings)
    with pytest.raises(ValueError, match="fetch_pool_embeddings"):
        embedding_provider(trial(tiny_trial, "vae"), digits, None)
    retrained = embedding_provider(trial(tiny_trial, "cvae"), digits, None)
    assert isinstance(retrained, RetrainedEmbeddings)
    assert len({retrained.round_seed(r) for r in range(5)}) == 5
    assert retrained.round_seed(1) == RetrainedEmbeddings(retrained.encoder, digits, 3).round_seed(1)
    assert retrained.device == "cpu"  # the trial's device, resolved when it trains


def provider_for(config: TrialConfig, dataset: ALDataset):
    encoder = build_encoder(config.encoder, config.vae)
    fetch = None if encoder.per_round else (lambda: encoder.train(dataset))
    return embedding_provider(config, dataset, fetch)


@pytest.fixture(scope="module")
def plain_run(digits: ALDataset, tiny_trial):
    """The alpha-0 partner of every encoder's arm (the encoder is unused at alpha 0)."""
    return run_trajectory(trial(tiny_trial, "vae", alpha=0.0), digits)


@pytest.mark.parametrize("encoder", ENCODERS.names())
def test_each_encoder_s_embeddings_reach_the_selecting_rounds_and_change_the_picks(
    digits: ALDataset, tiny_trial, plain_run, encoder: str
) -> None:
    # A large alpha: after one epoch the VAE features are small next to the ResNet's, and the test
    # checks that they change the picks.
    config = trial(tiny_trial, encoder, alpha=50.0)
    provider = RecordingProvider(provider_for(config, digits))
    sink = ListSink()
    result = run_trajectory(config, digits, embeddings=provider, sink=sink)
    assert [len(p) for p in result.picks] == [30, 20, 20]
    assert len(np.unique(np.concatenate(result.picks))) == 70
    assert provider.calls == [(0, 30), (1, 50)]  # each selecting round, with its labels
    seconds = [row[2].get("encoder_seconds") for row in sink.rows]
    assert seconds[2] is None and all(s is not None and s >= 0 for s in seconds[:2])
    if trains_per_round(config.encoder):  # trained in the trial: every round costs a training
        assert min(seconds[:2]) > 0.01
    np.testing.assert_array_equal(plain_run.picks[0], result.picks[0])  # shared initial labels
    assert any(not np.array_equal(a, b) for a, b in zip(plain_run.picks[1:], result.picks[1:], strict=True))


class Stop(Exception):
    """Raised from ``on_state`` to end a trajectory after a round, as a killed worker would."""


def test_cvae_loss_prediction_asks_every_round_and_resumes_bit_for_bit(digits: ALDataset, tiny_trial) -> None:
    config = trial(tiny_trial, "cvae", heuristic="lloss", alpha=0.5, rounds=1)
    full_provider = RecordingProvider(provider_for(config, digits))
    full_sink = ListSink()
    full = run_trajectory(config, digits, embeddings=full_provider, sink=full_sink)
    # its training takes V(x) in every round, the last one (no selection) included
    assert full_provider.calls == [(0, 30), (1, 50)]

    saved: list[dict] = []

    def stop_after_round(state: TrajectoryState) -> None:
        saved.append(state.state_dict())
        raise Stop

    with pytest.raises(Stop):
        run_trajectory(config, digits, embeddings=provider_for(config, digits), on_state=stop_after_round)
    resumed_provider = RecordingProvider(provider_for(config, digits))
    resumed_sink = ListSink()
    resumed = run_trajectory(
        config,
        digits,
        embeddings=resumed_provider,
        sink=resumed_sink,
        resume_from=TrajectoryState.from_state_dict(saved[0]),
    )
    assert resumed_provider.calls == [(1, 50)]  # retrains only the round still to run
    for a, b in zip(full.picks, resumed.picks, strict=True):
        np.testing.assert_array_equal(a, b)
    assert resumed_sink.without_seconds() == full_sink.without_seconds()[1:]
