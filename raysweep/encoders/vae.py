"""``vae``: the paper's VAE (``raysweep.models.vae``), unchanged and the default encoder.

Its cache key and file name are the ones the store used before encoders existed
(``vae-<vae_cache_key>.npz``), so embeddings cached by earlier sweeps are found again.
"""

from __future__ import annotations

import numpy as np
import torch

from raysweep.data.base import ALDataset
from raysweep.encoders.base import ENCODERS, PoolEncoder, ProgressCallback
from raysweep.models.vae import ARCHITECTURE_VERSION, train_vae, vae_cache_key


@ENCODERS.register("vae")
class PaperVAE(PoolEncoder):
    """N(0, I) prior, trained once on the pool; V(x) = posterior means."""

    name = "vae"
    architecture = ARCHITECTURE_VERSION

    def train(
        self, dataset: ALDataset, device: torch.device | str = "cpu", progress: ProgressCallback | None = None
    ) -> np.ndarray:
        return train_vae(dataset, self.vae, device, progress)

    def cache_key(self, dataset_fingerprint: str) -> str:
        return vae_cache_key(dataset_fingerprint, self.vae)
