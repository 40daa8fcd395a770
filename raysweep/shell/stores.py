"""Shared stores of a sweep, as named Ray actors: one copy of each dataset, one VAE per dataset and encoder.

``DatasetStore`` loads each dataset once and puts its arrays in the object store as separate shards
(pool images, pool labels, eval images, eval labels). Trials receive the ObjectRefs and read the
arrays zero-copy, so N concurrent trials on a node share one copy instead of holding N.

``EmbeddingStore`` hands out the pool's embeddings per (dataset, VAE config, encoder config) for the
encoders trained once per pool (``vae``, ``gmvae``; ``cvae`` is retrained inside each trial). The
first request starts the training as a Ray task; concurrent and later requests get the same
ObjectRef. Finished embeddings are also written under the sweep's storage (``<storage>/vae_cache/
<name>-<cache key>.npz``, a local folder or a bucket prefix that every node reaches; the ``vae`` files
keep the name and key they always had), so a resumed
sweep, or a later one with the same dataset and configs, trains nothing. The store counts the
trainings it started, and each cache file keeps how many seconds its training took, so a sweep that
reads the cache can still say what its encoder cost (the analysis adds it to the runtime of the
heuristics that used it).
"""

from __future__ import annotations

import io
import math
import threading
import time
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np
import ray
from ray.util.placement_group import PlacementGroup, placement_group_table
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from raysweep import schema
from raysweep.config import DatasetConfig, EncoderConfig, VAEConfig
from raysweep.data import load_dataset
from raysweep.data.base import ALDataset
from raysweep.encoders import PoolEncoder, build_encoder
from raysweep.models.vae import dataset_fingerprint
from raysweep.storage import StoragePath

SHARDS = ("pool_images", "pool_labels", "eval_images", "eval_labels", "val_images", "val_labels")
"""The dataset's arrays, one object each (the val pair only where the dataset has one)."""


@dataclass(frozen=True)
class DatasetHandle:
    """A dataset in the object store: its metadata and one ObjectRef per array shard."""

    metadata: dict[str, Any]
    shards: dict[str, ray.ObjectRef]
    fingerprint: str
    n_pool: int

    def materialise(self) -> ALDataset:
        """The ALDataset over zero-copy (read-only) views of the shards."""
        names = [name for name in SHARDS if name in self.shards]
        arrays = dict(zip(names, ray.get([self.shards[name] for name in names]), strict=True))
        return ALDataset(**self.metadata, **arrays)


def dataset_key(config: DatasetConfig) -> str:
    """Trials whose dataset configs agree share one copy."""
    return config.model_dump_json()


@ray.remote(num_cpus=0)
class DatasetStore:
    def __init__(self) -> None:
        self._handles: dict[str, DatasetHandle] = {}

    def get(self, config: DatasetConfig) -> DatasetHandle:
        key = dataset_key(config)
        if key not in self._handles:
            dataset = load_dataset(config)
            shards = {
                name: ray.put(np.ascontiguousarray(getattr(dataset, name)))
                for name in SHARDS
                if getattr(dataset, name) is not None
            }
            metadata = {
                "name": dataset.name,
                "task": dataset.task,
                "num_outputs": dataset.num_outputs,
                "channel_mean": dataset.channel_mean,
                "channel_std": dataset.channel_std,
                "source": dataset.source,
            }
            self._handles[key] = DatasetHandle(metadata, shards, dataset_fingerprint(dataset), dataset.n_pool)
        return self._handles[key]

    def loaded(self) -> int:
        return len(self._handles)


@ray.remote
def train_encoder_task(
    handle: DatasetHandle, vae: VAEConfig, encoder: EncoderConfig, cache_file: StoragePath, device: str
) -> np.ndarray:
    """Train the pool encoder on the pool and write the embeddings (and the training's seconds) to
    ``cache_file`` atomically."""
    import torch

    dataset = handle.materialise()
    resolved = "cuda" if device != "cpu" and torch.cuda.is_available() else "cpu"
    started = time.perf_counter()
    embeddings = pool_encoder(vae, encoder).train(dataset, device=resolved)
    write_embeddings(cache_file, embeddings, time.perf_counter() - started)
    return embeddings


def pool_encoder(vae: VAEConfig, encoder: EncoderConfig) -> PoolEncoder:
    built = build_encoder(encoder, vae)
    if not isinstance(built, PoolEncoder):
        raise ValueError(
            f"encoder {encoder.name!r} is retrained inside each trial, not by the embedding store"
        )
    return built


def write_embeddings(path: StoragePath, embeddings: np.ndarray, train_seconds: float = math.nan) -> None:
    """The embeddings and their training's seconds as one npz, whole or not at all."""
    buffer = io.BytesIO()
    np.savez(buffer, embeddings=embeddings, train_seconds=np.float64(train_seconds))
    path.write_bytes(buffer.getvalue())


def read_cache_file(path: StoragePath) -> io.BytesIO | None:
    """The cache file's bytes, or None when it is not there (or cannot be read)."""
    try:
        return io.BytesIO(path.read_bytes())
    except OSError:  # FileNotFoundError included
        return None


def read_embeddings(path: StoragePath) -> np.ndarray | None:
    data = read_cache_file(path)
    if data is None:
        return None
    try:
        with np.load(data, allow_pickle=False) as archive:
            return np.asarray(archive["embeddings"], dtype=np.float32)
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        return None  # a damaged cache is retrained, not trusted


