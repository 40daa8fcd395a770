"""One real sweep shared by the shell's tests that only read its results, and its rerun.

``smoke_sweep`` runs ``python -m raysweep.launch configs/quickstart.yaml --smoke`` once per session,
as users run it (a local Ray, a SQLite MLflow store in its folder), on a slice that reaches every
part of the shell: a plain heuristic and core-set at alpha 0 and 1 with every encoder (``vae`` and
``gmvae`` trained once by the store, ``cvae`` retrained inside its trials), two seeds. The worker of
each seed-0 core-set trial at alpha 1 is killed after its first round (``RAYSWEEP_FAULT_AFTER_ROUND``),
so Tune retries it from its checkpoint. ``smoke_rerun`` runs the same command again in the same
folder, without the fault: a second sweep that must reproduce every curve and reuse the encoders.

Tests read the runs of one sweep by its id (``SmokeSweep.runs``), so they hold whichever of the two
fixtures has run first.

``local_ray`` is a one-CPU local Ray for a module's tests that need Ray in the test process itself.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import ray
from helpers.drivers import launch
from helpers.paths import QUICKSTART
from helpers.sweep_results import sqlite_uri, sweep_runs

from raysweep.sweep.smoke import SMOKE_LABELS, SMOKE_ROUNDS

SMOKE_STEPS = [SMOKE_LABELS * (r + 1) for r in range(SMOKE_ROUNDS + 1)]
"""The label counts of every smoke trial's curve: 40, 80, 120."""
EXPERIMENT = "raysweep-quickstart"
SLICE = [
    "--smoke",
    "--set",
    "sweep.heuristics=[random,coreset]",
    "--set",
    "sweep.alphas=[0,1]",
    "--set",
    "sweep.encoders=[vae,gmvae,cvae]",
]
TRIALS = (
    {f"digits/random/0/{s}" for s in (0, 1)}
    | {f"digits/coreset/0/{s}" for s in (0, 1)}
    | {f"digits/coreset/1/{s}{e}" for s in (0, 1) for e in ("", "/gmvae", "/cvae")}
)
FAULT = "0:coreset/1/0"
"""Kill the worker after round 0 of every trial whose key holds ``coreset/1/0``: seed 0 of each encoder."""
KILLED = {"digits/coreset/1/0", "digits/coreset/1/0/gmvae", "digits/coreset/1/0/cvae"}
SWEEP_TIMEOUT_S = 1500
"""How long one smoke sweep may take on a loaded 2-core machine before it counts as stuck."""


@dataclass(frozen=True)
class SmokeSweep:
    cwd: Path
    result: subprocess.CompletedProcess
    sweep_id: str
    steps: tuple[int, ...] = tuple(SMOKE_STEPS)
    trials: frozenset[str] = frozenset(TRIALS)
    killed: frozenset[str] = frozenset(KILLED)
    """The trials whose worker the first sweep killed after round 0."""
    experiment: str = EXPERIMENT
    args: tuple[str, ...] = (str(QUICKSTART), *SLICE)
    """The command line after ``python -m raysweep.launch``."""

    @property
    def output(self) -> str:
        return self.result.stdout + self.result.stderr

    @property
    def tracking_uri(self) -> str:
        return sqlite_uri(self.cwd)

    @property
    def storage(self) -> Path:
        return self.cwd / "raysweep_runs"

    @property
    def sweep_dir(self) -> Path:
        return self.storage / EXPERIMENT / self.sweep_id

    def runs(self):
        """(client, parent runs, trial runs) of this sweep."""
        return sweep_runs(self.tracking_uri, self.experiment, self.sweep_id)


def run_smoke(cwd: Path, env: dict[str, str] | None = None) -> SmokeSweep:
    result = launch(cwd, str(QUICKSTART), *SLICE, env=env, timeout=SWEEP_TIMEOUT_S)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    found = re.search(r"^sweep (\S+): \d+ trials, storage ", result.stdout, re.MULTILINE)
    assert found, result.stdout[-4000:]
    return SmokeSweep(cwd, result, found.group(1))


@pytest.fixture(scope="session")
def smoke_sweep(tmp_path_factory: pytest.TempPathFactory) -> SmokeSweep:
    return run_smoke(tmp_path_factory.mktemp("smoke"), env={"RAYSWEEP_FAULT_AFTER_ROUND": FAULT})


@pytest.fixture(scope="session")
def smoke_rerun(smoke_sweep: SmokeSweep) -> SmokeSweep:
    return run_smoke(smoke_sweep.cwd)


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """A local Ray (one CPU, no GPU, no dashboard) for the module's tests, shut down at its end."""
    ray.init(num_cpus=1, num_gpus=0, include_dashboard=False)
    try:
        yield
    finally:
        ray.shutdown()
