"""Memory of 1 vs 4 concurrent trial-like readers of MNIST: the shared DatasetStore against a copy each.

    .venv/bin/python benchmarks/store_memory.py                    # real MNIST from ../shared/data
    .venv/bin/python benchmarks/store_memory.py --readers 1 4 8 --dataset digits

On a fresh local Ray instance, two ways of giving N concurrent readers (Ray actors, like Tune trials)
the dataset of a sweep:

* store: ``raysweep.shell.stores.DatasetStore`` loads it once and puts its four arrays in the object store;
  every reader calls ``DatasetHandle.materialise()`` (what ``run_trial`` does) and holds the ALDataset.
* copy (baseline): every reader calls ``load_dataset`` itself and holds its own ALDataset.

Each reader then touches every page of every array (sums them), so what it maps is resident. Before
and after, it reads its own ``/proc/self/status`` (VmRSS, RssAnon, RssShmem) and
``/proc/self/smaps_rollup`` (Pss, Private_Clean + Private_Dirty = USS). The numbers per reader are
deltas: what holding the dataset costs on top of an idle worker with the same modules imported.
Object-store bytes come from the drop in ``ray.available_resources()['object_store_memory']``.

What "one copy per node" looks like: with the store, a reader's private (USS / RssAnon) delta stays
near zero for any N and its mapped pages are shared memory (RssShmem; Pss falls as 1/N); the node
holds the dataset once, in the object store. With a copy each, every reader's private delta is the
whole dataset, so the node holds N copies. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import gc
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import ray

from raysweep.config import DatasetConfig
from raysweep.data import load_dataset
from raysweep.shell.stores import SHARDS, DatasetStore

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data"
MiB = 2**20


def memory_kib() -> dict[str, int]:
    """This process's VmRSS/RssAnon/RssFile/RssShmem (status) and Pss/USS (smaps_rollup), in KiB."""
    values: dict[str, int] = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                values[key] = int(rest.split()[0])
    with open("/proc/self/smaps_rollup") as rollup:
        for line in rollup:
            key, _, rest = line.partition(":")
            if key in ("Pss", "Private_Clean", "Private_Dirty", "Shared_Clean", "Shared_Dirty"):
                values[key] = int(rest.split()[0])
    values["USS"] = values.pop("Private_Clean") + values.pop("Private_Dirty")
    values["Shared"] = values.pop("Shared_Clean") + values.pop("Shared_Dirty")
    return values


@ray.remote(num_cpus=0)
class Reader:
    """A stand-in for a trial: gets the dataset, holds it, reads every byte of it."""

    def __init__(self) -> None:
        import torchvision.datasets  # noqa: F401

        # Import what either path imports (the loaders, the handle's module), so the deltas below
        # are the dataset's memory, not the modules'.
        import raysweep.data.mnist
        import raysweep.shell.stores  # noqa: F401

        self.dataset = None

    def pid(self) -> int:
        return os.getpid()

    def baseline(self, warm: list[ray.ObjectRef]) -> dict[str, int]:
        # One read from the object store first, so the plasma client's own setup is not billed to
        # the dataset.
        ray.get(warm[0]).sum()
        gc.collect()
        return memory_kib()

    def hold(self, mode: str, source: Any) -> dict[str, Any]:
        if mode == "store":
            self.dataset = source.materialise()
        else:
            self.dataset = load_dataset(source)
        arrays = [getattr(self.dataset, name) for name in SHARDS]
        checksum = sum(int(a.sum(dtype=np.int64)) for a in arrays)  # touches every page
        gc.collect()
        return {
            "memory": memory_kib(),
            "checksum": checksum,
            "bytes": sum(a.nbytes for a in arrays),
            "read_only": not arrays[0].flags.writeable,
        }


def object_store_used(capacity: float) -> float:
    """Bytes in use, from the object_store_memory resource; the raylet reports it asynchronously."""
    readings = []
    for _ in range(10):
        readings.append(capacity - ray.available_resources().get("object_store_memory", capacity))
        if len(readings) >= 3 and readings[-1] == readings[-2] == readings[-3]:
            break
        time.sleep(0.3)
    return readings[-1]


def pid_memory_kib(pid: int) -> dict[str, int]:
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                values[key] = int(rest.split()[0])
    return values


def actor_pid(name: str) -> int | None:
    for info in ray._private.state.state.actor_table(None).values():
        if info.get("Name") == name and info.get("State") == "ALIVE":
            return int(info["Pid"])
    return None


