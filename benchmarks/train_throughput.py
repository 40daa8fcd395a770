"""Training throughput: raysweep's epoch (train_round on DeviceData) against the bare bound and a DataLoader.

    .venv/bin/python benchmarks/train_throughput.py                 # 2,048 MNIST images, 1 epoch, CPU or GPU
    .venv/bin/python benchmarks/train_throughput.py --images 4096 --repeats 3 --extra --device cuda

One epoch over ``--images`` MNIST-shaped (1x28x28) images, batch 128, SGD(lr 1e-3, momentum 0.9), the
ResNet18Task of the real loop, measured three ways (five with ``--extra``) in the same run:

* raysweep: ``train_round`` on a ``DeviceData`` built from an ``ALDataset`` (uint8 pool; a batch is
  gathered with ``index_select`` and normalised on the device), under the loop's ``deterministic_torch``:
  what a trial runs every round.
* bare: forward + backward + SGD step of the same model on normalised float32 batches that are already
  made and batched in memory (no gather, no normalisation, no loss bookkeeping): the upper bound.
* DataLoader: a torchvision MNIST-style dataset (uint8 -> PIL -> ToTensor -> Normalize per item),
  ``DataLoader(batch_size=128, shuffle=True, num_workers=0)``, then the same step as the bare bound.
* ``--extra``: raysweep with ``training.channels_last: true``; the bare step without deterministic mode.

The machine is shared, so the methods are interleaved finely: the epoch's seeded permutation is cut into
chunks of ``--chunk`` images, and every method trains on a chunk (rotated order) before the next chunk
starts; each method keeps its own model and optimizer, all from the same initial weights. images/s is
the total over the epoch(s), by wall clock and per CPU-second of this process; the ratios are medians of
the per-chunk ratios (robust to load bursts), with the ratio of totals next to them. On a machine that
other jobs load, read the CPU-time ratios and run with ``--threads 1`` (spinning OpenMP threads bill
CPU time while they wait for a descheduled sibling). Nothing is asserted.

Data: real MNIST from ``--root`` (default ../shared/data) when its IDX files are there, else random
uint8 of the same shape.
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
from torchvision import transforms

from raysweep.config import DatasetConfig, TrainingConfig
from raysweep.data import load_dataset
from raysweep.data.base import ALDataset, channel_stats
from raysweep.loop import deterministic_torch
from raysweep.models.resnet import ResNet18Task
from raysweep.train import DeviceData, copy_state, resolve_device, train_round

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data"


def make_dataset(n_images: int, root: Path) -> ALDataset:
    """``n_images`` real MNIST train images (pool seed 0) when present, else random uint8 digits."""
    if all(
        (root / "MNIST" / "raw" / f).is_file() for f in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte")
    ):
        return load_dataset(DatasetConfig(name="mnist", root=root, pool_size=n_images, eval_size=256))
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n_images, 1, 28, 28), dtype=np.uint8)
    mean, std = channel_stats(images)
    return ALDataset(
        name="random-mnist-shape",
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


class MNISTStyle(torch.utils.data.Dataset):
    """What ``torchvision.datasets.MNIST.__getitem__`` does: uint8 array -> PIL 'L' image -> transform."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: Callable) -> None:
        self.images, self.labels, self.transform = images[:, 0], labels, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.transform(Image.fromarray(self.images[index], mode="L")), int(self.labels[index])


def batches_of(indices: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    """Cut like train_round does: a trailing batch of one joins the previous one (BatchNorm)."""
    batches = list(indices.split(batch_size))
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2] = torch.cat([batches[-2], batches.pop()])
    return batches


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def sgd(model: torch.nn.Module, training: TrainingConfig) -> torch.optim.SGD:
    return torch.optim.SGD(
        model.parameters(), lr=training.lr, momentum=training.momentum, weight_decay=training.weight_decay
    )


