"""``--smoke``: the same sweep, shrunk to run in seconds per trial, every axis kept, still learning.

Pure (no Ray, no MLflow). Used by ``--smoke`` and by the tests, so the tested path is the one users run.
"""

from __future__ import annotations

from raysweep.config import ScheduleConfig
from raysweep.sweep.config import SweepConfig

SMOKE_POOL, SMOKE_EVAL = 400, 300
SMOKE_LABELS, SMOKE_ROUNDS = 40, 2
"""40 -> 80 -> 120 labels: three points per curve."""
SMOKE_BATCH_SIZE, SMOKE_EPOCHS = 32, 6
"""At most 32 per batch and 6 epochs per round: 12, 18 and 24 SGD steps at 40, 80 and 120 labels,
after which a ResNet-18 from scratch is clearly above chance (with the BatchNorm statistics
recomputed) on 8x8 digits and on 28x28 MNIST alike; 2 epochs of 128 left MNIST at chance."""


def smoke(sweep: SweepConfig) -> SweepConfig:
    """The same sweep, shrunk to run in seconds per trial: every axis kept, sizes cut, still learning.

    Pool, eval split, budgets, rounds and epochs shrink and seeds keep their first two entries; the
    batch size shrinks so that the few epochs left still take a few dozen steps, and BatchNorm
    statistics are recomputed after each round's training, so the few steps still learn (real MNIST
    at the paper's lr 0.001: 0.59-0.71 accuracy at 120 labels, chance 0.1). Used by ``--smoke`` and
    by the tests, so the tested path is the one users run, and its accuracy means something. A search
    tries at most 3 settings per group.
    """
    pool = min(sweep.dataset.pool_size or SMOKE_POOL, SMOKE_POOL)
    search = sweep.sweep.search
    if search is not None:
        search = search.model_copy(update={"settings": min(search.settings, 3)})
    schedule = ScheduleConfig(
        initial_labels=min(sweep.schedule.initial_labels, SMOKE_LABELS),
        labels_per_round=min(sweep.schedule.labels_per_round, SMOKE_LABELS),
        rounds=min(
            sweep.schedule.rounds if sweep.schedule.rounds is not None else SMOKE_ROUNDS, SMOKE_ROUNDS
        ),
    )
    training = sweep.training
    return sweep.model_copy(
        update={
            "dataset": sweep.dataset.model_copy(
                update={
                    "pool_size": pool,
                    "eval_size": min(sweep.dataset.eval_size or SMOKE_EVAL, SMOKE_EVAL),
                    "val_size": min(sweep.dataset.val_size or SMOKE_EVAL, SMOKE_EVAL),
                }
            ),
            "schedule": schedule,
            "training": training.model_copy(
                update={
                    "batch_size": min(training.batch_size, SMOKE_BATCH_SIZE),
                    "initial_epochs": min(training.initial_epochs, SMOKE_EPOCHS),
                    # Every round gets the same epochs: more labels already mean more steps.
                    "epochs_per_round": 0,
                    "recalibrate_batchnorm": True,
                }
            ),
            "vae": sweep.vae.model_copy(update={"epochs": min(sweep.vae.epochs, 2)}),
            "sweep": sweep.sweep.model_copy(update={"seeds": sweep.sweep.seeds[:2], "search": search}),
        }
    )
