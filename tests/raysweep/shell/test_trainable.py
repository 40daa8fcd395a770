"""The Tune trainable: one trajectory per trial, a report and a checkpoint per round, a killed worker
continued from its checkpoint with every step logged once, the embeddings read in the rounds that
use them, and a rerun that reproduces every curve bit for bit (CPU). Read from the shared smoke sweep
(``conftest.py``), whose workers the fault injection really kills."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from helpers.sweep_results import curves, steps_logged

from raysweep.schema import ENCODER_TAG, INITIAL_LABELS_TAG, NODE_TAG, PICKS_ARTIFACT, TRIAL_KEY_TAG
from raysweep.shell.trainable import FAULT_ENV, maybe_inject_fault
from raysweep.storage import parse_storage

pytestmark = pytest.mark.timeout(1800)  # the first reader of the shared sweep waits for it


def test_killed_workers_resume_from_their_checkpoint_and_log_each_step_once(smoke_sweep) -> None:
    output = smoke_sweep.output
    assert output.count("fault injection: killing this worker after round 0") == len(smoke_sweep.killed)
    markers = smoke_sweep.sweep_dir / "injected_faults"
    assert sorted(p.name for p in markers.iterdir()) == sorted(
        k.replace("/", "_") for k in smoke_sweep.killed
    )
    for key in smoke_sweep.killed:  # retried by Tune from the round-0 checkpoint, not from scratch
        assert f"[{key}] resuming from checkpoint_000000 at round 1" in output, key
    client, _, trials = smoke_sweep.runs()
    steps = steps_logged(client, trials)
    assert set(steps) == smoke_sweep.trials
    for key, logged in steps.items():
        assert logged == list(smoke_sweep.steps), key
    for run in trials:
        assert run.info.status == "FINISHED"
        for metric in ("auc", "train_seconds"):
            logged = sorted(m.step for m in client.get_metric_history(run.info.run_id, metric))
            assert logged == list(smoke_sweep.steps), (run.data.tags[TRIAL_KEY_TAG], metric)
        selection = sorted(m.step for m in client.get_metric_history(run.info.run_id, "selection_seconds"))
        assert selection == list(smoke_sweep.steps[:-1])  # the last round selects nothing


def test_embeddings_are_read_in_the_rounds_that_select_and_cvae_trains_in_each(smoke_sweep) -> None:
    client, _, trials = smoke_sweep.runs()
    by_key = {run.data.tags[TRIAL_KEY_TAG]: run for run in trials}
    for key, run in by_key.items():
        encoder = key.split("/")[4] if key.count("/") == 4 else "vae"  # alpha 0: the default, unused
        assert run.data.params["encoder"] == run.data.params["config.encoder.name"] == encoder
        assert run.data.tags[ENCODER_TAG] == encoder
        seconds = sorted(m.step for m in client.get_metric_history(run.info.run_id, "encoder_seconds"))
        # read in the rounds that select (core-set), never at alpha 0
        alpha = key.split("/")[2]
        assert seconds == ([] if alpha == "0" else list(smoke_sweep.steps[:-1])), key
    cvae = client.get_metric_history(by_key["digits/coreset/1/0/cvae"].info.run_id, "encoder_seconds")
    assert min(m.value for m in cvae) > 0.01  # a training, not a lookup


def test_every_trial_of_a_seed_starts_from_the_same_labels_and_says_where_it_ran(smoke_sweep) -> None:
    _, _, trials = smoke_sweep.runs()
    hashes = {(t.data.params["seed"], t.data.tags[INITIAL_LABELS_TAG]) for t in trials}
    assert len(hashes) == 2 and all(len(h) == 64 for _, h in hashes)
    assert {len(t.data.tags[NODE_TAG]) for t in trials} == {56}  # a Ray node id (hex)


def picks_of(client, run, folder: Path) -> list[np.ndarray]:
    path = client.download_artifacts(run.info.run_id, PICKS_ARTIFACT, str(folder / run.info.run_id))
    with np.load(path) as archive:
        return [archive[f"round_{i}"] for i in range(len(archive.files))]


def test_a_rerun_reproduces_every_curve_and_every_pick(smoke_sweep, smoke_rerun, tmp_path: Path) -> None:
    """Same seeds, same curves, bit for bit on CPU, also for the trials whose worker was killed (the
    cvae one retrains in its resumed round exactly what the uninterrupted one does)."""
    client, _, first = smoke_sweep.runs()
    _, _, second = smoke_rerun.runs()
    assert "fault injection" not in smoke_rerun.output
    assert curves(client, second) == curves(client, first)
    first_picks = {t.data.tags[TRIAL_KEY_TAG]: picks_of(client, t, tmp_path) for t in first}
    for run in second:
        again = picks_of(client, run, tmp_path)
        before = first_picks[run.data.tags[TRIAL_KEY_TAG]]
        assert len(again) == len(before) == len(smoke_sweep.steps)
        assert all(np.array_equal(a, b) for a, b in zip(again, before, strict=True)), run.data.tags[
            TRIAL_KEY_TAG
        ]


class WorkerKilled(Exception):
    """What ``os._exit`` does to the worker, raised instead so that the test process goes on."""


@pytest.mark.parametrize(
    ("spec", "round_index", "killed"),
    [(None, 0, False), ("0:coreset/1/0", 1, False), ("0:random", 0, False), ("0:1/0/cvae", 0, True)],
    ids=["no-fault", "other-round", "other-trial", "this-trial-and-round"],
)
def test_fault_injection_kills_the_worker_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, spec, round_index, killed
) -> None:
    """``<round>:<key substring>`` kills the worker right after that round, once per trial (a marker
    file remembers). The real kill is the shared sweep's; here ``os._exit`` only says it was called."""
    if spec is None:
        monkeypatch.delenv(FAULT_ENV, raising=False)
    else:
        monkeypatch.setenv(FAULT_ENV, spec)

    def exit_now(code: int) -> None:
        raise WorkerKilled(code)

    monkeypatch.setattr(os, "_exit", exit_now)
    marker = tmp_path / "injected_faults" / "digits_coreset_1_0_cvae"
    sweep_dir = parse_storage(tmp_path).root  # the sweep folder as a trial gets it: a StoragePath
    if not killed:
        maybe_inject_fault("digits/coreset/1/0/cvae", round_index, sweep_dir)
        assert not marker.exists()
        return
    with pytest.raises(WorkerKilled, match="1"):
        maybe_inject_fault("digits/coreset/1/0/cvae", round_index, sweep_dir)
    assert (
        "[digits/coreset/1/0/cvae] fault injection: killing this worker after round 0"
        in capsys.readouterr().out
    )
    assert marker.read_text() == "killed after round 0\n"
    maybe_inject_fault("digits/coreset/1/0/cvae", round_index, sweep_dir)  # the retry passes: once per trial
