"""``vae``: the paper's VAE as the default encoder, trained once per pool, with the cache file name and
key the store used before encoders existed (so earlier caches are found again)."""

from __future__ import annotations

import numpy as np
from helpers.datasets import make_dataset, noise_images

from raysweep.config import VAEConfig, VAEEncoderConfig
from raysweep.encoders import build_encoder
from raysweep.models.vae import train_vae, vae_cache_key


def test_cache_key_and_file_are_the_store_s_old_ones() -> None:
    vae = VAEConfig()
    paper = build_encoder(VAEEncoderConfig(), vae)
    assert paper.cache_key("abc") == vae_cache_key("abc", vae)
    assert paper.cache_file_name("abc") == f"vae-{vae_cache_key('abc', vae)}.npz"  # the store's old name


def test_it_trains_the_paper_s_vae(tiny_vae: VAEConfig) -> None:
    dataset = make_dataset(noise_images(32, 1, 8))
    epochs: list[int] = []
    embeddings = build_encoder(VAEEncoderConfig(), tiny_vae).train(
        dataset, progress=lambda e, loss: epochs.append(e)
    )
    np.testing.assert_array_equal(embeddings, train_vae(dataset, tiny_vae))
    assert epochs == [1, 2] and embeddings.shape == (32, tiny_vae.latent_dim)
