"""Algorithm 1 of the paper: one active-learning trajectory.

    labels <- random initial labels (from dataset, pool seed and seed only)
    repeat: train the task model from its initial weights on the labels; evaluate it;
            select the next batch with the heuristic; label it
    until the schedule's last label count has been trained and evaluated

:func:`run_trajectory` is that loop; the helpers below it are its steps. The loop is pure: no Ray,
no MLflow. The caller hands in where VAE embeddings come from (an embedding provider, asked once per
round that needs them: every round for loss prediction, whose training takes them, every round with
a selection for the heuristics that select on features), where per-round metrics go, a saved state
to resume from, and a hook that receives the state after every round so it can checkpoint.
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

from raysweep import schema
from raysweep.config import TrialConfig
from raysweep.data.base import ALDataset
from raysweep.heuristics import build_heuristic
from raysweep.heuristics.base import Heuristic, PoolInference, Selection, SelectionContext
from raysweep.heuristics.weighting import loss_module_vae_block, pick_overlap
from raysweep.labels import LabelState, derive_seed, indices_sha256, initial_label_indices
from raysweep.models.loss_module import LossPredictionModule
from raysweep.models.resnet import ResNet18Task, load_imagenet_state_dict
from raysweep.schedule import label_schedule
from raysweep.train import (
    DeviceData,
    TrainUntil,
    classifier_head,
    copy_state,
    evaluate,
    infer,
    resolve_device,
    split_accuracy,
    tensor_view,
    train_round,
    warn_if_bf16_is_ignored,
)

# cuBLAS needs this before CUDA starts to run deterministically; harmless on CPU.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


class EmbeddingProvider(Protocol):
    """Where a round's VAE features come from (``raysweep.encoders``: a fixed array for ``vae`` and
    ``gmvae``, a per-round retraining for ``cvae``)."""

    def __call__(self, round_index: int, labeled_indices: np.ndarray) -> np.ndarray:
        """The pool's embeddings for ``round_index``, (n_pool, latent) float32 in pool order, given the
        pool indices labeled when the round starts."""
        ...


class MetricsSink(Protocol):
    def log_round(self, round_index: int, n_labels: int, metrics: Mapping[str, float]) -> None:
        """Called once per round, after the round's training, evaluation and selection."""
        ...


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

    @classmethod
    def of(cls, state: TrajectoryState) -> TrajectoryResult:
        return cls(list(state.curve), list(state.labels.picks), indices_sha256(state.labels.picks[0]))


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


# ---------------------------------------------------------------------------------------------
# Algorithm 1
# ---------------------------------------------------------------------------------------------


def run_trajectory(
    config: TrialConfig,
    dataset: ALDataset,
    embeddings: EmbeddingProvider | None = None,
    sink: MetricsSink | None = None,
    resume_from: TrajectoryState | None = None,
    on_state: Callable[[TrajectoryState], None] | None = None,
) -> TrajectoryResult:
    """Run (or resume) one trajectory of Algorithm 1 and return its curve and picks."""
    counts = label_schedule(config.schedule, dataset.n_pool)
    state = resume_from if resume_from is not None else start_state(config, dataset)
    if state.labels.next_round >= len(counts):
        return TrajectoryResult.of(state)  # finished before a resume: nothing to build or train

    with deterministic_torch():
        round_ = RoundRunner(config, dataset, embeddings)
        for round_index in range(state.labels.next_round, len(counts)):
            budget = counts[round_index + 1] - counts[round_index] if round_index + 1 < len(counts) else 0
            vae, metrics = round_.embeddings(round_index, state.labels, selects=budget > 0)
            metrics = {**round_.train_and_evaluate(round_index, state.labels, vae), **metrics}
            picked = None
            if budget:
                selection, selection_metrics = round_.select(round_index, state.labels, vae, budget)
                picked = selection.indices.cpu().numpy()
                metrics.update(selection_metrics)
            state.labels.advance(picked)
            state.curve.append(RoundResult(round_index, counts[round_index], metrics))
            if sink is not None:
                sink.log_round(round_index, counts[round_index], metrics)
            if on_state is not None:
                on_state(state)
    return TrajectoryResult.of(state)


