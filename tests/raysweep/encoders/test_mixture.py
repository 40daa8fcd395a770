"""The mixture-of-Gaussians prior: known answers against the Gaussian KL written out, the reduction to
the VAE's KL, the bound it is, and the masks of components a labeled point may use."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from raysweep.encoders import MixturePrior
from raysweep.models.vae import standard_normal_kl


def posterior(batch: int = 5, latent: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, latent, generator=generator), torch.randn(batch, latent, generator=generator)


def gaussian_kl(mu, logvar, mean, logvar_prior) -> torch.Tensor:
    """KL(N(mu, e^logvar) || N(mean, e^logvar_prior)) per row, written out independently."""
    var, var_prior = logvar.exp(), logvar_prior.exp()
    return 0.5 * torch.sum(torch.log(var_prior / var) + (var + (mu - mean) ** 2) / var_prior - 1, dim=1)


def test_one_standard_normal_component_is_the_vae_kl() -> None:
    mu, logvar = posterior()
    prior = MixturePrior(1, 3, torch.Generator().manual_seed(0))
    with torch.no_grad():
        prior.means.zero_()  # log-variances start at 0: the component is N(0, I)
    index = np.arange(5)
    torch.testing.assert_close(prior.batch_kl(mu, logvar, index), standard_normal_kl(mu, logvar))
    expected = -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(dim=1)
    torch.testing.assert_close(prior.image_kl(mu, logvar), expected)


def test_component_kl_matches_the_gaussian_formula() -> None:
    mu, logvar = posterior(batch=4, latent=3)
    prior = MixturePrior(3, 3, torch.Generator().manual_seed(1))
    with torch.no_grad():
        prior.logvars.copy_(torch.randn(3, 3, generator=torch.Generator().manual_seed(2)))
    kl = prior.component_kl(mu, logvar)
    assert kl.shape == (4, 3)
    for c in range(3):
        torch.testing.assert_close(kl[:, c], gaussian_kl(mu, logvar, prior.means[c], prior.logvars[c]))


def test_identical_components_reduce_to_one_and_allowed_restricts_the_sum() -> None:
    mu, logvar = posterior(batch=3)
    prior = MixturePrior(4, 3, torch.Generator().manual_seed(0))
    with torch.no_grad():
        prior.means.copy_(prior.means[0].expand(4, 3))
    single = gaussian_kl(mu, logvar, prior.means[0], prior.logvars[0])
    # Four copies of one Gaussian are that Gaussian: the bound is tight and equals its KL.
    torch.testing.assert_close(prior.image_kl(mu, logvar), single)

    allowed = np.ones((3, 4), dtype=bool)
    allowed[1] = [False, False, True, False]  # a labeled point of class 2
    prior = MixturePrior(4, 3, torch.Generator().manual_seed(0), allowed)
    kl = prior.component_kl(mu, logvar)
    terms = prior.image_kl(mu, logvar, np.arange(3))
    # one allowed component c: KL_c - log pi_c = KL_c + log K
    torch.testing.assert_close(terms[1], kl[1, 2] + math.log(4))
    torch.testing.assert_close(terms[0], -torch.logsumexp(-kl[0] - math.log(4), dim=0))


def test_the_bound_is_never_below_the_true_kl() -> None:
    """-log sum_c pi_c exp(-KL_c) >= KL(q || mixture), estimated here with many samples."""
    mu, logvar = posterior(batch=3, latent=2, seed=3)
    prior = MixturePrior(3, 2, torch.Generator().manual_seed(4))
    with torch.no_grad():
        bound = prior.image_kl(mu, logvar)
        generator = torch.Generator().manual_seed(5)
        z = mu + torch.randn(200_000, *mu.shape, generator=generator) * (0.5 * logvar).exp()
        log_q = torch.distributions.Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1)
        components = torch.distributions.Normal(prior.means, (0.5 * prior.logvars).exp())
        log_p = torch.logsumexp(components.log_prob(z[..., None, :]).sum(-1) + prior.log_weights, dim=-1)
        monte_carlo = (log_q - log_p).mean(0)
    assert (bound >= monte_carlo - 0.02).all(), (bound, monte_carlo)


def test_mixture_prior_rejects_bad_masks() -> None:
    generator = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="at least one component"):
        MixturePrior(2, 3, generator, np.array([[True, False], [False, False]]))
    with pytest.raises(ValueError, match=r"\(n_pool, 2\)"):
        MixturePrior(2, 3, generator, np.ones((4, 3), dtype=bool))
