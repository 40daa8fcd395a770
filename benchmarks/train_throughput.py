"""Training throughput per image size: raysweep's round (train_round) against bare forward + backward.

    .venv/bin/python benchmarks/train_throughput.py --threads 1          # 8x8 digits and 28x28 MNIST, CPU
    .venv/bin/python benchmarks/train_throughput.py --device cuda --images 3000 --epochs 10   # the paper's round 0
    .venv/bin/python benchmarks/train_throughput.py --extra              # + DataLoader with per-item transforms

For each image size, in one run, the same ResNet18Task from the same initial weights trains one round
(``--epochs`` epochs over ``--images`` labeled images, as the loop does) several ways:

* raysweep round: ``train_round`` on a ``DeviceData`` (uint8 pool gathered into per-round buffers and
  normalised on the device, fused SGD, loss bookkeeping with one read-back per epoch), under the loop's
  ``deterministic_torch``: what a trial runs every round.
* bare fwd+bwd: forward, loss and backward on normalised float32 batches made beforehand, no optimizer
  at all: the floor a training step cannot go below, the reference of the ratio.
* fwd+bwd+SGD for-loop: the bare step plus ``torch.optim.SGD``'s default per-tensor step (what
  train_round used before it asked for the fused kernel), to show what the optimizer step costs.
* ``--extra``: a torchvision-style DataLoader (uint8 -> PIL -> ToTensor -> Normalize per item) feeding
  the SGD step.

Sizes: 8x8 is scikit-learn's digits at the quickstart's batch of 64; 28x28 is real MNIST from
``--root`` (random uint8 of that shape when the files are absent) at the paper's batch of 128.

The machine may be shared, so the methods take turns: each timed repeat runs every method's whole
round once, in rotated order. Reported: images/s by wall clock and per CPU-second of this process
(medians over repeats), and each method's throughput over the bare floor, the median of the per-repeat
ratios with their range. The round pays what a round pays once (optimizer state, buffers, BatchNorm
recalibration when the config asks for it; here it does not): a round of 400 images and 6 epochs is
the quickstart's last. On a loaded machine read the CPU-time ratios with ``--threads 1``. Nothing is
asserted.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from raysweep.config import DatasetConfig, TrainingConfig
from raysweep.data import load_dataset
from raysweep.data.base import ALDataset, channel_stats
from raysweep.loop import deterministic_torch
from raysweep.models.resnet import ResNet18Task
from raysweep.train import DeviceData, copy_state, resolve_device, split_batches, train_round

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data"
BATCH_SIZE = {8: 64, 28: 128}
"""The quickstart's batch on digits, the paper's on MNIST."""


def make_dataset(size: int, n_images: int, root: Path) -> ALDataset:
    """``n_images`` pool images of ``size`` x ``size``: digits (8), real MNIST when present (28)."""
    if size == 8:
        return load_dataset(DatasetConfig(name="digits", pool_size=n_images))
    raw = root / "MNIST" / "raw"
    if all((raw / f).is_file() for f in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte")):
        return load_dataset(DatasetConfig(name="mnist", root=root, pool_size=n_images, eval_size=256))
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n_images, 1, size, size), dtype=np.uint8)
    mean, std = channel_stats(images)
    n_eval = min(256, n_images)  # only train_round runs here; the eval split just has to be valid
    return ALDataset(
        name=f"random-{size}x{size}",
        task="multi-class",
        num_outputs=10,
        pool_images=images,
        pool_labels=rng.integers(0, 10, size=n_images).astype(np.int64),
        eval_images=images[:n_eval],
        eval_labels=rng.integers(0, 10, size=n_eval).astype(np.int64),
        channel_mean=mean,
        channel_std=std,
        source="random uint8",
    )


class PerItemTransforms(torch.utils.data.Dataset):
    """What ``torchvision.datasets.MNIST.__getitem__`` does: uint8 array -> PIL 'L' image -> transform."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: Callable) -> None:
        self.images, self.labels, self.transform = images[:, 0], labels, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.transform(Image.fromarray(self.images[index], mode="L")), int(self.labels[index])


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def forward_backward(model: ResNet18Task, x: torch.Tensor, y: torch.Tensor) -> None:
    for parameter in model.parameters():
        parameter.grad = None
    F.cross_entropy(model(x).logits, y).backward()


