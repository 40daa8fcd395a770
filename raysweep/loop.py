"""Algorithm 1 of the paper: one active-learning trajectory.

    labels <- random initial labels (from dataset, pool seed and seed only)
    repeat: train the task model from its initial weights on the labels; evaluate it;
            select the next batch with the heuristic; label it
    until the schedule's last label count has been trained and evaluated

The loop is pure: no Ray, no MLflow. The caller hands in where VAE embeddings come from (an
embedding provider, asked once per round that needs them: every round for loss prediction, whose
training takes them, every round with a selection for core-set and MedAL), where per-round metrics
go, a saved state to resume from, and a hook that receives the state after every round so it can
checkpoint.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import torch

from raysweep.config import BaldHeuristicConfig, LLossHeuristicConfig, ScheduleConfig, TrialConfig
from raysweep.data.base import ALDataset
from raysweep.heuristics import build_heuristic
from raysweep.heuristics.base import PoolInference, SelectionContext
from raysweep.heuristics.weighting import loss_module_vae_block, pick_overlap
from raysweep.labels import LabelState, derive_seed, indices_sha256, initial_label_indices
from raysweep.models.loss_module import LossPredictionModule
from raysweep.models.resnet import ResNet18Task, load_imagenet_state_dict
from raysweep.train import (
    DeviceData,
    classifier_head,
    copy_state,
    evaluate,
    infer,
    resolve_device,
    tensor_view,
    train_round,
)

# cuBLAS needs this before CUDA starts to run deterministically; harmless on CPU.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


class EmbeddingProvider(Protocol):
    """Where a round's VAE features come from (``raysweep.encoders``: a fixed array for ``vae`` and
    ``gmvae``, a per-round retraining for ``cvae``)."""

    def __call__(self, round_index: int, labeled_indices: np.ndarray) -> np.ndarray:
        """The pool's embeddings for ``round_index``, (n_pool, latent) float32 in pool order, given the
        pool indices labeled when the round starts."""


class MetricsSink(Protocol):
    def log_round(self, round_index: int, n_labels: int, metrics: Mapping[str, float]) -> None:
        """Called once per round, after the round's training, evaluation and selection."""


class ScheduleError(ValueError):
    """The AL schedule does not fit the pool."""


def label_schedule(schedule: ScheduleConfig, n_pool: int) -> list[int]:
    """Number of labels the task model is trained on in each round."""
    cap = schedule.max_labels if schedule.max_labels is not None else n_pool
    if schedule.initial_labels > n_pool:
        raise ScheduleError(
            f"schedule.initial_labels={schedule.initial_labels} exceeds the pool of {n_pool} points"
        )
    if cap > n_pool:
        raise ScheduleError(f"schedule.max_labels={cap} exceeds the pool of {n_pool} points")
    if schedule.rounds is not None and schedule.max_labels is None:
        needed = schedule.initial_labels + schedule.rounds * schedule.labels_per_round
        if needed > n_pool:
            raise ScheduleError(
                f"{schedule.rounds} rounds of {schedule.labels_per_round} labels after {schedule.initial_labels} "
                f"initial ones need {needed} points, but the pool holds {n_pool}"
            )
    counts = [schedule.initial_labels]
    while counts[-1] < cap and (schedule.rounds is None or len(counts) - 1 < schedule.rounds):
        counts.append(min(counts[-1] + schedule.labels_per_round, cap))
    return counts


@dataclass
class RoundResult:
    round_index: int
    n_labels: int
    metrics: dict[str, float]


@dataclass
class TrajectoryState:
    """What a caller checkpoints after each round: the labels and the curve so far."""

    labels: LabelState
    curve: list[RoundResult] = field(default_factory=list)

    def state_dict(self) -> dict[str, Any]:
        return {
            "labels": self.labels.state_dict(),
            "curve": [(r.round_index, r.n_labels, dict(r.metrics)) for r in self.curve],
        }

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> TrajectoryState:
        return cls(
            labels=LabelState.from_state_dict(state["labels"]),
            curve=[RoundResult(int(i), int(n), dict(m)) for i, n, m in state["curve"]],
        )


@dataclass
class TrajectoryResult:
    curve: list[RoundResult]
    picks: list[np.ndarray]
    """picks[0]: initial labels; picks[r]: points bought in selection round r."""
    initial_labels_sha256: str


def start_state(config: TrialConfig, dataset: ALDataset) -> TrajectoryState:
    initial = initial_label_indices(
        dataset.name, dataset.n_pool, config.dataset.pool_seed, config.seed, config.schedule.initial_labels
    )
    return TrajectoryState(labels=LabelState.start(dataset.n_pool, initial))