def step(model: ResNet18Task, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> None:
    loss = F.cross_entropy(model(x).logits, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=2048, help="images per epoch (default 2048)")
    parser.add_argument("--repeats", type=int, default=1, help="timed epochs per method (default 1)")
    parser.add_argument(
        "--chunk", type=int, default=128, help="images per interleaved chunk (default 128 = 1 batch)"
    )
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="folder holding MNIST/raw")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument(
        "--extra",
        action="store_true",
        help="also time train_round with channels_last and the bare step without deterministic_torch",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    device = resolve_device(args.device)
    training = TrainingConfig()  # paper: batch 128, SGD lr 1e-3, momentum 0.9
    dataset = make_dataset(args.images, args.root.expanduser())
    n = dataset.n_pool
    print(
        f"{n} images {dataset.pool_images.shape[1:]} from {dataset.source}; device {device}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {training.batch_size}, "
        f"{args.repeats} epoch(s) in chunks of {args.chunk} images, methods interleaved per chunk"
    )

    torch.manual_seed(0)
    model = ResNet18Task(dataset.in_channels, dataset.num_outputs).to(device)
    initial = copy_state(model)
    data = DeviceData(dataset, device)
    data_nhwc = DeviceData(dataset, device, channels_last=True)
    normalize = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize(dataset.channel_mean, dataset.channel_std)]
    )
    items = MNISTStyle(dataset.pool_images, dataset.pool_labels, normalize)

    # An epoch is a seeded permutation cut into chunks; every method trains on the same chunk in
    # turn (rotated order) before the next chunk, so a burst of load from other processes hits all
    # methods alike. Each method keeps its own model state and optimizer across chunks.
    chunks = torch.randperm(n, generator=torch.Generator().manual_seed(1)).to(device).split(args.chunk)
    with torch.no_grad():
        premade = [
            [
                (data.batch(data.pool_images, b).clone(), data.pool_labels[b].clone())
                for b in batches_of(chunk, training.batch_size)
            ]
            for chunk in chunks
        ]
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

    def raysweep_step(channels_last: bool) -> Callable[[int, ResNet18Task, torch.optim.Optimizer], None]:
        def run(i: int, net: ResNet18Task, _: torch.optim.Optimizer) -> None:
            # train_round builds its own SGD; per chunk that is a few microseconds.
            train_round(
                net,
                data_nhwc if channels_last else data,
                chunks[i],
                training.model_copy(update={"channels_last": channels_last}),
                epochs=1,
                generator=torch.Generator().manual_seed(i),
            )

        return run

    def bare(i: int, net: ResNet18Task, optimizer: torch.optim.Optimizer) -> None:
        for x, y in premade[i]:
            step(net, optimizer, x, y)

    def dataloader(i: int, net: ResNet18Task, optimizer: torch.optim.Optimizer) -> None:
        for x, y in loaders[i]:
            step(net, optimizer, x.to(device, non_blocking=True), y.to(device, non_blocking=True))

    # name -> (chunk runner, channels_last, deterministic)
    methods = {
        "raysweep train_round": (raysweep_step(False), False, True),
        "bare fwd+bwd+SGD": (bare, False, True),
        "DataLoader+transforms": (dataloader, False, True),
    }
    if args.extra:
        methods["raysweep channels_last"] = (raysweep_step(True), True, True)
        methods["bare, not deterministic"] = (bare, False, False)
    names = list(methods)
    # Per chunk: wall seconds and this process's CPU seconds (all threads). CPU time hardly moves
    # when other processes take the cores, so its ratios stay readable on a loaded machine, as long
    # as torch's threads do not spin-wait much (use --threads 1 there).
    wall: dict[str, list[float]] = {name: [0.0] * len(chunks) for name in names}
    cpu: dict[str, list[float]] = {name: [0.0] * len(chunks) for name in names}
    nets = {}
    for name, (_, channels_last, _) in methods.items():
        net = ResNet18Task(dataset.in_channels, dataset.num_outputs).to(device)
        net.load_state_dict(initial)
        nets[name] = net.to(memory_format=torch.channels_last) if channels_last else net

    with deterministic_torch():  # as run_trajectory trains
        for repeat in range(args.repeats + 1):  # pass 0 warms up (oneDNN primitives, allocator)
            optimizers = {name: sgd(nets[name], training) for name in names}
            for net in nets.values():
                net.train()
            for i in range(1 if repeat == 0 else len(chunks)):
                rotation = (i + repeat) % len(names)
                for name in names[rotation:] + names[:rotation]:
                    run, _, deterministic = methods[name]
                    torch.use_deterministic_algorithms(deterministic, warn_only=True)
                    sync(device)
                    start, start_cpu = time.perf_counter(), time.process_time()
                    run(i, nets[name], optimizers[name])
                    sync(device)
                    if repeat > 0:
                        wall[name][i] += time.perf_counter() - start
                        cpu[name][i] += time.process_time() - start_cpu
                torch.use_deterministic_algorithms(True, warn_only=True)
            if repeat > 0:
                done = ", ".join(f"{name} {n * repeat / sum(wall[name]):.0f}" for name in names)
                print(f"  after epoch {repeat}: images/s {done}")

    def ratio(times: dict[str, list[float]], a: str, b: str) -> str:
        """a's throughput over b's: median over chunks of time(b)/time(a), then the ratio of totals."""
        per_chunk = [tb / ta for ta, tb in zip(times[a], times[b], strict=True)]
        q1, median, q3 = statistics.quantiles(per_chunk, n=4) if len(per_chunk) > 1 else [per_chunk[0]] * 3
        return f"{median:.3f} (chunks IQR {q1:.2f}-{q3:.2f}; totals {sum(times[b]) / sum(times[a]):.3f})"

    images = n * args.repeats
    print(f"\nthroughput over {args.repeats} epoch(s) of {n} images ({len(chunks)} interleaved chunks):")
    print(f"  {'method':<26} {'images/s':>9} {'images/CPU-s':>13}")
    for name in names:
        print(f"  {name:<26} {images / sum(wall[name]):9.1f} {images / sum(cpu[name]):13.1f}")
    rs, bare_name, loader_name = "raysweep train_round", "bare fwd+bwd+SGD", "DataLoader+transforms"
    pairs = [("raysweep / bare", rs, bare_name), ("raysweep / DataLoader", rs, loader_name)]
    if args.extra:
        pairs += [
            ("channels_last / raysweep", "raysweep channels_last", rs),
            ("bare determ. / not", bare_name, "bare, not deterministic"),
        ]
    print("ratios of throughput (median over chunks; >1: the first is faster; target raysweep/bare >= 0.95):")
    for label, a, b in pairs:
        print(f"  {label:<26} wall {ratio(wall, a, b)}")
        print(f"  {'':<26} CPU  {ratio(cpu, a, b)}")


if __name__ == "__main__":
    main()
