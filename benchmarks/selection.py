"""Core-set selection speed: raysweep's greedy_k_center against a per-pick numpy loop and scikit-activeml.

    .venv/bin/python benchmarks/selection.py                   # both workloads, all implementations
    .venv/bin/python benchmarks/selection.py --sizes 25000x512 --skip-skactiveml

Workloads (issue 3): a 25,000 x 512 pool (MNIST-sized, ResNet-18 features) and a 100,000 x 544 pool
(512 task + 32 VAE features), 3,000 labeled points, budget 3,000. The features are synthetic but
shaped like penultimate ResNet features: ten classes, each a low-rank cloud around its own mean,
plus isotropic noise, through a ReLU (non-negative, clustered). All implementations get the same
float32 matrix and must return the same picks; the ratios are measured in the same run.

Baselines:
* numpy: the straightforward algorithm, a running minimum distance updated by one full pass over the
  pool per pick (||x||^2 - 2 x.c + ||c||^2, float32); the initial minimum over the labeled set is
  computed in row chunks.
* scikit-activeml's ``CoreSet`` (optional ``bench`` extra), when it is installed.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
import torch

from raysweep.heuristics.coreset import greedy_k_center


def make_features(
    n: int, dim: int, n_labeled: int, seed: int = 0, classes: int = 10, rank: int = 32
) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, dim) float32 ResNet-like features and an (n,) bool mask of ``n_labeled`` random labels."""
    gen = torch.Generator().manual_seed(seed)
    means = 2.0 * torch.randn(classes, dim, generator=gen)
    assign = torch.randint(0, classes, (n,), generator=gen)
    features = torch.empty(n, dim)
    for k in range(classes):  # ten classes, not a loop over points
        rows = torch.nonzero(assign == k).squeeze(1)
        basis = torch.randn(rank, dim, generator=gen) / math.sqrt(rank)
        features[rows] = means[k] + 1.5 * torch.randn(len(rows), rank, generator=gen) @ basis
    features = torch.relu(features + 0.3 * torch.randn(n, dim, generator=gen))
    labeled = torch.zeros(n, dtype=torch.bool)
    labeled[torch.randperm(n, generator=gen)[:n_labeled]] = True
    return features, labeled


def numpy_k_center(features: np.ndarray, labeled: np.ndarray, budget: int) -> np.ndarray:
    """The straightforward greedy: a running minimum distance, one full pass over the pool per pick."""
    sq_norms = np.einsum("ij,ij->i", features, features)
    min_dist = np.full(len(features), np.inf, dtype=np.float32)
    centers = np.flatnonzero(labeled)
    for start in range(0, len(centers), 1024):
        block = features[centers[start : start + 1024]]
        dist = sq_norms[:, None] - 2 * features @ block.T + sq_norms[centers[start : start + 1024]][None, :]
        min_dist = np.minimum(min_dist, dist.min(1))
    min_dist[labeled] = -np.inf
    picks = np.empty(budget, dtype=np.int64)
    for k in range(budget):
        pick = int(np.argmax(min_dist))
        picks[k] = pick
        dist = sq_norms - 2 * (features @ features[pick]) + sq_norms[pick]
        np.minimum(min_dist, dist, out=min_dist)
        min_dist[pick] = -np.inf
    return picks


def skactiveml_k_center(features: np.ndarray, labeled: np.ndarray, budget: int) -> np.ndarray | None:
    try:
        from skactiveml.pool import CoreSet
    except ImportError:
        return None
    y = np.full(len(features), np.nan)
    y[labeled] = 0
    return np.asarray(CoreSet(random_state=0).query(features, y, batch_size=budget))


