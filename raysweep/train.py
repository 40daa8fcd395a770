"""Train and evaluate the task model for one round, and run it over pool points for selection.

Images stay uint8 until a batch is gathered on the trial's device (one ``index_select`` out of a
tensor that views the dataset's array, or lives on the GPU), then are normalised there: no
DataLoader workers, no per-item transforms, so an epoch costs what the forward and backward passes
cost. The training step itself is kept that cheap: a fused (or multi-tensor) SGD step, no host
synchronisation inside an epoch, and batch buffers allocated once per round instead of per batch.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from raysweep import schema
from raysweep.config import TrainingConfig
from raysweep.data.base import ALDataset, normalise_batch
from raysweep.heuristics.base import ClassifierHead, PoolInference
from raysweep.models.loss_module import LossModuleTraining, LossPredictionModule, pair_margin_loss
from raysweep.models.resnet import ResNet18Task

FUSED_SGD_DEVICES = frozenset({"cpu", "cuda"})
"""Device types with a fused SGD kernel in torch 2.14 (one kernel per step over all parameters)."""

BF16_AUTOCAST_DEVICES = frozenset({"cuda"})
"""Device types where ``training.amp_bf16`` turns bf16 autocast on. Not the CPU: there oneDNN's bf16
weight-gradient kernels (AVX512-BF16 and AMX, torch 2.14.1) now and then return NaN for a strided 3x3
convolution whose input is 1x1, which ResNet-18's deep stages see on small images (measured on 8x8
digits: 0-8 of 10 backward passes per process, differing between processes, so it also breaks
bit-identical reruns; it failed CI once). ATen's own bf16 convolution is correct but about 30x slower
than float32, so a CPU trial trains in float32 and says so (:func:`warn_if_bf16_is_ignored`)."""


class DeviceError(RuntimeError):
    """The configured device does not exist on this machine."""


def resolve_device(spec: str) -> torch.device:
    """``auto`` -> the first CUDA device when there is one, else CPU; ``cuda[:N]`` must exist."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(spec)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(
                f"device {spec!r} asked for, but this machine has no CUDA GPU; use device: auto or cpu"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(f"device {spec!r} asked for, but only {torch.cuda.device_count()} GPU(s) exist")
    return device