class RoundRunner:
    """The steps of one round on a trajectory's device: what :func:`run_trajectory` calls.

    Holds the task model (and loss module) with their initial weights, the dataset's arrays on the
    device and the heuristic; every round starts again from the initial weights.
    """

    def __init__(self, config: TrialConfig, dataset: ALDataset, provider: EmbeddingProvider | None) -> None:
        self.config = config
        self.dataset = dataset
        self.provider = provider
        self.device = resolve_device(config.device)
        warn_if_bf16_is_ignored(self.device, config.training.amp_bf16)
        self.heuristic = build_heuristic(config.heuristic)
        self.loss_training = self.heuristic.loss_module()
        # Loss prediction takes [c ⁀ alpha V(x)] in its module; the other heuristics concatenate
        # V(x) inside their selection.
        self.feeds_loss_module = config.uses_vae and self.loss_training is not None
        self.data = DeviceData(dataset, self.device, channels_last=config.training.channels_last)
        self.model, self.loss_module = build_models(
            config,
            dataset,
            self.device,
            self.heuristic,
            vae_dim=config.vae.latent_dim if self.feeds_loss_module else 0,
        )
        self.initial_weights = (
            copy_state(self.model),
            copy_state(self.loss_module) if self.loss_module is not None else None,
        )

    def embeddings(
        self, round_index: int, labels: LabelState, selects: bool
    ) -> tuple[torch.Tensor | None, dict[str, float]]:
        """This round's VAE features on the device (None when the round reads none) and the seconds
        it took to get them (``encoder_seconds``)."""
        if not (self.config.uses_vae and (selects or self.feeds_loss_module)):
            return None, {}
        # Asked every round: a fixed provider returns its one array, cvae retrains on these labels.
        started = time.perf_counter()
        vae = load_embeddings(self.provider, round_index, labels, self.config.vae.latent_dim, self.device)
        return vae, {schema.ENCODER_SECONDS: time.perf_counter() - started}

    def train_and_evaluate(
        self, round_index: int, labels: LabelState, vae: torch.Tensor | None
    ) -> dict[str, float]:
        """Train from the initial weights on the labels bought so far, then evaluate on the eval split."""
        config, training = self.config, self.config.training
        # Algorithm 1 retrains from the same initial weights each round instead of fine-tuning.
        self.model.load_state_dict(self.initial_weights[0])
        if self.loss_module is not None:
            self.loss_module.load_state_dict(self.initial_weights[1])
        self.loss_module_extra = (
            loss_module_vae_block(vae, config.alpha, config.alpha_scaling)
            if self.feeds_loss_module and vae is not None
            else None
        )
        labeled = torch.as_tensor(labels.labeled_indices, device=self.device)
        until = None
        if training.until_train_accuracy is not None:
            until = TrainUntil(training.until_train_accuracy, training.max_epochs)
        with seeded_global_rng(derive_seed("dropout", config.seed, round_index), self.device):
            trained = train_round(
                self.model,
                self.data,
                labeled,
                training,
                epochs=training.initial_epochs + round_index * training.epochs_per_round,
                generator=seeded_generator("train", config.seed, round_index),
                loss_module=self.loss_module,
                loss_training=self.loss_training,
                loss_module_extra=self.loss_module_extra,
                until=until,
            )
        metrics = evaluate(self.model, self.data, training.eval_batch_size, training.amp_bf16)
        metrics[schema.TRAIN_SECONDS] = trained.seconds
        metrics[schema.TRAIN_EPOCHS] = float(trained.epochs)
        # The paper trains "until >99% train accuracy": whether the round's training fit its labels.
        metrics[schema.TRAIN_ACCURACY] = split_accuracy(
            self.model,
            self.data,
            self.data.pool_images,
            self.data.pool_labels,
            labeled,
            training.eval_batch_size,
            training.amp_bf16,
        )
        return metrics

    def select(
        self, round_index: int, labels: LabelState, vae: torch.Tensor | None, budget: int
    ) -> tuple[Selection, dict[str, float]]:
        """The heuristic's ``budget`` picks on the trained model, with the selection's metrics."""
        inference = MemoisedInference(self._pool_inference)
        context = SelectionContext(
            labeled_mask=torch.as_tensor(labels.labeled_mask, device=self.device),
            infer=inference,
            generator=seeded_generator("select", self.config.seed, round_index),
            device=self.device,
            multi_label=self.dataset.multi_label,
            embeddings=vae,
            alpha=self.config.alpha if vae is not None else 0.0,
            alpha_scaling=self.config.alpha_scaling,
            head=classifier_head(self.model),
        )
        started = time.perf_counter()
        selection = self.heuristic.select(context, budget)
        selection.indices.cpu()  # the picks are on the host when the clock stops
        metrics = {
            schema.SELECTION_SECONDS: time.perf_counter() - started,
            schema.INFERENCE_SECONDS: inference.seconds,
            **selection.diagnostics,
        }
        if vae is not None and self.heuristic.model_independent_of_alpha:
            metrics.update(
                plain_overlap(self.heuristic, context, selection, budget, self.config.seed, round_index)
            )
        return selection, metrics

    def _pool_inference(self, indices: torch.Tensor) -> PoolInference:
        training = self.config.training
        return infer(
            self.model,
            self.data,
            self.data.pool_images,
            indices,
            training.eval_batch_size,
            training.amp_bf16,
            self.loss_module,
            self.loss_module_extra,
        )


