"""The paper's convolutional VAE: trained once on the whole pool, its posterior means are V(x).

Architecture (paper, "experiment setup"; REFERENCE.md): the encoder is four convolutional
downsampling layers followed by two linear layers for the mean and the log-variance; the decoder is
one upsampling convolution and four size-preserving convolutions. What the paper leaves open, and
what we chose:

- Encoder convolutions: 4x4 kernels, stride 2, padding 1, 32-64-128-256 channels, each followed by
  BatchNorm and ReLU (DCGAN-style). A 4x4/stride-2 kernel halves even sizes exactly and every input
  pixel is seen by the same number of taps; BatchNorm makes Adam at lr 1e-3 stable without tuning.
- Any image size: the normalised input is zero-padded (zero = the channel mean after normalisation)
  up to a multiple of 16 inside ``forward`` so four halvings are exact: 8x8 -> 16 -> 1x1 grid,
  28x28 -> 32 -> 2x2 grid.
- Decoder: a linear map from the latent to a ``decoder_channels`` x ceil(H/2) x ceil(W/2) grid, one
  4x4/stride-2 transposed convolution to full size, then four 3x3 size-preserving convolutions (the
  first three with BatchNorm and ReLU, the last one producing per-pixel logits), cropped to H x W.
  Working at half and full resolution is the literal reading of "one upsampling convolution". The
  width is 16: the decoder dominates the cost (it runs at full resolution) and only supplies the
  training signal, while the embeddings come from the encoder; 16 instead of 32 channels cut a CPU
  epoch on a 25,000-image 28x28 pool from ~35 s to ~17 s (2 cores).
- Likelihood: Bernoulli-style binary cross-entropy on the logits against pixels scaled to [0, 1]
  (as in Kingma & Welling's MNIST experiments and PyTorch's VAE example). A unit-variance Gaussian
  (MSE) on [0, 1] pixels would make the reconstruction term tiny next to the KL and collapse the
  posterior onto the prior, leaving no features; BCE needs no variance to tune and works for
  grey-level (ChestMNIST) and RGB targets as well as for near-binary MNIST.

Loss (the negative of the paper's ELBO): ``-log p(x|z) + KL(q(z|x) || N(0, I))``, each summed over
pixels / latent units and averaged over the batch. :func:`fit_vae` takes the prior as an argument
(:class:`LatentPrior`), so the encoders of ``raysweep/encoders`` that change only the prior train
through the same loop.

Determinism: :func:`train_vae` seeds its own generators (init, batch order, reparameterisation
noise), leaves the global RNG as it found it, and runs under ``torch.use_deterministic_algorithms``,
restoring the previous setting afterwards. Same dataset + config on CPU -> bit-identical embeddings
(within one machine and thread count).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from raysweep.config import VAEConfig
from raysweep.data.base import ALDataset, normalise_batch

ARCHITECTURE_VERSION = "conv-vae-1"
"""Part of the cache key: bump when the architecture or training changes what embeddings come out."""

ENCODER_CHANNELS = (32, 64, 128, 256)
EMBED_BATCH_SIZE = 1024
"""Batch size of the inference pass that computes the embeddings (eval mode; no effect on values
beyond floating-point kernel choice, and fixed so the result is reproducible)."""


def _conv_bn_relu(conv: nn.Module, channels: int) -> nn.Sequential:
    return nn.Sequential(conv, nn.BatchNorm2d(channels), nn.ReLU(inplace=True))


class ConvVAE(nn.Module):
    """Convolutional VAE for ``(B, in_channels, H, W)`` images of any size >= 1x1.

    ``forward(x)`` takes the normalised image batch and returns ``(logits, mu, logvar)``: logits
    ``(B, C, H, W)`` of the Bernoulli reconstruction, ``mu`` and ``logvar`` ``(B, latent_dim)``.
    """

    def __init__(
        self,
        in_channels: int,
        image_size: tuple[int, int],
        latent_dim: int,
        decoder_channels: int = 16,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        height, width = image_size
        if in_channels < 1 or height < 1 or width < 1 or latent_dim < 1:
            raise ValueError(
                f"ConvVAE needs positive sizes, got in_channels={in_channels}, "
                f"image_size={image_size}, latent_dim={latent_dim}"
            )
        self.in_channels = in_channels
        self.image_size = (height, width)
        self.latent_dim = latent_dim

        # Each layer's constructor draws PyTorch's default init from the global RNG; that draw is
        # replaced by reset_parameters below, so keep it off the caller's global RNG state.
        with torch.random.fork_rng(devices=[]):
            # Encoder: pad to a multiple of 16, then four exact halvings.
            self.padded_size = (-(-height // 16) * 16, -(-width // 16) * 16)
            layers, channels = [], in_channels
            for out_channels in ENCODER_CHANNELS:
                layers.append(
                    _conv_bn_relu(nn.Conv2d(channels, out_channels, 4, 2, 1, bias=False), out_channels)
                )
                channels = out_channels
            self.encoder = nn.Sequential(*layers)
            grid = (self.padded_size[0] // 16) * (self.padded_size[1] // 16)
            self.fc_mu = nn.Linear(channels * grid, latent_dim)
            self.fc_logvar = nn.Linear(channels * grid, latent_dim)

            # Decoder: latent -> half-resolution grid -> one upsampling -> four size-preserving convs.
            self.decoder_grid = (-(-height // 2), -(-width // 2))
            self.decoder_channels = decoder_channels
            self.fc_decode = nn.Linear(
                latent_dim, decoder_channels * self.decoder_grid[0] * self.decoder_grid[1]
            )
            c = decoder_channels
            self.decoder = nn.Sequential(
                _conv_bn_relu(nn.ConvTranspose2d(c, c, 4, 2, 1, bias=False), c),
                _conv_bn_relu(nn.Conv2d(c, c, 3, 1, 1, bias=False), c),
                _conv_bn_relu(nn.Conv2d(c, c, 3, 1, 1, bias=False), c),
                _conv_bn_relu(nn.Conv2d(c, c, 3, 1, 1, bias=False), c),
                nn.Conv2d(c, in_channels, 3, 1, 1),
            )
        self.reset_parameters(generator)
        # channels_last: oneDNN's convolutions (CPU) and cuDNN's run faster in NHWC; measured 1.2-1.6x
        # per training step on CPU. Inputs are converted in encode/decode; results are unchanged.
        self.to(memory_format=torch.channels_last)

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Kaiming-uniform init (PyTorch's default for conv/linear) drawn from ``generator``, so the
        init is seeded without touching the global RNG."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
                # PyTorch's default: kaiming_uniform(a=sqrt(5)) -> U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
                # with fan_in = weight[0].numel() (for ConvTranspose2d as PyTorch computes it too).
                bound = 1.0 / module.weight[0].numel() ** 0.5
                module.weight.uniform_(-bound, bound, generator=generator)
                if module.bias is not None:
                    module.bias.uniform_(-bound, bound, generator=generator)
            elif isinstance(module, nn.BatchNorm2d):
                module.reset_parameters()

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised ``(B, C, H, W)`` -> posterior mean and log-variance, each ``(B, latent_dim)``."""
        height, width = x.shape[-2:]
        pad_h, pad_w = self.padded_size[0] - height, self.padded_size[1] - width
        if pad_h or pad_w:
            x = F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))
        h = self.encoder(x.contiguous(memory_format=torch.channels_last)).flatten(1)
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, latent_dim)`` -> reconstruction logits ``(B, C, H, W)``."""
        h = F.relu(self.fc_decode(z)).view(-1, self.decoder_channels, *self.decoder_grid)
        logits = self.decoder(h.contiguous(memory_format=torch.channels_last))
        return logits[..., : self.image_size[0], : self.image_size[1]]

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        if self.training:
            # Reparameterisation trick; the noise comes from ``generator`` so training is seeded.
            noise = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
            z = mu + noise * torch.exp(0.5 * logvar)
        else:
            z = mu
        return self.decode(z), mu, logvar


def standard_normal_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)), summed over latent units, batch mean (a scalar)."""
    return -0.5 * torch.sum(1 + logvar - mu.square() - logvar.exp()) / mu.shape[0]


