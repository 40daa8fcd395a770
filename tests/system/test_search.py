"""Whole searches through the CLI: a real local Ray, Tune's OptunaSearch, a real SQLite MLflow store.

``test_killed_search_resumes_...``: a digits search at --smoke sizes whose driver is killed once a
setting has finished; ``--resume`` must finish it with every setting on every seed, no setting
proposed twice, every step logged once and the best setting picked by the objective.
``test_early_stopping_...`` (slow): the per-setting median rule on a real sweep.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from helpers.drivers import launch
from helpers.paths import QUICKSTART
from helpers.sweep_results import sqlite_uri, sweep_runs
from mlflow.tracking import MlflowClient

from raysweep.schema import VAL_ACCURACY
from raysweep.search.ledger import LEDGER, SearchLedger
from raysweep.shell.search.searcher import PairedSeedSearch
from raysweep.sweep.config import load_sweep_config
from raysweep.sweep.smoke import smoke
from raysweep.sweep.trials import expand_trials

SMOKE_STEPS = [40, 80, 120]
SEARCH = [
    "--smoke",
    "--set",
    "sweep.heuristics=[coreset]",
    "--set",
    "sweep.alphas=[0]",
    "--set",
    "sweep.search={settings: 3, max_concurrent_settings: 1, space: {alpha: {low: 0.05, high: 5, scale: log}}}",
]


def ledger_of(cwd: Path) -> SearchLedger | None:
    files = list(cwd.glob(f"raysweep_runs/*/*/{LEDGER}"))
    if not files:
        return None
    try:
        return SearchLedger.read(files[0])
    except (OSError, ValueError, KeyError):
        return None  # mid-replace


def area(client: MlflowClient, run_id: str, metric: str = VAL_ACCURACY) -> float:
    """The normalised area under a curve, from what MLflow holds; by default the validation accuracy
    the search chooses by (the test accuracy is what results are reported on)."""
    points = sorted((m.step, m.value) for m in client.get_metric_history(run_id, metric))
    steps, values = zip(*points, strict=True)
    return float(np.trapezoid(values, steps) / (steps[-1] - steps[0]))


def stop_group(process: subprocess.Popen) -> None:
    """The driver and whatever it started (its local Ray) live in one session: end them all."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@pytest.fixture(scope="module")
