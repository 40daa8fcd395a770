"""The report's encoder section on an MLflow store with known answers (real mlflow client, sqlite).

A synthetic encoders sweep as the launcher logs it: core-set at alpha 0 (the plain arm, once) and at
alpha 1 with features from vae (+0.01 over plain), gmvae (+0.03) and cvae (+0.01, the same as vae);
params ``encoder``, keys ``.../seed/<encoder>`` for non-default encoders, ``encoder_seconds`` per
selecting round (cvae 2.0 s, the others 0.1 s).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers.mlflow_runs import (
    T0_MS,
    base_curve,
    get_or_create_experiment,
    initial_hash,
    store_uri,
    write_trial,
)
from mlflow import MlflowClient
from mlflow.entities import Metric

from analysis import encoders
from analysis.load import load_sweep
from analysis.report import build_report

GRID = [100, 200, 300, 400]
GAINS = {(0.0, "none"): 0.0, (1.0, "vae"): 0.01, (1.0, "gmvae"): 0.03, (1.0, "cvae"): 0.01}
SECONDS = {"vae": 0.1, "gmvae": 0.1, "cvae": 2.0}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> tuple[str, Path]:
    root = tmp_path_factory.mktemp("mlflow")
    uri = store_uri(root)
    client = MlflowClient(uri)
    experiment_id = get_or_create_experiment(client, "encoders", root / "artifacts")
    parent = client.create_run(
        experiment_id, start_time=T0_MS, tags={"raysweep.sweep_id": "e1", "raysweep.role": "sweep"}
    )
    rng = np.random.default_rng(0)
    for index, ((alpha, encoder), gain) in enumerate(GAINS.items()):
        for seed in range(5):
            values = base_curve(np.array(GRID), seed) + gain + rng.normal(0, 0.002, len(GRID))
            run_id = write_trial(
                client,
                experiment_id,
                sweep_id="e1",
                parent_run_id=parent.info.run_id,
                dataset="digits",
                heuristic="coreset",
                alpha=alpha,
                seed=seed,
                steps=GRID,
                accuracy=values,
                initial_labels=100,
                labels_per_round=100,
                initial_labels_sha256=initial_hash("digits", seed),
                start_ms=T0_MS + 1000 * (10 * index + seed),
                end_ms=T0_MS + 1000 * (10 * index + seed) + 60_000,
            )
            if encoder != "none":
                client.log_param(run_id, "encoder", encoder)
                if encoder != "vae":
                    client.set_tag(run_id, "raysweep.trial_key", f"digits/coreset/1/{seed}/{encoder}")
                client.log_batch(
                    run_id,
                    metrics=[Metric("encoder_seconds", SECONDS[encoder], T0_MS, step) for step in GRID[:-1]],
                )
    client.set_terminated(parent.info.run_id)
    return uri, root


def test_loader_reads_the_encoder_of_each_trial(sweep) -> None:
    data = load_sweep(sweep[0], "encoders")
    assert data.trials["trial_key"].nunique() == 20  # four arms x five seeds, none collapsed
    arms = data.frame.drop_duplicates("trial_key").groupby(["alpha", "encoder"]).size().to_dict()
    assert arms == {(0.0, "none"): 5, (1.0, "cvae"): 5, (1.0, "gmvae"): 5, (1.0, "vae"): 5}
    assert encoders.has_encoders(data.frame)
    assert set(encoders.reference_rows(data.frame)["encoder"]) == {"none", "vae"}


def test_paired_tests_against_alpha_zero_and_vae_find_the_injected_gains(sweep) -> None:
    data = load_sweep(sweep[0], "encoders")
    tests = encoders.encoder_tests(data.frame)
    summary = encoders.encoder_summary(tests, encoders.encoder_areas(data.frame)).set_index(
        ["encoder", "baseline"]
    )
    assert sorted(summary.index) == [
        ("cvae", "alpha 0"),
        ("cvae", "vae"),
        ("gmvae", "alpha 0"),
        ("gmvae", "vae"),
        ("vae", "alpha 0"),
    ]
    for arm, expected in {
        ("vae", "alpha 0"): 0.01,
        ("gmvae", "alpha 0"): 0.03,
        ("gmvae", "vae"): 0.02,
        ("cvae", "alpha 0"): 0.01,
        ("cvae", "vae"): 0.0,
    }.items():
        row = summary.loc[arm]
        assert row["mean_diff_avg"] == pytest.approx(expected, abs=0.003), arm
        assert row["area_gain"] == pytest.approx(expected, abs=0.003), arm
        assert row["n_pairs"] == 5 and row["label_counts"] == 4
        assert (row["n_significant"] == 4) == (expected > 0), arm  # 0.01 with 0.002 noise: every count
    assert summary.loc[("cvae", "vae"), "min_p_t_holm"] > 0.05


def test_encoder_seconds_and_report_section(sweep, tmp_path) -> None:
    data = load_sweep(sweep[0], "encoders")
    seconds = encoders.encoder_seconds(data.frame).set_index("encoder")
    assert seconds.loc["cvae", "seconds_per_round"] == pytest.approx(2.0)
    assert seconds.loc["cvae", "seconds_per_trial"] == pytest.approx(6.0)  # three selecting rounds
    assert seconds.loc["vae", "rounds"] == 15

    report = build_report(data, tmp_path / "report")
    text = report.markdown.read_text()
    assert "## Encoders: where the VAE features come from" in text
    assert "the alpha sections compare `vae` arms" in text
    assert "encoders_digits_coreset" in report.figures
    assert all(p.exists() for p in report.figures["encoders_digits_coreset"])
    # The alpha sections read one arm per alpha: the vae arm against alpha 0, not an average of encoders.
    paired = pd.read_csv(report.tables["paired_tests"])
    assert paired["mean_diff"].to_numpy() == pytest.approx(np.full(4, 0.01), abs=0.003)
    assert set(pd.read_csv(report.tables["encoder_summary"])["encoder"]) == {"vae", "gmvae", "cvae"}


def test_a_sweep_without_other_encoders_gets_no_section(tmp_path) -> None:
    from helpers.mlflow_runs import write_sweep

    uri = store_uri(tmp_path)
    write_sweep(
        uri,
        "plain",
        sweep_id="p1",
        artifact_root=tmp_path / "art",
        heuristics={"coreset": (0.0, 1.0)},
        seeds=range(3),
    )
    data = load_sweep(uri, "plain")
    assert set(data.frame["encoder"]) == {"none", "vae"}  # runs without the param read as vae
    assert not encoders.has_encoders(data.frame)
    report = build_report(data, tmp_path / "report")
    assert "Encoders:" not in report.markdown.read_text() and "encoder_summary" not in report.tables
