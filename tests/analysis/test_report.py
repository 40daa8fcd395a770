"""analysis.report: the sections in order in one folder (CSVs, figures, report.md/html), logged to the parent run.

What each section says is tested in tests/analysis/sections/; here the whole report of a grid, a search
and a sweep with several encoders (tests/analysis/conftest.py).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from helpers.analysis_sweeps import PEAK
from mlflow import MlflowClient

from analysis.load import AnalysisError
from analysis.report import SECTIONS, build_report, log_to_parent


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
    assert report.logged
    # the sections in the report's order, every table of theirs written as <name>.csv
    headings = [line for line in report.markdown.read_text().splitlines() if line.startswith("#")]
    assert headings == [
        "# raysweep analysis: study",
        "## Do VAE features help? Paired tests against the plain heuristic",
        "## Which alpha? Area under the learning curve",
        "## Did each alpha arm change the picks?",
        "## Runtime",
        "## Figures",
    ]
    assert [build.__name__ for build in SECTIONS] == [
        "overview", "confirmed", "significance", "alpha", "picks", "training", "runtime", "figures", "search",
        "encoders",
    ]  # fmt: skip
    assert list(report.tables) == [
        "curve_summary",
        "paired_tests",
        "significance_summary",
        "trial_areas",
        "label_gaps",
        "alpha_curve",
        "alpha_summary",
        "trial_diagnostics",
        "arm_diagnostics",
        "runtime_per_trial",
        "runtime_by_heuristic",
        "runtime_per_sweep",
    ]
    assert all(
        path == tmp_path / "out" / f"{name}.csv" and path.exists() for name, path in report.tables.items()
    )
    assert list(report.figures) == [
        "curves_digits_coreset",
        "curves_digits_lloss",
        "alpha_sweep_digits",
        "runtime",
    ]
    # the HTML says what the markdown says
    html = report.html.read_text()
    assert "<h2>Which alpha? Area under the learning curve</h2>" in html
    assert "<title>raysweep analysis: study</title>" in html


def test_an_unknown_metric_is_refused_before_anything_is_written(study, tmp_path):
    with pytest.raises(
        AnalysisError, match="metric 'f1' was not logged by these runs; logged metrics: accuracy"
    ):
        build_report(study, tmp_path / "out", metric="f1")
    assert not (tmp_path / "out").exists()


def test_report_of_an_encoder_sweep_has_the_encoders_section_and_reads_the_vae_arms(encoder_sweep, tmp_path):
    report = build_report(encoder_sweep, tmp_path / "report")
    text = report.markdown.read_text()
    assert "## Encoders: where the VAE features come from" in text
    assert "the alpha sections compare `vae` arms" in text
    assert "encoders_digits_coreset" in report.figures
    assert all(p.exists() for p in report.figures["encoders_digits_coreset"])
    # The alpha sections read one arm per alpha: the vae arm against alpha 0, not an average of encoders.
    paired = pd.read_csv(report.tables["paired_tests"])
    assert paired["mean_diff"].to_numpy() == pytest.approx(np.full(4, 0.01), abs=0.003)
    assert set(pd.read_csv(report.tables["encoder_summary"])["encoder"]) == {"vae", "gmvae", "cvae"}
    assert {"encoder_curves", "encoder_tests", "encoder_seconds"} <= set(report.tables)
    assert list(report.figures)[-1] == "encoders_digits_coreset"  # the last section's figure comes last


def test_report_has_the_search_section_and_figure(searched, tmp_path) -> None:
    out = tmp_path / "report"
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


def test_a_grid_with_only_vae_features_has_neither_search_nor_encoders_section(grid, tmp_path) -> None:
    report = build_report(grid, tmp_path / "report")
    text = report.markdown.read_text()
    assert not (tmp_path / "report" / "search_best.csv").exists()
    assert "Search:" not in text
    assert "Encoders:" not in text and "encoder_summary" not in report.tables


def test_the_report_of_a_sweep_and_its_confirmation_leads_with_the_confirmed_gains(
    confirmed, tmp_path
) -> None:
    report = build_report(confirmed, tmp_path / "report")
    text = report.markdown.read_text()
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == [
        "# raysweep analysis: confirmed",
        "## Confirmed on fresh seeds",
        "## Do VAE features help? Paired tests against the plain heuristic",
        "## Which alpha? Area under the learning curve",
        "## Did each alpha arm change the picks?",
        "## Did the training fit the labels?",
        "## Runtime",
        "## Figures",
    ]
    # the headline is the report's first table
    first_table = next(line for line in text.splitlines() if line.startswith("| "))
    assert first_table.startswith(
        "| dataset | heuristic | alpha (chosen on validation) | seeds | test area, alpha 0 |"
    )
    headline = pd.read_csv(report.tables["confirmed"]).set_index("heuristic")
    assert headline.loc["coreset", "alpha"] == 1.0 and headline.loc["coreset", "significant"]
    assert list(report.tables)[:3] == ["confirmed", "confirmed_floor", "confirmed_curves"]
    assert "training" in report.tables
    assert list(report.figures)[:2] == ["confirmed_digits_coreset", "confirmed_digits_medal"]
    # the sections below read the selection: 5 choosing seeds per arm, the confirmation's in its own sweep row
    paired = pd.read_csv(report.tables["paired_tests"])
    assert set(paired["n_pairs"]) == {5} and set(paired["alpha"]) == {1.0, 2.0}
    per_sweep = pd.read_csv(report.tables["runtime_per_sweep"]).set_index("sweep_id")
    assert per_sweep["trials"].to_dict() == {"c1": 30, "c1-confirm": 25}
    assert set(pd.read_csv(report.tables["runtime_by_heuristic"])["trials"]) == {15, 10, 5}
