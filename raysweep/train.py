"""Train and evaluate the task model for one round, and run it over pool points for selection.

Images stay uint8 until a batch is gathered on the trial's device (one ``index_select`` out of a
tensor that views the dataset's array, or lives on the GPU), then are normalised there: no
DataLoader workers, no per-item transforms, so an epoch costs what the forward and backward passes
cost.
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
from sklearn.metrics import roc_auc_score
from torch import nn

from raysweep.config import LLossHeuristicConfig, TrainingConfig
from raysweep.data.base import ALDataset, normalise_batch
from raysweep.heuristics.base import PoolInference
from raysweep.models.loss_module import LossPredictionModule, pair_margin_loss
from raysweep.models.resnet import ResNet18Task


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
        shape = (1, dataset.in_channels, 1, 1)
        self.mean = torch.tensor(dataset.channel_mean, device=device).view(shape)
        self.std = torch.tensor(dataset.channel_std, device=device).view(shape)

    def batch(self, images: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        x = normalise_batch(images.index_select(0, indices), self.mean, self.std)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x


def task_loss_per_sample(logits: torch.Tensor, labels: torch.Tensor, multi_label: bool) -> torch.Tensor:
    """(B,) losses: cross-entropy, or per-label BCE summed over labels for multi-label tasks."""
    if multi_label:
        return F.binary_cross_entropy_with_logits(logits.float(), labels, reduction="none").sum(dim=1)
    return F.cross_entropy(logits.float(), labels, reduction="none")


def shuffled_batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """A seeded permutation of range(n) cut into batches; a trailing batch of one joins the previous
    one, because BatchNorm cannot train on a single sample."""
    order = torch.randperm(n, generator=generator)
    batches = list(order.split(batch_size))
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2] = torch.cat([batches[-2], batches.pop()])
    return batches


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


@dataclass
class TrainResult:
    seconds: float
    final_train_loss: float
    """Mean task loss of the last epoch."""


def train_round(
    model: ResNet18Task,
    data: DeviceData,
    labeled_indices: torch.Tensor,
    training: TrainingConfig,
    epochs: int,
    generator: torch.Generator,
    loss_module: LossPredictionModule | None = None,
    lloss: LLossHeuristicConfig | None = None,
    loss_module_extra: torch.Tensor | None = None,
) -> TrainResult:
    """Train ``model`` (and the loss module, for learning loss) on the labeled pool points.

    ``labeled_indices``: (n_labeled,) int64 on the device. ``loss_module_extra``: (n_pool, k)
    alpha-scaled VAE features on the device, concatenated to the loss module's input.
    """
    start = time.perf_counter()
    parameters = list(model.parameters()) + (
        list(loss_module.parameters()) if loss_module is not None else []
    )
    optimizer = torch.optim.SGD(
        parameters, lr=training.lr, momentum=training.momentum, weight_decay=training.weight_decay
    )
    detach_epoch = None
    if loss_module is not None and lloss is not None:
        # Reference: the loss module stops steering the backbone after epoch 120 of 200.
        detach_epoch = lloss.detach_epoch if lloss.detach_epoch is not None else math.ceil(0.6 * epochs)
    model.train()
    if loss_module is not None:
        loss_module.train()
    epoch_loss = float("nan")
    for epoch in range(epochs):
        total, count = torch.zeros((), device=data.device), 0
        for batch in shuffled_batches(len(labeled_indices), training.batch_size, generator):
            indices = labeled_indices[batch.to(data.device)]
            x = data.batch(data.pool_images, indices)
            y = data.pool_labels.index_select(0, indices)
            with autocast(data.device, training.amp_bf16):
                out = model(x)
                per_sample = task_loss_per_sample(out.logits, y, data.dataset.multi_label)
                loss = per_sample.mean()
                if loss_module is not None:
                    stages = out.stages
                    if detach_epoch is not None and epoch >= detach_epoch:
                        stages = tuple(stage.detach() for stage in stages)
                    extra = (
                        loss_module_extra.index_select(0, indices) if loss_module_extra is not None else None
                    )
                    predicted = loss_module(stages, extra).float()
                    loss = loss + lloss.weight * pair_margin_loss(predicted, per_sample, lloss.margin)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += per_sample.detach().sum()
            count += len(indices)
        epoch_loss = float(total) / max(count, 1)
        if not math.isfinite(epoch_loss):
            raise FloatingPointError(
                f"training diverged at epoch {epoch}: loss {epoch_loss}; lower training.lr"
            )
    return TrainResult(seconds=time.perf_counter() - start, final_train_loss=epoch_loss)


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


def evaluate(
    model: ResNet18Task, data: DeviceData, batch_size: int, amp_bf16: bool = False
) -> dict[str, float]:
    """Accuracy and AUC on the eval split, with medmnist's definitions.

    Multi-class: argmax accuracy; AUC one-vs-rest averaged over classes (binary: AUC of class 1).
    Multi-label: accuracy of sigmoid > 0.5 averaged over labels and samples; AUC averaged over labels.
    AUC is left out when no class has both positives and negatives in the split.
    """
    indices = torch.arange(data.dataset.n_eval, device=data.device)
    logits = infer(model, data, data.eval_images, indices, batch_size, amp_bf16).logits
    labels = data.eval_labels
    if data.dataset.multi_label:
        accuracy = float(((logits > 0).float() == labels).float().mean())
        scores = torch.sigmoid(logits).cpu().numpy()
        truth = labels.cpu().numpy().astype(np.int64)
    else:
        accuracy = float((logits.argmax(dim=1) == labels).float().mean())
        scores = torch.softmax(logits, dim=1).cpu().numpy()
        truth = np.eye(logits.shape[1], dtype=np.int64)[labels.cpu().numpy()]
    metrics = {"accuracy": accuracy}
    auc = mean_auc(truth, scores, binary=not data.dataset.multi_label and logits.shape[1] == 2)
    if auc is not None:
        metrics["auc"] = auc
    return metrics


def mean_auc(truth: np.ndarray, scores: np.ndarray, binary: bool) -> float | None:
    """Mean ROC-AUC over the columns that have both classes present (medmnist's getAUC)."""
    columns = [1] if binary else range(truth.shape[1])
    aucs = [
        roc_auc_score(truth[:, column], scores[:, column])
        for column in columns
        if 0 < truth[:, column].sum() < len(truth)
    ]
    return float(np.mean(aucs)) if aucs else None


def copy_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of a module's state, to restart every round from the same initial weights."""
    return {name: tensor.detach().clone() for name, tensor in module.state_dict().items()}
