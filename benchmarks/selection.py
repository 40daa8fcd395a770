"""Selection speed and memory: raysweep's heuristics against straightforward and library baselines.

    .venv/bin/python benchmarks/selection.py                   # every part below
    .venv/bin/python benchmarks/selection.py --parts kcenter --sizes 25000x512 --skip-skactiveml
    .venv/bin/python benchmarks/selection.py --parts badge bald --threads 1

Parts (``--parts``; ratios are always measured in the same run):

``kcenter`` (issue 3): ``greedy_k_center`` on a 25,000 x 512 pool (MNIST-sized, ResNet-18 features) and a
100,000 x 544 pool (512 task + 32 VAE features), 3,000 labeled points, budget 3,000. The features are
synthetic but shaped like penultimate ResNet features: ten classes, each a low-rank cloud around its own
mean, plus isotropic noise, through a ReLU (non-negative, clustered). All implementations get the same
float32 matrix and must return the same picks. Baselines:

* numpy: the straightforward algorithm, a running minimum distance updated by one full pass over the
  pool per pick (||x||^2 - 2 x.c + ||c||^2, float32); the initial minimum over the labeled set is
  computed in row chunks.
* scikit-activeml's ``CoreSet`` (optional ``bench`` extra), when it is installed.

``badge`` (issue 13): BADGE's selection (``BadgeHeuristic.select``: gradient factors, k-means++ on the
implicit gradient embedding) on 25,000 points with C = 10 classes and d = 512 features (5,120-d
embeddings), 3,000 labeled, budget 3,000; and on 20,000 x C = 100 x d = 768 (scikit-activeml issue
#589's shape: 76,800-d embeddings, 12 GB as a float64 matrix). Same synthetic features, logits from a
random linear map of them. Each implementation runs in a child process that measures its own peak extra
memory (VmHWM after the run minus VmRSS before it, the high-water mark reset through
/proc/self/clear_refs). Baselines, on the same probabilities and features:

* numpy: the straightforward k-means++ on the materialised float64 gradient-embedding matrix (one
  pass over the n x C*d matrix per pick, draws with ``Generator.choice``);
* scikit-activeml's ``Badge`` (it materialises the same float64 matrix, plus a budget x n float64
  utilities array).

Both cost the same per pick at every step, so by default they run two short budgets
(``--baseline-budgets``) and their time at the full budget is the straight line through those two runs
(printed as extrapolated); ``--baseline-budgets 3000`` runs them in full.

``bald`` (issue 13): BALD with T = 20 MC-dropout passes on 25,000 28x28 images (real MNIST from
``--root`` when there, else random images of that shape): the whole selection (one backbone pass over
the pool, then the T passes through the classifier) against one plain inference pass over the same
images, interleaved, medians of ``--repeats``. The target: at most T + 1 plain passes' time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from raysweep.heuristics.coreset import greedy_k_center

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data"


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


# ------------------------------------------------------------------------------------------------
# BADGE
# ------------------------------------------------------------------------------------------------


def badge_inputs(
    n: int, classes: int, dim: int, n_labeled: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(n, classes) logits, (n, dim) float32 features and the (n,) labeled mask, fixed by the seed."""
    features, labeled = make_features(n, dim, n_labeled, classes=min(classes, 10))
    gen = torch.Generator().manual_seed(1)
    centred = features - features.mean(0)
    # A random linear read-out, scaled so predictions range from unsure to confident (as a trained
    # model's do): logits with a standard deviation of about 3.
    weight = torch.randn(dim, classes, generator=gen)
    logits = centred @ weight
    logits *= 3.0 / logits.std()
    return logits, features, labeled


