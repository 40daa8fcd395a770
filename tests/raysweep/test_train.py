"""The training round: multi-label loss at medmnist's scale, the cheap CPU path, BatchNorm
recalibration, determinism, and the rank-based AUC against scikit-learn's."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from helpers.datafiles import medmnist_arrays, write_npz
from torch import nn

from raysweep.config import DatasetConfig, TrainingConfig
from raysweep.data import load_dataset
from raysweep.loop import deterministic_torch
from raysweep.models.resnet import ResNet18Task
from raysweep.train import (
    BatchBuffers,
    DeviceData,
    binary_auc,
    make_optimizer,
    mean_auc,
    recalibrate_batchnorm,
    split_batches,
    task_loss_per_sample,
    train_round,
)

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def multilabel_data(tmp_path_factory: pytest.TempPathFactory) -> DeviceData:
    """A tiny ChestMNIST-shaped npz (14 binary labels per image), loaded through the npz source."""
    path = tmp_path_factory.mktemp("npz") / "multilabel.npz"
    write_npz(path, medmnist_arrays((28, 28), 14, 2, {"train": 24, "val": 4, "test": 8}, seed=3))
    dataset = load_dataset(DatasetConfig(name=f"npz:{path}"))
    assert dataset.multi_label and dataset.num_outputs == 14
    return DeviceData(dataset, CPU)


@pytest.fixture(scope="module")
def digits_data() -> DeviceData:
    return DeviceData(load_dataset(DatasetConfig(name="digits", pool_size=200, eval_size=100)), CPU)


def fresh_model(data: DeviceData, seed: int = 0) -> ResNet18Task:
    torch.manual_seed(seed)
    return ResNet18Task(data.dataset.in_channels, data.dataset.num_outputs)


def test_multilabel_loss_is_bce_with_logits_mean(multilabel_data: DeviceData) -> None:
    """One round of one full batch: the loss train_round reports is BCEWithLogitsLoss() on that batch,
    and its SGD step is the step BCEWithLogitsLoss() takes (a sum over 14 labels would be 14x larger)."""
    data = multilabel_data
    labeled = torch.arange(data.dataset.n_pool)
    training = TrainingConfig(lr=0.1, momentum=0.0, batch_size=64)
    model = fresh_model(data)
    reference = copy.deepcopy(model)
    with deterministic_torch():
        result = train_round(
            model, data, labeled, training, epochs=1, generator=torch.Generator().manual_seed(0)
        )

        reference.train()
        x, y = data.batch(data.pool_images, labeled), data.pool_labels[labeled]
        loss = nn.BCEWithLogitsLoss()(reference(x).logits, y)
        loss.backward()
        with torch.no_grad():
            for parameter in reference.parameters():
                parameter -= 0.1 * parameter.grad

    assert result.final_train_loss == pytest.approx(loss.item(), rel=1e-5)
    for (name, trained), expected in zip(model.named_parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(trained, expected, rtol=1e-4, atol=1e-6, msg=name)


def test_per_sample_losses_average_to_the_batch_loss() -> None:
    """The loss module's targets: per-sample losses whose mean is the training loss, in both task types."""
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 14, generator=generator)
    labels = (torch.rand(6, 14, generator=generator) > 0.5).float()
    per_sample = task_loss_per_sample(logits, labels, multi_label=True)
    assert per_sample.shape == (6,)
    torch.testing.assert_close(per_sample.mean(), nn.BCEWithLogitsLoss()(logits, labels))
    torch.testing.assert_close(per_sample[2], nn.BCEWithLogitsLoss()(logits[2], labels[2]))
    classes = torch.tensor([0, 3, 1, 1, 9, 2])
    torch.testing.assert_close(
        task_loss_per_sample(logits[:, :10], classes, multi_label=False).mean(),
        nn.CrossEntropyLoss()(logits[:, :10], classes),
    )


def test_train_round_reruns_are_bit_identical(digits_data: DeviceData) -> None:
    training = TrainingConfig(lr=0.01, batch_size=32, recalibrate_batchnorm=True)
    labeled = torch.arange(0, 200, 3)  # 67 points: batches of 32, 32 and a trailing 3
    states = []
    for _ in range(2):
        model = fresh_model(digits_data)
        with deterministic_torch():
            train_round(
                model, digits_data, labeled, training, epochs=2, generator=torch.Generator().manual_seed(5)
            )
        states.append(model.state_dict())
    for name, tensor in states[0].items():
        assert torch.equal(tensor, states[1][name]), name
    assert not torch.equal(
        states[0]["backbone.fc.weight"], fresh_model(digits_data).state_dict()["backbone.fc.weight"]
    )


def test_sgd_uses_the_fused_kernel_on_cpu() -> None:
    model = nn.Linear(3, 2)
    optimizer = make_optimizer(list(model.parameters()), TrainingConfig(), CPU)
    assert optimizer.defaults["fused"] is True and not optimizer.defaults["foreach"]
    assert optimizer.defaults["lr"] == 1e-3 and optimizer.defaults["momentum"] == 0.9