def tensor_view(array: np.ndarray) -> torch.Tensor:
    """A torch view of a (possibly read-only, e.g. Ray object store) numpy array, without a copy.

    We only ever read through it, so torch's warning about non-writable arrays does not apply.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(array)


class DeviceData:
    """A dataset's arrays as tensors on the trial's device, and normalised batches out of them.

    On CPU the tensors view the numpy arrays (zero-copy, so N trials on a node share one copy in
    Ray's object store); on a GPU the uint8 pool is copied there once per trajectory.
    """

    def __init__(self, dataset: ALDataset, device: torch.device, channels_last: bool = False) -> None:
        self.dataset = dataset
        self.device = device
        self.channels_last = channels_last
        self.pool_images = tensor_view(dataset.pool_images).to(device)
        self.eval_images = tensor_view(dataset.eval_images).to(device)
        labels_dtype = torch.float32 if dataset.multi_label else torch.int64
        self.pool_labels = tensor_view(dataset.pool_labels).to(device=device, dtype=labels_dtype)
        self.eval_labels = tensor_view(dataset.eval_labels).to(device=device, dtype=labels_dtype)
        self.val_images, self.val_labels = None, None
        if dataset.val_images is not None:
            self.val_images = tensor_view(dataset.val_images).to(device)
            self.val_labels = tensor_view(dataset.val_labels).to(device=device, dtype=labels_dtype)
        shape = (1, dataset.in_channels, 1, 1)
        self.mean = torch.tensor(dataset.channel_mean, device=device).view(shape)
        self.std = torch.tensor(dataset.channel_std, device=device).view(shape)

    def batch(self, images: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        x = normalise_batch(images.index_select(0, indices), self.mean, self.std)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x


class BatchBuffers:
    """Gather-and-normalise into buffers allocated once per round (the largest batch), not per batch.

    Gives the same values as :meth:`DeviceData.batch` (the same operations, done in place). A batch is
    a view of the buffer, valid until the next call: the step that reads it ends before that.
    """

    def __init__(self, data: DeviceData, images: torch.Tensor, max_batch: int) -> None:
        self.data, self.images = data, images
        shape = (max_batch, *images.shape[1:])
        self.raw = torch.empty(shape, dtype=torch.uint8, device=data.device)
        self.normalised = torch.empty(shape, dtype=torch.float32, device=data.device)
        if data.channels_last:
            self.normalised = self.normalised.contiguous(memory_format=torch.channels_last)

    def batch(self, indices: torch.Tensor) -> torch.Tensor:
        n = len(indices)
        raw, x = self.raw[:n], self.normalised[:n]
        torch.index_select(self.images, 0, indices, out=raw)
        x.copy_(raw)
        return x.div_(255.0).sub_(self.data.mean).div_(self.data.std)


def task_loss_per_sample(logits: torch.Tensor, labels: torch.Tensor, multi_label: bool) -> torch.Tensor:
    """(B,) losses whose batch mean is the training loss.

    Multi-class: cross-entropy. Multi-label: the per-label BCE averaged over labels, so the batch mean
    is ``BCEWithLogitsLoss()`` (the mean over batch and labels, medmnist's reference training) and a
    sample's loss, the loss-prediction module's target, is on the scale the task model trains on.
    """
    if multi_label:
        return F.binary_cross_entropy_with_logits(logits.float(), labels, reduction="none").mean(dim=1)
    return F.cross_entropy(logits.float(), labels, reduction="none")


def split_batches(order: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    """``order`` cut into batches (views); a trailing batch of one joins the previous one, because
    BatchNorm cannot train on a single sample."""
    batches = list(order.split(batch_size))
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2] = order[len(order) - len(batches[-2]) - 1 :]
        batches.pop()
    return batches


def warn_if_bf16_is_ignored(device: torch.device, amp_bf16: bool) -> None:
    """Say so where ``amp_bf16`` is asked for on a device where :func:`autocast` leaves it off."""
    if amp_bf16 and device.type not in BF16_AUTOCAST_DEVICES:
        warnings.warn(
            f"training.amp_bf16 applies on CUDA only; this trial runs on {device.type} in float32 "
            "(oneDNN's bf16 convolution gradients are unreliable on CPUs)",
            stacklevel=2,
        )


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast where ``enabled`` and the device supports it reliably, else nothing."""
    if not enabled or device.type not in BF16_AUTOCAST_DEVICES:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def make_optimizer(
    parameters: list[nn.Parameter], training: TrainingConfig, device: torch.device
) -> torch.optim.SGD:
    """SGD with the paper's settings; torch's fused kernel where the device has one (one pass over all
    parameters per step, not several per tensor), else the multi-tensor (foreach) implementation."""
    fused = device.type in FUSED_SGD_DEVICES
    return torch.optim.SGD(
        parameters,
        lr=training.lr,
        momentum=training.momentum,
        weight_decay=training.weight_decay,
        fused=True if fused else None,
        foreach=None if fused else True,
    )


@torch.no_grad()
def recalibrate_batchnorm(
    model: nn.Module, buffers: BatchBuffers, indices: torch.Tensor, batch_size: int, amp_bf16: bool = False
) -> None:
    """Recompute every BatchNorm layer's running statistics from the trained weights (precise BN).

    The running averages (momentum 0.1) trail the weights by about ten steps; after a few dozen
    steps they describe an earlier network and eval-mode predictions collapse. One forward pass in
    train mode over the labeled points, in training-size batches in pool order, with momentum None
    (an equal-weight average over the batches) replaces them. No parameter changes.
    """
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None
    model.train()
    for batch in split_batches(torch.sort(indices).values, batch_size):
        with autocast(buffers.data.device, amp_bf16):
            model(buffers.batch(batch))
    for layer, momentum in zip(layers, momenta, strict=True):
        layer.momentum = momentum


@dataclass
class TrainResult:
    seconds: float
    final_train_loss: float
    """Mean task loss of the last epoch."""
    epochs: int
    """Epochs trained (more than asked for when training until a train accuracy)."""


@dataclass(frozen=True)
class TrainUntil:
    """Keep training past the round's epochs until the labeled set's accuracy reaches ``accuracy``,
    for at most ``max_epochs`` epochs in all (the paper's "until >99% train accuracy")."""

    accuracy: float
    max_epochs: int


def train_round(
    model: ResNet18Task,
    data: DeviceData,
    labeled_indices: torch.Tensor,
    training: TrainingConfig,
    epochs: int,
    generator: torch.Generator,
    loss_module: LossPredictionModule | None = None,
    loss_training: LossModuleTraining | None = None,
    loss_module_extra: torch.Tensor | None = None,
    until: TrainUntil | None = None,
) -> TrainResult:
    """Train ``model`` (and the loss module, for learning loss, as ``loss_training`` says) on the
    labeled pool points for ``epochs`` epochs; with ``until``, then epoch by epoch until the labeled
    set's accuracy (eval mode, BatchNorm recalibrated first where the config asks) reaches its target.

    ``labeled_indices``: (n_labeled,) int64 on the device. ``loss_module_extra``: (n_pool, k)
    alpha-scaled VAE features on the device, concatenated to the loss module's input.
    """
    start = time.perf_counter()
    parameters = list(model.parameters()) + (
        list(loss_module.parameters()) if loss_module is not None else []
    )
    optimizer = make_optimizer(parameters, training, data.device)
    detach_epoch = None
    if loss_module is not None and loss_training is not None:
        # Reference: the loss module stops steering the backbone after epoch 120 of 200.
        detach_epoch = (
            loss_training.detach_epoch if loss_training.detach_epoch is not None else math.ceil(0.6 * epochs)
        )
    buffers = BatchBuffers(data, data.pool_images, min(training.batch_size + 1, len(labeled_indices)))
    model.train()
    if loss_module is not None:
        loss_module.train()
    epoch_loss = float("nan")
    epoch = -1
    while True:
        epoch += 1
        if epoch >= epochs and not keep_training(
            model, data, buffers, labeled_indices, training, until, epoch
        ):
            break
        # Per epoch, not per batch: the order's one host-to-device copy, the labeled indices and
        # labels in that order (batches are views of them), and a loss sum read back once at the end.
        order = labeled_indices[torch.randperm(len(labeled_indices), generator=generator).to(data.device)]
        labels_in_order = data.pool_labels.index_select(0, order)
        extra_in_order = loss_module_extra.index_select(0, order) if loss_module_extra is not None else None
        total = torch.zeros((), device=data.device)
        position = 0
        for indices in split_batches(order, training.batch_size):
            x = buffers.batch(indices)
            batch_rows = slice(position, position + len(indices))
            position += len(indices)
            y = labels_in_order[batch_rows]
            with autocast(data.device, training.amp_bf16):
                out = model(x)
                per_sample = task_loss_per_sample(out.logits, y, data.dataset.multi_label)
                loss = per_sample.mean()
                if loss_module is not None:
                    stages = out.stages
                    if detach_epoch is not None and epoch >= detach_epoch:
                        stages = tuple(stage.detach() for stage in stages)
                    extra = extra_in_order[batch_rows] if extra_in_order is not None else None
                    predicted = loss_module(stages, extra).float()
                    loss = loss + loss_training.weight * pair_margin_loss(
                        predicted, per_sample, loss_training.margin
                    )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += per_sample.detach().sum()
        epoch_loss = float(total) / max(len(order), 1)
        if not math.isfinite(epoch_loss):
            raise FloatingPointError(
                f"training diverged at epoch {epoch}: loss {epoch_loss}; lower training.lr"
            )
    if training.recalibrate_batchnorm:
        recalibrate_batchnorm(model, buffers, labeled_indices, training.batch_size, training.amp_bf16)
    return TrainResult(seconds=time.perf_counter() - start, final_train_loss=epoch_loss, epochs=epoch)


def keep_training(
    model: ResNet18Task,
    data: DeviceData,
    buffers: BatchBuffers,
    labeled_indices: torch.Tensor,
    training: TrainingConfig,
    until: TrainUntil | None,
    epochs_done: int,
) -> bool:
    """After the round's own epochs: whether another epoch is due to reach ``until``'s accuracy."""
    if until is None or epochs_done >= until.max_epochs:
        return False
    if training.recalibrate_batchnorm:
        # Eval-mode accuracy with stale running statistics would understate the fit.
        recalibrate_batchnorm(model, buffers, labeled_indices, training.batch_size, training.amp_bf16)
    reached = split_accuracy(
        model,
        data,
        data.pool_images,
        data.pool_labels,
        labeled_indices,
        training.eval_batch_size,
        training.amp_bf16,
    )
    model.train()
    return reached < until.accuracy


def batched_indices(n: int, batch_size: int, device: torch.device) -> Iterator[torch.Tensor]:
    for start in range(0, n, batch_size):
        yield torch.arange(start, min(start + batch_size, n), device=device)


@torch.inference_mode()
def infer(
    model: ResNet18Task,
    data: DeviceData,
    images: torch.Tensor,
    indices: torch.Tensor,
    batch_size: int,
    amp_bf16: bool = False,
    loss_module: LossPredictionModule | None = None,
    loss_module_extra: torch.Tensor | None = None,
) -> PoolInference:
    """Logits, features and (with a loss module) predicted losses for ``images[indices]``."""
    model.eval()
    if loss_module is not None:
        loss_module.eval()
    logits, features, predicted, head_inputs = [], [], [], []
    keep_head_input = loss_module is not None and loss_module.extra_dim > 0
    for chunk in indices.split(batch_size):
        with autocast(data.device, amp_bf16):
            out = model(data.batch(images, chunk))
            logits.append(out.logits.float())
            features.append(out.features.float())
            if loss_module is not None:
                extra = loss_module_extra.index_select(0, chunk) if loss_module_extra is not None else None
                head_input = loss_module.head_input(out.stages, extra)
                predicted.append(loss_module.head(head_input).squeeze(1).float())
                if keep_head_input:
                    head_inputs.append(head_input.float())
    return PoolInference(
        logits=torch.cat(logits),
        features=torch.cat(features),
        predicted_loss=torch.cat(predicted) if loss_module is not None else None,
        loss_head_input=torch.cat(head_inputs) if keep_head_input else None,
    )


def classifier_head(model: ResNet18Task) -> ClassifierHead:
    """The trained model's last layer and the dropout rate in front of it, detached copies (MC passes)."""
    fc = model.backbone.fc
    return ClassifierHead(
        weight=fc.weight.detach().float().clone(),
        bias=fc.bias.detach().float().clone(),
        dropout=model.dropout_rate,
    )


def evaluate(
    model: ResNet18Task, data: DeviceData, batch_size: int, amp_bf16: bool = False
) -> dict[str, float]:
    """The round's evaluation: ``accuracy``/``auc`` on the eval split (test), ``val_accuracy``/``val_auc``
    on the validation split when the dataset has one, and ``eval_seconds`` for both."""
    start = time.perf_counter()
    everything = torch.arange(data.dataset.n_eval, device=data.device)
    metrics = split_metrics(model, data, data.eval_images, data.eval_labels, everything, batch_size, amp_bf16)
    if data.val_images is not None:
        everything = torch.arange(data.dataset.n_val, device=data.device)
        val = split_metrics(model, data, data.val_images, data.val_labels, everything, batch_size, amp_bf16)
        metrics.update({f"{schema.VALIDATION_PREFIX}{name}": value for name, value in val.items()})
    metrics[schema.EVAL_SECONDS] = time.perf_counter() - start
    return metrics


def split_metrics(
    model: ResNet18Task,
    data: DeviceData,
    images: torch.Tensor,
    labels: torch.Tensor,
    indices: torch.Tensor,
    batch_size: int,
    amp_bf16: bool = False,
) -> dict[str, float]:
    """Accuracy and AUC of ``images[indices]`` against ``labels[indices]``, with medmnist's definitions.

    Multi-class: argmax accuracy; AUC one-vs-rest averaged over classes (binary: AUC of class 1).
    Multi-label: accuracy of sigmoid > 0.5 averaged over labels and samples; AUC averaged over labels.
    AUC is left out when no class has both positives and negatives in the split.
    """
    logits = infer(model, data, images, indices, batch_size, amp_bf16).logits
    labels = labels.index_select(0, indices)
    multi_label = data.dataset.multi_label
    metrics = {schema.ACCURACY: accuracy_of(logits, labels, multi_label)}
    if multi_label:
        scores, truth = torch.sigmoid(logits), labels > 0.5
    else:
        scores, truth = torch.softmax(logits, dim=1), F.one_hot(labels, logits.shape[1]).bool()
    auc = mean_auc(truth, scores, binary=not multi_label and logits.shape[1] == 2)
    if auc is not None:
        metrics[schema.AUC] = auc
    return metrics


def split_accuracy(
    model: ResNet18Task,
    data: DeviceData,
    images: torch.Tensor,
    labels: torch.Tensor,
    indices: torch.Tensor,
    batch_size: int,
    amp_bf16: bool = False,
) -> float:
    """The accuracy of :func:`split_metrics` without its AUC (the training criterion, checked often)."""
    logits = infer(model, data, images, indices, batch_size, amp_bf16).logits
    return accuracy_of(logits, labels.index_select(0, indices), data.dataset.multi_label)


def accuracy_of(logits: torch.Tensor, labels: torch.Tensor, multi_label: bool) -> float:
    """Multi-class: argmax accuracy; multi-label: sigmoid > 0.5 averaged over labels and samples."""
    if multi_label:
        return float(((logits > 0).float() == labels).float().mean())
    return float((logits.argmax(dim=1) == labels).float().mean())


def binary_auc(truth: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """ROC-AUC of one column as the Mann-Whitney statistic: (n,) bool truth, (n,) scores -> scalar.

    The probability that a positive scores above a negative, ties counting one half; equal to the
    trapezoidal area under the ROC curve that scikit-learn's ``roc_auc_score`` computes. Average
    ranks (ties share the mean of their ranks) in float64, so sums stay exact.
    """
    _, inverse, counts = torch.unique(scores.double(), sorted=True, return_inverse=True, return_counts=True)
    last_rank = torch.cumsum(counts, 0).double()  # 1-based rank of each distinct value's last copy
    average_rank = last_rank - (counts.double() - 1) / 2
    positives = truth.sum().double()
    negatives = len(truth) - positives
    rank_sum = average_rank[inverse][truth].sum()
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def mean_auc(truth: torch.Tensor, scores: torch.Tensor, binary: bool) -> float | None:
    """Mean ROC-AUC over the columns that have both classes present (medmnist's getAUC).

    ``truth``: (n, columns) bool; ``scores``: (n, columns) float. Binary tasks use column 1 only.
    """
    columns = [1] if binary else range(truth.shape[1])
    positives = truth.sum(dim=0).tolist()  # one read-back for all columns
    aucs = [binary_auc(truth[:, c], scores[:, c]) for c in columns if 0 < positives[c] < len(truth)]
    return float(torch.stack(aucs).mean()) if aucs else None


def copy_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of a module's state, to restart every round from the same initial weights."""
    return {name: tensor.detach().clone() for name, tensor in module.state_dict().items()}