def exact_check(features: torch.Tensor, labeled: torch.Tensor, picks: np.ndarray, rows: int = 2048):
    """Replays ``picks`` in float64: (first step whose pick is not the exact argmax or None, values).

    values[k, i] is point i's exact min squared distance to labeled + picks[:k] (computed for all
    points and steps with float64 GEMMs, in row chunks); a pick is right when it holds the largest
    value among points still selectable at step k (ties: lowest index). Returns also the smallest
    relative gap between a pick and the runner-up, i.e. how close the sequence came to a tie.
    """
    x = features.to(torch.float64)
    x = x - x.mean(0)
    sq = (x * x).sum(1)
    centers = torch.nonzero(labeled).squeeze(1)
    picks_t = torch.as_tensor(picks)
    budget = len(picks_t)
    step_of = torch.full((len(x),), budget, dtype=torch.long)  # the step at which a point is picked
    step_of[picks_t] = torch.arange(budget)
    best = torch.full((budget,), -math.inf, dtype=torch.float64)
    best_at = torch.zeros(budget, dtype=torch.long)
    second = torch.full((budget,), -math.inf, dtype=torch.float64)
    for r0 in range(0, len(x), rows):
        r = slice(r0, r0 + rows)
        to_labeled = (sq[r, None] - 2 * x[r] @ x[centers].T + sq[centers][None]).min(1).values
        to_picks = sq[r, None] - 2 * x[r] @ x[picks_t].T + sq[picks_t][None]  # (rows, budget)
        # value before step k: min over labeled and picks[:k] (an exclusive running minimum).
        running = torch.cummin(torch.cat([to_labeled[:, None], to_picks[:, :-1]], 1), 1).values
        running = torch.minimum(running, to_labeled[:, None])
        steps = torch.arange(budget)
        eligible = (step_of[r, None] >= steps[None]) & ~labeled[r, None]
        running = running.masked_fill(~eligible, -math.inf)
        top = torch.topk(running, min(2, running.shape[0]), dim=0)
        vals, idx = top.values, top.indices + r0
        # Merge this chunk's top two per step into the global top two (rows ascend: ties keep lower index).
        new_best = vals[0] > best
        second = torch.where(new_best, torch.maximum(best, vals[1]), torch.maximum(second, vals[0]))
        best_at = torch.where(new_best, idx[0], best_at)
        best = torch.where(new_best, vals[0], best)
    wrong = torch.nonzero(best_at != picks_t).squeeze(1)
    gap = float(((best - second) / best.abs().clamp_min(1e-300)).min())
    return (int(wrong[0]) if len(wrong) else None), gap


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def compare(ours: np.ndarray, theirs: np.ndarray, features: torch.Tensor, labeled: torch.Tensor) -> str:
    if np.array_equal(ours, theirs):
        return "identical picks"
    where = int(np.flatnonzero(ours != theirs)[0])
    wrong, _ = exact_check(features, labeled, theirs)
    return (
        f"picks differ from pick {where} on ({len(set(ours) & set(theirs))}/{len(ours)} shared); "
        f"their first non-exact pick (float64 replay): {wrong}"
    )


def run(
    n: int,
    dim: int,
    n_labeled: int,
    budget: int,
    repeats: int,
    thread_counts: list[int],
    skip_numpy: bool,
    skip_sk: bool,
) -> None:
    features, labeled = make_features(n, dim, n_labeled)
    print(f"\n== greedy k-center: pool {n:,} x {dim}, {n_labeled:,} labeled, budget {budget:,} ==")
    greedy_k_center(features[:2000], labeled[:2000], 10)  # warm up kernels
    default_threads = torch.get_num_threads()
    ours_median = {}
    for threads in thread_counts or [default_threads]:
        torch.set_num_threads(threads)
        times = []
        for _ in range(repeats):
            ours, seconds = timed(greedy_k_center, features, labeled, budget)
            times.append(seconds)
        ours_median[threads] = float(np.median(times))
        print(
            f"raysweep greedy_k_center, torch {threads} thread(s): median {ours_median[threads]:.3f} s, "
            f"best {min(times):.3f} s of {repeats} (load average {os.getloadavg()[0]:.1f})"
        )
    torch.set_num_threads(default_threads)
    ours = ours.numpy()
    wrong, gap = exact_check(features, labeled, ours)
    verdict = "every pick is the exact float64 argmax" if wrong is None else f"pick {wrong} is NOT exact"
    print(f"  float64 replay: {verdict}; closest call: runner-up within {gap:.1e} (relative)")
    x, mask = features.numpy(), labeled.numpy()

    def speedups(seconds: float) -> str:
        ratios = ", ".join(f"{seconds / t:.1f}x vs {k} thread(s)" for k, t in ours_median.items())
        return f"speed-up (our median) {ratios}"

    if not skip_numpy:
        ref, seconds = timed(numpy_k_center, x, mask, budget)
        print(f"numpy per-pick loop:     {seconds:8.2f} s  {speedups(seconds)}")
        print(f"  {compare(ours, ref, features, labeled)}")
    if not skip_sk:
        sk, seconds = timed(skactiveml_k_center, x, mask, budget)
        if sk is None:
            print("scikit-activeml: not installed (pip install -e '.[bench]')")
        else:
            print(f"scikit-activeml CoreSet: {seconds:8.2f} s  {speedups(seconds)}")
            print(f"  {compare(ours, sk, features, labeled)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["25000x512", "100000x544"], help="NxD workloads")
    parser.add_argument("--labeled", type=int, default=3000)
    parser.add_argument("--budget", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads",
        type=int,
        nargs="*",
        default=[torch.get_num_threads(), 1],
        help="torch thread counts to time ours with (default: torch's default, then 1; on shared, busy "
        "cores one thread can win because every parallel region waits for a descheduled thread)",
    )
    parser.add_argument("--skip-numpy", action="store_true")
    parser.add_argument("--skip-skactiveml", action="store_true")
    args = parser.parse_args()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs; "
        f"load average {os.getloadavg()[0]:.1f} (other work on the machine slows every column alike)"
    )
    for size in args.sizes:
        n, dim = (int(v) for v in size.lower().split("x"))
        run(
            n,
            dim,
            args.labeled,
            args.budget,
            args.repeats,
            args.threads,
            args.skip_numpy,
            args.skip_skactiveml,
        )


if __name__ == "__main__":
    main()
