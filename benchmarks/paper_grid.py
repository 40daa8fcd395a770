"""Projected wall time of the paper's whole study (configs/paper.yaml) from throughputs measured here.

    .venv/bin/python benchmarks/paper_grid.py                          # CPU: G = 1 slot of torch's threads
    .venv/bin/python benchmarks/paper_grid.py --gpus 1 --trials-per-gpu 4 --device cuda
    .venv/bin/python benchmarks/paper_grid.py --gpus 4 --set training.amp_bf16=true --set training.channels_last=true

Measured on this machine, through raysweep's own functions and the sweep's training settings:

* training: seconds per sample-epoch of ``train_round`` (batch 128, SGD) for MNIST (real images from
  ../shared/data; 10-class cross-entropy) and ChestMNIST shapes (random 1x28x28 uint8, 14 labels,
  multi-label BCE through an ALDataset with task ``multi-label``), plain and with the loss-prediction
  module (learning loss);
* inference: seconds per image of ``infer`` (eval batch 1024), plain and with the loss module;
* selection: ``greedy_k_center`` on 25,000 x 512 and 30,000 x 512 ResNet-like features (3,000
  labeled, budget 3,000), the first core-set round of each dataset;
* VAE: seconds per image-epoch of ``train_vae`` and per image of ``embed_pool``.

The projection reads configs/paper.yaml with ``load_sweep_config`` + ``expand_trials`` and, per trial,
``label_schedule`` for the label counts: training = sum over rounds of labels x epochs (initial_epochs
+ round x epochs_per_round) sample-epochs; evaluation = eval-split size per round (MNIST test 10,000,
ChestMNIST test 22,433); selection in every round but the last = core-set: pool inference + greedy
k-center; learning loss: inference with the loss module on min(subset, unlabeled) points. One VAE per
dataset (pool x vae.epochs image-epochs + one embedding pass) when some trial uses it. The jobs (40
trials + VAEs) are spread longest-first over G devices; K trials per device share it, so a device's
jobs take their summed time divided by ``--packing-gain`` (aggregate throughput of K packed trials
relative to one; 1.0 unless you measured it). Printed next to the paper's 24,362 s on four RTX 2080s.
Selection time is taken from the first round at every round (later rounds pick among fewer unlabeled
points). On CPU the times are CPU seconds / threads by default (``--clock``), so other jobs on a shared
machine do not inflate them; on a GPU, wall clock. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from raysweep.config import DatasetConfig, TrainingConfig, VAEConfig
from raysweep.data import load_dataset
from raysweep.data.base import ALDataset, channel_stats
from raysweep.heuristics import build_heuristic
from raysweep.heuristics.coreset import greedy_k_center
from raysweep.heuristics.lloss import LearningLossHeuristic, LLossHeuristicConfig
from raysweep.loop import deterministic_torch
from raysweep.models.loss_module import LossPredictionModule
from raysweep.models.resnet import ResNet18Task
from raysweep.models.vae import build_vae, embed_pool, train_vae
from raysweep.schedule import label_schedule
from raysweep.sweep.config import load_sweep_config
from raysweep.sweep.trials import expand_trials
from raysweep.train import DeviceData, infer, resolve_device, train_round

sys.path.insert(0, str(Path(__file__).resolve().parent))
from selection import make_features  # benchmarks/selection.py: ResNet-like features

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = REPO.parent / "shared" / "data"
PAPER_SECONDS, PAPER_HARDWARE = 24_362, "four RTX 2080 GPUs"
POOL = {"mnist": 25_000, "medmnist:chestmnist": 30_000}
EVAL = {"mnist": 10_000, "medmnist:chestmnist": 22_433}  # test splits (dataset.eval_split: test)


def mnist_shaped(n: int, root: Path) -> ALDataset:
    if (root / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file():
        return load_dataset(DatasetConfig(name="mnist", root=root, pool_size=n, eval_size=256))
    return random_dataset(n, "multi-class", 10)


def random_dataset(n: int, task: str, outputs: int) -> ALDataset:
    """Random 1x28x28 uint8 images; multi-label: (n, outputs) 0/1 labels, ~5% positive (ChestMNIST-like)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 1, 28, 28), dtype=np.uint8)
    if task == "multi-label":
        labels = (rng.random((n, outputs)) < 0.05).astype(np.uint8)
    else:
        labels = rng.integers(0, outputs, size=n).astype(np.int64)
    mean, std = channel_stats(images)
    return ALDataset(
        name=f"random-{task}",
        task=task,
        num_outputs=outputs,
        pool_images=images,
        pool_labels=labels,
        eval_images=images[:256],
        eval_labels=labels[:256],
        channel_mean=mean,
        channel_std=std,
    )


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


