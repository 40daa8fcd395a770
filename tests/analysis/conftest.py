"""Fixtures of the analysis tests: one MLflow store per session, written with the real mlflow client.

Each sweep is written into the store the first time a test asks for it (its known answers:
tests/helpers/analysis_sweeps.py); tests that need a sweep of their own write it into the same
store under an experiment name no other test uses, so the sqlite schema is created once.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.analysis_sweeps import (
    GAIN,
    STUDY,
    write_alphas,
    write_baselines,
    write_confirmed,
    write_encoders,
    write_search,
)
from helpers.mlflow_runs import WrittenSweep, initial_hash, store_uri, write_sweep

from analysis.load import SweepData, load_sweep
from analysis.sections.base import Study


@pytest.fixture(scope="session")
def store(tmp_path_factory) -> dict:
    """``uri`` of the session's store and ``art``, the artifact root of its experiments."""
    root = tmp_path_factory.mktemp("mlflow")
    return {"uri": store_uri(root), "root": root, "art": root / "artifacts"}


@pytest.fixture(scope="session")
def study(store) -> SweepData:
    """The ``study`` sweep, loaded (helpers.analysis_sweeps)."""
    write_sweep(
        store["uri"],
        "study",
        sweep_id="s1",
        artifact_root=store["art"],
        heuristics=STUDY,
        gain={("coreset", 0.5): GAIN},
        artifacts=True,
    )
    return load_sweep(store["uri"], "study")


@pytest.fixture(scope="session")
def identical(store) -> WrittenSweep:
    """``identical``: noise-free, every variant equals its plain partner."""
    return write_sweep(
        store["uri"],
        "identical",
        sweep_id="i1",
        artifact_root=store["art"],
        heuristics={"coreset": (0.0, 1.0)},
        seeds=range(3),
        noise=0.0,
    )


@pytest.fixture(scope="session")
def unpaired(store) -> SweepData:
    """``unpaired``: the VAE runs started from other initial labels than their plain partners."""
    write_sweep(
        store["uri"],
        "unpaired",
        sweep_id="u1",
        artifact_root=store["art"],
        heuristics={"coreset": (0.0, 1.0)},
        seeds=range(3),
        hash_fn=lambda d, h, a, s: initial_hash(d, s + 100 * (a > 0)),
    )
    return load_sweep(store["uri"], "unpaired")


@pytest.fixture(scope="session")
def grid(store) -> SweepData:
    """``grid``: a plain grid, core-set at alpha 0 and 1, 3 seeds: no search, no encoders but vae."""
    write_sweep(
        store["uri"],
        "grid",
        sweep_id="g1",
        artifact_root=store["art"],
        heuristics={"coreset": (0.0, 1.0)},
        seeds=range(3),
    )
    return load_sweep(store["uri"], "grid")


@pytest.fixture(scope="session")
def alphas(store) -> SweepData:
    """The ``alphas`` sweep, loaded (helpers.analysis_sweeps)."""
    write_alphas(store["uri"], store["art"])
    return load_sweep(store["uri"], "alphas")


@pytest.fixture(scope="session")
def stopped(store) -> SweepData:
    """``stopped``: rounds=4 schedules 100..500 labels; no trial logged 500 (the sweep was stopped)."""
    keys = [f"digits/coreset/{a:g}/{s}" for a in (0.0, 0.5, 1.0) for s in range(3)]
    write_sweep(
        store["uri"], "stopped", sweep_id="t1", artifact_root=store["art"], seeds=range(3),
        missing_steps={key: [500] for key in keys},
    )  # fmt: skip
    return load_sweep(store["uri"], "stopped")


@pytest.fixture(scope="session")
def encoder_sweep(store) -> SweepData:
    """The ``encoders`` sweep, loaded (helpers.analysis_sweeps)."""
    write_encoders(store["uri"], store["art"])
    return load_sweep(store["uri"], "encoders")


@pytest.fixture(scope="session")
def searched(store) -> dict:
    """The ``search-analysis`` sweep: ``data`` loaded, ``stopped`` the keys of its setting stopped early."""
    stopped_early = write_search(store["uri"], store["art"])
    return {
        "uri": store["uri"],
        "data": load_sweep(store["uri"], "search-analysis"),
        "stopped": stopped_early,
    }


@pytest.fixture(scope="session")
def confirmed(store) -> SweepData:
    """The ``confirmed`` experiment, a sweep and its confirmation, loaded (helpers.analysis_sweeps)."""
    write_confirmed(store["uri"], store["art"])
    return load_sweep(store["uri"], "confirmed")


@pytest.fixture(scope="session")
def baselines(store) -> SweepData:
    """The ``baselines`` sweep, loaded (helpers.analysis_sweeps)."""
    write_baselines(store["uri"], store["art"])
    return load_sweep(store["uri"], "baselines")


@pytest.fixture
def study_of(tmp_path: Path):
    """``study_of(data, metric="accuracy")``: a report Study of ``data`` whose figures go to ``tmp_path``."""

    def make(data: SweepData, metric: str = "accuracy") -> Study:
        return Study(data, metric, tmp_path)

    return make