def resumed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    cwd = tmp_path_factory.mktemp("search")
    driver = subprocess.Popen(
        [sys.executable, "-m", "raysweep.launch", str(QUICKSTART), *SEARCH],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    before = None
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline and driver.poll() is None:
            ledger = ledger_of(cwd)
            if ledger is not None and len(ledger.settings) >= 2:  # setting 1 is in, setting 2 handed out
                before = ledger
                break
            time.sleep(1)
        assert before is not None and driver.poll() is None, "the search ended before it could be killed"
        driver.send_signal(signal.SIGKILL)  # the driver alone, mid-search
        driver.wait()
    finally:
        stop_group(driver)
    time.sleep(3)
    result = launch(cwd, str(QUICKSTART), *SEARCH, "--resume", timeout=1200)
    return {"cwd": cwd, "before": before, "result": result}


def test_killed_search_resumes_and_finishes_every_setting_on_every_seed(resumed) -> None:
    cwd, result = resumed["cwd"], resumed["result"]
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "resuming sweep" in result.stdout
    ledger = ledger_of(cwd)
    assert [r.index for r in ledger.settings] == [1, 2, 3]
    assert all(r.status == "complete" and len(r.objectives) == 2 for r in ledger.settings)
    alphas = [r.values["alpha"] for r in ledger.settings]
    assert len(set(alphas)) == 3 and all(0.05 <= a <= 5 for a in alphas)  # no setting proposed twice
    # what was proposed before the kill is still what ran: the resumed search continued it
    assert [r.values for r in ledger.settings[: len(resumed["before"].settings)]] == [
        r.values for r in resumed["before"].settings
    ]

    client, parents, trials = sweep_runs(sqlite_uri(cwd), "raysweep-quickstart")
    assert len(parents) == 1  # the resumed sweep is the same sweep
    keys = Counter(t.data.tags["raysweep.trial_key"] for t in trials)
    expected = {"digits/coreset/0/0", "digits/coreset/0/1"} | {k for r in ledger.settings for k in r.keys}
    assert set(keys) == expected and set(keys.values()) == {1}  # one run per trial key
    for run in trials:
        steps = Counter(m.step for m in client.get_metric_history(run.info.run_id, "accuracy"))
        assert steps == Counter(SMOKE_STEPS), run.data.tags["raysweep.trial_key"]  # each step once
        assert run.info.status == "FINISHED"
        tags = run.data.tags
        assert tags["raysweep.search_group"] == "digits/coreset"
        record = next((r for r in ledger.settings if tags["raysweep.trial_key"] in r.keys), None)
        if record is None:
            assert (tags["raysweep.setting_index"], tags["raysweep.setting"]) == ("0", "alpha=0")
        else:
            assert tags["raysweep.setting_index"] == str(record.index)
            assert tags["raysweep.setting"] == f"alpha={record.values['alpha']:g}"
            assert float(run.data.params["alpha"]) == record.values["alpha"]
    # paired with the reference: every seed's trials share the initial labels
    hashes = {(t.data.params["seed"], t.data.tags["raysweep.initial_labels_sha256"]) for t in trials}
    assert len(hashes) == 2


def test_search_picks_the_best_setting_by_the_objective(resumed) -> None:
    cwd = resumed["cwd"]
    client, [parent], trials = sweep_runs(sqlite_uri(cwd), "raysweep-quickstart")
    by_key = {t.data.tags["raysweep.trial_key"]: t for t in trials}
    ledger = ledger_of(cwd)
    means = {
        r.values["alpha"]: np.mean([area(client, by_key[k].info.run_id) for k in r.keys])
        for r in ledger.settings
    }
    best_alpha = max(means, key=means.get)
    assert parent.data.tags["raysweep.search.best.digits/coreset"] == f"alpha={best_alpha:g}"
    assert parent.data.metrics["search_best_objective.digits/coreset"] == pytest.approx(
        means[best_alpha], abs=1e-6
    )
    assert parent.data.metrics["search_settings_tried.digits/coreset"] == 3
    reference = np.mean([area(client, by_key[f"digits/coreset/0/{s}"].info.run_id) for s in (0, 1)])
    assert parent.data.metrics["search_reference_objective.digits/coreset"] == pytest.approx(
        reference, abs=1e-6
    )
    assert parent.data.params["search.algorithm"] == "optuna"
    outcome = json.loads(
        Path(client.download_artifacts(parent.info.run_id, "search.json", str(cwd))).read_text()
    )
    assert [s["index"] for s in outcome["groups"]["digits/coreset"]["settings"]] == [1, 2, 3]
    assert outcome["groups"]["digits/coreset"]["best"]["setting"] == f"alpha={best_alpha:g}"
    assert "Search (optuna" in resumed["result"].stdout


def stopping_seed(tmp_path: Path, config: list[str]) -> int:
    """A search seed whose random sampler proposes alpha 10 before alpha 0.1 (found by asking it)."""
    overrides = [v for flag, v in zip(config[1::2], config[2::2], strict=True) if flag == "--set"]
    for seed in range(50):
        sweep = smoke(load_sweep_config(QUICKSTART, [*overrides, f"sweep.search.seed={seed}"]))
        searcher = PairedSeedSearch(sweep, expand_trials(sweep), tmp_path / f"probe{seed}" / LEDGER)
        handed = [searcher.suggest(f"t{i}") for i in range(4)]  # two references, setting 1 on two seeds
        searcher.on_trial_complete("t2", {"objective": 0.5, "round": 2, "rounds": 3})
        searcher.on_trial_complete("t3", {"objective": 0.5, "round": 2, "rounds": 3})
        second = searcher.suggest("t4")
        if handed[2]["search"]["values"]["alpha"] == 10 and second["search"]["values"]["alpha"] == 0.1:
            return seed
    raise AssertionError("no seed in 0..49 proposes alpha 10 first")


@pytest.mark.slow
def test_early_stopping_stops_a_setting_behind_with_all_its_seeds(tmp_path: Path) -> None:
    """vae_share = alpha^2 / (1 + alpha^2) under balanced scaling: alpha 0.1 is behind alpha 10 at round 1."""
    config = [
        "--smoke",
        "--set",
        "sweep.heuristics=[coreset]",
        "--set",
        "sweep.alphas=[0]",
        "--set",
        "sweep.search={algorithm: random, settings: 2, max_concurrent_settings: 1, "
        "space: {alpha: {choices: [0.1, 10]}}, objective: {metric: vae_share, summary: final}, "
        "early_stopping: {grace_rounds: 1, min_settings: 1}}",
    ]
    seed = stopping_seed(tmp_path, config)
    result = launch(tmp_path, str(QUICKSTART), *config, "--set", f"sweep.search.seed={seed}", timeout=1200)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    ledger = ledger_of(tmp_path)
    first, second = ledger.settings
    assert (first.values, first.status) == ({"alpha": 10.0}, "complete")
    assert (second.values, second.status, second.stop_round) == ({"alpha": 0.1}, "stopped", 1)
    client, [parent], trials = sweep_runs(sqlite_uri(tmp_path), "raysweep-quickstart")
    for run in trials:
        key = run.data.tags["raysweep.trial_key"]
        steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, "accuracy"))
        if key in second.stopped:
            assert run.data.tags["raysweep.stopped_early"] == str(second.stopped[key])
            assert run.info.status == "KILLED" and steps[:2] == SMOKE_STEPS[:2]
        else:
            assert "raysweep.stopped_early" not in run.data.tags and steps == SMOKE_STEPS
    assert set(second.stopped) | set(second.objectives) == set(second.keys) and second.stopped
    assert parent.data.tags["raysweep.search.best.digits/coreset"] == "alpha=10"
