"""The report: figures, tables, ``report.md`` and ``report.html`` in one folder, logged to MLflow.

:func:`build_report` runs the whole analysis on a loaded sweep and writes into ``out_dir``:

- ``report.md`` / ``report.html``: the significance summary, the alpha summary, the runtime tables
  and the figures, ready to read (the HTML is rendered from the same blocks, no extra dependency);
- ``curve_summary.csv``, ``paired_tests.csv``, ``significance_summary.csv``, ``trial_areas.csv``,
  ``alpha_curve.csv``, ``alpha_summary.csv``, ``runtime_per_trial.csv``,
  ``runtime_by_heuristic.csv``, ``runtime_per_sweep.csv``;
- the figures of :mod:`analysis.plots` (PNG, PDF and CSV each).

:func:`log_to_parent` uploads the folder as artifacts (under ``analysis/``) of the sweep's parent run.
"""

from __future__ import annotations

import html
import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from analysis import plots, search, stats
from analysis.load import AnalysisError, SweepData

log = logging.getLogger(__name__)

ARTIFACT_PATH = "analysis"


@dataclass
class Report:
    out_dir: Path
    markdown: Path
    html: Path
    tables: dict[str, Path] = field(default_factory=dict)
    figures: dict[str, list[Path]] = field(default_factory=dict)
    parent_run_id: str | None = None
    logged: bool = False


