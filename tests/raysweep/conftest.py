"""Fixtures the core's tests share: one torch thread, the digits pool the trajectories run on, a factory
of tiny trial configs (two rounds in seconds), the VAE embeddings of that pool and a tiny VAE config
(the S3 server and buckets are ``tests/conftest.py``'s)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from raysweep.config import TrialConfig, VAEConfig
from raysweep.data import load_dataset
from raysweep.data.base import ALDataset
from raysweep.heuristics import HEURISTICS
from raysweep.models.vae import train_vae

TinyTrial = Callable[..., TrialConfig]


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: a second thread only adds overhead, and stalls badly when the cores are shared
    (the trials of a sweep run with one thread per CPU they hold as well)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _tiny_trial(
    heuristic: str | dict[str, Any] = "coreset",
    alpha: float = 0.0,
    seed: int = 0,
    encoder: str | dict[str, Any] = "vae",
    model: dict[str, Any] | None = None,
    **schedule: Any,
) -> TrialConfig:
    """Digits (a 300-point pool, 120 to evaluate), a ResNet from scratch, one epoch per round, 30
    initial labels then 20 per round for two rounds, a one-epoch VAE of 8 latents, on CPU. A heuristic
    that samples the model with MC dropout gets ``model.dropout`` 0.5, as a sweep must give it."""
    heuristic = {"name": heuristic} if isinstance(heuristic, str) else heuristic
    dropout = {"dropout": 0.5} if HEURISTICS.get(heuristic["name"]).needs_model_dropout else {}
    model = {"pretrained": False, **dropout, **(model or {})}
    # Fewer of the costly parts where a heuristic has them: a scored subset, MC-dropout passes.
    fast = {"lloss": {"subset_size": 200}, "bald": {"mc_passes": 5}}.get(heuristic["name"], {})
    heuristic = {**fast, **heuristic}
    encoder = {"name": encoder} if isinstance(encoder, str) else encoder
    return TrialConfig.model_validate(
        {
            "dataset": {"name": "digits", "pool_size": 300, "eval_size": 120},
            "model": model,
            "training": {"initial_epochs": 1, "epochs_per_round": 1, "batch_size": 32},
            "schedule": {"initial_labels": 30, "labels_per_round": 20, "rounds": 2, **schedule},
            "heuristic": heuristic,
            "vae": {"epochs": 1, "latent_dim": 8},
            "encoder": encoder,
            "alpha": alpha,
            "seed": seed,
            "device": "cpu",
        }
    )


@pytest.fixture(scope="session")
def tiny_trial() -> TinyTrial:
    """``tiny_trial(heuristic, alpha, seed, encoder, **schedule)``: a trial config that runs in seconds."""
    return _tiny_trial


@pytest.fixture(scope="session")
def digits() -> ALDataset:
    """The tiny trials' pool: 300 digits, 120 to evaluate on."""
    return load_dataset(_tiny_trial().dataset)


@pytest.fixture(scope="session")
def digits_embeddings(digits: ALDataset) -> np.ndarray:
    """The tiny trials' VAE embeddings of the digits pool, (300, 8) float32."""
    return train_vae(digits, _tiny_trial().vae)


@pytest.fixture(scope="session")
def tiny_vae() -> VAEConfig:
    """A VAE that trains in a fraction of a second on a few dozen 8x8 images."""
    return VAEConfig(latent_dim=4, epochs=2, batch_size=16, seed=0)
