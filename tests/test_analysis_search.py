"""The analysis of a search sweep: settings in the searcher's order, the best one against alpha 0.

The store is written with the real mlflow client in the launcher's schema (tests/helpers/mlflow_runs.py)
plus a search's tags; curves carry a known gain per alpha, so the best setting is a known answer.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers.mlflow_runs import initial_hash, store_uri, write_sweep, write_trial
from mlflow import MlflowClient

from analysis import search, stats
from analysis.load import load_sweep
from analysis.report import build_report

ALPHAS = [0.05, 0.4, 1.3, 3.0, 12.0]  # in the searcher's order
PEAK = 1.3


def gain(heuristic: str, alpha: float, steps: np.ndarray) -> np.ndarray:
    """A bump over log alpha, largest at alpha 1.3: 0.02 accuracy there, ~0 at the ends."""
    if alpha == 0:
        return np.zeros_like(steps)
    return 0.02 * np.exp(-((np.log10(alpha) - np.log10(PEAK)) ** 2) / (2 * 0.3**2)) + 0 * steps


@pytest.fixture
def searched(tmp_path: Path) -> dict:
    uri = store_uri(tmp_path)
    written = write_sweep(
        uri,
        "search-analysis",
        sweep_id="s1",
        artifact_root=tmp_path / "artifacts",
        heuristics={"coreset": [0.0, *ALPHAS]},
        seeds=range(4),
        gain=gain,
        noise=0.001,
    )
    client = MlflowClient(uri)
    for key, run_id in written.child_run_ids.items():
        alpha = float(key.split("/")[2])
        index = 0 if alpha == 0 else ALPHAS.index(alpha) + 1
        client.set_tag(run_id, "raysweep.search_group", "digits/coreset")
        client.set_tag(run_id, "raysweep.setting", f"alpha={alpha:g}")
        client.set_tag(run_id, "raysweep.setting_index", str(index))
    client.log_metric(written.parent_run_id, "search_settings_tried.digits/coreset", 6.0)
    # a sixth setting stopped early after two rounds on both seeds it ran
    stopped = {}
    for seed in (0, 1):
        steps = written.grid[:2]
        run_id = write_trial(
            client,
            written.experiment_id,
            sweep_id="s1",
            parent_run_id=written.parent_run_id,
            dataset="digits",
            heuristic="coreset",
            alpha=20.0,
            seed=seed,
            steps=steps,
            accuracy=np.array([0.5, 0.51]),
            initial_labels=100,
            labels_per_round=100,
            initial_labels_sha256=initial_hash("digits", seed),
            start_ms=written.grid[0],
            end_ms=None,
        )
        for name, value in {
            "raysweep.search_group": "digits/coreset",
            "raysweep.setting": "alpha=20",
            "raysweep.setting_index": "6",
            "raysweep.stopped_early": "1",
        }.items():
            client.set_tag(run_id, name, value)
        client.set_terminated(run_id, status="KILLED")
        stopped[f"digits/coreset/20/{seed}"] = run_id
    data = load_sweep(uri, "search-analysis")
    return {"uri": uri, "data": data, "stopped": stopped, "tmp": tmp_path}


def test_setting_table_lists_every_setting_in_the_searchers_order(searched) -> None:
    data = searched["data"]
    tags = search.search_tags(data)
    assert set(tags.loc[tags["stopped_early"], "trial_key"]) == set(searched["stopped"])
    areas = stats.trial_areas(data.frame)
    table = search.setting_table(areas, tags)
    assert table["setting_index"].tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert table["alpha"].tolist() == [0.0, *ALPHAS, 20.0]
    assert table["n_seeds"].tolist() == [4, 4, 4, 4, 4, 4, 0]
    assert table["stopped"].tolist() == [False] * 6 + [True]
    peak = table.loc[table["alpha"] == PEAK].iloc[0]
    plain = table.loc[table["alpha"] == 0].iloc[0]
    assert peak["mean_area"] - plain["mean_area"] == pytest.approx(0.02, abs=0.002)
    assert peak["ci_low"] < peak["mean_area"] < peak["ci_high"]


def test_best_setting_is_tested_against_alpha_0_and_corrected_for_the_settings_tried(searched) -> None:
    data = searched["data"]
    tags = search.search_tags(data)
    areas = stats.trial_areas(data.frame)
    [row] = search.best_setting_tests(areas, tags, search.settings_tried_from_parents(data)).to_dict(
        "records"
    )
    assert (row["best_alpha"], row["best_index"], row["settings_tried"]) == (PEAK, 3, 6)
    assert row["gain"] == pytest.approx(0.02, abs=0.002) and row["n_pairs"] == 4
    assert row["p_t_corrected"] == pytest.approx(min(1.0, 6 * row["p_t"]))
    assert row["significant"] == (row["p_t_corrected"] < 0.05)
    # without the parent's count, the settings seen in the runs are the number tried
    [seen] = search.best_setting_tests(areas, tags).to_dict("records")
    assert seen["settings_tried"] == 6


def test_partial_curves_stay_out_of_paired_tests(searched) -> None:
    data = searched["data"]
    tags = search.search_tags(data)
    everything = stats.paired_tests(data.frame)
    paired = stats.paired_tests(search.without_partial_curves(data.frame, tags))
    assert 20.0 in set(everything["alpha"]) and 20.0 not in set(paired["alpha"])
    assert set(paired["alpha"]) == set(ALPHAS)


def test_smoothed_trend_follows_the_settings() -> None:
    x = np.log10(np.array([0.05, 0.4, 1.3, 3.0, 12.0]))
    grid, trend = search.smoothed_trend(x, np.array([0.0, 1.0, 2.0, 1.0, 0.0]))
    assert len(grid) == 200 and grid[0] == x.min() and grid[-1] == x.max()
    assert 0 < trend.max() < 2 and abs(grid[np.argmax(trend)] - np.log10(1.3)) < 0.3
    assert search.smoothed_trend(x[:1], np.array([1.0]))[0].size == 0


def test_report_has_the_search_section_and_figure(searched) -> None:
    out = searched["tmp"] / "report"
    report = build_report(searched["data"], out)
    best = pd.read_csv(out / "search_best.csv")
    assert best["best_alpha"].tolist() == [PEAK]
    assert "search_digits_coreset" in report.figures
    png, pdf, csv = report.figures["search_digits_coreset"]
    assert png.stat().st_size > 10_000 and pdf.exists()
    numbers = pd.read_csv(csv)
    assert numbers["trend_area"].notna().sum() == 200
    text = report.markdown.read_text()
    assert "Search: which setting" in text and "search_digits_coreset.png" in text
    tests = pd.read_csv(out / "paired_tests.csv")
    assert 20.0 not in set(tests["alpha"])  # the stopped setting's partial curves are not tested
    assert math.isclose(best["p_t_corrected"].iloc[0], min(1.0, 6 * best["p_t"].iloc[0]), rel_tol=1e-9)


def test_a_grid_has_no_search_section(tmp_path: Path) -> None:
    uri = store_uri(tmp_path)
    write_sweep(
        uri,
        "grid",
        sweep_id="g1",
        artifact_root=tmp_path / "a",
        heuristics={"coreset": (0.0, 1.0)},
        seeds=range(3),
    )
    data = load_sweep(uri, "grid")
    assert search.search_tags(data).empty
    report = build_report(data, tmp_path / "report")
    assert not (tmp_path / "report" / "search_best.csv").exists()
    assert "Search:" not in report.markdown.read_text()
