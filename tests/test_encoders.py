"""Encoders: the mixture prior's known answers, gmvae/cvae determinism, providers, trajectories, sweeps."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest
import torch
from test_vae import make_dataset, random_images, two_clusters

from raysweep.config import (
    CVAEEncoderConfig,
    GMVAEEncoderConfig,
    TrialConfig,
    VAEConfig,
    VAEEncoderConfig,
)
from raysweep.data import load_dataset
from raysweep.data.base import ALDataset, channel_stats
from raysweep.encoders import (
    ENCODERS,
    FixedEmbeddings,
    MixturePrior,
    RetrainedEmbeddings,
    build_encoder,
    class_components,
    embedding_provider,
    trains_per_round,
)
from raysweep.loop import TrajectoryState, run_trajectory
from raysweep.models.vae import standard_normal_kl, train_vae, vae_cache_key
from raysweep.registry import UnknownNameError
from raysweep.sweep.config import SweepConfig, config_digest, load_sweep_config
from raysweep.sweep.smoke import smoke
from raysweep.sweep.trials import expand_trials
from raysweep.typed_config import ConfigError

TINY = VAEConfig(latent_dim=4, epochs=2, batch_size=16, seed=0)


def posterior(batch: int = 5, latent: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, latent, generator=generator), torch.randn(batch, latent, generator=generator)


def gaussian_kl(mu, logvar, mean, logvar_prior) -> torch.Tensor:
    """KL(N(mu, e^logvar) || N(mean, e^logvar_prior)) per row, written out independently."""
    var, var_prior = logvar.exp(), logvar_prior.exp()
    return 0.5 * torch.sum(torch.log(var_prior / var) + (var + (mu - mean) ** 2) / var_prior - 1, dim=1)


# --------------------------------------------------------------------------------------------
# The mixture prior: known answers
# --------------------------------------------------------------------------------------------


def test_one_standard_normal_component_is_the_vae_kl() -> None:
    mu, logvar = posterior()
    prior = MixturePrior(1, 3, torch.Generator().manual_seed(0))
    with torch.no_grad():
        prior.means.zero_()  # log-variances start at 0: the component is N(0, I)
    index = np.arange(5)
    torch.testing.assert_close(prior.batch_kl(mu, logvar, index), standard_normal_kl(mu, logvar))
    expected = -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(dim=1)
    torch.testing.assert_close(prior.image_kl(mu, logvar), expected)


def test_component_kl_matches_the_gaussian_formula() -> None:
    mu, logvar = posterior(batch=4, latent=3)
    prior = MixturePrior(3, 3, torch.Generator().manual_seed(1))
    with torch.no_grad():
        prior.logvars.copy_(torch.randn(3, 3, generator=torch.Generator().manual_seed(2)))
    kl = prior.component_kl(mu, logvar)
    assert kl.shape == (4, 3)
    for c in range(3):
        torch.testing.assert_close(kl[:, c], gaussian_kl(mu, logvar, prior.means[c], prior.logvars[c]))


def test_identical_components_reduce_to_one_and_allowed_restricts_the_sum() -> None:
    mu, logvar = posterior(batch=3)
    prior = MixturePrior(4, 3, torch.Generator().manual_seed(0))
    with torch.no_grad():
        prior.means.copy_(prior.means[0].expand(4, 3))
    single = gaussian_kl(mu, logvar, prior.means[0], prior.logvars[0])
    # Four copies of one Gaussian are that Gaussian: the bound is tight and equals its KL.
    torch.testing.assert_close(prior.image_kl(mu, logvar), single)

    allowed = np.ones((3, 4), dtype=bool)
    allowed[1] = [False, False, True, False]  # a labeled point of class 2
    prior = MixturePrior(4, 3, torch.Generator().manual_seed(0), allowed)
    kl = prior.component_kl(mu, logvar)
    terms = prior.image_kl(mu, logvar, np.arange(3))
    # one allowed component c: KL_c - log pi_c = KL_c + log K
    torch.testing.assert_close(terms[1], kl[1, 2] + math.log(4))
    torch.testing.assert_close(terms[0], -torch.logsumexp(-kl[0] - math.log(4), dim=0))


def test_the_bound_is_never_below_the_true_kl() -> None:
    """-log sum_c pi_c exp(-KL_c) >= KL(q || mixture), estimated here with many samples."""
    mu, logvar = posterior(batch=3, latent=2, seed=3)
    prior = MixturePrior(3, 2, torch.Generator().manual_seed(4))
    with torch.no_grad():
        bound = prior.image_kl(mu, logvar)
        generator = torch.Generator().manual_seed(5)
        z = mu + torch.randn(200_000, *mu.shape, generator=generator) * (0.5 * logvar).exp()
        log_q = torch.distributions.Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1)
        components = torch.distributions.Normal(prior.means, (0.5 * prior.logvars).exp())
        log_p = torch.logsumexp(components.log_prob(z[..., None, :]).sum(-1) + prior.log_weights, dim=-1)
        monte_carlo = (log_q - log_p).mean(0)
    assert (bound >= monte_carlo - 0.02).all(), (bound, monte_carlo)


def test_mixture_prior_rejects_bad_masks() -> None:
    generator = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="at least one component"):
        MixturePrior(2, 3, generator, np.array([[True, False], [False, False]]))
    with pytest.raises(ValueError, match=r"\(n_pool, 2\)"):
        MixturePrior(2, 3, generator, np.ones((4, 3), dtype=bool))


# --------------------------------------------------------------------------------------------
# Registry, configs, cache keys
# --------------------------------------------------------------------------------------------


def test_registry_and_where_each_encoder_trains() -> None:
    assert ENCODERS.names() == ["cvae", "gmvae", "vae"]
    assert [trains_per_round(c) for c in (VAEEncoderConfig(), GMVAEEncoderConfig(), CVAEEncoderConfig())] == [
        False,
        False,
        True,
    ]
    with pytest.raises(UnknownNameError, match="known: cvae, gmvae, vae"):
        ENCODERS.get("vampprior")
    assert GMVAEEncoderConfig().components == 10
    with pytest.raises(ValueError, match="components"):
        GMVAEEncoderConfig(components=0)
    with pytest.raises(ValueError, match="vampprior"):
        TrialConfig.model_validate({"encoder": {"name": "vampprior"}})


def test_cache_keys_keep_the_vae_file_and_separate_every_gmvae_setting() -> None:
    vae = VAEConfig()
    paper = build_encoder(VAEEncoderConfig(), vae)
    assert paper.cache_key("abc") == vae_cache_key("abc", vae)
    assert paper.cache_file_name("abc") == f"vae-{vae_cache_key('abc', vae)}.npz"  # the store's old name
    gmvae = build_encoder(GMVAEEncoderConfig(), vae)
    key = gmvae.cache_key("abc")
    assert gmvae.cache_file_name("abc") == f"gmvae-{key}.npz" and key != paper.cache_key("abc")
    assert build_encoder(GMVAEEncoderConfig(), VAEConfig()).cache_key("abc") == key
    others = {
        build_encoder(GMVAEEncoderConfig(components=5), vae).cache_key("abc"),
        build_encoder(GMVAEEncoderConfig(), vae.model_copy(update={"latent_dim": 8})).cache_key("abc"),
        build_encoder(GMVAEEncoderConfig(), vae.model_copy(update={"seed": 1})).cache_key("abc"),
        gmvae.cache_key("abd"),
    }
    assert len(others | {key}) == 5


def test_class_components_multi_class_and_multi_label() -> None:
    images = random_images(6, 1, 8)
    dataset = make_dataset(images, labels=np.array([0, 1, 1, 0, 1, 0]))
    allowed = class_components(dataset, np.array([1, 3]))
    assert allowed.shape == (6, 2)
    assert allowed[[0, 2, 4, 5]].all()  # unlabeled: every class
    assert allowed[1].tolist() == [False, True] and allowed[3].tolist() == [True, False]
    assert class_components(dataset, np.array([], dtype=np.int64)).all()

    mean, std = channel_stats(images)
    labels = np.array([[1, 0, 1], [0, 0, 0], [0, 1, 0], [1, 1, 1], [0, 0, 0], [0, 0, 1]], dtype=np.uint8)
    multi = ALDataset("chest", "multi-label", 3, images, labels, images[:2], labels[:2], mean, std)
    allowed = class_components(multi, np.array([0, 1, 2]))
    assert allowed.shape == (6, 4)  # three labels + "no positive label"
    assert allowed[0].tolist() == [True, False, True, False]
    assert allowed[1].tolist() == [False, False, False, True]
    assert allowed[2].tolist() == [False, True, False, False]
    assert allowed[3:].all()


# --------------------------------------------------------------------------------------------
# Training: contract, determinism, what the labels do
# --------------------------------------------------------------------------------------------


def test_gmvae_embeddings_contract_and_determinism() -> None:
    images = random_images(48, 1, 8)
    images.flags.writeable = False  # as read from Ray's object store
    dataset = make_dataset(images)
    encoder = build_encoder(GMVAEEncoderConfig(components=3), TINY)
    losses: list[float] = []
    rng_before = torch.get_rng_state()
    first = encoder.train(dataset, progress=lambda epoch, loss: losses.append(loss))
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert first.shape == (48, 4) and first.dtype == np.float32 and first.flags.c_contiguous
    assert np.isfinite(first).all() and len(losses) == 2
    np.testing.assert_array_equal(encoder.train(dataset), first)
    assert not np.allclose(
        build_encoder(GMVAEEncoderConfig(components=3), TINY.model_copy(update={"seed": 1})).train(dataset),
        first,
    )
    assert not np.allclose(build_encoder(GMVAEEncoderConfig(components=4), TINY).train(dataset), first)
    assert not np.allclose(train_vae(dataset, TINY), first)  # the prior changes what is learnt


def test_cvae_without_labels_is_the_gmvae_with_one_component_per_class() -> None:
    """Documented behaviour: no labels -> every point sums over all classes, the gmvae's loss."""
    images, cluster = two_clusters(24)
    dataset = make_dataset(images, labels=cluster)
    cvae = build_encoder(CVAEEncoderConfig(), TINY)
    seed = 12345
    unlabeled = cvae.train(dataset, np.array([], dtype=np.int64), seed)
    gmvae = build_encoder(GMVAEEncoderConfig(components=2), TINY.model_copy(update={"seed": seed}))
    np.testing.assert_array_equal(unlabeled, gmvae.train(dataset))


