"""The VAE on tiny synthetic pools: contract, determinism, learning, fingerprints and cache keys."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch
from helpers.datasets import make_dataset, mean_distances, noise_images, two_clusters

from raysweep.config import VAEConfig
from raysweep.models.vae import ConvVAE, dataset_fingerprint, elbo_loss, train_vae, vae_cache_key


@pytest.mark.parametrize("size", [(8, 8), (13, 9), (28, 28), (32, 32)])
@pytest.mark.parametrize("channels", [1, 3])
def test_forward_shapes_for_any_image_size(size: tuple[int, int], channels: int) -> None:
    model = ConvVAE(channels, size, latent_dim=5, generator=torch.Generator().manual_seed(0))
    x = torch.randn(3, channels, *size)
    logits, mu, logvar = model(x, torch.Generator().manual_seed(1))
    assert logits.shape == x.shape
    assert mu.shape == logvar.shape == (3, 5)


def test_elbo_known_values() -> None:
    logits = torch.zeros(2, 1, 2, 2)  # sigmoid 0.5 -> BCE log(2) per pixel
    target = torch.full((2, 1, 2, 2), 0.5)
    mu, logvar = torch.zeros(2, 3), torch.zeros(2, 3)
    loss, reconstruction, kl = elbo_loss(logits, target, mu, logvar)
    assert loss.item() == pytest.approx(reconstruction.item() + kl.item())
    assert kl.item() == 0.0
    assert reconstruction.item() == pytest.approx(4 * np.log(2))  # summed over pixels, batch mean
    _, _, kl = elbo_loss(logits, target, torch.ones(2, 3), logvar)
    assert kl.item() == pytest.approx(0.5 * 3)  # KL(N(1,1) || N(0,1)) = 1/2 per latent unit


@pytest.mark.parametrize(("n", "channels", "size"), [(64, 1, 8), (48, 3, 28)])
def test_embeddings_shape_dtype_finite(n: int, channels: int, size: int, tiny_vae: VAEConfig) -> None:
    images = noise_images(n, channels, size)
    images.flags.writeable = False  # as read from Ray's object store
    dataset = make_dataset(images)
    epochs_seen: list[int] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # e.g. torch's "non-writable array" warning
        embeddings = train_vae(dataset, tiny_vae, progress=lambda epoch, loss: epochs_seen.append(epoch))
    assert embeddings.shape == (n, tiny_vae.latent_dim)
    assert embeddings.dtype == np.float32
    assert embeddings.flags.c_contiguous
    assert np.isfinite(embeddings).all()
    assert epochs_seen == [1, 2]


def test_same_seed_is_bit_identical_and_global_state_is_left_alone(tiny_vae: VAEConfig) -> None:
    dataset = make_dataset(noise_images(64, 1, 8))
    torch.use_deterministic_algorithms(False)
    rng_before = torch.get_rng_state()
    first = train_vae(dataset, tiny_vae)
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert not torch.are_deterministic_algorithms_enabled()
    second = train_vae(dataset, tiny_vae)
    assert np.array_equal(first, second)
    other_seed = train_vae(dataset, tiny_vae.model_copy(update={"seed": 1}))
    assert not np.allclose(first, other_seed)


def test_elbo_decreases_and_embeddings_separate_clusters() -> None:
    images, cluster = two_clusters()
    losses: list[float] = []
    config = VAEConfig(latent_dim=4, epochs=6, batch_size=16, seed=0)
    embeddings = train_vae(make_dataset(images), config, progress=lambda epoch, loss: losses.append(loss))
    assert losses[-1] < 0.9 * losses[0]

    between, within = mean_distances(embeddings, cluster)
    assert between > 2 * within


def test_fingerprint_covers_images_not_labels() -> None:
    images = noise_images(32, 1, 8)
    base = dataset_fingerprint(make_dataset(images))
    assert re.fullmatch(r"[0-9a-f]{64}", base)
    assert dataset_fingerprint(make_dataset(images.copy())) == base
    assert dataset_fingerprint(make_dataset(images, labels=np.ones(32, dtype=np.int64))) == base
    assert dataset_fingerprint(make_dataset(images, name="other")) != base
    changed = images.copy()
    changed[5, 0, 3, 3] ^= 1
    assert dataset_fingerprint(make_dataset(changed)) != base
    assert dataset_fingerprint(make_dataset(images.reshape(32, 1, 4, 16))) != base


def test_cache_key_is_stable_and_sensitive_to_every_config_field() -> None:
    config = VAEConfig()
    key = vae_cache_key("abc", config)
    assert re.fullmatch(r"[0-9a-f]{16}", key)
    assert vae_cache_key("abc", VAEConfig()) == key
    assert vae_cache_key("abd", config) != key
    changes = {"latent_dim": 16, "epochs": 3, "lr": 1e-4, "weight_decay": 0.0, "batch_size": 64, "seed": 7}
    assert set(changes) == set(VAEConfig.model_fields)  # a new field must be added here
    keys = {
        vae_cache_key("abc", config.model_copy(update={field: value})) for field, value in changes.items()
    }
    assert len(keys | {key}) == len(changes) + 1