CLOCK = {"name": "wall"}


def timed(device: torch.device, call) -> float:
    """Seconds of ``call()``: wall clock, or (``--clock cpu``) this process's CPU seconds divided by
    torch's thread count, which other jobs on a shared machine hardly move."""
    sync(device)
    start, start_cpu = time.perf_counter(), time.process_time()
    call()
    sync(device)
    if CLOCK["name"] == "cpu":
        return (time.process_time() - start_cpu) / torch.get_num_threads()
    return time.perf_counter() - start


def measure_model(
    dataset: ALDataset,
    device: torch.device,
    training: TrainingConfig,
    n_train: int,
    n_infer: int,
    repeats: int,
) -> dict[str, float]:
    """Seconds per sample-epoch (train) and per image (infer), plain and with the loss module."""
    data = DeviceData(dataset, device, channels_last=training.channels_last)
    out = {}
    for variant in ("plain", "lloss"):
        torch.manual_seed(0)
        model = ResNet18Task(dataset.in_channels, dataset.num_outputs).to(device)
        if training.channels_last:
            model.to(memory_format=torch.channels_last)
        loss_module = LossPredictionModule().to(device) if variant == "lloss" else None
        lloss = LearningLossHeuristic(LLossHeuristicConfig()).loss_module() if variant == "lloss" else None
        labeled = torch.arange(n_train, device=device)

        def train(indices: torch.Tensor, model=model, loss_module=loss_module, lloss=lloss) -> None:
            train_round(
                model, data, indices, training, 1, torch.Generator().manual_seed(0), loss_module, lloss
            )

        def run_infer(model=model, loss_module=loss_module) -> None:
            infer(
                model,
                data,
                data.pool_images,
                torch.arange(n_infer, device=device) % dataset.n_pool,
                training.eval_batch_size,
                training.amp_bf16,
                loss_module,
            )

        train(labeled[: 2 * training.batch_size])  # warm-up
        run_infer()
        train_s = min(
            timed(device, lambda train=train, labeled=labeled: train(labeled)) for _ in range(repeats)
        )
        infer_s = min(timed(device, run_infer) for _ in range(repeats))
        out[f"train_{variant}"] = train_s / n_train
        out[f"infer_{variant}"] = infer_s / n_infer
    return out


def measure_vae(dataset: ALDataset, device: torch.device, vae: VAEConfig) -> dict[str, float]:
    """Seconds per image-epoch of VAE training and per image of the embedding pass."""
    model = build_vae(dataset, vae).to(device)
    embed_pool(model, dataset, device)  # warm-up
    embed = timed(device, lambda: embed_pool(model, dataset, device))
    one_epoch = timed(device, lambda: train_vae(dataset, vae.model_copy(update={"epochs": 1}), device))
    return {"vae_epoch": max(one_epoch - embed, 0.0) / dataset.n_pool, "vae_embed": embed / dataset.n_pool}


def measure_selection(n: int, device: torch.device, repeats: int) -> float:
    features, labeled = make_features(n, 512, 3000)
    features, labeled = features.to(device), labeled.to(device)
    greedy_k_center(features[:4096], labeled[:4096], 64)  # warm-up
    return min(timed(device, lambda: greedy_k_center(features, labeled, 3000)) for _ in range(repeats))


def lpt_makespan(jobs: list[float], bins: int) -> float:
    """Longest job first onto the least loaded bin; the largest bin's total."""
    loads = [0.0] * bins
    for job in sorted(jobs, reverse=True):
        loads[loads.index(min(loads))] += job
    return max(loads)