def test_cvae_is_seeded_and_its_labels_pull_classes_apart() -> None:
    images, cluster = two_clusters(32)
    dataset = make_dataset(images, labels=cluster)
    labeled = np.arange(0, 64, 4)  # a quarter of the pool
    quick = build_encoder(CVAEEncoderConfig(), TINY)
    first = quick.train(dataset, labeled, seed=7)
    np.testing.assert_array_equal(quick.train(dataset, labeled, seed=7), first)
    assert not np.allclose(quick.train(dataset, labeled, seed=8), first)
    assert not np.allclose(quick.train(dataset, labeled[:8], seed=7), first)

    # Every point, labeled or not, is embedded; the classes' components pull the clusters apart.
    trained = build_encoder(CVAEEncoderConfig(), VAEConfig(latent_dim=4, epochs=6, batch_size=16))
    embeddings = trained.train(dataset, labeled, seed=7)
    unlabeled = np.setdiff1d(np.arange(64), labeled)
    points, classes = embeddings[unlabeled], cluster[unlabeled]
    distances = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=-1)
    same = classes[:, None] == classes[None, :]
    off_diagonal = ~np.eye(len(points), dtype=bool)
    assert distances[~same].mean() > 2 * distances[same & off_diagonal].mean()


# --------------------------------------------------------------------------------------------
# Providers and trajectories
# --------------------------------------------------------------------------------------------