def elbo_loss(
    logits: torch.Tensor, target: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Negative ELBO: BCE reconstruction + KL(q(z|x) || N(0, I)), summed per sample, batch mean.

    ``target`` is in [0, 1], same shape as ``logits``. Returns (loss, reconstruction, kl).
    """
    reconstruction = reconstruction_loss(logits, target)
    kl = standard_normal_kl(mu, logvar)
    return reconstruction + kl, reconstruction, kl


def reconstruction_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Bernoulli negative log-likelihood of ``target`` in [0, 1], summed over pixels, batch mean."""
    return F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / logits.shape[0]


class LatentPrior(nn.Module, ABC):
    """The prior p(z) of the ELBO, as the KL term it puts on q(z|x).

    ``batch_kl(mu, logvar, pool_index)`` returns the batch mean of each image's KL term (or of an
    upper bound on it) for the posteriors ``N(mu, exp(logvar))`` of the pool rows ``pool_index``
    (a prior that treats rows differently, e.g. labeled ones, reads it). Parameters of a prior are
    trained with the VAE.
    """

    @abstractmethod
    def batch_kl(self, mu: torch.Tensor, logvar: torch.Tensor, pool_index: np.ndarray) -> torch.Tensor:
        """The batch mean of the KL term (or its upper bound) under this prior."""


class StandardNormalPrior(LatentPrior):
    """The paper's prior N(0, I): the analytic KL, nothing to learn."""

    def batch_kl(self, mu: torch.Tensor, logvar: torch.Tensor, pool_index: np.ndarray) -> torch.Tensor:
        return standard_normal_kl(mu, logvar)


# --------------------------------------------------------------------------------------------
# Training and embeddings
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def deterministic_algorithms(device: torch.device) -> Iterator[None]:
    """Run under ``torch.use_deterministic_algorithms(True)`` and restore the previous setting."""
    previous = torch.are_deterministic_algorithms_enabled()
    previous_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    if device.type == "cuda":
        # cuBLAS needs a fixed workspace to be deterministic (PyTorch's reproducibility notes);
        # a value the caller set wins.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous, warn_only=previous_warn_only)


def _images_to_device(images: np.ndarray, index: np.ndarray | slice, device: torch.device) -> torch.Tensor:
    """uint8 rows of ``images`` -> uint8 tensor on ``device``. Fancy indexing copies, so read-only
    (object-store) arrays never reach ``torch.from_numpy``."""
    batch = images[index]
    if isinstance(index, slice):
        batch = batch.copy()
    return torch.from_numpy(batch).to(device, non_blocking=True)


def _channel_tensors(dataset: ALDataset, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    mean = torch.tensor(dataset.channel_mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    std = torch.tensor(dataset.channel_std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    return mean, std


def build_vae(dataset: ALDataset, config: VAEConfig, seed: int | None = None) -> ConvVAE:
    """The VAE for ``dataset``'s image shape, initialised from ``seed`` (default ``config.seed``) on CPU."""
    generator = torch.Generator().manual_seed(config.seed if seed is None else seed)
    return ConvVAE(dataset.in_channels, dataset.image_size, config.latent_dim, generator=generator)


def train_vae(
    dataset: ALDataset,
    config: VAEConfig,
    device: torch.device | str = "cpu",
    progress: Callable[[int, float], None] | None = None,
) -> np.ndarray:
    """Train the VAE on the whole pool (labels unused) and return the pool's embeddings.

    Adam(lr, weight_decay) for ``config.epochs`` epochs of shuffled ``config.batch_size`` batches
    (a trailing batch of one is skipped: BatchNorm cannot train on it). ``progress(epoch, mean_loss)``
    is called after each epoch (epochs count from 1; loss = mean negative ELBO per image).

    Returns the posterior means ``(n_pool, latent_dim)`` float32, C-contiguous, in pool order.
    """
    device = torch.device(device)
    with deterministic_algorithms(device):
        model = fit_vae(dataset, config, config.seed, StandardNormalPrior(), device, progress)
        return embed_pool(model, dataset, device)


def fit_vae(
    dataset: ALDataset,
    config: VAEConfig,
    seed: int,
    prior: LatentPrior,
    device: torch.device,
    progress: Callable[[int, float], None] | None = None,
) -> ConvVAE:
    """Train a :class:`ConvVAE` and ``prior`` on the whole pool; the trained VAE (``prior`` trained in place).

    The loss is ``reconstruction + prior.batch_kl``. ``seed`` seeds the init and the batch order,
    ``seed + 1`` the reparameterisation noise. The prior's parameters get no weight decay: the
    paper's decay regularises the networks, and decaying the prior would pull its components onto
    the origin. Call it under :func:`deterministic_algorithms` for reproducible results.
    """
    images = dataset.pool_images
    n_pool = dataset.n_pool
    model = build_vae(dataset, config, seed).to(device)
    prior = prior.to(device)
    groups: list[dict] = [{"params": list(model.parameters())}]
    if prior_parameters := list(prior.parameters()):
        groups.append({"params": prior_parameters, "weight_decay": 0.0})
    optimizer = torch.optim.Adam(groups, lr=config.lr, weight_decay=config.weight_decay)
    mean, std = _channel_tensors(dataset, device)
    # Batch order from a CPU generator; reparameterisation noise from one on the device.
    order_generator = torch.Generator().manual_seed(seed)
    noise_generator = torch.Generator(device=device).manual_seed(seed + 1)

    for epoch in range(1, config.epochs + 1):
        model.train()
        order = torch.randperm(n_pool, generator=order_generator).numpy()
        total, seen = torch.zeros((), device=device), 0
        for start in range(0, n_pool, config.batch_size):
            index = order[start : start + config.batch_size]
            if len(index) < 2:
                continue
            batch_uint8 = _images_to_device(images, index, device)
            target = batch_uint8.float() / 255.0
            logits, mu, logvar = model(normalise_batch(batch_uint8, mean, std), noise_generator)
            loss = reconstruction_loss(logits, target) + prior.batch_kl(mu, logvar, index)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            # Accumulate on the device: no host sync per batch.
            total += loss.detach() * len(index)
            seen += len(index)
        mean_loss = float(total) / max(seen, 1)
        if not np.isfinite(mean_loss):
            raise FloatingPointError(
                f"VAE training diverged on {dataset.name!r}: loss {mean_loss} in epoch {epoch}; "
                f"try a lower vae.lr (now {config.lr})"
            )
        if progress is not None:
            progress(epoch, mean_loss)
    return model


@torch.inference_mode()
def embed_pool(model: ConvVAE, dataset: ALDataset, device: torch.device | str = "cpu") -> np.ndarray:
    """Posterior means of every pool image, ``(n_pool, latent_dim)`` float32 C-contiguous numpy."""
    device = torch.device(device)
    model.eval()
    mean, std = _channel_tensors(dataset, device)
    out = np.empty((dataset.n_pool, model.latent_dim), dtype=np.float32)
    for start in range(0, dataset.n_pool, EMBED_BATCH_SIZE):
        rows = slice(start, start + EMBED_BATCH_SIZE)
        batch_uint8 = _images_to_device(dataset.pool_images, rows, device)
        mu, _ = model.encode(normalise_batch(batch_uint8, mean, std))
        out[rows] = mu.float().cpu().numpy()
    return out


# --------------------------------------------------------------------------------------------
# Cache keys
# --------------------------------------------------------------------------------------------


def dataset_fingerprint(dataset: ALDataset) -> str:
    """sha256 hex digest of the pool images (bytes, shape, dtype), the normalisation statistics and
    the dataset name. Labels are excluded: the VAE never sees them. ~20 ms for 25,000x784 bytes."""
    digest = hashlib.sha256()
    header = {
        "name": dataset.name,
        "shape": list(dataset.pool_images.shape),
        "dtype": str(dataset.pool_images.dtype),
        # The encoder's input is normalised with these, so they shape the embeddings too.
        "channel_mean": [float(m) for m in dataset.channel_mean],
        "channel_std": [float(s) for s in dataset.channel_std],
    }
    digest.update(json.dumps(header, sort_keys=True).encode())
    digest.update(memoryview(np.ascontiguousarray(dataset.pool_images)).cast("B"))
    return digest.hexdigest()


def vae_cache_key(dataset_fingerprint: str, config: VAEConfig) -> str:
    """Short, stable hex key for the embeddings of (dataset, VAE config, architecture version)."""
    payload = {
        "architecture": ARCHITECTURE_VERSION,
        "dataset": dataset_fingerprint,
        "vae": config.model_dump(mode="json"),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