def plain_overlap(
    heuristic: Heuristic,
    context: SelectionContext,
    selection: Selection,
    budget: int,
    seed: int,
    round_index: int,
) -> dict[str, float]:
    """What would alpha = 0 have picked on this same trained model? ``plain_overlap`` near its baseline
    says the alpha arm is not a different experiment. Same generator seed, same (memoised) pool
    inference: only alpha differs.

    A heuristic that draws at random picks other points under another seed even at alpha 0, so its
    overlap is read against ``plain_overlap_baseline``: the plain heuristic against itself under
    another selection seed, on the same model (1 for deterministic heuristics, not logged).
    ``diagnostics_seconds``: the extra selections' time."""
    started = time.perf_counter()
    plain_context = replace(context, embeddings=None, alpha=0.0)
    plain = heuristic.select(
        replace(plain_context, generator=seeded_generator("select", seed, round_index)), budget
    )
    metrics = {schema.PLAIN_OVERLAP: pick_overlap(selection.indices, plain.indices)}
    if heuristic.draws_at_random:
        again = heuristic.select(
            replace(plain_context, generator=seeded_generator("select-baseline", seed, round_index)), budget
        )
        metrics[schema.PLAIN_OVERLAP_BASELINE] = pick_overlap(again.indices, plain.indices)
    metrics[schema.DIAGNOSTICS_SECONDS] = time.perf_counter() - started
    return metrics


def build_models(
    config: TrialConfig, dataset: ALDataset, device: torch.device, heuristic: Heuristic, vae_dim: int
) -> tuple[ResNet18Task, LossPredictionModule | None]:
    """The task model (and the loss module the heuristic asks for) at their initial weights, a
    function of the seed alone. ``vae_dim``: width of the VAE block the loss module concatenates (0: none)."""
    imagenet = load_imagenet_state_dict(config.model.weights_path) if config.model.pretrained else None
    loss_training = heuristic.loss_module()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed("model-init", config.seed))
        model = ResNet18Task(
            dataset.in_channels, dataset.num_outputs, config.model.stem, imagenet, config.model.dropout
        )
        loss_module = None
        if loss_training is not None:
            torch.manual_seed(derive_seed("loss-module-init", config.seed))
            loss_module = LossPredictionModule(
                hidden_dim=loss_training.hidden_dim,
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