def vm_status() -> dict[str, int]:
    """VmRSS and VmHWM of this process, in bytes."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return {key: int(fields[key].split()[0]) * 1024 for key in ("VmRSS", "VmHWM")}


class FixedProbabilities:
    """A scikit-activeml classifier that returns given probabilities (BADGE's input, precomputed)."""

    @staticmethod
    def make(probabilities: np.ndarray):
        from skactiveml.base import SkactivemlClassifier

        class Fixed(SkactivemlClassifier):
            def fit(self, X, y, sample_weight=None):
                return self

            def predict_proba(self, X):
                if len(X) != len(probabilities):
                    raise ValueError("asked for other rows than the unlabeled pool")
                return probabilities

        return Fixed(classes=np.arange(probabilities.shape[1]))


def numpy_badge(probabilities: np.ndarray, features: np.ndarray, budget: int, seed: int) -> np.ndarray:
    """Straightforward BADGE: k-means++ on the materialised float64 n x C*d gradient embedding."""
    n, classes = probabilities.shape
    factor = probabilities - np.eye(classes)[probabilities.argmax(1)]
    g = (factor[:, :, None] * features[:, None, :]).reshape(n, -1)
    sq = np.einsum("ij,ij->i", g, g)
    rng = np.random.default_rng(seed)
    picks = [int(np.argmax(sq))]
    d2 = np.maximum(sq + sq[picks[0]] - 2 * (g @ g[picks[0]]), 0)
    for _ in range(1, budget):
        pick = int(rng.choice(n, p=d2 / d2.sum()))
        picks.append(pick)
        np.minimum(d2, np.maximum(sq + sq[pick] - 2 * (g @ g[pick]), 0), out=d2)
    return np.asarray(picks)


def badge_child(impl: str, n: int, classes: int, dim: int, n_labeled: int, budget: int, threads: int) -> None:
    """Run one implementation on the standard inputs; print seconds, peak extra memory, first picks."""
    torch.set_num_threads(threads)
    logits, features, labeled = badge_inputs(n, classes, dim, n_labeled)
    unlabeled = torch.nonzero(~labeled).squeeze(1)
    if impl == "raysweep":
        from raysweep.heuristics import PoolInference, SelectionContext, build_heuristic
        from raysweep.heuristics.badge import BadgeHeuristicConfig

        context = SelectionContext(
            labeled_mask=labeled,
            infer=lambda indices: PoolInference(logits=logits[indices], features=features[indices]),
            generator=torch.Generator().manual_seed(0),
            device=torch.device("cpu"),
        )
        heuristic = build_heuristic(BadgeHeuristicConfig())
        run = lambda: heuristic.select(context, budget).indices.numpy()  # noqa: E731
    else:
        probabilities = torch.softmax(logits[unlabeled].double(), 1).numpy()
        x = features[unlabeled].double().numpy()
        del logits, features
        if impl == "numpy":
            run = lambda: unlabeled.numpy()[numpy_badge(probabilities, x, budget, seed=0)]  # noqa: E731
        else:
            from skactiveml.pool import Badge

            y = np.full(len(x), np.nan)
            clf = FixedProbabilities.make(probabilities)
            run = lambda: unlabeled.numpy()[  # noqa: E731
                np.asarray(Badge(random_state=0).query(x, y, clf, fit_clf=False, batch_size=budget))
            ]
    before = vm_status()["VmRSS"]
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    start = time.perf_counter()
    picks = run()
    seconds = time.perf_counter() - start
    extra = vm_status()["VmHWM"] - before
    print(json.dumps({"seconds": seconds, "extra_bytes": extra, "first": [int(v) for v in picks[:3]]}))


def run_badge_child(
    impl: str, shape: tuple[int, int, int], n_labeled: int, budget: int, threads: int
) -> dict:
    n, classes, dim = shape
    env = dict(
        os.environ,
        OMP_NUM_THREADS=str(threads),
        OPENBLAS_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads),
    )
    command = [
        sys.executable,
        __file__,
        "--badge-child",
        impl,
        f"{n}x{classes}x{dim}",
        str(n_labeled),
        str(budget),
        str(threads),
    ]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
        return {"error": " | ".join(tail)}
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_badge(
    shapes: list[tuple[int, int, int]],
    n_labeled: int,
    budget: int,
    baseline_budgets: list[int],
    threads: int,
    skip_sk: bool,
) -> None:
    for n, classes, dim in shapes:
        matrix_gb = (n - n_labeled) * classes * dim * 8 / 1e9
        print(
            f"\n== BADGE: {n:,} points, C = {classes}, d = {dim} (gradient embedding {classes * dim:,}-d; "
            f"{matrix_gb:.1f} GB as a float64 matrix), {n_labeled:,} labeled, budget {budget:,}, "
            f"{threads} thread(s), load average {os.getloadavg()[0]:.1f} =="
        )
        ours = run_badge_child("raysweep", (n, classes, dim), n_labeled, budget, threads)
        if "error" in ours:
            print(f"raysweep badge: failed: {ours['error']}")
            continue
        print(
            f"raysweep badge:          {ours['seconds']:8.2f} s   peak extra memory {ours['extra_bytes'] / 2**20:7.0f} MiB"
            f"   first picks {ours['first']}"
        )
        impls = ["numpy"] + ([] if skip_sk else ["skactiveml"])
        if matrix_gb > 4:
            print(f"  baselines skipped: their float64 matrix alone would take {matrix_gb:.1f} GB")
            continue
        for impl in impls:
            runs = [
                (b, run_badge_child(impl, (n, classes, dim), n_labeled, b, threads)) for b in baseline_budgets
            ]
            failed = [r["error"] for _, r in runs if "error" in r]
            if failed:
                print(f"{impl}: failed or not installed: {failed[0]}")
                continue
            if len(runs) == 1 or runs[0][0] == runs[-1][0]:
                ((b, r),) = runs[-1:]
                full = r["seconds"] * budget / b if b != budget else r["seconds"]
                how = "measured" if b == budget else f"scaled from budget {b}"
            else:
                (b1, r1), (b2, r2) = runs[0], runs[-1]
                per_pick = (r2["seconds"] - r1["seconds"]) / (b2 - b1)
                full = r1["seconds"] + per_pick * (budget - b1)
                how = (
                    f"extrapolated from budgets {b1} ({r1['seconds']:.1f} s) and {b2} ({r2['seconds']:.1f} s)"
                )
            peak = max(r["extra_bytes"] for _, r in runs)
            same_first = (
                "same first pick" if runs[-1][1]["first"][0] == ours["first"][0] else "DIFFERENT first pick"
            )
            print(
                f"{impl + ':':24s} {full:8.2f} s   peak extra memory {peak / 2**20:7.0f} MiB (at budget "
                f"{runs[-1][0]})   speed-up {full / ours['seconds']:.1f}x; {same_first}\n  ({how})"
            )
            if impl == "skactiveml" and runs[-1][0] < budget:
                grow = budget * n * 8 / 2**20
                print(
                    f"  scikit-activeml also allocates budget x n float64 utilities: {grow:.0f} MiB at budget {budget:,}"
                )


