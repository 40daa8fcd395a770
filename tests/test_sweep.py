"""The quickstart and its --smoke variant: shapes of the sweep, and a smoke run that still learns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from raysweep.data import load_dataset
from raysweep.loop import run_trajectory
from raysweep.schedule import label_schedule
from raysweep.sweep.config import load_sweep_config
from raysweep.sweep.smoke import SMOKE_BATCH_SIZE, SMOKE_EPOCHS, smoke
from raysweep.sweep.trials import expand_trials

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_quickstart_keeps_every_heuristic_and_two_seeds() -> None:
    sweep = load_sweep_config(CONFIGS / "quickstart.yaml")
    trials = expand_trials(sweep)
    assert {t.heuristic for t in trials} == {"random", "entropy", "coreset", "medal", "lloss"}
    assert len(sweep.sweep.seeds) >= 2
    assert sweep.training.recalibrate_batchnorm
    dataset = load_dataset(trials[0].config.dataset)
    assert label_schedule(sweep.schedule, dataset.n_pool) == [100, 250, 400]


@pytest.mark.parametrize("name", ["quickstart.yaml", "alpha_sweep.yaml", "paper.yaml"])
def test_smoke_shrinks_steps_but_keeps_them_learning(name: str) -> None:
    sweep = load_sweep_config(CONFIGS / name)
    shrunk = smoke(sweep)
    assert shrunk.training.batch_size == min(sweep.training.batch_size, SMOKE_BATCH_SIZE)
    assert shrunk.training.initial_epochs == min(sweep.training.initial_epochs, SMOKE_EPOCHS)
    assert shrunk.training.epochs_per_round == 0 and shrunk.training.recalibrate_batchnorm
    assert shrunk.training.lr == sweep.training.lr  # the config's own learning rate is what runs
    assert shrunk.dataset.pool_size <= 400 and shrunk.schedule.initial_labels <= 40


def test_smoke_quickstart_learns_on_digits() -> None:
    """Final smoke accuracy is clearly above chance (0.1 for ten classes) for a plain trial and a
    learning-loss trial (one per smoke seed): a broken training loop cannot pass this."""
    sweep = smoke(load_sweep_config(CONFIGS / "quickstart.yaml"))
    wanted = {"digits/random/0/0", "digits/lloss/0/1"}
    trials = [t for t in expand_trials(sweep) if t.key in wanted]
    assert {t.key for t in trials} == wanted
    dataset = load_dataset(trials[0].config.dataset)
    final = []
    for trial in trials:
        curve = run_trajectory(trial.config, dataset).curve
        assert [point.n_labels for point in curve] == [40, 80, 120]
        final.append(curve[-1].metrics["accuracy"])
    assert np.mean(final) >= 0.45 and min(final) >= 0.3, final


REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.slow
@pytest.mark.skipif(not (REAL_DATA / "MNIST" / "raw").is_dir(), reason="no real MNIST in ../shared/data")
def test_smoke_alpha_sweep_learns_on_real_mnist() -> None:
    """The --smoke variant of the MNIST config at the paper's lr 0.001 still learns (chance: 0.1)."""
    sweep = smoke(load_sweep_config(CONFIGS / "alpha_sweep.yaml", [f"dataset.root={REAL_DATA}"]))
    trials = [t for t in expand_trials(sweep) if t.heuristic == "coreset" and t.config.alpha == 0]
    dataset = load_dataset(trials[0].config.dataset)
    final = [run_trajectory(trial.config, dataset).curve[-1].metrics["accuracy"] for trial in trials]
    assert np.mean(final) >= 0.45 and min(final) >= 0.3, final


@pytest.mark.slow
def test_quickstart_curves_learn_from_the_first_round(tmp_path: Path) -> None:
    """The README's first command, end to end: mean accuracy at least 0.5 at the first label count
    and 0.85 at the last (digits, 10 classes). Minutes on 2 cores; its wall time is measured by
    benchmarks/sweep_walltime.py, not asserted here."""
    import os
    import signal
    import subprocess
    import sys

    from mlflow.tracking import MlflowClient

    launcher = subprocess.Popen(
        [sys.executable, "-m", "raysweep.launch", str(CONFIGS / "quickstart.yaml")],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, so everything it started can be stopped
    )
    try:
        output, _ = launcher.communicate(timeout=1800)
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
    assert launcher.returncode == 0, output[-3000:]
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("raysweep-quickstart")
    runs = client.search_runs([experiment.experiment_id], filter_string="tags.`raysweep.role` = 'trial'")
    assert len(runs) == 16
    curves = [
        [m.value for m in sorted(client.get_metric_history(r.info.run_id, "accuracy"), key=lambda m: m.step)]
        for r in runs
    ]
    assert all(len(curve) == 3 for curve in curves)
    first, last = np.mean([c[0] for c in curves]), np.mean([c[-1] for c in curves])
    assert first >= 0.5 and last >= 0.85, (first, last)
