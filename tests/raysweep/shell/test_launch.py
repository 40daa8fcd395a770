"""A sweep from start to end, as ``python -m raysweep.launch`` runs it: the parent run and the record
of the sweep, the lock released, the summary's numbers equal to what MLflow holds; and the inputs a
sweep refuses before it writes anything (an unreachable cluster, GPUs it does not have, a resume with
another config)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers.drivers import launch
from helpers.paths import QUICKSTART
from helpers.processes import free_port

from raysweep.curves import normalised_area
from raysweep.schema import SWEEP_CONFIG_ARTIFACT, SWEEP_PARAMS, TRIAL_KEY_TAG
from raysweep.shell import cli
from raysweep.shell.preflight import resolve_paths
from raysweep.shell.sweep_lock import SweepLock
from raysweep.shell.sweep_record import SweepRecord
from raysweep.shell.tracking.patience import MLFLOW_HTTP_ATTEMPT_ENV
from raysweep.sweep.config import config_digest, load_sweep_config
from raysweep.sweep.smoke import smoke

pytestmark = pytest.mark.timeout(1800)  # the first reader of the shared sweep waits for it


def resolved_sweep(smoke_sweep, monkeypatch: pytest.MonkeyPatch):
    """The sweep config as the driver resolved it in its folder."""
    monkeypatch.chdir(smoke_sweep.cwd)
    args = cli.parse_args(list(smoke_sweep.args))
    return resolve_paths(smoke(load_sweep_config(args.config, args.overrides)), args)


def test_the_sweep_ran_every_trial_and_said_where_everything_is(smoke_sweep) -> None:
    out = smoke_sweep.result.stdout
    assert (
        f"sweep {smoke_sweep.sweep_id}: 10 trials, storage {smoke_sweep.sweep_dir}, MLflow {smoke_sweep.tracking_uri}"
        in out
    )
    assert "10 trials in experiment 'raysweep-quickstart':" in out  # the trial list comes first
    _, [parent], trials = smoke_sweep.runs()
    assert {t.data.tags[TRIAL_KEY_TAG] for t in trials} == smoke_sweep.trials
    assert len(trials) == len(smoke_sweep.trials)  # one run per trial, retries included
    assert parent.info.status == "FINISHED"
    metrics = parent.data.metrics
    assert (metrics["trials_finished"], metrics["trials_failed"]) == (10, 0) and metrics["sweep_seconds"] > 0
    link = f"/#/experiments/{parent.info.experiment_id}/runs?workflowType=machine_learning"
    assert f"mlflow ui --backend-store-uri {smoke_sweep.tracking_uri} --port 5000" in out and link in out
    assert "Resume the sweep" not in out  # nothing failed


def test_the_parent_run_holds_the_sweep_s_params_and_resolved_config(
    smoke_sweep, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    client, [parent], _ = smoke_sweep.runs()
    assert set(parent.data.params) == set(SWEEP_PARAMS)
    assert {
        k: parent.data.params[k] for k in ("datasets", "heuristics", "alphas", "seeds", "encoders", "trials")
    } == {
        "datasets": "digits",
        "heuristics": "random,coreset",
        "alphas": "0,1",
        "seeds": "0,1",
        "encoders": "vae,gmvae,cvae",
        "trials": "10",
    }
    assert (
        parent.data.params["schedule.initial_labels"] == "40"
        and parent.data.params["schedule.max_labels"] == "None"
    )
    logged = yaml.safe_load(
        Path(client.download_artifacts(parent.info.run_id, SWEEP_CONFIG_ARTIFACT, str(tmp_path))).read_text()
    )
    sweep = resolved_sweep(smoke_sweep, monkeypatch)
    assert logged == sweep.model_dump(mode="json")
    record = SweepRecord.read(smoke_sweep.sweep_dir)
    assert record == SweepRecord(
        smoke_sweep.sweep_id,
        parent.info.experiment_id,
        parent.info.run_id,
        smoke_sweep.tracking_uri,
        config_digest(sweep),
    )
    assert (
        json.loads((smoke_sweep.sweep_dir / "raysweep.json").read_text())["sweep_id"] == smoke_sweep.sweep_id
    )


def test_the_lock_was_released(smoke_sweep) -> None:
    SweepLock.acquire(smoke_sweep.sweep_dir, smoke_sweep.sweep_id).release()


def test_the_summary_is_what_mlflow_holds(smoke_sweep) -> None:
    """Means over seeds of each trial's last accuracy and curve area, recomputed from MLflow's curves."""
    client, _, trials = smoke_sweep.runs()
    expected: dict[tuple[str, ...], list[tuple[float, float]]] = {}
    for run in trials:
        points = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, "accuracy"))
        key = run.data.tags[TRIAL_KEY_TAG].split("/")
        row = (key[1], key[2], key[4] if len(key) == 5 else ("vae" if key[2] != "0" else "-"))
        steps, values = zip(*points, strict=True)
        expected.setdefault(row, []).append((values[-1], normalised_area(steps, values)))
    out = smoke_sweep.result.stdout
    lines = out[out.index("Summary (mean over seeds):") :].splitlines()[1:]
    header, rows = lines[0].split(), [line.split() for line in lines[1:] if line.startswith("  digits")]
    assert header[:5] == ["dataset", "heuristic", "alpha", "encoder", "seeds"]  # several encoders: a column
    printed = {tuple(row[1:4]): (int(row[4]), float(row[5]), float(row[6])) for row in rows}
    assert set(printed) == set(expected)
    for row, values in expected.items():
        seeds, final, area = printed[row]
        assert seeds == len(values) == 2, row
        assert final == pytest.approx(np.mean([v[0] for v in values]), abs=5e-5), row
        assert area == pytest.approx(np.mean([v[1] for v in values]), abs=5e-5), row


def test_a_resume_with_another_config_or_an_unknown_sweep_is_refused(
    smoke_sweep, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture
) -> None:
    for name, value in MLFLOW_HTTP_ATTEMPT_ENV.items():  # run_sweep sets them; restored afterwards
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(smoke_sweep.cwd)
    before = sorted(p.name for p in smoke_sweep.storage.rglob("*"))
    changed = [*smoke_sweep.args, "--set", "training.lr=0.5", "--resume", smoke_sweep.sweep_id]
    assert cli.main(changed) == 2
    err = capfd.readouterr().err
    assert f"the config differs from the one sweep {smoke_sweep.sweep_id} started with" in err
    assert cli.main([*smoke_sweep.args, "--resume", "20000101-000000-nosuch"]) == 2
    assert (
        f"no sweep at {smoke_sweep.storage / 'raysweep-quickstart' / '20000101-000000-nosuch'}"
        in capfd.readouterr().err
    )
    assert sorted(p.name for p in smoke_sweep.storage.rglob("*")) == before


# ---------------------------------------------------------------------------------------------
# Refused before anything is written
# ---------------------------------------------------------------------------------------------

SLICE = ["--smoke", "--set", "sweep.heuristics=[random,coreset]", "--set", "sweep.alphas=[0,1]"]


def test_unreachable_cluster_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture
) -> None:
    """Refused before anything is written; run in this process (Ray never starts), the signal handlers
    the sweep installs are restored and the variables it sets are put back by monkeypatch."""
    for name, value in {**MLFLOW_HTTP_ATTEMPT_ENV, "TUNE_DISABLE_SIGINT_HANDLER": "1"}.items():
        monkeypatch.setenv(name, value)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    monkeypatch.chdir(tmp_path)
    address = f"127.0.0.1:{free_port()}"
    assert cli.main([str(QUICKSTART), *SLICE, "--address", address]) == 2
    err = capfd.readouterr().err
    assert f"--address {address}: no Ray cluster answers there" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
    assert {s: signal.getsignal(s) for s in handlers} == handlers


def test_gpu_requested_on_a_cluster_without_gpus(tmp_path: Path) -> None:
    result = launch(tmp_path, str(QUICKSTART), *SLICE, "--set", "resources.gpu=0.5")
    assert result.returncode == 2
    assert "has 0 GPUs" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "raysweep_runs").exists()