# ------------------------------------------------------------------------------------------------
# BALD
# ------------------------------------------------------------------------------------------------


def run_bald(n_images: int, passes: int, budget: int, repeats: int, root: Path, threads: int) -> None:
    from raysweep.config import DatasetConfig
    from raysweep.data import load_dataset
    from raysweep.data.base import ALDataset
    from raysweep.heuristics import PoolInference, SelectionContext, build_heuristic
    from raysweep.heuristics.bald import BaldHeuristicConfig
    from raysweep.models.resnet import ResNet18Task
    from raysweep.train import DeviceData, classifier_head, infer

    torch.set_num_threads(threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if (root / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file():
        dataset = load_dataset(DatasetConfig(name="mnist", root=root, pool_size=n_images, eval_size=256))
        source = f"real MNIST from {root}"
    else:
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, (n_images, 1, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n_images).astype(np.int64)
        dataset = ALDataset(
            name="random28",
            pool_images=images,
            pool_labels=labels,
            eval_images=images[:256],
            eval_labels=labels[:256],
            task="multi-class",
            num_outputs=10,
            channel_mean=(0.5,),
            channel_std=(0.25,),
        )
        source = "random 28x28 images (no MNIST under --root)"
    print(
        f"\n== BALD: T = {passes} MC-dropout passes on {dataset.n_pool:,} images ({source}), budget {budget:,}, "
        f"{device}, {threads} thread(s), load average {os.getloadavg()[0]:.1f} =="
    )
    torch.manual_seed(0)
    model = ResNet18Task(1, 10, dropout=0.5).to(device).eval()
    data = DeviceData(dataset, device)
    pool = torch.arange(dataset.n_pool, device=device)
    heuristic = build_heuristic(BaldHeuristicConfig(mc_passes=passes))

    def plain_pass() -> torch.Tensor:
        return infer(model, data, data.pool_images, pool, 1024).features

    def context(inference) -> SelectionContext:
        return SelectionContext(
            labeled_mask=torch.zeros(dataset.n_pool, dtype=torch.bool, device=device),
            infer=inference,
            generator=torch.Generator().manual_seed(0),
            device=device,
            head=classifier_head(model),
        )

    def synced(fn):
        start = time.perf_counter()
        out = fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return out, time.perf_counter() - start

    plain_times, bald_times, mc_times = [], [], []
    for _ in range(repeats):  # interleaved: load on the machine hits each alike
        features, seconds = synced(plain_pass)
        plain_times.append(seconds)
        _, seconds = synced(
            lambda: heuristic.select(
                context(lambda idx: infer(model, data, data.pool_images, idx, 1024)), budget
            )
        )
        bald_times.append(seconds)
        # The MC passes alone: BALD's scoring on features already computed (no backbone pass).
        known = PoolInference(logits=torch.empty(len(features), 0, device=device), features=features)
        _, seconds = synced(lambda known=known: heuristic.score(context(lambda idx: known), pool))
        mc_times.append(seconds)
    plain, bald, mc = (float(np.median(t)) for t in (plain_times, bald_times, mc_times))
    print(f"plain inference pass:     {plain:8.2f} s (median of {repeats})")
    print(
        f"BALD selection (T = {passes}):  {bald:8.2f} s = {bald / plain:.2f} plain passes (target <= T + 1 = {passes + 1})"
    )
    print(
        f"  of which the {passes} MC passes over the classifier: {mc:.2f} s = {mc / plain:.3f} plain passes"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--badge-child":
        impl, shape, n_labeled, budget, threads = sys.argv[2:7]
        n, classes, dim = (int(v) for v in shape.split("x"))
        badge_child(impl, n, classes, dim, int(n_labeled), int(budget), int(threads))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--parts", nargs="+", choices=["kcenter", "badge", "bald"], default=["kcenter", "badge", "bald"]
    )
    parser.add_argument(
        "--sizes", nargs="+", default=["25000x512", "100000x544"], help="k-center NxD workloads"
    )
    parser.add_argument("--labeled", type=int, default=3000)
    parser.add_argument("--budget", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads",
        type=int,
        nargs="*",
        default=[torch.get_num_threads(), 1],
        help="torch thread counts to time ours with (default: torch's default, then 1; on shared, busy "
        "cores one thread can win because every parallel region waits for a descheduled thread); "
        "badge and bald use the first",
    )
    parser.add_argument("--skip-numpy", action="store_true")
    parser.add_argument("--skip-skactiveml", action="store_true")
    parser.add_argument(
        "--badge-shapes", nargs="+", default=["25000x10x512", "20000x100x768"], help="BADGE NxCxD workloads"
    )
    parser.add_argument(
        "--baseline-budgets",
        type=int,
        nargs="+",
        default=[100, 300],
        help="budgets the BADGE baselines run (two: a straight-line extrapolation to --budget)",
    )
    parser.add_argument("--bald-images", type=int, default=25000)
    parser.add_argument("--bald-passes", type=int, default=20)
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="folder holding MNIST/raw")
    args = parser.parse_args()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs; "
        f"load average {os.getloadavg()[0]:.1f} (other work on the machine slows every column alike)"
    )
    threads = args.threads[0] if args.threads else torch.get_num_threads()
    if "kcenter" in args.parts:
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
    if "badge" in args.parts:
        shapes = [tuple(int(v) for v in shape.lower().split("x")) for shape in args.badge_shapes]
        run_badge(shapes, args.labeled, args.budget, args.baseline_budgets, threads, args.skip_skactiveml)
    if "bald" in args.parts:
        run_bald(
            args.bald_images, args.bald_passes, args.budget, args.repeats, args.root.expanduser(), threads
        )


if __name__ == "__main__":
    main()