def trial(encoder: str, heuristic: str = "coreset", alpha: float = 1.0, **schedule) -> TrialConfig:
    return TrialConfig.model_validate(
        {
            "dataset": {"name": "digits", "pool_size": 300, "eval_size": 120},
            "model": {"pretrained": False},
            "training": {"initial_epochs": 1, "epochs_per_round": 1, "batch_size": 32},
            "schedule": {"initial_labels": 30, "labels_per_round": 20, "rounds": 2, **schedule},
            "heuristic": {"name": heuristic, **({"subset_size": 200} if heuristic == "lloss" else {})},
            "vae": {"epochs": 1, "latent_dim": 8},
            "encoder": {"name": encoder, **({"components": 4} if encoder == "gmvae" else {})},
            "alpha": alpha,
            "seed": 3,
            "device": "cpu",
        }
    )


@pytest.fixture(scope="module")
def digits() -> ALDataset:
    return load_dataset(trial("vae").dataset)


def test_providers_fixed_retrained_and_none(digits) -> None:
    array = np.ones((digits.n_pool, 8), dtype=np.float32)
    fixed = FixedEmbeddings(lambda: array.copy())
    first = fixed(0, np.arange(30))
    assert fixed(1, np.arange(50)) is first and fixed.fetches == 1  # the same array every round

    assert embedding_provider(trial("cvae", alpha=0.0), digits, None) is None
    assert isinstance(embedding_provider(trial("gmvae"), digits, lambda: array), FixedEmbeddings)
    with pytest.raises(ValueError, match="fetch_pool_embeddings"):
        embedding_provider(trial("vae"), digits, None)
    retrained = embedding_provider(trial("cvae"), digits, None)
    assert isinstance(retrained, RetrainedEmbeddings)
    assert len({retrained.round_seed(r) for r in range(5)}) == 5
    assert retrained.round_seed(1) == RetrainedEmbeddings(retrained.encoder, digits, 3).round_seed(1)