def measure(size: int, args: argparse.Namespace, device: torch.device) -> None:
    dataset = make_dataset(size, args.images, args.root.expanduser())
    n = dataset.n_pool
    training = TrainingConfig(batch_size=BATCH_SIZE[size], lr=0.01)
    print(
        f"\n{size}x{size}: {n} images from {dataset.source}; device {device}, {torch.get_num_threads()} "
        f"threads, batch {training.batch_size}, rounds of {args.epochs} epochs, {args.repeats} per method",
        flush=True,
    )
    torch.manual_seed(0)
    initial = copy_state(ResNet18Task(dataset.in_channels, dataset.num_outputs))
    data = DeviceData(dataset, device)
    everything = torch.arange(n, device=device)
    # The bare methods see the same epochs in the same batch order as the round (train_round's
    # generator, seeded alike), made into normalised float batches beforehand.
    with torch.no_grad():
        generator = torch.Generator().manual_seed(0)
        epochs = []
        for _ in range(args.epochs):
            order = torch.randperm(n, generator=generator).to(device)
            epochs.append(
                [
                    (data.batch(data.pool_images, b).clone(), data.pool_labels[b].clone())
                    for b in split_batches(order, training.batch_size)
                ]
            )

    def raysweep_round(net: ResNet18Task) -> None:
        train_round(
            net, data, everything, training, epochs=args.epochs, generator=torch.Generator().manual_seed(0)
        )

    def bare(net: ResNet18Task) -> None:
        for batches in epochs:
            for x, y in batches:
                forward_backward(net, x, y)

    def for_loop_sgd(net: ResNet18Task) -> None:
        optimizer = torch.optim.SGD(
            net.parameters(), lr=training.lr, momentum=training.momentum, foreach=False
        )
        for batches in epochs:
            for x, y in batches:
                forward_backward(net, x, y)
                optimizer.step()

    methods: dict[str, Callable[[ResNet18Task], None]] = {
        "raysweep round": raysweep_round,
        "bare fwd+bwd": bare,
        "fwd+bwd+SGD for-loop": for_loop_sgd,
    }
    if args.extra:
        from torchvision import transforms

        normalize = transforms.Compose(
            [transforms.ToTensor(), transforms.Normalize(dataset.channel_mean, dataset.channel_std)]
        )
        loader = torch.utils.data.DataLoader(
            PerItemTransforms(dataset.pool_images, dataset.pool_labels, normalize),
            batch_size=training.batch_size,
            shuffle=True,
            num_workers=0,
            generator=torch.Generator().manual_seed(1),
        )

        def dataloader(net: ResNet18Task) -> None:
            optimizer = torch.optim.SGD(net.parameters(), lr=training.lr, momentum=training.momentum)
            for _ in range(args.epochs):
                for x, y in loader:
                    forward_backward(net, x.to(device), y.to(device))
                    optimizer.step()

        methods["DataLoader+transforms+SGD"] = dataloader

    names = list(methods)
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    net = ResNet18Task(dataset.in_channels, dataset.num_outputs).to(device)
    with deterministic_torch():  # as run_trajectory trains
        for repeat in range(args.repeats + 1):  # repeat 0 warms up (oneDNN primitives, allocator)
            rotation = repeat % len(names)
            for name in names[rotation:] + names[:rotation]:
                net.load_state_dict(initial)  # every round starts from the same weights, as in the loop
                net.train()
                sync(device)
                start, start_cpu = time.perf_counter(), time.process_time()
                methods[name](net)
                sync(device)
                if repeat > 0:
                    wall[name].append(time.perf_counter() - start)
                    cpu[name].append(time.process_time() - start_cpu)

    def ratio(times: dict[str, list[float]], a: str, b: str) -> str:
        """a's throughput over b's: median over repeats of time(b)/time(a), with the range."""
        per_repeat = [tb / ta for ta, tb in zip(times[a], times[b], strict=True)]
        return f"{statistics.median(per_repeat):.3f} ({min(per_repeat):.2f}-{max(per_repeat):.2f})"

    images = n * args.epochs
    floor = "bare fwd+bwd"
    print(f"  {'method':<28} {'images/s':>9} {'images/CPU-s':>13}  throughput / bare fwd+bwd: wall | CPU")
    for name in names:
        relation = "" if name == floor else f"  {ratio(wall, name, floor)} | {ratio(cpu, name, floor)}"
        print(
            f"  {name:<28} {images / statistics.median(wall[name]):9.1f} "
            f"{images / statistics.median(cpu[name]):13.1f}{relation}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 28], choices=sorted(BATCH_SIZE))
    parser.add_argument("--images", type=int, default=400, help="labeled images per round (default 400)")
    parser.add_argument(
        "--epochs", type=int, default=6, help="epochs per round (default 6, the quickstart's)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds per method (default 3)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="folder holding MNIST/raw")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument(
        "--extra", action="store_true", help="also time a DataLoader with per-item transforms"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    print(f"torch {torch.__version__}, device {device}")
    for size in args.sizes:
        measure(size, args, device)


if __name__ == "__main__":
    main()