def run_case(mode: str, n_readers: int, config: DatasetConfig, capacity: float, tag: str) -> dict[str, Any]:
    readers = [Reader.remote() for _ in range(n_readers)]
    warm = [ray.put(np.ones(2 * MiB, dtype=np.uint8))]  # above the inline limit: lives in plasma
    before = ray.get([r.baseline.remote(warm) for r in readers])
    used_before = object_store_used(capacity)
    store, store_name, source = None, f"bench_store_{tag}", config
    if mode == "store":
        store = DatasetStore.options(name=store_name).remote()
        source = ray.get(store.get.remote(config))
    # Concurrently, as trials start.
    results = ray.get([r.hold.remote(mode, source) for r in readers])
    used_after = object_store_used(capacity)
    store_rss = pid_memory_kib(actor_pid(store_name)) if store is not None else None
    for reader in readers:
        ray.kill(reader)
    if store is not None:
        ray.kill(store)
    del source
    deltas = [
        {key: result["memory"][key] - start[key] for key in result["memory"]}
        for start, result in zip(before, results, strict=True)
    ]
    return {
        "mode": mode,
        "readers": n_readers,
        "deltas": deltas,
        "bytes": results[0]["bytes"],
        "read_only": results[0]["read_only"],
        "checksums": {r["checksum"] for r in results},
        "object_store": used_after - used_before,
        "store_actor": store_rss,
        "idle_reader": before[0],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="folder holding MNIST/raw")
    parser.add_argument("--dataset", default="mnist", help="dataset registry name (default mnist)")
    parser.add_argument("--readers", type=int, nargs="+", default=[1, 4], help="reader counts (default 1 4)")
    parser.add_argument("--object-store-mib", type=int, default=512, help="object store size (default 512)")
    args = parser.parse_args(argv)

    config = DatasetConfig(name=args.dataset, root=args.root.expanduser().resolve())
    local = load_dataset(config)
    dataset_mib = sum(getattr(local, name).nbytes for name in SHARDS) / MiB
    print(
        f"{config.name}: pool {local.pool_images.shape}, eval {local.eval_images.shape}, four arrays "
        f"{dataset_mib:.1f} MiB, from {local.source}"
    )
    del local

    capacity = float(args.object_store_mib * MiB)
    started = time.perf_counter()
    ray.init(
        num_cpus=2,
        object_store_memory=args.object_store_mib * MiB,
        include_dashboard=False,
        log_to_driver=False,
    )
    print(f"ray.init: {time.perf_counter() - started:.1f} s; object store {args.object_store_mib} MiB")
    try:
        cases = [
            run_case(mode, n, config, capacity, f"{mode}{n}")
            for n in args.readers
            for mode in ("store", "copy")
        ]
    finally:
        ray.shutdown()

    def mib(kib: float) -> str:
        return f"{kib / 1024:7.1f}"

    print("\nper-reader deltas after holding the dataset and reading every byte (MiB; mean over readers):")
    print(
        f"  {'mode':<6} {'N':>2}  {'USS':>7} {'RssAnon':>7} {'RssShmem':>8} {'Pss':>7} {'VmRSS':>7}  "
        f"{'object store':>12}  {'store actor RSS':>15}  node total = N*USS + store"
    )
    summary: dict[tuple[str, int], float] = {}
    actor_rows: list[dict[str, int]] = []
    for case in cases:
        mean = {key: np.mean([d[key] for d in case["deltas"]]) for key in case["deltas"][0]}
        store_mib = case["object_store"] / MiB
        node_total = case["readers"] * mean["USS"] / 1024 + store_mib
        summary[case["mode"], case["readers"]] = mean["USS"] / 1024
        actor = f"{case['store_actor']['VmRSS'] / 1024:.0f} MiB" if case["store_actor"] else "-"
        print(
            f"  {case['mode']:<6} {case['readers']:>2}  {mib(mean['USS'])} {mib(mean['RssAnon'])} "
            f"{mib(mean['RssShmem']):>8} {mib(mean['Pss'])} {mib(mean['VmRSS'])}  {store_mib:9.1f} MiB  "
            f"{actor:>15}  {node_total:6.1f} MiB = {node_total / dataset_mib:.2f} copies"
        )
        if case["store_actor"]:
            actor_rows.append(case["store_actor"])
        if len(case["checksums"]) != 1:
            print(f"    warning: readers saw different data: {case['checksums']}")
    print(
        f"  (dataset: {dataset_mib:.1f} MiB; store readers get read-only views: "
        f"{all(c['read_only'] for c in cases if c['mode'] == 'store')})"
    )
    for row in actor_rows[:1]:
        print(
            "  DatasetStore actor (whole process, not a delta): "
            + ", ".join(f"{key} {value / 1024:.0f} MiB" for key, value in row.items())
        )
        idle = cases[0]["idle_reader"]
        print(
            "  an idle reader with the same imports, for comparison: "
            + ", ".join(f"{key} {idle[key] / 1024:.0f} MiB" for key in ("VmRSS", "RssAnon", "RssFile"))
        )
    print("per-reader private memory (USS delta), copy / store:")
    for n in args.readers:
        copy, store = summary["copy", n], summary["store", n]
        ratio = f"{copy / store:.0f}x" if store > 0.05 else "store's is ~0"
        print(f"  N={n}: copy {copy:.1f} MiB, store {store:.2f} MiB  ({ratio})")


if __name__ == "__main__":
    main()