class Recorder:
    """Wraps a provider and records the rounds and label counts it was asked for."""

    def __init__(self, provider) -> None:
        self.provider = provider
        self.calls: list[tuple[int, int]] = []

    def __call__(self, round_index: int, labeled_indices: np.ndarray) -> np.ndarray:
        self.calls.append((round_index, len(labeled_indices)))
        return self.provider(round_index, labeled_indices)


class ListSink:
    def __init__(self) -> None:
        self.rows: list[tuple[int, int, dict]] = []

    def log_round(self, round_index, n_labels, metrics) -> None:
        self.rows.append((round_index, n_labels, dict(metrics)))


def provider_for(config: TrialConfig, dataset: ALDataset):
    encoder = build_encoder(config.encoder, config.vae)
    fetch = None if encoder.per_round else (lambda: encoder.train(dataset))
    return embedding_provider(config, dataset, fetch)


@pytest.fixture(scope="module")
def plain_run(digits):
    """The alpha-0 partner of every encoder's arm (the encoder is unused at alpha 0)."""
    return run_trajectory(trial("vae", alpha=0.0), digits)


@pytest.mark.parametrize("encoder", ["vae", "gmvae", "cvae"])
def test_digits_coreset_trajectory_per_encoder(digits, plain_run, encoder) -> None:
    # A large alpha: after one epoch the VAE features are small next to the ResNet's, and the test
    # checks that they change the picks.
    config = trial(encoder, alpha=50.0)
    provider = Recorder(provider_for(config, digits))
    sink = ListSink()
    result = run_trajectory(config, digits, embeddings=provider, sink=sink)
    assert [len(p) for p in result.picks] == [30, 20, 20]
    assert len(np.unique(np.concatenate(result.picks))) == 70
    assert provider.calls == [(0, 30), (1, 50)]  # each selecting round, with its labels
    seconds = [row[2].get("encoder_seconds") for row in sink.rows]
    assert seconds[2] is None and all(s is not None and s >= 0 for s in seconds[:2])
    if encoder == "cvae":  # trained in the trial: every round costs a training
        assert min(seconds[:2]) > 0.01
    np.testing.assert_array_equal(plain_run.picks[0], result.picks[0])  # shared initial labels
    assert any(not np.array_equal(a, b) for a, b in zip(plain_run.picks[1:], result.picks[1:], strict=True))


class Stop(Exception):
    """Raised from ``on_state`` to end a trajectory after a round, as a killed worker would."""


def test_cvae_loss_prediction_asks_every_round_and_resumes_bit_for_bit(digits) -> None:
    config = trial("cvae", heuristic="lloss", alpha=0.5, rounds=1)
    full_provider = Recorder(provider_for(config, digits))
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
    resumed_provider = Recorder(provider_for(config, digits))
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
    strip = lambda rows: [{k: v for k, v in m.items() if not k.endswith("seconds")} for _, _, m in rows]  # noqa: E731
    assert strip(resumed_sink.rows) == strip(full_sink.rows[1:])


