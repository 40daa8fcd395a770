"""``gmvae``: the paper's VAE with a mixture-of-Gaussians prior (the paper's "multimodal prior").

K components (``encoder.components``, default 10) with learnable means and variances; the
formulation (an analytic bound with the component as a latent variable, not a Monte Carlo KL nor the
VampPrior) and why are in :mod:`raysweep.encoders.mixture`. Encoder, decoder, optimiser, epochs and
seed are the ``vae`` block's, so a comparison with ``vae`` isolates the prior. Trained once per
(dataset, ``vae`` block, K) by the sweep's store, like ``vae``; V(x) = posterior means of q(z|x).
"""

from __future__ import annotations

import numpy as np
import torch

from raysweep.config import GMVAEEncoderConfig
from raysweep.data.base import ALDataset
from raysweep.encoders.base import ENCODERS, PoolEncoder, ProgressCallback
from raysweep.encoders.mixture import train_mixture_vae


@ENCODERS.register("gmvae")
class MixturePriorVAE(PoolEncoder):
    name = "gmvae"
    architecture = "conv-gmvae-1"
    config: GMVAEEncoderConfig

    def train(
        self, dataset: ALDataset, device: torch.device | str = "cpu", progress: ProgressCallback | None = None
    ) -> np.ndarray:
        return train_mixture_vae(
            dataset, self.vae, self.config.components, self.vae.seed, device, progress=progress
        )
