"""The mixture-of-Gaussians prior shared by ``gmvae`` and ``cvae``, and its training function.

Prior: ``p(z) = sum_c pi_c N(z; m_c, diag(exp(s_c)))`` with K components, learnable means ``m_c``
and log-variances ``s_c`` (K x latent each), and fixed uniform weights ``pi_c = 1/K``.

Formulation: the component is a discrete latent variable c with its own variational posterior
``q(c|x)``, as in the Gaussian-mixture VAEs of Dilokthanakul et al. (2016) and Jiang et al.'s VaDE
(2017). The ELBO then holds ``E_q(c|x)[KL(q(z|x) || p(z|c))] + KL(q(c|x) || p(c))`` where the plain
VAE has ``KL(q(z|x) || N(0, I))``. Both terms are analytic for diagonal Gaussians, and the q(c|x)
that minimises their sum is ``q(c|x) ∝ pi_c exp(-KL_c)`` with ``KL_c = KL(q(z|x) || p(z|c))``, which
leaves the per-image term

    -log sum_c pi_c exp(-KL_c)        (a logsumexp over components)

an upper bound on ``KL(q(z|x) || p(z))``, so the loss still bounds ``-log p(x)``. Why this
formulation and not the others REFERENCE.md names:

- against a Monte Carlo estimate of ``KL(q(z|x) || p(z))``: no extra sampling noise in the loss
  (the reparameterised reconstruction sample is the only noise, as in the paper's VAE), and with
  K = 1 and a standard-normal component the term *is* the VAE's analytic KL, so the comparison
  with ``vae`` isolates the prior and a test can check the reduction exactly;
- against the VampPrior (Tomczak & Welling 2018): its components are the encoder's posteriors at
  K learnt pseudo-inputs, which costs K extra encoder passes per batch and ties the prior to the
  encoder; the explicit components here have no such cost, and they are what the class-conditional
  ``cvae`` needs: a labeled point's component is observed (its class), so its sum over c shrinks to
  the components its label allows (``allowed``), the M2 idea of Kingma et al. (2014) of a label
  that is a latent variable observed for the labeled points.

Uniform fixed weights: learnt weights let the mixture give one component all the mass (a known
failure of mixture VAEs); with uniform weights every component stays available. Means are drawn
from N(0, I) with the run's seed (well apart in 32 dimensions: about 8 units against a component
spread of 1), log-variances start at 0 (unit variance, the VAE's prior).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from raysweep.config import VAEConfig
from raysweep.data.base import ALDataset
from raysweep.encoders.base import ProgressCallback
from raysweep.models.vae import LatentPrior, deterministic_algorithms, embed_pool, fit_vae


class MixturePrior(LatentPrior):
    """``sum_c (1/K) N(m_c, diag(exp(s_c)))`` with learnable ``means`` and ``logvars`` (K, latent).

    ``allowed`` (n_pool, K) bool restricts each pool point's sum over components (a labeled point's
    class); None lets every point use every component.
    """

    def __init__(
        self,
        components: int,
        latent_dim: int,
        generator: torch.Generator,
        allowed: np.ndarray | None = None,
    ) -> None:
        super().__init__()
        if components < 1:
            raise ValueError(f"a mixture prior needs at least one component, got {components}")
        if allowed is not None and (allowed.ndim != 2 or allowed.shape[1] != components):
            raise ValueError(f"allowed must be (n_pool, {components}) bool, got {allowed.shape}")
        if allowed is not None and not allowed.any(axis=1).all():
            raise ValueError("every pool point must be allowed at least one component")
        self.means = nn.Parameter(torch.randn(components, latent_dim, generator=generator))
        self.logvars = nn.Parameter(torch.zeros(components, latent_dim))
        self.register_buffer("log_weights", torch.full((components,), -math.log(components)))
        self.allowed: torch.Tensor | None
        self.register_buffer(
            "allowed",
            None if allowed is None else torch.as_tensor(allowed, dtype=torch.bool),
            persistent=False,
        )

    @property
    def components(self) -> int:
        return int(self.means.shape[0])

    def component_kl(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """``KL(N(mu, exp(logvar)) || N(m_c, exp(s_c)))`` for every image and component, (B, K)."""
        mu, logvar = mu[:, None, :], logvar[:, None, :]
        return 0.5 * torch.sum(
            self.logvars
            - logvar
            + (logvar.exp() + (mu - self.means).square()) * torch.exp(-self.logvars)
            - 1,
            dim=2,
        )

    def assignment_logits(
        self, mu: torch.Tensor, logvar: torch.Tensor, pool_index: np.ndarray | None = None
    ) -> torch.Tensor:
        """``log pi_c - KL_c`` (B, K), -inf where ``allowed`` rules a component out; its softmax is q(c|x)."""
        logits = self.log_weights - self.component_kl(mu, logvar)
        if self.allowed is not None and pool_index is not None:
            rows = torch.as_tensor(pool_index, device=self.allowed.device)
            logits = logits.masked_fill(~self.allowed[rows], float("-inf"))
        return logits

    def image_kl(
        self, mu: torch.Tensor, logvar: torch.Tensor, pool_index: np.ndarray | None = None
    ) -> torch.Tensor:
        """Each image's KL term ``-log sum_c pi_c exp(-KL_c)`` over its allowed components, (B,)."""
        return -torch.logsumexp(self.assignment_logits(mu, logvar, pool_index), dim=1)

    def batch_kl(self, mu: torch.Tensor, logvar: torch.Tensor, pool_index: np.ndarray) -> torch.Tensor:
        return self.image_kl(mu, logvar, pool_index).sum() / mu.shape[0]


def train_mixture_vae(
    dataset: ALDataset,
    vae: VAEConfig,
    components: int,
    seed: int,
    device: torch.device | str = "cpu",
    allowed: np.ndarray | None = None,
    progress: ProgressCallback | None = None,
) -> np.ndarray:
    """Train the paper's VAE with a :class:`MixturePrior` on the pool; posterior means (n_pool, latent).

    Same encoder, decoder, optimiser, epochs and batch size as ``vae`` (the ``vae`` block); ``seed``
    seeds the networks and batch order (``seed + 1`` the noise, ``seed + 2`` the component means).
    Bit-identical on CPU for the same arguments; the global RNG is left alone.
    """
    device = torch.device(device)
    with deterministic_algorithms(device):
        prior = MixturePrior(components, vae.latent_dim, torch.Generator().manual_seed(seed + 2), allowed)
        model = fit_vae(dataset, vae, seed, prior, device, progress)
        return embed_pool(model, dataset, device)