def hms(seconds: float) -> str:
    return f"{seconds:,.0f} s ({seconds / 3600:.2f} h)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "paper.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--gpus", type=int, default=1, help="devices G (on CPU: trial slots)")
    parser.add_argument("--trials-per-gpu", type=int, default=1, help="trials packed per device K")
    parser.add_argument("--packing-gain", type=float, default=1.0, help="throughput of K packed / one")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="folder holding MNIST/raw")
    parser.add_argument("--train-images", type=int, default=None, help="default 512 on CPU, 8192 on GPU")
    parser.add_argument("--repeats", type=int, default=2, help="timings per quantity, minimum taken")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default=None,
        help="wall clock, or CPU seconds / threads (default: cpu on CPU, where other jobs share the cores)",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    device = resolve_device(args.device)
    CLOCK["name"] = args.clock or ("wall" if device.type == "cuda" else "cpu")
    sweep = load_sweep_config(args.config, args.overrides)
    trials = expand_trials(sweep)
    training = sweep.training
    n_train = args.train_images or (8192 if device.type == "cuda" else 512)
    n_infer = 4 * n_train
    what = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"CPU, {torch.get_num_threads()} threads"
    )
    print(
        f"measuring on {what}, {CLOCK['name']} clock; {len(trials)} trials in {args.config.name}; training {training.model_dump()}"
    )

    measured: dict[str, dict[str, float]] = {}
    with deterministic_torch():  # as run_trajectory
        started = time.perf_counter()
        mnist = mnist_shaped(max(n_train, n_infer), args.root.expanduser())
        chest = random_dataset(max(n_train, n_infer), "multi-label", 14)
        for name, dataset in (("mnist", mnist), ("medmnist:chestmnist", chest)):
            measured[name] = measure_model(dataset, device, training, n_train, n_infer, args.repeats)
            vae_data = random_dataset(n_train * 2, dataset.task, dataset.num_outputs)
            measured[name].update(measure_vae(vae_data, device, sweep.vae))
            measured[name]["selection"] = measure_selection(POOL[name], device, args.repeats)
            m = measured[name]
            print(
                f"  {name:<20} train {1 / m['train_plain']:8.0f} samples/s (lloss {1 / m['train_lloss']:.0f}), "
                f"infer {1 / m['infer_plain']:8.0f} images/s (lloss {1 / m['infer_lloss']:.0f}), "
                f"VAE {1 / m['vae_epoch']:.0f} images/s, greedy_k_center {POOL[name]:,}x512 "
                f"{m['selection']:.2f} s",
                flush=True,
            )
        print(f"  (measuring took {time.perf_counter() - started:.0f} s)")

    per_trial: list[float] = []
    totals = {"train": 0.0, "eval": 0.0, "selection": 0.0, "vae": 0.0}
    sample_epochs_total = 0
    vae_datasets = set()
    for trial in trials:
        name, m = trial.dataset, measured[trial.dataset]
        lloss = build_heuristic(trial.config.heuristic).loss_module() is not None
        pool = trial.config.dataset.pool_size or POOL[name]
        counts = label_schedule(trial.config.schedule, pool)
        sample_epochs = sum(
            n * (training.initial_epochs + r * training.epochs_per_round) for r, n in enumerate(counts)
        )
        sample_epochs_total += sample_epochs
        train = sample_epochs * m["train_lloss" if lloss else "train_plain"]
        evaluation = len(counts) * EVAL[name] * m["infer_plain"]
        selection = 0.0
        for n_labeled in counts[:-1]:
            if lloss:
                selection += min(trial.config.heuristic.subset_size, pool - n_labeled) * m["infer_lloss"]
            else:
                selection += pool * m["infer_plain"] + m["selection"]
        per_trial.append(train + evaluation + selection)
        totals["train"] += train
        totals["eval"] += evaluation
        totals["selection"] += selection
        if trial.config.uses_vae:
            vae_datasets.add(name)
    vae_jobs = []
    for name in sorted(vae_datasets):
        pool = sweep.dataset.pool_size or POOL[name]
        m = measured[name]
        vae_jobs.append(pool * (sweep.vae.epochs * m["vae_epoch"] + m["vae_embed"]))
    totals["vae"] = sum(vae_jobs)
    work = sum(totals.values())

    devices, k = args.gpus, args.trials_per_gpu
    makespan = lpt_makespan(per_trial + vae_jobs, devices) / args.packing_gain
    lower_bound = work / devices / args.packing_gain
    unit = "GPU" if device.type == "cuda" else f"CPU slot ({torch.get_num_threads()} threads)"
    print(
        f"\nconfigs/{args.config.name}: {len(trials)} trials, {sample_epochs_total:,} sample-epochs of training"
    )
    print(f"  work per part (one {unit}): " + ", ".join(f"{key} {hms(v)}" for key, v in totals.items()))
    print(f"  total work: {hms(work)}; per trial: min {min(per_trial):,.0f} s, max {max(per_trial):,.0f} s")
    print(
        f"projected wall time on {devices} x {unit}, {k} trial(s) per device, packing gain "
        f"{args.packing_gain:g}: {hms(makespan)} (perfect balance: {hms(lower_bound)})"
    )
    print(
        f"paper: {hms(PAPER_SECONDS)} on {PAPER_HARDWARE}; projected / paper = {makespan / PAPER_SECONDS:.2f}"
    )


if __name__ == "__main__":
    main()