@contextlib.contextmanager
def deterministic_torch() -> Iterator[None]:
    """Deterministic kernels for the trajectory, restoring the caller's settings afterwards.

    warn_only: a few CUDA backward kernels (adaptive average pooling) have no deterministic
    variant; they warn instead of stopping the run. CPU runs are bit-for-bit reproducible.
    """
    previous = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    previous_cudnn = (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = False, True
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = previous_cudnn


def seeded_generator(*parts: int | str) -> torch.Generator:
    return torch.Generator().manual_seed(derive_seed(*parts))


@contextlib.contextmanager
def seeded_global_rng(seed: int, device: torch.device) -> Iterator[None]:
    """torch's global generators (CPU and ``device``) seeded for a block, restored afterwards.

    Dropout layers draw from them, not from a generator we pass: seeding them per round makes a
    model with dropout (BALD's) train the same on a rerun or a resume, whatever ran in the process
    before. Models without a random layer draw nothing, so for them this changes no bit.
    """
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else [], device_type="cuda"):
        torch.manual_seed(seed)
        yield


def build_models(
    config: TrialConfig, dataset: ALDataset, device: torch.device, vae_dim: int
) -> tuple[ResNet18Task, LossPredictionModule | None]:
    """``vae_dim``: width of the VAE block the loss module concatenates (0: none)."""
    """The task model (and loss module) at their initial weights, a function of the seed alone."""
    imagenet = load_imagenet_state_dict(config.model.weights_path) if config.model.pretrained else None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed("model-init", config.seed))
        # Only BALD's model gets a dropout layer (MC dropout); every other model stays as it was.
        dropout = config.heuristic.dropout if isinstance(config.heuristic, BaldHeuristicConfig) else 0.0
        model = ResNet18Task(dataset.in_channels, dataset.num_outputs, config.model.stem, imagenet, dropout)
        loss_module = None
        if isinstance(config.heuristic, LLossHeuristicConfig):
            torch.manual_seed(derive_seed("loss-module-init", config.seed))
            loss_module = LossPredictionModule(
                hidden_dim=config.heuristic.hidden_dim,
                extra_dim=vae_dim,
                balance_extra=config.alpha_scaling == "balanced",
            )
    model.to(device)
    if config.training.channels_last:
        model.to(memory_format=torch.channels_last)
    if loss_module is not None:
        loss_module.to(device)
    return model, loss_module


class MemoisedInference:
    """Pool inference that remembers its last answer: a second selection on the same trained model
    (the alpha = 0 reference for ``plain_overlap``) does not run the pool through the network again."""

    def __init__(self, infer: Callable[[torch.Tensor], PoolInference]) -> None:
        self._infer = infer
        self._last: tuple[torch.Tensor, PoolInference] | None = None
        self.seconds = 0.0
        """Time spent running the network (the part of selection_seconds that is pool inference)."""

    def __call__(self, indices: torch.Tensor) -> PoolInference:
        if self._last is not None and torch.equal(self._last[0], indices):
            return self._last[1]
        started = time.perf_counter()
        result = self._infer(indices)
        self.seconds += time.perf_counter() - started
        self._last = (indices.clone(), result)
        return result


def load_embeddings(
    provider: EmbeddingProvider | None,
    round_index: int,
    labels: LabelState,
    latent_dim: int,
    device: torch.device,
) -> torch.Tensor:
    """The provider's embeddings for this round as a (n_pool, latent_dim) float32 tensor on ``device``."""
    if provider is None:
        raise ValueError("this trial uses VAE features (alpha > 0) but no embedding provider was given")
    embeddings = np.asarray(provider(round_index, labels.labeled_indices))
    if embeddings.shape != (labels.n_pool, latent_dim) or not np.isfinite(embeddings).all():
        raise ValueError(
            f"VAE embeddings must be finite (n_pool={labels.n_pool}, vae.latent_dim={latent_dim}), "
            f"got {embeddings.shape}"
        )
    return tensor_view(embeddings).to(device=device, dtype=torch.float32)


