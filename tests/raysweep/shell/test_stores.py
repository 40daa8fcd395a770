"""The shared stores: each pool encoder trained once per sweep and cached on disk with its training's
seconds, a damaged cache retrained rather than trusted, and a rerun that trains nothing. The cache
format is tested directly; the stores' work in the shared smoke sweep (``conftest.py``)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from helpers.sweep_results import vae_rows

from raysweep.config import CVAEEncoderConfig, DatasetConfig, GMVAEEncoderConfig, VAEConfig, VAEEncoderConfig
from raysweep.encoders.gmvae import MixturePriorVAE
from raysweep.schema import VAE_SECONDS_METRIC
from raysweep.shell.stores import (
    dataset_key,
    pool_encoder,
    read_embeddings,
    read_training_seconds,
    write_embeddings,
)
from raysweep.storage import location

pytestmark = pytest.mark.timeout(1800)  # the first reader of the shared sweep waits for it


def test_the_cache_file_round_trip_and_its_damage(tmp_path: Path) -> None:
    embeddings = np.arange(12, dtype=np.float32).reshape(4, 3)
    path = location(tmp_path / "cache" / "vae-abc.npz")
    local = tmp_path / "cache" / "vae-abc.npz"
    write_embeddings(path, embeddings, 12.5)
    assert np.array_equal(read_embeddings(path), embeddings) and read_embeddings(path).dtype == np.float32
    assert read_training_seconds(path) == 12.5
    assert [p.name for p in local.parent.iterdir()] == ["vae-abc.npz"]  # written whole
    np.savez(local, embeddings=embeddings)  # a cache file from before the seconds were kept
    assert math.isnan(read_training_seconds(path)) and np.array_equal(read_embeddings(path), embeddings)
    local.write_bytes(local.read_bytes()[:40])  # cut short
    assert read_embeddings(path) is None and math.isnan(read_training_seconds(path))
    assert read_embeddings(location(tmp_path / "absent.npz")) is None
    assert math.isnan(read_training_seconds(location(tmp_path / "absent.npz")))


def test_equal_dataset_configs_share_one_copy_and_only_pool_encoders_are_stored() -> None:
    assert dataset_key(DatasetConfig(name="digits", pool_size=10)) == dataset_key(
        DatasetConfig(name="digits", pool_size=10)
    )
    assert dataset_key(DatasetConfig(name="digits", pool_size=10)) != dataset_key(
        DatasetConfig(name="digits", pool_size=11)
    )
    assert isinstance(pool_encoder(VAEConfig(), GMVAEEncoderConfig()), MixturePriorVAE)
    assert pool_encoder(VAEConfig(), VAEEncoderConfig()).name == "vae"
    with pytest.raises(ValueError, match="'cvae' is retrained inside each trial"):
        pool_encoder(VAEConfig(), CVAEEncoderConfig())


def test_each_pool_encoder_is_trained_once_per_seed_and_cached_with_its_seconds(smoke_sweep) -> None:
    client, [parent], _ = smoke_sweep.runs()
    metrics = parent.data.metrics
    # vae and gmvae once per seed each (vae.seed: trial, the default), in the store; cvae trains
    # inside its trials, not in the store
    assert metrics["vae_trainings"] == metrics["encoder_trainings"] == 4
    assert metrics["encoder_trainings.vae"] == metrics["encoder_trainings.gmvae"] == 2
    assert "encoder_trainings.cvae" not in metrics
    assert metrics["vae_cache_hits"] == metrics["encoder_cache_hits"] == 0
    cache = {p.name: p for p in (smoke_sweep.storage / "vae_cache").glob("*.npz")}
    assert sorted(name.split("-")[0] for name in cache) == ["gmvae", "gmvae", "vae", "vae"]
    rows = {(row["encoder"]["name"], row["vae"]["seed"]): row for row in vae_rows(client, parent.info.run_id)}
    assert sorted(rows) == [("gmvae", 0), ("gmvae", 1), ("vae", 0), ("vae", 1)]
    # Each seed's trials use that seed's encoder draw, and no other.
    for seed in (0, 1):
        assert rows["vae", seed]["trials"] == [f"digits/coreset/1/{seed}"]
        assert rows["gmvae", seed]["trials"] == [f"digits/coreset/1/{seed}/gmvae"]
    for row in rows.values():
        assert row["dataset"] == "digits" and row["trained_this_run"] is True
        path = cache[row["cache_key"]]
        assert row["seconds"] > 0 and row["seconds"] == pytest.approx(read_training_seconds(path))
        embeddings = read_embeddings(path)
        assert embeddings.shape == (400, row["vae"]["latent_dim"]) and np.isfinite(embeddings).all()
    # Two draws of one encoder are two encoders: the seed is what differs, and the embeddings with it.
    for name in ("vae", "gmvae"):
        first, second = (read_embeddings(cache[rows[name, seed]["cache_key"]]) for seed in (0, 1))
        assert not np.allclose(first, second)
    # what the analysis adds to the runtime of the trials that used them
    assert metrics[VAE_SECONDS_METRIC] == pytest.approx(sum(row["seconds"] for row in rows.values()))


def test_a_rerun_trains_nothing_and_still_reports_what_training_cost(smoke_sweep, smoke_rerun) -> None:
    client, [first], _ = smoke_sweep.runs()
    _, [rerun], _ = smoke_rerun.runs()
    metrics = rerun.data.metrics
    assert metrics["vae_trainings"] == metrics["encoder_trainings"] == 0
    assert metrics["vae_cache_hits"] == metrics["encoder_cache_hits"] == 4
    assert "VAE trainings this run: 0 (cache hits: 4)" in smoke_rerun.result.stdout
    cached = {
        (row["encoder"]["name"], row["vae"]["seed"]): row for row in vae_rows(client, rerun.info.run_id)
    }
    trained = {
        (row["encoder"]["name"], row["vae"]["seed"]): row for row in vae_rows(client, first.info.run_id)
    }
    assert sorted(cached) == sorted(trained) == [("gmvae", 0), ("gmvae", 1), ("vae", 0), ("vae", 1)]
    for name, row in cached.items():
        assert row["trained_this_run"] is False and row["cache_key"] == trained[name]["cache_key"]
        assert row["seconds"] == pytest.approx(trained[name]["seconds"])  # the cache file keeps them
    assert len(list((smoke_sweep.storage / "vae_cache").glob("*.npz"))) == 4
