"""The analysis package on MLflow stores written with the real mlflow client (tests/helpers/mlflow_runs.py).

One module-level store holds several experiments so the sqlite schema is created once:
``study`` (digits; core-set alphas 0, 0.5, 1 with +0.03 injected at alpha 0.5; loss prediction 0, 1
with no gain; random), ``identical`` (noise-free, every variant equals its plain partner),
``unpaired`` (the VAE runs started from other initial labels), ``dupes`` and ``mixed``/``extended``
(two sweeps with different / the same budgets).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers.mlflow_runs import (
    T0_MS,
    Diagnostics,
    base_curve,
    initial_hash,
    log_points,
    store_uri,
    write_sweep,
    write_trial,
)
from mlflow import MlflowClient

from analysis import stats
from analysis.load import AnalysisError, MixedBudgetsError, load_sweep
from analysis.report import build_report, log_to_parent
from raysweep.schedule import label_counts

REPO = Path(__file__).resolve().parents[1]
GAIN = 0.03
STUDY = {"coreset": (0.0, 0.5, 1.0), "lloss": (0.0, 1.0), "random": (0.0,)}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("mlflow")
    uri = store_uri(root)
    art = root / "artifacts"
    study = write_sweep(
        uri,
        "study",
        sweep_id="s1",
        artifact_root=art,
        heuristics=STUDY,
        gain={("coreset", 0.5): GAIN},
        artifacts=True,
    )
    identical = write_sweep(
        uri,
        "identical",
        sweep_id="i1",
        artifact_root=art,
        heuristics={"coreset": (0.0, 1.0)},
        seeds=range(3),
        noise=0.0,
    )
    write_sweep(
        uri,
        "unpaired",
        sweep_id="u1",
        artifact_root=art,
        heuristics={"coreset": (0.0, 1.0)},
        seeds=range(3),
        hash_fn=lambda d, h, a, s: initial_hash(d, s + 100 * (a > 0)),
    )
    return {"uri": uri, "root": root, "art": art, "study": study, "identical": identical}


@pytest.fixture(scope="module")
def study(store):
    return load_sweep(store["uri"], "study")


def test_load_gives_one_tidy_row_per_trial_step_metric(study):
    frame = study.frame
    assert list(frame.columns) == [
        "sweep_id",
        "run_id",
        "trial_key",
        "dataset",
        "heuristic",
        "alpha",
        "seed",
        "uses_vae",
        "encoder",
        "initial_labels_sha256",
        "n_labels",
        "metric",
        "value",
    ]
    n_trials = 5 * 6  # 6 (heuristic, alpha) variants x 5 seeds
    assert frame["trial_key"].nunique() == n_trials
    # 5 label counts; accuracy/auc/train_seconds at each, selection_seconds at all but the last
    assert len(frame) == n_trials * (5 * 3 + 4)
    assert sorted(frame["n_labels"].unique()) == [100, 200, 300, 400, 500]
    assert frame["alpha"].dtype == float and frame["seed"].dtype == np.int64
    assert (
        frame.loc[frame["alpha"] > 0, "uses_vae"].all()
        and not frame.loc[frame["alpha"] == 0, "uses_vae"].any()
    )
    assert study.duplicates_dropped == 0 and study.duplicate_runs == 0
    assert study.sweep_ids == ["s1"] and study.target_parent_run_id == study.sweeps.loc[0, "parent_run_id"]
    one = frame[(frame.trial_key == "digits/coreset/0.5/2") & (frame.metric == "accuracy")]
    np.testing.assert_allclose(one["value"], base_curve(one["n_labels"].to_numpy(), 2) + GAIN, atol=0.01)


def test_injected_gain_is_significant_and_no_gain_is_not(study):
    tests = stats.paired_tests(study.frame)
    gain = tests[(tests.heuristic == "coreset") & (tests.alpha == 0.5)]
    assert len(gain) == 5 and (gain["n_pairs"] == 5).all()
    assert gain["mean_diff"].to_numpy() == pytest.approx([GAIN] * 5, abs=0.005)
    assert (gain["p_t_holm"] < 0.05).all() and gain["significant"].all()
    assert (gain["diff_ci_low"] > 0).all()
    # nothing was injected into loss prediction or core-set alpha 1
    assert not tests[(tests.heuristic == "lloss") | (tests.alpha == 1.0)]["significant"].any()
    # random has no VAE variant: no comparison
    assert "random" not in set(tests["heuristic"])


def test_best_alpha_is_the_one_with_the_injected_gain(study):
    areas = stats.trial_areas(study.frame)
    assert areas["complete"].all() and len(areas) == 30
    summary = stats.alpha_summary(areas).set_index("heuristic")
    core = summary.loc["coreset"]
    assert core["best_alpha"] == 0.5
    assert core["gain"] == pytest.approx(GAIN, abs=0.003)
    assert core["p_t_holm"] < 0.05 and core["significant"]
    assert summary.loc["random", "note"] == "no VAE variants"


def test_area_of_a_logged_curve_equals_the_hand_computed_value(store, study):
    trial = study.frame[(study.frame.trial_key == "digits/lloss/1/3") & (study.frame.metric == "accuracy")]
    n, y = trial["n_labels"].to_numpy(float), trial["value"].to_numpy()
    by_hand = sum((n[i + 1] - n[i]) * (y[i] + y[i + 1]) / 2 for i in range(len(n) - 1)) / (n[-1] - n[0])
    areas = stats.trial_areas(study.frame).set_index("trial_key")
    assert areas.loc["digits/lloss/1/3", "area"] == pytest.approx(by_hand, rel=1e-12)


def test_runtime_tables_sum_the_logged_seconds(study):
    runtime = stats.runtime_tables(study.frame, study.trials, study.sweeps)
    per_trial = runtime["per_trial"].set_index("trial_key")
    # helper: 2 s training at each of 5 label counts, 0.5 s selection in 4 rounds, 60 s wall
    assert per_trial.loc["digits/coreset/0.5/0", "compute_seconds"] == pytest.approx(5 * 2.0 + 4 * 0.5)
    assert per_trial.loc["digits/coreset/0.5/0", "wall_seconds"] == pytest.approx(60.0)
    assert (per_trial["eval_seconds"] == 0.0).all()  # runs from before eval_seconds was logged
    core = runtime["by_heuristic"].set_index("heuristic").loc["coreset"]
    assert core["trials"] == 15 and core["wall_seconds"] == pytest.approx(15 * 60.0)
    sweep = runtime["per_sweep"].iloc[0]
    assert sweep["trials"] == 30 and sweep["vae_trainings"] == 1.0
    assert sweep["compute_seconds"] == pytest.approx(30 * 12.0)


def test_runtime_totals_count_the_evaluation_seconds(store):
    uri, art = store["uri"], store["art"]
    write_sweep(uri, "evaluated", sweep_id="v1", artifact_root=art, seeds=[0, 1], eval_s_per_round=0.3)
    data = load_sweep(uri, "evaluated")
    runtime = stats.runtime_tables(data.frame, data.trials, data.sweeps, data.vaes)
    per_trial = runtime["per_trial"].set_index("trial_key")
    # 5 label counts, each evaluated: 1.5 s beside the 10 s training and 2 s selection
    assert per_trial.loc["digits/coreset/0/1", "eval_seconds"] == pytest.approx(5 * 0.3)
    assert per_trial.loc["digits/coreset/0/1", "compute_seconds"] == pytest.approx(10.0 + 2.0 + 1.5)
    core = runtime["by_heuristic"].set_index("heuristic").loc["coreset"]
    assert core["eval_seconds"] == pytest.approx(6 * 1.5)
    # 4 VAE trials share the helper's 12.5-s VAE
    assert core["total_seconds"] == pytest.approx(6 * 13.5 + 12.5)
    assert runtime["per_sweep"].iloc[0]["compute_seconds"] == pytest.approx(6 * 13.5)


def test_identical_curves_give_no_significance_and_no_crash(store):
    data = load_sweep(store["uri"], "identical")
    tests = stats.paired_tests(data.frame)
    assert len(tests) == 5
    assert (tests["p_t"] == 1.0).all() and (tests["p_wilcoxon"] == 1.0).all()
    assert not tests["significant"].any() and tests["note"].str.contains("identical").all()
    summary = stats.alpha_summary(stats.trial_areas(data.frame))
    assert not summary["significant"].any()


def test_unpaired_runs_are_refused(store):
    data = load_sweep(store["uri"], "unpaired")
    with pytest.raises(stats.UnpairedError, match="initial-label hashes differ"):
        stats.paired_tests(data.frame)
    with pytest.raises(stats.UnpairedError):
        stats.alpha_summary(stats.trial_areas(data.frame))


def test_duplicate_steps_and_second_runs_are_dropped_and_counted(store):
    uri = store["uri"]
    written = write_sweep(
        uri, "dupes", sweep_id="d1", artifact_root=store["art"], heuristics={"random": (0.0,)}, seeds=[0, 1]
    )
    client = MlflowClient(uri)
    first = written.child_run_ids["digits/random/0/0"]
    # a retried round logs step 300 again, later and with another value
    log_points(client, first, "accuracy", [(300, 0.111, T0_MS + 10_000_000)])
    # a rerun of trial seed 1: a second run for the same key, later, covering steps 100 and 200
    write_trial(
        client,
        written.experiment_id,
        sweep_id="d1",
        parent_run_id=written.parent_run_id,
        dataset="digits",
        heuristic="random",
        alpha=0.0,
        seed=1,
        steps=[100, 200],
        accuracy=np.array([0.222, 0.333]),
        initial_labels=100,
        labels_per_round=100,
        initial_labels_sha256=initial_hash("digits", 1),
        start_ms=T0_MS + 20_000_000,
        end_ms=T0_MS + 20_060_000,
    )
    data = load_sweep(uri, "dupes")
    # 1 repeated accuracy point + 2 steps x 4 metrics (selection_seconds only at step 100) re-logged
    assert data.duplicates_dropped == 1 + (2 * 3 + 1)
    assert data.duplicate_runs == 1
    assert any("dropped 8 duplicate" in note for note in data.notes)
    acc = data.frame[data.frame.metric == "accuracy"].set_index(["trial_key", "n_labels"])["value"]
    assert acc[("digits/random/0/0", 300)] == pytest.approx(0.111)
    assert acc[("digits/random/0/1", 100)] == pytest.approx(0.222)
    assert acc[("digits/random/0/1", 200)] == pytest.approx(0.333)
    assert acc[("digits/random/0/1", 300)] == pytest.approx(
        base_curve(300, 1), abs=0.01
    )  # from the first run
    assert not data.frame.duplicated(["trial_key", "metric", "n_labels"]).any()


def test_sweeps_with_different_budgets_are_refused_unless_one_is_picked(store):
    uri, art = store["uri"], store["art"]
    write_sweep(uri, "mixed", sweep_id="m1", artifact_root=art, heuristics={"random": (0.0,)}, seeds=[0])
    write_sweep(
        uri, "mixed", sweep_id="m2", artifact_root=art, heuristics={"random": (0.0,)}, seeds=[0], initial_labels=50,
        labels_per_round=50, start_ms=T0_MS + 10**7,
    )  # fmt: skip
    with pytest.raises(MixedBudgetsError, match=r"initial_labels differs \(m1: 100; m2: 50\).*--sweep"):
        load_sweep(uri, "mixed")
    picked = load_sweep(uri, "mixed", sweep_id="m2")
    assert picked.sweep_ids == ["m2"] and sorted(picked.frame["n_labels"].unique()) == [
        50,
        100,
        150,
        200,
        250,
    ]
    # same budget, more seeds later: both sweeps read as one study, reported to the latest parent
    write_sweep(uri, "extended", sweep_id="e1", artifact_root=art, heuristics={"random": (0.0,)}, seeds=[0])
    later = write_sweep(
        uri,
        "extended",
        sweep_id="e2",
        artifact_root=art,
        heuristics={"random": (0.0,)},
        seeds=[1],
        start_ms=T0_MS + 10**7,
    )
    both = load_sweep(uri, "extended")
    assert both.sweep_ids == ["e1", "e2"] and both.target_parent_run_id == later.parent_run_id
    assert any("all 2 sweeps" in note for note in both.notes)


def test_bad_experiment_sweep_and_store_are_analysis_errors(store, tmp_path):
    with pytest.raises(AnalysisError, match=r"unknown experiment 'nope'.*study"):
        load_sweep(store["uri"], "nope")
    with pytest.raises(AnalysisError, match=r"sweep 'zz' has no trial runs.*s1"):
        load_sweep(store["uri"], "study", sweep_id="zz")
    with pytest.raises(AnalysisError, match="no MLflow store"):
        load_sweep(f"sqlite:///{tmp_path}/missing.db", "study")
    assert not (tmp_path / "missing.db").exists()


def test_report_in_process_writes_tables_figures_and_logs_to_parent(store, study, tmp_path):
    report = build_report(study, tmp_path / "out")
    names = {p.name for p in (tmp_path / "out").iterdir()}
    for stem in ("curves_digits_coreset", "curves_digits_lloss", "alpha_sweep_digits", "runtime"):
        assert {f"{stem}.png", f"{stem}.pdf", f"{stem}.csv"} <= names
    assert "curves_digits_random.png" not in names  # no VAE variant, no figure
    assert {
        "report.md",
        "report.html",
        "paired_tests.csv",
        "alpha_summary.csv",
        "runtime_per_sweep.csv",
    } <= names
    text = report.markdown.read_text()
    assert "| digits | coreset | 0.5 | 5 | 5 |" in text  # 5 seeds, 5 label counts
    assert (
        "![curves_digits_coreset" in text and '<img src="alpha_sweep_digits.png"' in report.html.read_text()
    )
    assert log_to_parent(report, store["uri"])
    logged = {a.path for a in MlflowClient(store["uri"]).list_artifacts(report.parent_run_id, "analysis")}
    assert "analysis/report.md" in logged and "analysis/runtime.png" in logged


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "analysis", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=300,
    )


def test_cli_report_writes_files_and_logs_artifacts_to_the_parent_run(store, tmp_path):
    out = tmp_path / "cli-out"
    result = _cli("report", "--tracking-uri", store["uri"], "--experiment", "identical", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "report:" in result.stdout
    assert {
        "report.md",
        "report.html",
        "curves_digits_coreset.png",
        "alpha_sweep_digits.pdf",
        "runtime.csv",
    } <= {p.name for p in out.iterdir()}
    parent = store["identical"].parent_run_id
    logged = {a.path for a in MlflowClient(store["uri"]).list_artifacts(parent, "analysis")}
    assert {"analysis/report.md", "analysis/curves_digits_coreset.png", "analysis/paired_tests.csv"} <= logged


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--experiment", "no-such-experiment"), "error: unknown experiment 'no-such-experiment'"),
        (
            ("--experiment", "study", "--metric", "f1"),
            "error: metric 'f1' was not logged by these runs; logged metrics: accuracy",
        ),
    ],
)
def test_cli_bad_input_exits_2_with_one_clear_message(store, tmp_path, args, message):
    result = _cli("report", "--tracking-uri", store["uri"], *args, "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------------------------------------
# Alpha arms that did (not) change the picks, the VAE-only end, gaps, VAE seconds (issues 10, 11)
# ---------------------------------------------------------------------------------------------

INF = float("inf")
ARMS = {
    ("coreset", 0.25): Diagnostics(vae_share=0.06, plain_overlap=0.995),
    ("coreset", 1.0): Diagnostics(vae_share=0.5, plain_overlap=0.72),
    ("coreset", INF): Diagnostics(vae_share=1.0, plain_overlap=0.2),
    ("medal", 1.0): Diagnostics(vae_share=0.5, plain_overlap=0.989),
    ("lloss", 1.0): Diagnostics(vae_share=0.5, plain_overlap=float("nan")),
}


@pytest.fixture(scope="module")
def alphas(store) -> dict:
    """3 seeds; core-set over 0, 0.25, 1 and the VAE-only end; one VAE of 30 s shared by 15 trials;
    the MedAL alpha-1 trial of seed 0 never logged its 300-label round."""
    written = write_sweep(
        store["uri"],
        "alphas",
        sweep_id="a1",
        artifact_root=store["art"],
        heuristics={
            "coreset": (0.0, 0.25, 1.0, INF),
            "medal": (0.0, 1.0),
            "lloss": (0.0, 1.0),
            "random": (0.0,),
        },
        seeds=range(3),
        gain={("coreset", INF): -0.05},
        diagnostics=ARMS,
        vae_seconds=30.0,
        missing_steps={"digits/medal/1/0": [300]},
    )
    return {"written": written, "data": load_sweep(store["uri"], "alphas")}


def test_the_vae_only_end_loads_and_is_compared_with_plain(alphas):
    data = alphas["data"]
    inf_trials = data.trials[data.trials["alpha"] == INF]
    assert sorted(inf_trials["trial_key"]) == [f"digits/coreset/inf/{s}" for s in range(3)]
    assert set(data.trials.loc[data.trials["uses_vae"], "alpha_scaling"]) == {"balanced"}
    tests = stats.paired_tests(data.frame)
    vae_only = tests[(tests.heuristic == "coreset") & (tests.alpha == INF)]
    assert vae_only["mean_diff"].to_numpy() == pytest.approx([-0.05] * 5, abs=0.005)
    assert vae_only["significant"].all()


def test_arm_diagnostics_from_the_store_flag_the_arm_with_the_plain_picks(alphas):
    arms = stats.arm_diagnostics(stats.trial_diagnostics(alphas["data"].frame)).set_index(
        ["heuristic", "alpha"]
    )
    assert sorted(arms.index) == sorted(ARMS)
    for key, expected in ARMS.items():
        assert arms.loc[key, "vae_share"] == pytest.approx(expected.vae_share) and arms.loc[key, "n"] == 3
    assert arms.loc[("coreset", 0.25), "plain_overlap"] == pytest.approx(0.995)
    assert np.isnan(arms.loc[("lloss", 1.0), "plain_overlap"])  # its model depends on alpha: not logged
    assert arms["same_picks_as_plain"].to_dict() == {key: key == ("coreset", 0.25) for key in ARMS}


def test_report_flags_same_picks_lists_gaps_names_families_and_adds_vae_seconds(alphas, tmp_path):
    report = build_report(alphas["data"], tmp_path / "out")
    text = report.markdown.read_text()
    flagged = [line for line in text.splitlines() if "this arm is not a different experiment" in line]
    assert (
        "- digits coreset alpha = 0.25: mean plain_overlap 0.9950: picks equal to the plain heuristic's; "
        "this arm is not a different experiment" in flagged
    )
    assert not any("medal" in line or "alpha = 1:" in line for line in flagged)
    # families of the Holm corrections, the scaling, the gap
    assert (
        "'Holm, alphas x labels' corrects over every alpha and label count of a dataset and heuristic" in text
    )
    assert "corrects over the k alpha > 0 areas of that dataset and heuristic" in text
    assert "alpha scaling of the VAE arms: `balanced`" in text
    assert "| digits/medal/1/0 | 4 | 300 |" in text
    # runtime: 30 s of VAE training over the 15 trials that used it (2 s each)
    by_heuristic = pd.read_csv(report.tables["runtime_by_heuristic"]).set_index("heuristic")
    assert by_heuristic.loc["coreset", "vae_seconds"] == pytest.approx(9 * 2.0)
    assert by_heuristic.loc["lloss", "vae_seconds"] == pytest.approx(3 * 2.0)
    assert by_heuristic.loc["random", "vae_seconds"] == 0.0
    per_trial = 5 * 2.0 + 4 * 0.5  # the helper's train and selection seconds
    gap_trial = 4 * 2.0 + 3 * 0.5  # digits/medal/1/0 lacks one round
    assert by_heuristic.loc["medal", "total_seconds"] == pytest.approx(5 * per_trial + gap_trial + 3 * 2.0)
    assert by_heuristic.loc["coreset", "diagnostics_seconds"] == pytest.approx(9 * 4 * 0.25)
    # the alpha figure carries overlap and share; inf has its own row
    figure = pd.read_csv(tmp_path / "out" / "alpha_sweep_digits.csv")
    coreset = figure[figure.heuristic == "coreset"].set_index("alpha")
    assert coreset.loc[INF, "plain_overlap"] == pytest.approx(0.2) and coreset.loc[1.0, "vae_share"] == 0.5
    assert (tmp_path / "out" / "alpha_sweep_digits.png").stat().st_size > 10_000


def test_a_sweep_stopped_before_its_last_round_leaves_every_trial_incomplete(store, tmp_path):
    uri, art = store["uri"], store["art"]
    # rounds=4 schedules 100..500 labels; no trial logged 500 (the sweep was stopped)
    keys = [f"digits/coreset/{a:g}/{s}" for a in (0.0, 0.5, 1.0) for s in range(3)]
    write_sweep(
        uri, "stopped", sweep_id="t1", artifact_root=art, seeds=range(3),
        missing_steps={key: [500] for key in keys},
    )  # fmt: skip
    data = load_sweep(uri, "stopped")
    assert data.grids == {"digits": [100, 200, 300, 400, 500]}
    areas = stats.trial_areas(data.frame, grids=data.grids)
    assert not areas["complete"].any() and set(areas["missing_n_labels"]) == {"500"}
    # from the logged points alone, the same trials look complete
    assert stats.trial_areas(data.frame)["complete"].all()
    report = build_report(data, tmp_path / "out")
    text = report.markdown.read_text()
    assert "9 incomplete trials are left out of the areas" in text
    assert "| digits/coreset/0.5/1 | 4 | 500 |" in text


@pytest.mark.parametrize(
    ("initial", "per_round", "rounds", "max_labels"),
    [(100, 100, 4, None), (100, 100, None, 350), (3000, 3000, 3, 10000), (50, 25, 0, None), (10, 5, 2, 12)],
)
def test_the_scheduled_grid_is_the_loops(initial, per_round, rounds, max_labels):
    from raysweep.config import ScheduleConfig
    from raysweep.schedule import label_schedule

    schedule = ScheduleConfig(
        initial_labels=initial, labels_per_round=per_round, rounds=rounds, max_labels=max_labels
    )
    assert label_counts(initial, per_round, rounds, max_labels) == label_schedule(schedule, 10**6)


def test_a_schedule_that_ends_with_the_pool_names_no_grid():
    assert label_counts(100, 100, None, None) is None


def test_pick_diagnostics_of_two_seeds_show_no_interval_in_the_report(store, tmp_path):
    uri, art = store["uri"], store["art"]
    write_sweep(uri, "two-seeds", sweep_id="w1", artifact_root=art, seeds=[0, 1], diagnostics=ARMS)
    report = build_report(load_sweep(uri, "two-seeds"), tmp_path / "out")
    text = report.markdown.read_text()
    [header] = [
        line
        for line in text.splitlines()
        if line.startswith("| dataset | heuristic | alpha | seeds | vae_share")
    ]
    assert "CI" not in header  # fewer than 3 seeds: not informative, not shown
    assert "| digits | coreset | 1 | 2 | 0.5000 | 0.7200 |" in text
    arms = pd.read_csv(report.tables["arm_diagnostics"])
    assert arms["plain_overlap_ci_low"].notna().all()  # the CSV keeps the intervals as computed


def test_sweeps_that_differ_in_alpha_scaling_are_refused(store):
    uri, art = store["uri"], store["art"]
    write_sweep(uri, "scalings", sweep_id="r1", artifact_root=art, seeds=[0], alpha_scaling="raw")
    write_sweep(uri, "scalings", sweep_id="b1", artifact_root=art, seeds=[0], start_ms=T0_MS + 10**7)
    with pytest.raises(MixedBudgetsError, match=r"alpha_scaling differs \(b1: balanced; r1: raw\)"):
        load_sweep(uri, "scalings")
    assert load_sweep(uri, "scalings", sweep_id="r1").trials["alpha_scaling"].tolist() == ["raw"] * 3


def test_vae_seconds_of_a_reused_vae_count_once_and_unknown_ones_are_said(store):
    uri, art = store["uri"], store["art"]
    # e1 trains the VAE (20 s) for seed 0; e2 reads it from the cache for seed 1: 20 s over 4 trials
    write_sweep(uri, "reused", sweep_id="e1", artifact_root=art, seeds=[0], vae_seconds=20.0)
    write_sweep(
        uri, "reused", sweep_id="e2", artifact_root=art, seeds=[1], vae_seconds=20.0, start_ms=T0_MS + 10**7
    )
    data = load_sweep(uri, "reused")
    runtime = stats.runtime_tables(data.frame, data.trials, data.sweeps, data.vaes)
    shares = runtime["per_trial"].set_index("trial_key")["vae_seconds"]
    assert shares[[f"digits/coreset/{a:g}/{s}" for a in (0.5, 1.0) for s in (0, 1)]].tolist() == [5.0] * 4
    assert shares["digits/coreset/0/0"] == 0.0
    # an older launcher logged no vae_trainings.json: no VAE seconds, no total, and a note
    write_sweep(uri, "old", sweep_id="o1", artifact_root=art, seeds=[0], vae_seconds=None)
    old = load_sweep(uri, "old")
    assert any("logged no vae_trainings.json" in note for note in old.notes)
    by_heuristic = stats.runtime_tables(old.frame, old.trials, old.sweeps, old.vaes)["by_heuristic"].iloc[0]
    assert by_heuristic["vae_seconds_unknown"] == 2 and np.isnan(by_heuristic["total_seconds"])
