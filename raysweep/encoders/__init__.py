"""Encoders by name: where the VAE features V(x) of the VAE-augmented heuristics come from.

- ``vae``: the paper's VAE with a N(0, I) prior (default; :mod:`raysweep.models.vae`).
- ``gmvae``: the same VAE with a mixture-of-Gaussians prior (:mod:`raysweep.encoders.gmvae`).
- ``cvae``: a class-conditional VAE retrained every round on the labels bought so far
  (:mod:`raysweep.encoders.cvae`).

Importing this package registers them. Which kinds train where, and the providers the loop calls
once per round, are in :mod:`raysweep.encoders.base`.
"""

from __future__ import annotations

from raysweep.encoders import cvae, gmvae, vae  # noqa: F401  (registers)
from raysweep.encoders.base import (
    ENCODERS,
    Encoder,
    FixedEmbeddings,
    LabelledEncoder,
    PoolEncoder,
    RetrainedEmbeddings,
    build_encoder,
    embedding_provider,
    trains_per_round,
)
from raysweep.encoders.cvae import class_components
from raysweep.encoders.mixture import MixturePrior, train_mixture_vae

__all__ = [
    "ENCODERS",
    "Encoder",
    "FixedEmbeddings",
    "LabelledEncoder",
    "MixturePrior",
    "PoolEncoder",
    "RetrainedEmbeddings",
    "build_encoder",
    "class_components",
    "embedding_provider",
    "train_mixture_vae",
    "trains_per_round",
]
