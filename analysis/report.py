"""The report: figures, tables, ``report.md`` and ``report.html`` in one folder, logged to MLflow.

:func:`build_report` runs the whole analysis on a loaded sweep and writes into ``out_dir``:

- ``report.md`` / ``report.html``: the significance summary, the alpha summary, the runtime tables
  and the figures, ready to read (the HTML is rendered from the same blocks, no extra dependency);
- ``curve_summary.csv``, ``paired_tests.csv``, ``significance_summary.csv``, ``trial_areas.csv``,
  ``label_gaps.csv``, ``alpha_curve.csv``, ``alpha_summary.csv``, ``trial_diagnostics.csv``,
  ``arm_diagnostics.csv``, ``runtime_per_trial.csv``, ``runtime_by_heuristic.csv``,
  ``runtime_per_sweep.csv``;
- the figures of :mod:`analysis.plots` (PNG, PDF and CSV each);
- for sweeps with encoders other than ``vae``, the encoders section of :mod:`analysis.encoders`
  (``encoder_*.csv``, ``encoders_<dataset>_<heuristic>`` figures); the alpha sections then read the
  ``vae`` arms only.

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

from analysis import encoders, plots, search, stats
from analysis.load import AnalysisError, SweepData
from raysweep.schema import ANALYSIS_ARTIFACT_DIR

log = logging.getLogger(__name__)


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
    encoder_section = None
    if encoders.has_encoders(frame):
        # One arm per alpha again for the alpha sections; the encoder section compares all arms.
        encoder_section = encoders.analyse(data, out_dir, metric)
        frame = encoders.reference_rows(frame)
        data = encoders.with_note(data, encoder_section.note)

    summary = stats.curve_summary(frame, metric)
    search_tags = search.search_tags(data)  # empty for a grid
    # a search's trials stopped early have partial curves: shown, but kept out of paired tests
    tests = stats.paired_tests(search.without_partial_curves(frame, search_tags), metric)
    significance = stats.significance_summary(tests)
    areas = stats.trial_areas(frame, metric, data.grids)
    curve = stats.alpha_curve(areas)
    alpha_table = stats.alpha_summary(areas)
    diagnostics = stats.trial_diagnostics(frame)
    arms = stats.arm_diagnostics(diagnostics)
    # Runtime counts every trial the sweep ran, the arms of every encoder included.
    runtime = stats.runtime_tables(data.frame, data.trials, data.sweeps, data.vaes)
    scaling = _scaling(data.trials)

    tables = {
        "curve_summary": summary,
        "paired_tests": tests,
        "significance_summary": significance,
        "trial_areas": areas,
        "label_gaps": stats.label_gaps(areas),
        "alpha_curve": curve,
        "alpha_summary": alpha_table,
        "trial_diagnostics": diagnostics,
        "arm_diagnostics": arms,
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
        out_dir, summary, tests, curve, alpha_table, runtime["by_heuristic"], metric, arms, scaling
    )

    blocks = _blocks(data, metric, significance, alpha_table, areas, arms, runtime, figures, scaling)
    blocks += search_part.blocks
    figures.update(search_part.figures)
    if encoder_section is not None:
        blocks += encoder_section.blocks
        table_paths.update(encoder_section.tables)
        figures = {**figures, **encoder_section.figures}
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
        report.parent_run_id, str(report.out_dir), artifact_path=ANALYSIS_ARTIFACT_DIR
    )
    report.logged = True
    return True


# ------------------------------------------------------------------------------------------------
# Content


def _scaling(trials: pd.DataFrame) -> str | None:
    """The VAE trials' alpha scaling (the loader refused a mix), None without VAE trials."""
    used = sorted(set(trials.loc[trials["uses_vae"], "alpha_scaling"])) if "alpha_scaling" in trials else []
    return ", ".join(used) or None


