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

from raysweep.schema import (
    ENCODER_TAG,
    INITIAL_LABELS_TAG,
    NODE_TAG,
    PICKS_ARTIFACT,
    TRIAL_CONFIG_KEY,
    TRIAL_KEY_TAG,
)
from raysweep.shell.trainable import FAULT_ENV, maybe_inject_fault, sweep_trainable
from raysweep.storage import StoragePath, parse_storage

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


def trainable_in_this_process(trainable, config: dict, tmp_path: Path):
    """The Trainable Tune builds from ``trainable`` for one trial, made here instead of in a Ray actor
    (its function is never started: only ``restore`` is called)."""
    from ray.train._internal.storage import StorageContext
    from ray.tune.trainable.function_trainable import wrap_function

    storage = StorageContext(str(tmp_path / "tune"), experiment_dir_name="sweep", trial_dir_name="trial")
    return wrap_function(trainable)(config=config, storage=storage)


@pytest.fixture
def trial_actor(local_ray, tmp_path: Path):
    """The sweep's Trainable for one trial, in this process, and a reader of the checkpoint it was handed."""
    from ray.train._internal.session import get_session

    trainable = sweep_trainable(None, {"cpu": 1, "gpu": 0})
    actor = trainable_in_this_process(trainable, {TRIAL_CONFIG_KEY: "digits/coreset/1/0"}, tmp_path)
    try:
        yield actor, lambda: get_session().loaded_checkpoint
    finally:
        actor.stop()


def checkpoint_result(folder: StoragePath, training_iteration: int):
    """What Tune's driver sends a restored trial: a checkpoint and the metrics it was saved with."""
    from ray import tune
    from ray.train._internal.session import _TrainingResult

    checkpoint = tune.Checkpoint(folder.path, filesystem=folder.filesystem)
    return _TrainingResult(checkpoint=checkpoint, metrics={"training_iteration": training_iteration})


@pytest.mark.parametrize("where", ["local", "bucket"])
def test_a_restore_from_a_pruned_checkpoint_gets_the_newest_one_left(
    trial_actor, where: str, tmp_path: Path, request: pytest.FixtureRequest, capsys
) -> None:
    """A killed driver's saved state names checkpoint_000000; the trial has since pruned it and kept
    checkpoint_000002 and _000003. Tune alone fails the trial on every retry; the trial is handed
    _000003 (with Tune's saved metrics), from where ``restore_point`` weighs every folder."""
    if where == "bucket":
        server, bucket = request.getfixturevalue("s3_server"), request.getfixturevalue("s3_bucket")
        trial_dir = parse_storage(server.uri(bucket, "runs")).root / "sweep" / "trial"
    else:
        trial_dir = parse_storage(tmp_path / "runs").root / "sweep" / "trial"
    for index in (2, 3):
        (trial_dir / f"checkpoint_{index:06d}" / "state.json").write_text("{}")
    actor, loaded = trial_actor

    actor.restore(checkpoint_result(trial_dir / "checkpoint_000000", training_iteration=1))
    assert loaded().path == (trial_dir / "checkpoint_000003").path
    assert actor.iteration == 1  # what Tune saved, not made up
    assert (
        "[digits/coreset/1/0] Tune's saved state names checkpoint_000000, pruned since; restoring from "
        "checkpoint_000003" in capsys.readouterr().out
    )

    actor.restore(checkpoint_result(trial_dir / "checkpoint_000002", training_iteration=3))
    assert loaded().path == (trial_dir / "checkpoint_000002").path  # one that exists is left as named
    assert actor.iteration == 3


def test_a_restore_with_no_checkpoint_left_starts_the_trial_without_one(trial_actor, tmp_path: Path) -> None:
    actor, loaded = trial_actor
    gone = parse_storage(tmp_path / "runs").root / "sweep" / "trial" / "checkpoint_000000"
    actor.restore(checkpoint_result(gone, training_iteration=1))
    assert loaded() is None and actor.iteration == 0  # restore_point then looks in the trial's other folders


def test_tune_alone_fails_a_restore_from_a_pruned_checkpoint(local_ray, tmp_path: Path) -> None:
    """Why the mixin exists: Tune's own restore refuses a checkpoint that is gone."""

    def plain(config):
        return None

    actor = trainable_in_this_process(plain, {}, tmp_path)
    try:
        gone = parse_storage(tmp_path / "runs").root / "trial" / "checkpoint_000000"
        with pytest.raises(ValueError, match="does not exist on storage anymore"):
            actor.restore(checkpoint_result(gone, training_iteration=1))
    finally:
        actor.stop()