def test_wrong_embedding_shape_is_refused(digits) -> None:
    config = trial("vae")
    with pytest.raises(ValueError, match=r"vae\.latent_dim=8"):
        run_trajectory(
            config, digits, embeddings=FixedEmbeddings(lambda: np.zeros((digits.n_pool, 5), np.float32))
        )


# --------------------------------------------------------------------------------------------
# Sweeps: the encoders axis
# --------------------------------------------------------------------------------------------


def sweep_config(**axes) -> SweepConfig:
    return SweepConfig.model_validate(
        {
            "experiment": "x",
            "sweep": {
                "datasets": ["digits"],
                "heuristics": ["random", "coreset"],
                "alphas": [0, 1],
                "seeds": [0, 1],
                **axes,
            },
        }
    )


def test_encoders_axis_keys_and_the_shared_alpha_zero_arm() -> None:
    default = [t.key for t in expand_trials(sweep_config())]
    assert default == [
        "digits/random/0/0",
        "digits/random/0/1",
        "digits/coreset/0/0",
        "digits/coreset/0/1",
        "digits/coreset/1/0",
        "digits/coreset/1/1",
    ]  # the keys of vae sweeps are what they were before the axis existed
    trials = expand_trials(sweep_config(encoders=["vae", {"name": "gmvae", "components": 4}, "cvae"]))
    keys = [t.key for t in trials]
    assert len(keys) == 2 + 2 + 3 * 2  # alpha 0 once, alpha 1 per encoder
    assert keys[:4] == default[:4]
    assert keys[4:] == [
        "digits/coreset/1/0",
        "digits/coreset/1/1",
        "digits/coreset/1/0/gmvae",
        "digits/coreset/1/1/gmvae",
        "digits/coreset/1/0/cvae",
        "digits/coreset/1/1/cvae",
    ]
    by_key = {t.key: t for t in trials}
    assert by_key["digits/coreset/1/0/gmvae"].config.encoder == GMVAEEncoderConfig(components=4)
    assert (
        by_key["digits/coreset/0/0"].encoder is None and by_key["digits/coreset/1/0/cvae"].encoder == "cvae"
    )


def test_encoders_axis_errors_and_smoke(tmp_path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(
        "experiment: x\nsweep: {datasets: [digits], heuristics: [coreset], seeds: [0], encoders: [vae, vampprior]}\n"
    )
    with pytest.raises(ConfigError) as error:
        load_sweep_config(path)
    assert (
        str(path) in str(error.value)
        and "vampprior" in str(error.value)
        and "sweep.encoders" in str(error.value)
    )
    path.write_text(
        "experiment: x\nsweep: {datasets: [digits], heuristics: [coreset], seeds: [0], encoders: [gmvae, gmvae]}\n"
    )
    with pytest.raises(ConfigError, match="encoder twice"):
        load_sweep_config(path)
    path.write_text(
        "experiment: x\nsweep: {datasets: [digits], heuristics: [coreset], seeds: [0], encoders: []}\n"
    )
    with pytest.raises(ConfigError, match=r"sweep\.encoders"):
        load_sweep_config(path)
    full = sweep_config(encoders=["vae", "gmvae", "cvae"])
    assert [e.name for e in smoke(full).sweep.encoders] == [
        "vae",
        "gmvae",
        "cvae",
    ]  # --smoke keeps every encoder


def test_digest_of_a_default_sweep_ignores_the_new_axis() -> None:
    """Sweeps started before the axis existed resume: their digest is that of the dump without it."""
    sweep = sweep_config()
    data = sweep.model_dump(mode="json")
    del data["sweep"]["encoders"]
    del data["sweep"]["search"]  # the search block (issue 14) is left out the same way while unset
    before_the_axis = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]
    assert config_digest(sweep) == config_digest(sweep_config(encoders=["vae"])) == before_the_axis
    assert config_digest(sweep_config(encoders=["vae", "gmvae"])) != before_the_axis