def _blocks(
    data, metric, significance, alpha_table, areas, arms, runtime, figures, scaling
) -> list[tuple[str, object]]:
    """The report as a list of (kind, content) blocks: h1/h2/p/ul/table/img."""
    trials = data.trials
    n_seeds = trials.groupby(["dataset", "heuristic", "alpha"])["seed"].nunique()
    flagged = arms[arms["same_picks_as_plain"]]
    same_picks = {(r.dataset, r.heuristic, r.alpha) for r in flagged.itertuples()}
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
                f"alpha scaling of the VAE arms: {_scaling_text(scaling)}",
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
            "same initial labels. Tests: paired t-test and Wilcoxon signed-rank. Two Holm families: "
            "'Holm, labels' corrects over the label counts of one comparison (one alpha against 0); "
            "'Holm, alphas x labels' corrects over every alpha and label count of a dataset and "
            "heuristic, the tests one figure shows at once. 'significant' and the figures' markers "
            "use the second, the stricter: Holm-corrected paired t-test p < 0.05 over alphas x labels. "
            "With n seeds the exact two-sided Wilcoxon p-value cannot fall below 2/2^n "
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
                    _with_same_picks(significance, same_picks),
                    {
                        "dataset": "dataset",
                        "heuristic": "heuristic",
                        "alpha": "alpha",
                        "n_pairs": "seeds",
                        "label_counts": "label counts",
                        "mean_diff_avg": f"mean diff ({metric})",
                        "n_significant": "significant",
                        "significant_at": "significant at (labels)",
                        "min_p_t_holm": "min p (t, Holm, labels)",
                        "min_p_t_holm_all": "min p (t, Holm, alphas x labels)",
                        "min_p_at": "at labels",
                        "min_p_wilcoxon_holm": "min p (Wilcoxon, Holm, labels)",
                        "same_picks": "same picks as plain",
                    },
                ),
            )
        )

    b.append(("h2", "Which alpha? Area under the learning curve"))
    gaps = stats.label_gaps(areas)
    b.append(
        (
            "p",
            f"Normalised area under each trial's {metric} curve (trapezoid over the number of labels "
            f"divided by the label range, so it is in {metric} units). Per dataset and heuristic: the "
            "alpha with the largest mean area and its paired gain over alpha = 0 (t-test and Wilcoxon "
            "over seeds). Choosing the best of k alphas and then testing it favours chance winners, so "
            "'p (t, Holm, alphas)' corrects over the k alpha > 0 areas of that dataset and heuristic; "
            "claim a gain only from that column. A trial counts as complete only with every label "
            "count of its dataset's grid (the counts its sweeps' schedules name, and any count a trial "
            "logged); "
            + (
                f"{len(gaps)} incomplete trials are left out of the areas and listed below (a gap is "
                "not interpolated over)."
                if len(gaps)
                else "every trial is complete."
            ),
        )
    )
    b.append(
        (
            "table",
            _format(
                _with_same_picks(alpha_table.rename(columns={"best_alpha": "alpha"}), same_picks).rename(
                    columns={"alpha": "best_alpha"}
                ),
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
                    "p_t_holm": "p (t, Holm, alphas)",
                    "p_wilcoxon": "p (Wilcoxon)",
                    "same_picks": "best alpha has the plain picks",
                    "note": "note",
                },
            ),
        )
    )
    if len(gaps):
        b.append(("p", "Incomplete trials (label counts of the grid they lack; `label_gaps.csv`):"))
        b.append(
            (
                "table",
                _format(
                    gaps,
                    {
                        "trial_key": "trial",
                        "n_points": "label counts logged",
                        "missing_n_labels": "missing label counts",
                    },
                ),
            )
        )

    b.extend(_pick_blocks(arms, flagged, scaling))

    b.append(("h2", "Runtime"))
    by_h = runtime["by_heuristic"]
    sentences = [
        f"{plots.dataset_name(r.dataset)} {plots.heuristic_name(r.heuristic)}: {r.wall_seconds:,.0f} s wall "
        f"({r.compute_seconds:,.0f} s train + selection + evaluation"
        + (f" + {r.vae_seconds:,.0f} s VAE training" if r.vae_trials else "")
        + f") over {r.trials} trials"
        for r in by_h.itertuples()
        if r.variants > 1
    ]
    unknown = by_h[by_h["vae_seconds_unknown"] > 0]
    b.append(
        (
            "p",
            "Summed over all variants and seeds of a heuristic, as the paper reports it (paper, 4 x RTX "
            "2080: MNIST core-set 5,113 s, loss prediction 4,955 s; ChestMNIST core-set 7,085 s, loss "
            "prediction 7,209 s; each total includes the VAE its augmented variant used). Wall time is "
            "each trial run's end - start; compute is the logged train_seconds + selection_seconds + "
            "eval_seconds (the test-set evaluation after each round; 0 for runs logged before it was). "
            "A VAE is trained once per dataset and VAE config and shared: its training seconds (logged "
            "by the sweep, kept by the VAE cache when a later sweep reuses it) are split evenly over "
            "the trials that used it, and 'VAE s' is the heuristic's share; 'total s' = compute + "
            "VAE, the paper's total. 'diagnostics s' is the extra alpha = 0 selection behind "
            "plain_overlap, which the method itself does not spend. "
            + ("; ".join(sentences) + "." if sentences else "")
            + (
                " VAE seconds unknown (sweep logged none) for "
                + ", ".join(
                    f"{r.vae_seconds_unknown} {r.heuristic} trials on {r.dataset}"
                    for r in unknown.itertuples()
                )
                + ": no total for those."
                if len(unknown)
                else ""
            ),
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
                    "eval_seconds": "eval s",
                    "compute_seconds": "compute s",
                    "vae_trials": "VAE trials",
                    "vae_seconds": "VAE s",
                    "total_seconds": "total s",
                    "diagnostics_seconds": "diagnostics s",
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
        "curves": "mean over seeds with 95% CI; stars: paired t-test p < 0.05, Holm over alphas x label "
        "counts. Right: paired difference.",
        "alpha_sweep": "against alpha: normalised area and paired gain over alpha = 0 (top), plain_overlap "
        "and vae_share (bottom), mean and 95% CI over seeds; alpha = inf (VAE only) past the axis break.",
        "runtime": "train + selection seconds, the share of VAE training, and summed wall time per "
        "heuristic.",
    }
    b.append(
        (
            "p",
            "Intervals in the figures are clipped to what the quantity can be (accuracy, AUC, areas, "
            "overlaps and shares in [0, 1], their differences in [-1, 1]; the CSVs keep the raw "
            f"bounds). Where fewer than {plots.MIN_SEEDS_FOR_CI} seeds back a point its interval is not "
            "drawn and the panel says so: a t-interval of 2 seeds spans most of the plot.",
        )
    )
    for stem, paths in figures.items():
        kind = next((k for k in captions if stem.startswith(k)), "")
        b.append(("img", (paths[0].name, f"{stem}: {captions.get(kind, '')}")))
    return b


def _scaling_text(scaling: str | None) -> str:
    if scaling is None:
        return "none (no VAE trials)"
    meaning = {
        "balanced": "each block divided by its pool spread before alpha: alpha is the VAE block's weight "
        "relative to the task block, alpha = 1 gives both equal spread",
        "raw": "the paper's [T_f ⁀ alpha V]: alpha multiplies the raw VAE features",
    }
    return f"`{scaling}` ({meaning[scaling]})" if scaling in meaning else f"`{scaling}`"


def _with_same_picks(table: pd.DataFrame, same_picks: set[tuple]) -> pd.DataFrame:
    """Add a 'same_picks' column: yes for an arm flagged by :func:`analysis.stats.arm_diagnostics`."""
    out = table.copy()
    if not same_picks or out.empty:
        return out
    out["same_picks"] = [
        "yes" if (r.dataset, r.heuristic, r.alpha) in same_picks else "" for r in out.itertuples()
    ]
    return out


def _pick_blocks(arms: pd.DataFrame, flagged: pd.DataFrame, scaling: str | None) -> list[tuple[str, object]]:
    """Did each alpha arm pick anything else than the plain heuristic? The table and the flags."""
    b: list[tuple[str, object]] = [("h2", "Did each alpha arm change the picks?")]
    if arms.empty:
        b.append(
            (
                "p",
                "These runs logged no pick diagnostics (vae_share, plain_overlap: logged by trials with VAE "
                "features since the diagnostics were added), so nothing shows whether an alpha arm picked "
                "other points than the plain heuristic.",
            )
        )
        return b
    b.append(
        (
            "p",
            "Per arm, mean and 95% CI over seeds: `vae_share`, the VAE block's share of the squared "
            "distances the heuristic uses (averaged over rounds), and `plain_overlap`, the share of the "
            "arm's picks that the same heuristic at alpha = 0 also picks on the same trained model "
            "(weighted by the labels each round bought; not logged for loss prediction, whose model "
            f"depends on alpha). Alpha scaling: {_scaling_text(scaling)}. An arm whose mean plain_overlap "
            f"is {stats.SAME_PICKS_OVERLAP} or more bought (nearly) the plain heuristic's labels: "
            "whatever its curve does, it does not test the VAE features. Intervals are clipped to [0, 1] "
            f"and not shown where fewer than {plots.MIN_SEEDS_FOR_CI} seeds back them (not informative); "
            "`arm_diagnostics.csv` keeps the t-intervals as computed.",
        )
    )
    shown = arms.assign(flag=[stats.SAME_PICKS_TEXT if f else "" for f in arms["same_picks_as_plain"]])
    for quantity in ("vae_share", "plain_overlap"):
        low, high = f"{quantity}_ci_low", f"{quantity}_ci_high"
        shown[low], shown[high] = plots.drawable_interval(shown[low], shown[high], shown["n"], (0.0, 1.0))
    b.append(
        (
            "table",
            _format(
                shown,
                {
                    "dataset": "dataset",
                    "heuristic": "heuristic",
                    "alpha": "alpha",
                    "n": "seeds",
                    "vae_share": "vae_share",
                    "vae_share_ci_low": "vae_share CI low",
                    "vae_share_ci_high": "vae_share CI high",
                    "plain_overlap": "plain_overlap",
                    "plain_overlap_ci_low": "overlap CI low",
                    "plain_overlap_ci_high": "overlap CI high",
                    "flag": "flag",
                },
            ),
        )
    )
    if flagged.empty:
        b.append(("p", f"No arm has a mean plain_overlap of {stats.SAME_PICKS_OVERLAP} or more."))
    else:
        b.append(
            (
                "ul",
                [
                    f"{r.dataset} {r.heuristic} alpha = {r.alpha:g}: mean plain_overlap "
                    f"{r.plain_overlap:.4f}: {stats.SAME_PICKS_TEXT}"
                    for r in flagged.itertuples()
                ],
            )
        )
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
            if math.isinf(value):
                return "inf (VAE only)"
            return f"{value:g}"
        if (
            value.is_integer()
            and abs(value) < 1e9
            and column
            in (
                "VAE trainings",
                "at labels",
                "seeds",
                "VAE trials",
            )
        ):
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