def read_training_seconds(path: StoragePath) -> float:
    """Seconds the VAE of a cache file took to train; NaN for files written before they were kept."""
    data = read_cache_file(path)
    if data is None:
        return math.nan
    try:
        with np.load(data, allow_pickle=False) as archive:
            return float(archive["train_seconds"]) if "train_seconds" in archive.files else math.nan
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        return math.nan


@ray.remote(num_cpus=0)
class EmbeddingStore:
    """Pool embeddings per (dataset, VAE config, encoder config), each trained once per sweep.

    ``reserved`` is a placement group the driver reserved with one trial's resources before Tune
    started: VAE tasks run in it, so they never wait for CPUs or GPUs held by the very trials that
    wait for their embeddings (a deadlock once every slot holds such a trial). The driver releases
    it once the sweep's VAEs are ready; a later retraining (after a crashed one) borrows the idle
    resources of the trial that waits for it instead (``num_cpus=0``).
    """

    def __init__(
        self, cache_dir: StoragePath, cpu: float, gpu: float, reserved: PlacementGroup | None = None
    ) -> None:
        self.cache_dir = cache_dir
        self.gpu = gpu
        self.reserved = reserved
        self._refs: dict[str, ray.ObjectRef] = {}
        self._used: dict[str, dict[str, Any]] = {}
        """cache key -> which VAE it is and whether this run trained it (see :meth:`trainings`)."""
        self._lock = threading.Lock()  # the actor is threaded: the release call waits beside get()
        self.trainings_started: dict[str, int] = {}
        """Per encoder name."""
        self.cache_hits = 0

    def task_options(self) -> dict[str, Any]:
        if self.reserved is not None and placement_group_table(self.reserved).get("state") == "CREATED":
            bundle = self.reserved.bundle_specs[0]
            return {
                "num_cpus": bundle.get("CPU", 0),
                "num_gpus": bundle.get("GPU", 0),
                "scheduling_strategy": PlacementGroupSchedulingStrategy(
                    self.reserved, placement_group_bundle_index=0
                ),
            }
        return {"num_cpus": 0, "num_gpus": self.gpu}

    def cache_file(self, handle: DatasetHandle, vae: VAEConfig, encoder: EncoderConfig) -> StoragePath:
        return self.cache_dir / pool_encoder(vae, encoder).cache_file_name(handle.fingerprint)

    def get(self, handle: DatasetHandle, vae: VAEConfig, encoder: EncoderConfig) -> list[ray.ObjectRef]:
        """The embeddings' ObjectRef, wrapped in a list so Ray passes the ref, not the array."""
        with self._lock:
            return [self._ref(handle, vae, encoder)]

    def _ref(self, handle: DatasetHandle, vae: VAEConfig, encoder: EncoderConfig) -> ray.ObjectRef:
        cache_file = self.cache_file(handle, vae, encoder)
        key = cache_file.name
        if key in self._refs and self._failed(self._refs[key]):
            del self._refs[key]  # a crashed training is retried by the next request, not handed out
        if key not in self._refs:
            cached = read_embeddings(cache_file)
            trained_here = cached is None or cached.shape != (handle.n_pool, vae.latent_dim)
            self._used[key] = {
                "dataset": handle.metadata["name"],
                "vae": vae.model_dump(mode="json"),
                "encoder": encoder.model_dump(mode="json"),
                "cache_key": key,
                "trained_this_run": trained_here,
            }
            if not trained_here:
                self.cache_hits += 1
                self._refs[key] = ray.put(cached)
            else:
                self.trainings_started[encoder.name] = self.trainings_started.get(encoder.name, 0) + 1
                device = "cuda" if self.gpu > 0 else "cpu"
                self._refs[key] = train_encoder_task.options(**self.task_options()).remote(
                    handle, vae, encoder, cache_file, device
                )
        return self._refs[key]

    @staticmethod
    def _failed(ref: ray.ObjectRef) -> bool:
        ready, _ = ray.wait([ref], timeout=0)
        if not ready:
            return False
        try:
            ray.get(ref)
        except Exception:
            return True
        return False

    def release_reservation_when_ready(self) -> None:
        """Give the reserved resources back to Tune once every VAE asked for so far is ready."""
        if self.reserved is None:
            return
        with self._lock:
            pending = list(self._refs.values())
        ray.wait(pending, num_returns=len(pending), fetch_local=False)
        with self._lock:
            ray.util.remove_placement_group(self.reserved)
            self.reserved = None

    def trainings(self) -> list[dict[str, Any]]:
        """One row per pool encoder this run handed out: dataset name, VAE and encoder configs, cache
        key (the cache file's name), whether this run
        trained it, and ``seconds``, the training's seconds (also for a cached VAE: the cache file
        keeps them; NaN while training or for an old cache file)."""
        with self._lock:
            used = [dict(row) for row in self._used.values()]
        for row in used:
            row["seconds"] = read_training_seconds(self.cache_dir / row["cache_key"])
        return used

    def counters(self) -> dict[str, int]:
        """Trainings and cache hits of this run. ``vae_trainings`` is the metric's first name, kept for
        readers of older sweeps; it counts every pool encoder (``vae``, ``gmvae``) like
        ``encoder_trainings``, and ``encoder_trainings.<name>`` splits it per encoder."""
        total = sum(self.trainings_started.values())
        return {
            schema.VAE_TRAININGS_METRIC: total,
            schema.VAE_CACHE_HITS_METRIC: self.cache_hits,
            schema.ENCODER_TRAININGS_METRIC: total,
            schema.ENCODER_CACHE_HITS_METRIC: self.cache_hits,
            **{
                f"{schema.ENCODER_TRAININGS_PREFIX}{name}": count
                for name, count in sorted(self.trainings_started.items())
            },
        }