def run_trajectory(
    config: TrialConfig,
    dataset: ALDataset,
    embeddings: EmbeddingProvider | None = None,
    sink: MetricsSink | None = None,
    resume_from: TrajectoryState | None = None,
    on_state: Callable[[TrajectoryState], None] | None = None,
) -> TrajectoryResult:
    """Run (or resume) one trajectory of Algorithm 1 and return its curve and picks."""
    device = resolve_device(config.device)
    counts = label_schedule(config.schedule, dataset.n_pool)
    heuristic = build_heuristic(config.heuristic)
    state = resume_from if resume_from is not None else start_state(config, dataset)
    training = config.training

    with deterministic_torch():
        data = DeviceData(dataset, device, channels_last=training.channels_last)
        # Loss prediction takes [c ⁀ alpha V(x)]; core-set and MedAL concatenate inside the heuristic.
        feeds_loss_module = config.uses_vae and heuristic.trains_loss_module
        model, loss_module = build_models(
            config, dataset, device, vae_dim=config.vae.latent_dim if feeds_loss_module else 0
        )
        initial_weights = copy_state(model), copy_state(loss_module) if loss_module is not None else None

        for round_index in range(state.labels.next_round, len(counts)):
            # Algorithm 1 retrains from the same initial weights each round instead of fine-tuning.
            model.load_state_dict(initial_weights[0])
            if loss_module is not None:
                loss_module.load_state_dict(initial_weights[1])
            labeled = torch.as_tensor(state.labels.labeled_indices, device=device)
            selects = round_index + 1 < len(counts)
            vae, loss_module_extra, encoder_seconds = None, None, None
            if config.uses_vae and (selects or feeds_loss_module):
                # Asked every round: a fixed provider returns its one array, cvae retrains on these labels.
                started = time.perf_counter()
                vae = load_embeddings(embeddings, round_index, state.labels, config.vae.latent_dim, device)
                encoder_seconds = time.perf_counter() - started
                if feeds_loss_module:
                    loss_module_extra = loss_module_vae_block(vae, config.alpha, config.alpha_scaling)
            with seeded_global_rng(derive_seed("dropout", config.seed, round_index), device):
                trained = train_round(
                    model,
                    data,
                    labeled,
                    training,
                    epochs=training.initial_epochs + round_index * training.epochs_per_round,
                    generator=seeded_generator("train", config.seed, round_index),
                    loss_module=loss_module,
                    lloss=config.heuristic if isinstance(config.heuristic, LLossHeuristicConfig) else None,
                    loss_module_extra=loss_module_extra,
                )
            metrics = evaluate(model, data, training.eval_batch_size, training.amp_bf16)
            metrics["train_seconds"] = trained.seconds
            if encoder_seconds is not None:
                metrics["encoder_seconds"] = encoder_seconds

            if selects:
                pool_inference = MemoisedInference(
                    # Bound as a default: the closure reads this round's features (ruff B023).
                    lambda indices, extra=loss_module_extra: infer(
                        model,
                        data,
                        data.pool_images,
                        indices,
                        training.eval_batch_size,
                        training.amp_bf16,
                        loss_module,
                        extra,
                    )
                )
                context = SelectionContext(
                    labeled_mask=torch.as_tensor(state.labels.labeled_mask, device=device),
                    infer=pool_inference,
                    generator=seeded_generator("select", config.seed, round_index),
                    device=device,
                    multi_label=dataset.multi_label,
                    embeddings=vae,
                    alpha=config.alpha if vae is not None else 0.0,
                    alpha_scaling=config.alpha_scaling,
                    head=classifier_head(model),
                )
                budget = counts[round_index + 1] - counts[round_index]
                started = time.perf_counter()
                selection = heuristic.select(context, budget)
                picked = selection.indices.cpu().numpy()
                metrics["selection_seconds"] = time.perf_counter() - started
                metrics["inference_seconds"] = pool_inference.seconds
                metrics.update(selection.diagnostics)
                if vae is not None and heuristic.model_independent_of_alpha:
                    # What would alpha = 0 have picked on this same trained model? An overlap near 1
                    # says this alpha arm is not a different experiment. Same generator seed, same
                    # (memoised) pool inference: only alpha differs.
                    started = time.perf_counter()
                    plain = heuristic.select(
                        replace(
                            context,
                            embeddings=None,
                            alpha=0.0,
                            generator=seeded_generator("select", config.seed, round_index),
                        ),
                        budget,
                    )
                    metrics["plain_overlap"] = pick_overlap(selection.indices, plain.indices)
                    metrics["diagnostics_seconds"] = time.perf_counter() - started
                state.labels.add(picked)

            state.labels.next_round = round_index + 1
            state.curve.append(RoundResult(round_index, counts[round_index], metrics))
            if sink is not None:
                sink.log_round(round_index, counts[round_index], metrics)
            if on_state is not None:
                on_state(state)

    return TrajectoryResult(
        curve=list(state.curve),
        picks=list(state.labels.picks),
        initial_labels_sha256=indices_sha256(state.labels.picks[0]),
    )