def build_report(data: SweepData, out_dir: Path, metric: str = "accuracy") -> Report:
    """Compute every table and figure for ``metric`` and write the report into ``out_dir``."""
    if metric not in data.metrics:
        raise AnalysisError(
            f"metric {metric!r} was not logged by these runs; logged metrics: {', '.join(data.metrics)}"
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = data.frame

    summary = stats.curve_summary(frame, metric)
    search_tags = search.search_tags(data)  # empty for a grid
    # a search's trials stopped early have partial curves: shown, but kept out of paired tests
    tests = stats.paired_tests(search.without_partial_curves(frame, search_tags), metric)
    significance = stats.significance_summary(tests)
    areas = stats.trial_areas(frame, metric)
    curve = stats.alpha_curve(areas)
    alpha_table = stats.alpha_summary(areas)
    runtime = stats.runtime_tables(frame, data.trials, data.sweeps)

    tables = {
        "curve_summary": summary,
        "paired_tests": tests,
        "significance_summary": significance,
        "trial_areas": areas,
        "alpha_curve": curve,
        "alpha_summary": alpha_table,
        "runtime_per_trial": runtime["per_trial"],
        "runtime_by_heuristic": runtime["by_heuristic"],
        "runtime_per_sweep": runtime["per_sweep"],
    }
    search_part = search.search_section(data, areas, search_tags, out_dir, metric)
    tables.update(search_part.tables)
    table_paths = {}
    for name, table in tables.items():
        table_paths[name] = out_dir / f"{name}.csv"
        table.to_csv(table_paths[name], index=False)
    figures = plots.write_figures(
        out_dir, summary, tests, curve, alpha_table, runtime["by_heuristic"], metric
    )

    blocks = _blocks(data, metric, significance, alpha_table, areas, runtime, figures) + search_part.blocks
    figures.update(search_part.figures)
    md_path, html_path = out_dir / "report.md", out_dir / "report.html"
    md_path.write_text(_to_markdown(blocks))
    html_path.write_text(_to_html(blocks, title=f"raysweep analysis: {data.experiment_name}"))
    return Report(
        out_dir=out_dir,
        markdown=md_path,
        html=html_path,
        tables=table_paths,
        figures=figures,
        parent_run_id=data.target_parent_run_id,
    )


def log_to_parent(report: Report, tracking_uri: str) -> bool:
    """Log the report folder as artifacts of the sweep's parent run (``analysis/...``)."""
    if report.parent_run_id is None:
        log.warning("no parent run found for this sweep: the report is not logged to MLflow")
        return False
    from mlflow import MlflowClient

    MlflowClient(tracking_uri).log_artifacts(
        report.parent_run_id, str(report.out_dir), artifact_path=ARTIFACT_PATH
    )
    report.logged = True
    return True


# ------------------------------------------------------------------------------------------------
# Content


def _blocks(data, metric, significance, alpha_table, areas, runtime, figures) -> list[tuple[str, object]]:
    """The report as a list of (kind, content) blocks: h1/h2/p/ul/table/img."""
    trials = data.trials
    n_seeds = trials.groupby(["dataset", "heuristic", "alpha"])["seed"].nunique()
    b: list[tuple[str, object]] = [("h1", f"raysweep analysis: {data.experiment_name}")]
    b.append(
        (
            "ul",
            [
                f"tracking URI: `{data.tracking_uri}`",
                f"sweeps: {', '.join(data.sweep_ids)}; report logged to parent run "
                f"`{data.target_parent_run_id or 'none'}`",
                f"{trials['trial_key'].nunique()} trials ({len(trials)} runs) on "
                f"{', '.join(sorted(trials['dataset'].unique()))}; heuristics "
                f"{', '.join(sorted(trials['heuristic'].unique()))}; seeds per variant "
                f"{_range_text(n_seeds)}",
                f"metric: `{metric}`, step = number of labels; duplicates dropped: {data.duplicates_dropped} "
                f"metric points, trial keys with more than one run: {data.duplicate_runs}",
                *data.notes,
                f"generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            ],
        )
    )

    b.append(("h2", "Do VAE features help? Paired tests against the plain heuristic"))
    b.append(
        (
            "p",
            "Each VAE variant (alpha > 0) is compared with its plain partner (same dataset and heuristic, "
            "alpha = 0) seed by seed at every label count, after checking that both started from the "
            "same initial labels. Tests: paired t-test and Wilcoxon signed-rank, Holm-corrected across "
            "the label counts of each comparison. 'significant' means Holm-corrected paired t-test "
            "p < 0.05. With n seeds the exact two-sided Wilcoxon p-value cannot fall below 2/2^n "
            "(0.0625 for 5 seeds), so Wilcoxon is reported as a robustness check only. Full table: "
            "`paired_tests.csv`.",
        )
    )
    if significance.empty:
        b.append(("p", "No VAE variant has an alpha = 0 partner in these runs: nothing to compare."))
    else:
        b.append(
            (
                "table",
                _format(
                    significance,
                    {
                        "dataset": "dataset",
                        "heuristic": "heuristic",
                        "alpha": "alpha",
                        "n_pairs": "seeds",
                        "label_counts": "label counts",
                        "mean_diff_avg": f"mean diff ({metric})",
                        "n_significant": "significant",
                        "significant_at": "significant at (labels)",
                        "min_p_t_holm": "min p (t, Holm)",
                        "min_p_at": "at labels",
                        "min_p_wilcoxon_holm": "min p (Wilcoxon, Holm)",
                    },
                ),
            )
        )

    b.append(("h2", "Which alpha? Area under the learning curve"))
    incomplete = int((~areas["complete"]).sum())
    b.append(
        (
            "p",
            f"Normalised area under each trial's {metric} curve (trapezoid over the number of labels "
            f"divided by the label range, so it is in {metric} units). Per dataset and heuristic: the "
            "alpha with the largest mean area and its paired gain over alpha = 0 (t-test and Wilcoxon "
            "over seeds). Choosing the best of k alphas and then testing it favours chance winners, so "
            "'p (t, Holm)' corrects over all k alphas; claim a gain only from that column."
            + (
                f" {incomplete} incomplete trials (shorter curves) are left out of the areas."
                if incomplete
                else ""
            ),
        )
    )
    b.append(
        (
            "table",
            _format(
                alpha_table,
                {
                    "dataset": "dataset",
                    "heuristic": "heuristic",
                    "alphas": "alphas",
                    "area_alpha0": "area, alpha 0",
                    "best_alpha": "best alpha",
                    "best_area": "area, best",
                    "gain": "gain",
                    "gain_ci_low": "gain CI low",
                    "gain_ci_high": "gain CI high",
                    "p_t": "p (t)",
                    "p_t_holm": "p (t, Holm)",
                    "p_wilcoxon": "p (Wilcoxon)",
                    "note": "note",
                },
            ),
        )
    )

    b.append(("h2", "Runtime"))
    by_h = runtime["by_heuristic"]
    sentences = [
        f"{plots.dataset_name(r.dataset)} {plots.heuristic_name(r.heuristic)}: {r.wall_seconds:,.0f} s wall "
        f"({r.compute_seconds:,.0f} s train + selection) over {r.trials} trials"
        for r in by_h.itertuples()
        if r.variants > 1
    ]
    b.append(
        (
            "p",
            "Summed over all variants and seeds of a heuristic, as the paper reports it (paper, 4 x RTX "
            "2080: MNIST core-set 5,113 s, loss prediction 4,955 s; ChestMNIST core-set 7,085 s, loss "
            "prediction 7,209 s). Wall time is each trial run's end - start; compute is the logged "
            "train_seconds + selection_seconds. " + ("; ".join(sentences) + "." if sentences else ""),
        )
    )
    b.append(
        (
            "table",
            _format(
                by_h,
                {
                    "dataset": "dataset",
                    "heuristic": "heuristic",
                    "trials": "trials",
                    "variants": "variants",
                    "seeds": "seeds",
                    "train_seconds": "train s",
                    "selection_seconds": "selection s",
                    "compute_seconds": "compute s",
                    "wall_seconds": "wall s (sum)",
                    "mean_trial_wall_seconds": "wall s per trial",
                },
            ),
        )
    )
    b.append(
        ("p", "Per sweep (wall = parent run end - start; VAE trainings and seconds as logged by the sweep):")
    )
    b.append(
        (
            "table",
            _format(
                runtime["per_sweep"],
                {
                    "sweep_id": "sweep",
                    "trials": "trials",
                    "compute_seconds": "compute s",
                    "wall_seconds": "wall s",
                    "sweep_seconds": "sweep s (logged)",
                    "vae_trainings": "VAE trainings",
                    "vae_seconds": "VAE s",
                },
            ),
        )
    )

    b.append(("h2", "Figures"))
    captions = {
        "curves": "mean over seeds with 95% CI; stars: Holm-corrected paired t-test p < 0.05. Right: paired difference.",
        "alpha_sweep": "normalised area vs alpha (left) and paired gain over alpha = 0 (right), 95% CIs.",
        "runtime": "train + selection seconds and summed wall time per heuristic.",
    }
    for stem, paths in figures.items():
        kind = next((k for k in captions if stem.startswith(k)), "")
        b.append(("img", (paths[0].name, f"{stem}: {captions.get(kind, '')}")))
    return b


def _format(table: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    # columns the runs never logged (e.g. vae_seconds) would only add an empty column
    present = [c for c in columns if c in table and not table[c].isna().all()]
    out = table[present].rename(columns=columns).copy()
    for column in out:
        out[column] = [_cell(v, column) for v in out[column]]
    return out


def _cell(value, column: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if column.startswith(("p ", "min p")):
            return "<0.0001" if value < 1e-4 else f"{value:.4f}"
        if column.endswith((" s", "s (sum)", "s (logged)", "per trial")):
            return f"{value:,.1f}"
        if column in ("alpha", "best alpha"):
            return f"{value:g}"
        if value.is_integer() and abs(value) < 1e9 and column in ("VAE trainings", "at labels", "seeds"):
            return str(int(value))
        return f"{value:.4f}"
    return str(value)


def _range_text(counts: pd.Series) -> str:
    lo, hi = int(counts.min()), int(counts.max())
    return str(lo) if lo == hi else f"{lo}-{hi}"


# ------------------------------------------------------------------------------------------------
# Rendering


def _to_markdown(blocks) -> str:
    lines: list[str] = []
    for kind, content in blocks:
        if kind == "h1":
            lines += [f"# {content}", ""]
        elif kind == "h2":
            lines += [f"## {content}", ""]
        elif kind == "p":
            lines += [content, ""]
        elif kind == "ul":
            lines += [f"- {item}" for item in content] + [""]
        elif kind == "table":
            lines += [_md_table(content), ""]
        elif kind == "img":
            src, caption = content
            lines += [f"![{caption}]({src})", "", f"*{caption}*", ""]
    return "\n".join(lines)


def _md_table(table: pd.DataFrame) -> str:
    if table.empty:
        return "(no rows)"
    esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
    head = "| " + " | ".join(esc(c) for c in table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    rows = ["| " + " | ".join(esc(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([head, rule, *rows])


def _to_html(blocks, title: str) -> str:
    def inline(text: str) -> str:
        # `code` spans are the only inline markup the report uses
        parts = html.escape(text).split("`")
        return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))

    body: list[str] = []
    for kind, content in blocks:
        if kind in ("h1", "h2"):
            body.append(f"<{kind}>{inline(content)}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{inline(content)}</p>")
        elif kind == "ul":
            body.append("<ul>" + "".join(f"<li>{inline(i)}</li>" for i in content) + "</ul>")
        elif kind == "table":
            if content.empty:
                body.append("<p>(no rows)</p>")
                continue
            head = "".join(f"<th>{html.escape(str(c))}</th>" for c in content.columns)
            rows = "".join(
                "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                for row in content.itertuples(index=False)
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif kind == "img":
            src, caption = content
            body.append(
                f'<figure><img src="{html.escape(src)}" alt="{html.escape(caption)}">'
                f"<figcaption>{html.escape(caption)}</figcaption></figure>"
            )
    style = (
        "body{font-family:sans-serif;max-width:1200px;margin:2em auto;line-height:1.45}"
        "table{border-collapse:collapse;font-size:0.85em;margin:1em 0}"
        "th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}th{background:#f3f3f3}"
        "img{max-width:100%}figcaption{font-size:0.85em;color:#555}code{background:#f5f5f5}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
