"""The GPU path, measured in one run on a lent device (issue 16); runs on CPU too, to test the script.

    bash benchmarks/gpu_check.sh                          # on the device: install, pytest -m gpu, this
    .venv/bin/python benchmarks/gpu_check.py --quick      # here: every step at toy sizes, on CPU

Prints, each in one run so that every ratio compares numbers measured side by side:

1. training samples/s of one trial (ResNet-18 on 1x28x28 images, batch 128, ``train_round`` exactly
   as a trajectory calls it) for each switch combination: fp32, bf16 autocast, channels_last, both;
2. the same with K = 1, 2, 4, 8 trials packed on the one device, each trial its own process (what
   Ray does for ``resources.gpu`` = 1/K: it co-locates K worker processes on the GPU): aggregate
   samples/s, the gain over one trial, peak GPU memory per trial;
3. selection on 100,000 x 544 features (512 task + 32 VAE, the issue's size): ``greedy_k_center``,
   ``greedy_centroid`` (and BADGE's seeding when it is registered) on the device and on the CPU,
   seconds each and whether the picks are equal (they must be);
4. the projected wall time of ``configs/paper.yaml`` on this one device with the best switches and
   packing measured above (``benchmarks/paper_grid.py``'s projection), next to the paper's 24,362 s.

Why processes and not a Ray Tune sweep for the packing: the device machine reaches no package index,
and what travels there is capped at 64 MiB, less than Ray's wheel alone; the trainable's work inside
each Ray worker is this same ``train_round``, so K processes sharing the GPU measure what K packed
trials get. ``--json`` writes every number to a file.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from raysweep.config import TrainingConfig
from raysweep.heuristics.coreset import greedy_k_center
from raysweep.heuristics.medal import greedy_centroid
from raysweep.loop import deterministic_torch
from raysweep.models.resnet import ResNet18Task
from raysweep.train import DeviceData, resolve_device, train_round

sys.path.insert(0, str(Path(__file__).resolve().parent))
import paper_grid  # benchmarks/paper_grid.py: the projection of configs/paper.yaml
from selection import make_features  # benchmarks/selection.py: ResNet-like synthetic features

SWITCHES = {
    "fp32": {},
    "bf16": {"amp_bf16": True},
    "channels_last": {"channels_last": True},
    "bf16+channels_last": {"amp_bf16": True, "channels_last": True},
}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def training_samples_per_second(
    device: torch.device, switches: dict, n_images: int, epochs: int, batch_size: int
) -> tuple[float, int]:
    """Samples/s of ``train_round`` over ``epochs`` epochs of ``n_images`` labeled images after one
    warm-up epoch, and the peak device memory in bytes (0 on CPU)."""
    dataset = paper_grid.random_dataset(n_images, "multi-class", 10)
    training = TrainingConfig(lr=0.01, batch_size=batch_size, **switches)
    data = DeviceData(dataset, device, channels_last=training.channels_last)
    torch.manual_seed(0)
    model = ResNet18Task(dataset.in_channels, dataset.num_outputs).to(device)
    if training.channels_last:
        model.to(memory_format=torch.channels_last)
    labeled = torch.arange(n_images, device=device)
    generator = torch.Generator().manual_seed(0)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    train_round(model, data, labeled, training, 1, generator)  # warm-up: kernels chosen, memory pooled
    sync(device)
    start = time.perf_counter()
    train_round(model, data, labeled, training, epochs, generator)
    sync(device)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_reserved(device) if device.type == "cuda" else 0
    return n_images * epochs / seconds, peak


def _packed_worker(args: tuple, start_barrier, results) -> None:
    device_spec, switches, n_images, epochs, batch_size, threads = args
    torch.set_num_threads(threads)
    device = resolve_device(device_spec)
    start_barrier.wait()
    started = time.perf_counter()
    with deterministic_torch():
        rate, peak = training_samples_per_second(device, switches, n_images, epochs, batch_size)
    results.put((rate, peak, started, time.perf_counter(), n_images * (epochs + 1)))


def packed(device_spec: str, switches: dict, k: int, n_images: int, epochs: int, batch_size: int) -> dict:
    """K trial processes sharing the device, started together: aggregate samples/s over the wall time
    from the first start to the last end (warm-up epochs counted: a real trial pays them too)."""
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(k), ctx.Queue()
    threads = max(1, (os.cpu_count() or 1) // k)
    procs = [
        ctx.Process(
            target=_packed_worker,
            args=((device_spec, switches, n_images, epochs, batch_size, threads), barrier, results),
        )
        for _ in range(k)
    ]
    for proc in procs:
        proc.start()
    rows = [results.get(timeout=1800) for _ in range(k)]
    for proc in procs:
        proc.join(timeout=60)
        if proc.exitcode != 0:
            raise RuntimeError(f"a packed trial process exited with {proc.exitcode}")
    wall = max(r[3] for r in rows) - min(r[2] for r in rows)
    return {
        "k": k,
        "aggregate_samples_per_s": sum(r[4] for r in rows) / wall,
        "per_trial_samples_per_s": float(np.mean([r[0] for r in rows])),
        "peak_memory_mib_per_trial": max(r[1] for r in rows) / 2**20,
    }


def selection_check(device: torch.device, n: int, budget: int, n_labeled: int) -> list[dict]:
    """Each greedy selection on the device and on the CPU: seconds and whether the picks agree."""
    features, labeled = make_features(n, 544, n_labeled)
    selectors = {"greedy_k_center": greedy_k_center, "greedy_centroid": greedy_centroid}
    try:  # BADGE's k-means++ seeding (issue 13's strategies), on the features as one block
        from raysweep.heuristics.kmeans import BlockEmbedding, EmbeddingBlock, kmeans_pp_seeding

        def badge_seeding(x: torch.Tensor, mask: torch.Tensor, k: int) -> torch.Tensor:
            candidates = torch.nonzero(~mask).squeeze(1)
            block = BlockEmbedding([EmbeddingBlock(x[candidates], None, 1.0)])
            picks, _ = kmeans_pp_seeding(block, k, torch.Generator().manual_seed(0), 0)
            return candidates[picks]

        selectors["kmeans++ (BADGE)"] = badge_seeding
    except ImportError:
        pass
    rows = []
    for name, select in selectors.items():
        timings, picks = {}, {}
        for where in ("cpu", device.type) if device.type != "cpu" else ("cpu",):
            x, mask = features.to(where), labeled.to(where)
            select(x[:4096], mask[:4096], 16)  # warm-up
            sync(torch.device(where))
            start = time.perf_counter()
            picks[where] = select(x, mask, budget).cpu()
            sync(torch.device(where))
            timings[where] = time.perf_counter() - start
        equal = all(torch.equal(picks["cpu"], p) for p in picks.values())
        rows.append({"selector": name, "seconds": timings, "picks_equal_cpu": equal})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    parser.add_argument("--quick", action="store_true", help="toy sizes: checks the script, measures nothing")
    parser.add_argument("--json", type=Path, default=None, help="also write every number here")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    on_gpu = device.type == "cuda"
    if args.quick:
        images, epochs, packs, sel_n, sel_budget, sel_labeled = 256, 1, [1, 2], 4000, 50, 300
    else:
        images, epochs, packs, sel_n, sel_budget, sel_labeled = 16384, 3, [1, 2, 4, 8], 100_000, 3000, 3000
    what = f"{torch.cuda.get_device_name(device)} (torch {torch.__version__})" if on_gpu else "CPU"
    print(f"gpu_check on {what}; {os.cpu_count()} CPU cores", flush=True)
    report: dict = {"device": what}

    print(f"\n1. one trial, ResNet-18 on 1x28x28, batch 128, {images:,} images x {epochs} epochs:")
    single = {}
    with deterministic_torch():
        for name, switches in SWITCHES.items():
            rate, peak = training_samples_per_second(device, switches, images, epochs, 128)
            single[name] = rate
            print(
                f"   {name:<20} {rate:10,.0f} samples/s  ({rate / single['fp32']:.2f}x fp32)  peak {peak / 2**20:,.0f} MiB"
            )
    best = max(single, key=single.get)
    report["single_trial_samples_per_s"] = single

    print(f"\n2. K trials packed on the device ({best}), each its own process:")
    packing = []
    for k in packs:
        row = packed(args.device, SWITCHES[best], k, images, epochs, 128)
        row["gain_over_one"] = row["aggregate_samples_per_s"] / (
            packing[0]["aggregate_samples_per_s"] if packing else row["aggregate_samples_per_s"]
        )
        packing.append(row)
        print(
            f"   K={k}: aggregate {row['aggregate_samples_per_s']:10,.0f} samples/s ({row['gain_over_one']:.2f}x K=1), "
            f"per trial {row['per_trial_samples_per_s']:,.0f}, peak {row['peak_memory_mib_per_trial']:,.0f} MiB per trial"
        )
    report["packing"] = packing
    best_pack = max(packing, key=lambda r: r["aggregate_samples_per_s"])

    print(f"\n3. selection on {sel_n:,} x 544, {sel_labeled:,} labeled, budget {sel_budget:,}:")
    selection = selection_check(device, sel_n, sel_budget, sel_labeled)
    for row in selection:
        times = ", ".join(f"{where} {s:.2f} s" for where, s in row["seconds"].items())
        print(f"   {row['selector']:<18} {times}; picks equal to the CPU's: {row['picks_equal_cpu']}")
    report["selection"] = selection

    print("\n4. configs/paper.yaml projected on this one device:")
    overrides = [f"training.{key}={str(value).lower()}" for key, value in SWITCHES[best].items()]
    projection = ["--device", args.device, "--gpus", "1", "--trials-per-gpu", str(best_pack["k"])]
    projection += ["--packing-gain", f"{best_pack['gain_over_one']:.3f}"]
    if args.quick:
        projection += ["--train-images", "256", "--repeats", "1"]
    for override in overrides:
        projection += ["--set", override]
    print("   benchmarks/paper_grid.py " + " ".join(projection), flush=True)
    paper_grid.main(projection)

    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    failed = [row["selector"] for row in selection if not row["picks_equal_cpu"]]
    if failed:
        print(f"\npicks differ from the CPU's: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