@pytest.mark.parametrize("channels_last", [False, True])
def test_batch_buffers_give_the_same_batches(digits_data: DeviceData, channels_last: bool) -> None:
    data = DeviceData(digits_data.dataset, CPU, channels_last=channels_last)
    buffers = BatchBuffers(data, data.pool_images, max_batch=33)
    for indices in (torch.tensor([5, 0, 199, 7]), torch.arange(40, 73)):
        expected = data.batch(data.pool_images, indices)
        got = buffers.batch(indices)
        assert torch.equal(got, expected)
        assert got.stride() == expected.stride()  # the memory layout the model is set up for


def test_split_batches_never_leaves_a_single_sample() -> None:
    order = torch.arange(65)
    assert [len(b) for b in split_batches(order, 32)] == [32, 33]
    assert [len(b) for b in split_batches(torch.arange(66), 32)] == [32, 32, 2]
    assert torch.equal(torch.cat(split_batches(order, 32)), order)
    assert [len(b) for b in split_batches(torch.arange(1), 32)] == [1]


def test_recalibrated_batchnorm_holds_the_labeled_set_statistics(digits_data: DeviceData) -> None:
    """After recalibration, the stem's BatchNorm holds the mean and variance of its input over the
    labeled points (one batch here), momentum is back to 0.1, and no weight moved."""
    data = digits_data
    model = fresh_model(data)
    weights = {k: v.clone() for k, v in model.named_parameters()}
    labeled = torch.tensor([3, 1, 4, 15, 9, 26, 5, 35])
    buffers = BatchBuffers(data, data.pool_images, max_batch=16)
    recalibrate_batchnorm(model, buffers, labeled, batch_size=16)

    stem = model.backbone
    with torch.no_grad():
        x = data.batch(data.pool_images, torch.sort(labeled).values).expand(-1, 3, -1, -1)
        conv = stem.conv1(x)
    torch.testing.assert_close(stem.bn1.running_mean, conv.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(stem.bn1.running_var, conv.var(dim=(0, 2, 3), unbiased=True))
    assert all(m.momentum == 0.1 for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    for name, parameter in model.named_parameters():
        assert torch.equal(parameter, weights[name]), name


def test_recalibration_makes_a_briefly_trained_model_usable(digits_data: DeviceData) -> None:
    """Twelve steps leave BatchNorm's running averages behind the weights; recomputing them is what
    turns the same weights from near chance into a working classifier (eval split of digits)."""
    from raysweep.train import evaluate

    labeled = torch.arange(100)
    accuracies = {}
    for recalibrate in (False, True):
        training = TrainingConfig(lr=0.01, batch_size=64, recalibrate_batchnorm=recalibrate)
        model = fresh_model(digits_data, seed=1)
        with deterministic_torch():
            train_round(
                model, digits_data, labeled, training, epochs=6, generator=torch.Generator().manual_seed(1)
            )
            accuracies[recalibrate] = evaluate(model, digits_data, 1024)["accuracy"]
    assert accuracies[True] >= 0.5 and accuracies[True] > accuracies[False] + 0.15, accuracies


def test_rank_auc_matches_scikit_learn() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, size=(300, 5)).astype(bool)
    scores = np.round(rng.random((300, 5)), 2).astype(np.float32)  # rounded: many ties
    for column in range(5):
        expected = roc_auc_score(truth[:, column], scores[:, column])
        got = binary_auc(torch.from_numpy(truth[:, column]), torch.from_numpy(scores[:, column]))
        assert float(got) == pytest.approx(expected, abs=1e-12)
    truth[:, 3] = False  # a column without positives is left out, as medmnist's getAUC does
    expected = np.mean([roc_auc_score(truth[:, c], scores[:, c]) for c in (0, 1, 2, 4)])
    assert mean_auc(torch.from_numpy(truth), torch.from_numpy(scores), binary=False) == pytest.approx(
        expected, abs=1e-12
    )
    binary = mean_auc(torch.from_numpy(truth[:, :2]), torch.from_numpy(scores[:, :2]), binary=True)
    assert binary == pytest.approx(roc_auc_score(truth[:, 1], scores[:, 1]), abs=1e-12)
    assert mean_auc(torch.zeros(4, 2, dtype=torch.bool), torch.rand(4, 2), binary=False) is None
    assert float(binary_auc(torch.tensor([False, True, True]), torch.tensor([0.1, 0.9, 0.5]))) == 1.0


@pytest.mark.gpu
def test_no_host_sync_inside_an_epoch_on_cuda(digits_data: DeviceData) -> None:
    """CUDA's sync debug mode counts synchronising calls: one read-back per epoch (the loss check),
    none per batch."""
    import warnings

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    device = torch.device("cuda")
    data = DeviceData(digits_data.dataset, device)
    model = fresh_model(data).to(device)
    labeled = torch.arange(200, device=device)
    training = TrainingConfig(lr=0.01, batch_size=16)
    with deterministic_torch(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            train_round(model, data, labeled, training, epochs=3, generator=torch.Generator().manual_seed(0))
        finally:
            torch.cuda.set_sync_debug_mode("default")
    syncs = [w for w in caught if "synchroniz" in str(w.message).lower()]
    assert len(syncs) <= 3, [str(w.message) for w in syncs]
