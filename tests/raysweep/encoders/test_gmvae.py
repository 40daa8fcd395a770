"""``gmvae``: the paper's VAE with a mixture prior, trained once per pool: its embeddings' contract,
seeded, what the prior changes, and a cache key per setting."""

from __future__ import annotations

import numpy as np
import torch
from helpers.datasets import make_dataset, noise_images

from raysweep.config import GMVAEEncoderConfig, VAEConfig, VAEEncoderConfig
from raysweep.encoders import build_encoder
from raysweep.models.vae import train_vae


def test_gmvae_embeddings_contract_and_determinism(tiny_vae: VAEConfig) -> None:
    images = noise_images(48, 1, 8)
    images.flags.writeable = False  # as read from Ray's object store
    dataset = make_dataset(images)
    encoder = build_encoder(GMVAEEncoderConfig(components=3), tiny_vae)
    losses: list[float] = []
    rng_before = torch.get_rng_state()
    first = encoder.train(dataset, progress=lambda epoch, loss: losses.append(loss))
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert first.shape == (48, 4) and first.dtype == np.float32 and first.flags.c_contiguous
    assert np.isfinite(first).all() and len(losses) == 2
    np.testing.assert_array_equal(encoder.train(dataset), first)
    assert not np.allclose(
        build_encoder(GMVAEEncoderConfig(components=3), tiny_vae.model_copy(update={"seed": 1})).train(
            dataset
        ),
        first,
    )
    assert not np.allclose(build_encoder(GMVAEEncoderConfig(components=4), tiny_vae).train(dataset), first)
    assert not np.allclose(train_vae(dataset, tiny_vae), first)  # the prior changes what is learnt


def test_every_gmvae_setting_has_its_own_cache_key() -> None:
    vae = VAEConfig()
    gmvae = build_encoder(GMVAEEncoderConfig(), vae)
    key = gmvae.cache_key("abc")
    assert gmvae.cache_file_name("abc") == f"gmvae-{key}.npz" and len(key) == 16
    assert build_encoder(GMVAEEncoderConfig(), VAEConfig()).cache_key("abc") == key
    assert key != build_encoder(VAEEncoderConfig(), vae).cache_key("abc")  # not the vae's file
    others = {
        build_encoder(GMVAEEncoderConfig(components=5), vae).cache_key("abc"),
        build_encoder(GMVAEEncoderConfig(), vae.model_copy(update={"latent_dim": 8})).cache_key("abc"),
        build_encoder(GMVAEEncoderConfig(), vae.model_copy(update={"seed": 1})).cache_key("abc"),
        gmvae.cache_key("abd"),
    }
    assert len(others | {key}) == 5
