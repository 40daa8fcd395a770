"""Training throughput per image size: raysweep's round (train_round) against bare forward + backward.

    .venv/bin/python benchmarks/train_throughput.py --threads 1          # 8x8 digits and 28x28 MNIST, CPU
    .venv/bin/python benchmarks/train_throughput.py --device cuda --images 8192
    .venv/bin/python benchmarks/train_throughput.py --extra              # + DataLoader with per-item transforms

For each image size, in one run, the same ResNet18Task from the same initial weights trains on the
same images in the same order, several ways:

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

The machine may be shared, so the methods are interleaved finely: the epoch's seeded permutation is
cut into chunks of ``--chunk`` images, and every method trains on a chunk (in rotated order) before
the next chunk starts; each keeps its own model and optimizer. Reported: images/s by wall clock and per
CPU-second of this process, and the throughput ratio of each method to the bare floor as the median
of per-chunk ratios (robust to load bursts) next to the ratio of totals. On a loaded machine read the
CPU-time ratios with ``--threads 1``. Nothing is asserted.
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
    return ALDataset(
        name=f"random-{size}x{size}",
        task="multi-class",
        num_outputs=10,
        pool_images=images,
        pool_labels=rng.integers(0, 10, size=n_images).astype(np.int64),
        eval_images=images[:256],
        eval_labels=rng.integers(0, 10, size=256).astype(np.int64),
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
        f"threads, batch {training.batch_size}, {args.repeats} epoch(s) in chunks of {args.chunk} images",
        flush=True,
    )
    torch.manual_seed(0)
    initial = copy_state(ResNet18Task(dataset.in_channels, dataset.num_outputs))
    data = DeviceData(dataset, device)
    chunks = torch.randperm(n, generator=torch.Generator().manual_seed(1)).to(device).split(args.chunk)
    with torch.no_grad():
        premade = [
            [
                (data.batch(data.pool_images, b).clone(), data.pool_labels[b].clone())
                for b in split_batches(chunk, training.batch_size)
            ]
            for chunk in chunks
        ]

    def raysweep_round(i: int, net: ResNet18Task, _: torch.optim.Optimizer | None) -> None:
        # train_round builds its optimizer and buffers per call, i.e. per chunk here: conservative.
        train_round(net, data, chunks[i], training, epochs=1, generator=torch.Generator().manual_seed(i))

    def bare(i: int, net: ResNet18Task, _: torch.optim.Optimizer | None) -> None:
        for x, y in premade[i]:
            forward_backward(net, x, y)

    def bare_sgd(i: int, net: ResNet18Task, optimizer: torch.optim.Optimizer | None) -> None:
        for x, y in premade[i]:
            forward_backward(net, x, y)
            optimizer.step()

    def for_loop_sgd(net: ResNet18Task) -> torch.optim.Optimizer:
        return torch.optim.SGD(net.parameters(), lr=training.lr, momentum=training.momentum, foreach=False)

    methods: dict[str, tuple[Callable, Callable | None]] = {
        "raysweep round": (raysweep_round, None),
        "bare fwd+bwd": (bare, None),
        "fwd+bwd+SGD for-loop": (bare_sgd, for_loop_sgd),
    }
    if args.extra:
        from torchvision import transforms

        normalize = transforms.Compose(
            [transforms.ToTensor(), transforms.Normalize(dataset.channel_mean, dataset.channel_std)]
        )
        items = PerItemTransforms(dataset.pool_images, dataset.pool_labels, normalize)
        loaders = [
            torch.utils.data.DataLoader(
                torch.utils.data.Subset(items, chunk.cpu().tolist()),
                batch_size=training.batch_size,
                shuffle=True,
                num_workers=0,
                generator=torch.Generator().manual_seed(1),
            )
            for chunk in chunks
        ]

        def dataloader(i: int, net: ResNet18Task, optimizer: torch.optim.Optimizer | None) -> None:
            for x, y in loaders[i]:
                forward_backward(net, x.to(device), y.to(device))
                optimizer.step()

        methods["DataLoader+transforms+SGD"] = (dataloader, for_loop_sgd)

    names = list(methods)
    wall = {name: [0.0] * len(chunks) for name in names}
    cpu = {name: [0.0] * len(chunks) for name in names}
    nets = {}
    for name in names:
        nets[name] = ResNet18Task(dataset.in_channels, dataset.num_outputs).to(device)
        nets[name].load_state_dict(initial)
    with deterministic_torch():  # as run_trajectory trains
        for repeat in range(args.repeats + 1):  # pass 0 warms up (oneDNN primitives, allocator)
            optimizers = {name: (make(nets[name]) if make else None) for name, (_, make) in methods.items()}
            for net in nets.values():
                net.train()
            for i in range(1 if repeat == 0 else len(chunks)):
                rotation = (i + repeat) % len(names)
                for name in names[rotation:] + names[:rotation]:
                    sync(device)
                    start, start_cpu = time.perf_counter(), time.process_time()
                    methods[name][0](i, nets[name], optimizers[name])
                    sync(device)
                    if repeat > 0:
                        wall[name][i] += time.perf_counter() - start
                        cpu[name][i] += time.process_time() - start_cpu

    def ratio(times: dict[str, list[float]], a: str, b: str) -> str:
        """a's throughput over b's: median over chunks of time(b)/time(a), then the ratio of totals."""
        per_chunk = [tb / ta for ta, tb in zip(times[a], times[b], strict=True)]
        q1, median, q3 = statistics.quantiles(per_chunk, n=4) if len(per_chunk) > 1 else [per_chunk[0]] * 3
        return f"{median:.3f} (IQR {q1:.2f}-{q3:.2f}; totals {sum(times[b]) / sum(times[a]):.3f})"

    images = n * args.repeats
    floor = "bare fwd+bwd"
    print(f"  {'method':<28} {'images/s':>9} {'images/CPU-s':>13}  throughput / bare fwd+bwd (wall | CPU)")
    for name in names:
        relation = "" if name == floor else f"  {ratio(wall, name, floor)} | {ratio(cpu, name, floor)}"
        print(f"  {name:<28} {images / sum(wall[name]):9.1f} {images / sum(cpu[name]):13.1f}{relation}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 28], choices=sorted(BATCH_SIZE))
    parser.add_argument("--images", type=int, default=1024, help="images per epoch and size (default 1024)")
    parser.add_argument("--repeats", type=int, default=1, help="timed epochs per method (default 1)")
    parser.add_argument("--chunk", type=int, default=256, help="images per interleaved chunk (default 256)")
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
