"""``cvae``: the class-conditional VAE retrained every round on the labels bought so far: the
components each point may use, the gmvae it is without labels, seeded, and labels that pull the
classes apart."""

from __future__ import annotations

import numpy as np
from helpers.datasets import make_dataset, mean_distances, noise_images, two_clusters

from raysweep.config import CVAEEncoderConfig, GMVAEEncoderConfig, VAEConfig
from raysweep.data.base import ALDataset, channel_stats
from raysweep.encoders import build_encoder, class_components


def test_class_components_multi_class_and_multi_label() -> None:
    images = noise_images(6, 1, 8)
    dataset = make_dataset(images, labels=np.array([0, 1, 1, 0, 1, 0]))
    allowed = class_components(dataset, np.array([1, 3]))
    assert allowed.shape == (6, 2)
    assert allowed[[0, 2, 4, 5]].all()  # unlabeled: every class
    assert allowed[1].tolist() == [False, True] and allowed[3].tolist() == [True, False]
    assert class_components(dataset, np.array([], dtype=np.int64)).all()

    mean, std = channel_stats(images)
    labels = np.array([[1, 0, 1], [0, 0, 0], [0, 1, 0], [1, 1, 1], [0, 0, 0], [0, 0, 1]], dtype=np.uint8)
    multi = ALDataset("chest", "multi-label", 3, images, labels, images[:2], labels[:2], mean, std)
    allowed = class_components(multi, np.array([0, 1, 2]))
    assert allowed.shape == (6, 4)  # three labels + "no positive label"
    assert allowed[0].tolist() == [True, False, True, False]
    assert allowed[1].tolist() == [False, False, False, True]
    assert allowed[2].tolist() == [False, True, False, False]
    assert allowed[3:].all()


def test_cvae_without_labels_is_the_gmvae_with_one_component_per_class(tiny_vae: VAEConfig) -> None:
    """Documented behaviour: no labels -> every point sums over all classes, the gmvae's loss."""
    images, cluster = two_clusters(24)
    dataset = make_dataset(images, labels=cluster)
    cvae = build_encoder(CVAEEncoderConfig(), tiny_vae)
    seed = 12345
    unlabeled = cvae.train(dataset, np.array([], dtype=np.int64), seed)
    gmvae = build_encoder(GMVAEEncoderConfig(components=2), tiny_vae.model_copy(update={"seed": seed}))
    np.testing.assert_array_equal(unlabeled, gmvae.train(dataset))


def test_cvae_is_seeded_and_its_labels_pull_classes_apart(tiny_vae: VAEConfig) -> None:
    images, cluster = two_clusters(32)
    dataset = make_dataset(images, labels=cluster)
    labeled = np.arange(0, 64, 4)  # a quarter of the pool
    quick = build_encoder(CVAEEncoderConfig(), tiny_vae)
    first = quick.train(dataset, labeled, seed=7)
    np.testing.assert_array_equal(quick.train(dataset, labeled, seed=7), first)
    assert not np.allclose(quick.train(dataset, labeled, seed=8), first)
    assert not np.allclose(quick.train(dataset, labeled[:8], seed=7), first)

    # Every point, labeled or not, is embedded; the classes' components pull the clusters apart.
    trained = build_encoder(CVAEEncoderConfig(), VAEConfig(latent_dim=4, epochs=6, batch_size=16))
    embeddings = trained.train(dataset, labeled, seed=7)
    unlabeled = np.setdiff1d(np.arange(64), labeled)
    between, within = mean_distances(embeddings[unlabeled], cluster[unlabeled])
    assert between > 2 * within
