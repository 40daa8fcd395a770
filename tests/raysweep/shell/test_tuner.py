"""Everything Tune needs before ``fit()``, as the shared smoke sweep (``conftest.py``) used it: a folder
per trial named by its key, two checkpoints kept per trial, the sweep's columns in Tune's progress
table; and the stores' counters when the store went down with a stop."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
import ray

from raysweep.schema import RESULT_AREA, RESULT_N_LABELS, RESULT_ROUND, TRIAL_CONFIG_KEY
from raysweep.shell import tuner
from raysweep.shell.checkpoints import trial_dir_name

pytestmark = pytest.mark.timeout(1800)  # the first reader of the shared sweep waits for it


def test_every_trial_has_its_folder_and_keeps_two_checkpoints(smoke_sweep) -> None:
    folders = [
        p
        for p in smoke_sweep.sweep_dir.iterdir()
        if p.is_dir() and p.name not in ("injected_faults", "search")
    ]
    by_key = {}
    for key in smoke_sweep.trials:
        prefix = trial_dir_name(key, "")
        [folder] = [f for f in folders if re.fullmatch(re.escape(prefix) + r"[0-9a-f]+_\d+", f.name)]
        by_key[key] = folder
    assert len(folders) == len(smoke_sweep.trials)  # one folder per trial, a retry included
    for key, folder in by_key.items():
        checkpoints = sorted(p.name for p in folder.glob("checkpoint_*"))
        assert checkpoints == ["checkpoint_000001", "checkpoint_000002"], key  # num_to_keep=2 of 3 rounds


def test_the_progress_table_shows_the_sweep_s_columns(smoke_sweep) -> None:
    reporter = tuner.progress_reporter()
    assert reporter._metric_columns == {
        RESULT_ROUND: "round",
        RESULT_N_LABELS: "labels",
        "accuracy": "accuracy",
        RESULT_AREA: "AUC(curve)",
    }
    assert reporter._parameter_columns == {TRIAL_CONFIG_KEY: "trial"}
    header = next(line for line in smoke_sweep.result.stdout.splitlines() if "AUC(curve)" in line)
    assert all(column in header for column in ("trial", "round", "labels", "accuracy", "AUC(curve)"))


def test_a_store_gone_with_a_stop_gives_unknown_counters(monkeypatch: pytest.MonkeyPatch) -> None:
    store = SimpleNamespace(
        counters=SimpleNamespace(remote=lambda: "counters"), trainings=SimpleNamespace(remote=lambda: "rows")
    )
    answers = {"counters": {"vae_trainings": 1, "vae_cache_hits": 0}, "rows": [{"cache_key": "vae-x"}]}
    monkeypatch.setattr(ray, "get", lambda ref, timeout: answers[ref])
    assert tuner.Stores(dataset=None, embedding=store).counters() == (answers["counters"], answers["rows"])

    def gone(ref, timeout):
        assert timeout == tuner.STORE_CALL_TIMEOUT_S
        raise ray.exceptions.RayActorError()

    monkeypatch.setattr(ray, "get", gone)
    assert tuner.Stores(None, store).counters() == ({"vae_trainings": -1, "vae_cache_hits": -1}, [])
