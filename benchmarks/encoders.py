"""How good are the encoders' features? Training cost and kNN / linear-probe accuracy on real MNIST.

    .venv/bin/python benchmarks/encoders.py                              # 10,000-image pool, 20 epochs
    .venv/bin/python benchmarks/encoders.py --pool-size 25000            # the paper's MNIST pool

One run, one split: the pool (``--pool-size`` MNIST train images drawn with pool seed 0, as a sweep
draws it) is embedded by each encoder at the same latent size and epochs; ``--labels`` random pool
points (seed ``--seed``) are the labeled set and every other pool point is the test set. On that split
it prints, for raw pixels (the baseline) and for ``vae``, ``gmvae`` and ``cvae``:

* training seconds per epoch, wall clock and process CPU time / threads (this machine is shared: CPU
  time is the steadier number), median over epochs;
* kNN accuracy (k = 10, Euclidean) and linear-probe accuracy (multinomial logistic regression on
  standardised features) trained on the labeled embeddings, tested on the rest of the pool.

``cvae`` trains with the labeled set's labels (what it would have in an AL round with that many labels;
its test points are unlabeled to it, as a trial's unlabeled pool is), the others see images only. The
transductive split (test points are pool points the encoders trained on, without labels) is the AL
setting: the heuristics read the embeddings of the pool.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

from raysweep.config import (
    CVAEEncoderConfig,
    DatasetConfig,
    EncoderConfig,
    GMVAEEncoderConfig,
    VAEConfig,
    VAEEncoderConfig,
)
from raysweep.data import load_dataset
from raysweep.data.base import ALDataset, DataError
from raysweep.encoders import LabelledEncoder, build_encoder

ROOT = Path(__file__).resolve().parents[1]


def probe(features: np.ndarray, labels: np.ndarray, train: np.ndarray, test: np.ndarray) -> dict[str, float]:
    """kNN (k = 10) and linear-probe test accuracy of ``features`` with labels on ``train`` only."""
    knn = KNeighborsClassifier(n_neighbors=10).fit(features[train], labels[train])
    scaler = StandardScaler().fit(features[train])
    linear = LogisticRegression(max_iter=5000).fit(scaler.transform(features[train]), labels[train])
    return {
        "knn_accuracy": float((knn.predict(features[test]) == labels[test]).mean()),
        "linear_accuracy": float((linear.predict(scaler.transform(features[test])) == labels[test]).mean()),
    }


def train_timed(
    encoder_config: EncoderConfig, vae: VAEConfig, dataset: ALDataset, labeled: np.ndarray, threads: int
) -> tuple[np.ndarray, dict[str, float]]:
    """Embeddings of one encoder and its per-epoch wall and CPU seconds (medians over epochs)."""
    encoder = build_encoder(encoder_config, vae)
    wall, cpu = [], []
    clock = {"wall": time.perf_counter(), "cpu": time.process_time()}

    def progress(epoch: int, loss: float) -> None:
        now_wall, now_cpu = time.perf_counter(), time.process_time()
        wall.append(now_wall - clock["wall"])
        cpu.append((now_cpu - clock["cpu"]) / threads)
        clock.update(wall=now_wall, cpu=now_cpu)
        print(
            f"  {encoder.name} epoch {epoch}: loss {loss:.2f}, {wall[-1]:.1f} s wall, {cpu[-1]:.1f} s CPU",
            flush=True,
        )

    started = time.perf_counter()
    if isinstance(encoder, LabelledEncoder):
        embeddings = encoder.train(dataset, labeled, seed=vae.seed, progress=progress)
    else:
        embeddings = encoder.train(dataset, progress=progress)
    seconds = {
        "seconds_per_epoch_wall": statistics.median(wall),
        "seconds_per_epoch_cpu": statistics.median(cpu),
        "total_seconds_wall": time.perf_counter() - started,
    }
    return embeddings, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT.parent / "shared" / "data", help="MNIST root")
    parser.add_argument("--pool-size", type=int, default=10_000)
    parser.add_argument("--labels", type=int, default=1000, help="labeled points of the split")
    parser.add_argument("--epochs", type=int, default=20, help="encoder epochs (paper's VAE: 20)")
    parser.add_argument("--latent-dim", type=int, default=32)
    parser.add_argument("--components", type=int, default=10, help="gmvae's K")
    parser.add_argument("--seed", type=int, default=0, help="encoder seed and labeled-set draw")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--encoders", default="vae,gmvae,cvae")
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    try:
        dataset = load_dataset(DatasetConfig(name="mnist", root=args.root, pool_size=args.pool_size))
    except DataError as exc:
        print(f"MNIST not found: {exc}", file=sys.stderr)
        return 2
    labels = np.asarray(dataset.pool_labels)
    rng = np.random.default_rng(args.seed)
    labeled = np.sort(rng.choice(dataset.n_pool, size=args.labels, replace=False))
    test = np.setdiff1d(np.arange(dataset.n_pool), labeled)
    vae = VAEConfig(latent_dim=args.latent_dim, epochs=args.epochs, seed=args.seed)
    configs = {
        "vae": VAEEncoderConfig(),
        "gmvae": GMVAEEncoderConfig(components=args.components),
        "cvae": CVAEEncoderConfig(),
    }
    print(
        f"MNIST pool {dataset.n_pool} (pool seed 0), {len(labeled)} labeled / {len(test)} test, latent "
        f"{args.latent_dim}, {args.epochs} epochs, torch threads {args.threads}"
    )

    def save(rows: dict[str, dict[str, float]]) -> None:
        # Written after every encoder, so a run cut short on a loaded machine keeps what it finished.
        if args.out:
            args.out.write_text(
                json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}, indent=2)
            )

    rows = {
        "raw pixels": probe(dataset.pool_images.reshape(dataset.n_pool, -1) / 255.0, labels, labeled, test)
    }
    print(f"  {row_text('raw pixels', rows['raw pixels'])}", flush=True)
    save(rows)
    for name in args.encoders.split(","):
        embeddings, seconds = train_timed(configs[name], vae, dataset, labeled, args.threads)
        rows[name] = {**seconds, **probe(embeddings, labels, labeled, test)}
        print(f"  {row_text(name, rows[name])}", flush=True)
        save(rows)

    print(f"\n{'features':<11} {'s/epoch wall':>12} {'s/epoch CPU':>12} {'kNN acc':>8} {'linear acc':>10}")
    for name, row in rows.items():
        print(row_text(name, row))
    if "vae" in rows and "gmvae" in rows:
        gap = rows["gmvae"]["knn_accuracy"] - rows["vae"]["knn_accuracy"]
        print(f"\ngmvae - vae kNN accuracy: {gap:+.4f} ({'gmvae better' if gap > 0 else 'gmvae NOT better'})")
    return 0


def row_text(name: str, row: dict[str, float]) -> str:
    """One table row: seconds per epoch (``-`` for raw pixels, which train nothing) and both accuracies."""
    wall = f"{row['seconds_per_epoch_wall']:.1f}" if "seconds_per_epoch_wall" in row else "-"
    cpu = f"{row['seconds_per_epoch_cpu']:.1f}" if "seconds_per_epoch_cpu" in row else "-"
    return f"{name:<11} {wall:>12} {cpu:>12} {row['knn_accuracy']:>8.4f} {row['linear_accuracy']:>10.4f}"


if __name__ == "__main__":
    sys.exit(main())
