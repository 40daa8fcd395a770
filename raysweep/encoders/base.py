"""What an encoder is, where it trains, and how its embeddings reach the loop.

Two kinds of encoder, told apart by ``per_round``:

- :class:`PoolEncoder` (``vae``, ``gmvae``): depends on the pool images only. The shell's
  EmbeddingStore trains it once per (dataset, ``vae`` block, encoder config), caches the embeddings
  on disk under ``<name>-<cache_key>.npz``, and every trial of the sweep reads the same array
  through a :class:`FixedEmbeddings` provider.
- :class:`LabelledEncoder` (``cvae``): depends on the trial's labels, so it is retrained inside the
  trial, on the trial's device, every round that needs embeddings, from a seed derived from (trial
  seed, round) and the labels bought so far: a resumed trial retrains exactly what the uninterrupted
  one would have (:class:`RetrainedEmbeddings`).

Either way the loop sees one interface, ``provider(round_index, labeled_indices) -> (n_pool,
latent) float32`` (``raysweep.loop.EmbeddingProvider``), and asks it once per round.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

import numpy as np
import torch

from raysweep.config import EncoderConfig, TrialConfig, VAEConfig
from raysweep.data.base import ALDataset
from raysweep.labels import derive_seed
from raysweep.registry import Registry
from raysweep.train import resolve_device

ProgressCallback = Callable[[int, float], None]
"""``progress(epoch, mean_loss)`` after each training epoch (epochs count from 1)."""


class Encoder(ABC):
    """An encoder built from its config and the shared ``vae`` block (latent size, optimiser, epochs)."""

    name: ClassVar[str]
    per_round: ClassVar[bool]
    """True: trained inside the trial every round on its labels; False: once per sweep by the store."""

    def __init__(self, config: EncoderConfig, vae: VAEConfig) -> None:
        self.config = config
        self.vae = vae

    @classmethod
    def from_config(cls, config: EncoderConfig, vae: VAEConfig) -> Encoder:
        return cls(config, vae)


class PoolEncoder(Encoder):
    """Trained once on the pool images (no labels); its embeddings are a function of the pool alone."""

    per_round = False
    architecture: ClassVar[str]
    """Part of the cache key: bump when the model or training changes what embeddings come out."""

    @abstractmethod
    def train(
        self, dataset: ALDataset, device: torch.device | str = "cpu", progress: ProgressCallback | None = None
    ) -> np.ndarray:
        """Train on ``dataset``'s pool; the pool's posterior means ``(n_pool, latent_dim)`` float32."""

    def cache_key(self, dataset_fingerprint: str) -> str:
        """Short, stable hex key of (dataset, ``vae`` block, encoder config, architecture)."""
        payload = {
            "architecture": self.architecture,
            "dataset": dataset_fingerprint,
            "vae": self.vae.model_dump(mode="json"),
            "encoder": self.config.model_dump(mode="json"),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def cache_file_name(self, dataset_fingerprint: str) -> str:
        return f"{self.name}-{self.cache_key(dataset_fingerprint)}.npz"


class LabelledEncoder(Encoder):
    """Trained on the pool images and the labels bought so far; retrained every round."""

    per_round = True

    @abstractmethod
    def train(
        self,
        dataset: ALDataset,
        labeled_indices: np.ndarray,
        seed: int,
        device: torch.device | str = "cpu",
        progress: ProgressCallback | None = None,
    ) -> np.ndarray:
        """Train on the pool, reading ``dataset.pool_labels`` at ``labeled_indices`` only; the
        posterior means of every pool point ``(n_pool, latent_dim)`` float32."""


ENCODERS: Registry[type[Encoder]] = Registry("encoder")


def build_encoder(config: EncoderConfig, vae: VAEConfig) -> Encoder:
    """The registered encoder named ``config.name``."""
    return ENCODERS.get(config.name).from_config(config, vae)


def trains_per_round(config: EncoderConfig) -> bool:
    """Whether the trial itself trains this encoder each round (else the sweep's store trains it once)."""
    return ENCODERS.get(config.name).per_round


# --------------------------------------------------------------------------------------------
# Embedding providers: what the loop calls once per round
# --------------------------------------------------------------------------------------------


class FixedEmbeddings:
    """One array for the whole trajectory (``vae``, ``gmvae``), fetched on the first call.

    ``fetch`` is where the array comes from (the sweep's EmbeddingStore, a cache file, or a
    training run in a notebook); it is called once, later rounds get the same array.
    """

    def __init__(self, fetch: Callable[[], np.ndarray]) -> None:
        self._fetch = fetch
        self._embeddings: np.ndarray | None = None
        self.fetches = 0

    def __call__(self, round_index: int, labeled_indices: np.ndarray) -> np.ndarray:
        if self._embeddings is None:
            self._embeddings = self._fetch()
            self.fetches += 1
        return self._embeddings


class RetrainedEmbeddings:
    """A :class:`LabelledEncoder` trained afresh for each round on the labels bought so far.

    The seed is ``derive_seed("encoder", trial seed, round)``: the same round with the same labels
    trains the same encoder, so a resumed trial reproduces the uninterrupted one bit for bit on CPU.
    """

    def __init__(
        self, encoder: LabelledEncoder, dataset: ALDataset, trial_seed: int, device: str = "cpu"
    ) -> None:
        self.encoder = encoder
        self.dataset = dataset
        self.trial_seed = trial_seed
        self.device = device
        """The trial's device spec (``auto``, ``cpu``, ``cuda:N``), resolved when training starts."""

    def round_seed(self, round_index: int) -> int:
        return derive_seed("encoder", self.trial_seed, round_index)

    def __call__(self, round_index: int, labeled_indices: np.ndarray) -> np.ndarray:
        device = resolve_device(self.device)
        return self.encoder.train(self.dataset, labeled_indices, self.round_seed(round_index), device)


def embedding_provider(
    config: TrialConfig, dataset: ALDataset, fetch_pool_embeddings: Callable[[], np.ndarray] | None
) -> FixedEmbeddings | RetrainedEmbeddings | None:
    """The provider a trial hands to the loop: None when it takes no embeddings (alpha 0).

    ``fetch_pool_embeddings`` returns the pool encoder's embeddings (the shell asks the
    EmbeddingStore); a per-round encoder ignores it and trains on the trial's ``device``.
    """
    if not config.uses_vae:
        return None
    encoder = build_encoder(config.encoder, config.vae)
    if isinstance(encoder, LabelledEncoder):
        return RetrainedEmbeddings(encoder, dataset, config.seed, config.device)
    if fetch_pool_embeddings is None:
        raise ValueError(f"encoder {encoder.name!r} is trained once per pool: pass fetch_pool_embeddings")
    return FixedEmbeddings(fetch_pool_embeddings)
