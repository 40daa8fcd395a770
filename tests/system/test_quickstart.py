"""The README's first command, end to end, on the real quickstart (slow: ``pytest -m slow``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers.paths import QUICKSTART
from mlflow.tracking import MlflowClient


@pytest.mark.slow
def test_quickstart_curves_learn_from_the_first_round(tmp_path: Path) -> None:
    """The README's first command, end to end: mean accuracy at least 0.5 at the first label count
    and 0.85 at the last (digits, 10 classes). Minutes on 2 cores; its wall time is measured by
    benchmarks/sweep_walltime.py, not asserted here."""
    launcher = subprocess.Popen(
        [sys.executable, "-m", "raysweep.launch", str(QUICKSTART)],
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
