"""``cvae``: a class-conditional VAE trained on the pool and the labels bought so far, every round.

Generative model (semi-supervised, after Kingma et al. 2014's M2): a class c ~ uniform, a latent
z ~ N(m_c, diag(exp(s_c))) with learnable per-class means and variances, an image x ~ p(x|z) from
the paper's decoder. The class is a latent variable that is *observed* for the labeled points:

- a labeled point's KL term is taken against its own class's component only;
- an unlabeled point's term sums over all classes (the mixture bound of
  :mod:`raysweep.encoders.mixture`), so unlabeled points train the encoder and decoder too and are
  drawn to the component that explains them best.

Unlike M2 the decoder does not see c: c acts through the prior, so the class information stays in z,
which is what the heuristics read (a decoder conditioned on c would free z of the class instead).

Embeddings: the posterior mean of q(z|x) for every pool point. The encoder takes the image only, so
labeled and unlabeled points are embedded by the same pass; labels act only through training.

Components: multi-class data has one per class (K = num_outputs). Multi-label data (ChestMNIST) has
one per label plus one for "no positive label"; a labeled point may use the components of its
positive labels (or the extra one when it has none).

With no labels it is exactly ``gmvae`` with K = the number of components above and the same seed (a
test checks the embeddings bit for bit). Retrained every round from ``derive_seed("encoder", trial
seed, round)`` (:class:`raysweep.encoders.base.RetrainedEmbeddings`); ``vae`` block settings apply.
"""

from __future__ import annotations

import numpy as np
import torch

from raysweep.data.base import ALDataset
from raysweep.encoders.base import ENCODERS, LabelledEncoder, ProgressCallback
from raysweep.encoders.mixture import train_mixture_vae


def class_components(dataset: ALDataset, labeled_indices: np.ndarray) -> np.ndarray:
    """(n_pool, K) bool: the prior components each pool point may use, from the labels bought so far."""
    labeled_indices = np.asarray(labeled_indices, dtype=np.int64)
    if dataset.multi_label:
        components = dataset.num_outputs + 1  # the last one: no positive label
        allowed = np.ones((dataset.n_pool, components), dtype=bool)
        positives = np.asarray(dataset.pool_labels[labeled_indices], dtype=bool)
        allowed[labeled_indices, :-1] = positives
        allowed[labeled_indices, -1] = ~positives.any(axis=1)
        return allowed
    allowed = np.ones((dataset.n_pool, dataset.num_outputs), dtype=bool)
    allowed[labeled_indices] = False
    allowed[labeled_indices, np.asarray(dataset.pool_labels[labeled_indices], dtype=np.int64)] = True
    return allowed


@ENCODERS.register("cvae")
class ClassConditionalVAE(LabelledEncoder):
    name = "cvae"

    def train(
        self,
        dataset: ALDataset,
        labeled_indices: np.ndarray,
        seed: int,
        device: torch.device | str = "cpu",
        progress: ProgressCallback | None = None,
    ) -> np.ndarray:
        allowed = class_components(dataset, labeled_indices)
        return train_mixture_vae(dataset, self.vae, allowed.shape[1], seed, device, allowed, progress)
