"""The report: the sections of :mod:`analysis.sections` in order, written into one folder, logged to MLflow.

:func:`build_report` builds every section of :data:`SECTIONS` from one :class:`~analysis.sections.base.Study`
of the loaded sweep and writes into ``out_dir``:

- each section's tables as ``<name>.csv``: with a confirmation ``confirmed``, ``confirmed_floor``,
  ``confirmed_curves``; ``curve_summary``, ``paired_tests``, ``significance_summary``,
  ``trial_areas``, ``label_gaps``, ``alpha_curve``, ``alpha_summary``, ``trial_diagnostics``,
  ``arm_diagnostics``; with ``train_accuracy`` logged ``training``; ``runtime_per_trial``,
  ``runtime_by_heuristic``, ``runtime_per_sweep``; for a search ``search_settings``,
  ``search_best``; for a sweep with encoders besides ``vae`` ``encoder_curves``, ``encoder_tests``,
  ``encoder_summary``, ``encoder_seconds``;
- the sections' figures (PNG, PDF and the CSV behind each), saved as the sections draw them;
- ``report.md`` / ``report.html``: every section's text, tables and figures in order (the HTML is
  rendered from the same blocks, :mod:`analysis.render`).

:func:`log_to_parent` uploads the folder as artifacts (under ``analysis/``) of the sweep's parent run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from analysis import stats
from analysis.load import SweepData
from analysis.render import to_html, to_markdown
from analysis.sections.alpha import alpha
from analysis.sections.base import Study
from analysis.sections.confirmed import confirmed
from analysis.sections.encoders import encoders
from analysis.sections.figures import figures
from analysis.sections.overview import overview
from analysis.sections.picks import picks
from analysis.sections.runtime import runtime
from analysis.sections.search import search
from analysis.sections.significance import significance
from analysis.sections.training import training
from raysweep import schema
from raysweep.schema import ANALYSIS_ARTIFACT_DIR

log = logging.getLogger(__name__)

SECTIONS = (overview, confirmed, significance, alpha, picks, training, runtime, figures, search, encoders)
"""The report's sections in the order it shows them."""


@dataclass
class Report:
    out_dir: Path
    markdown: Path
    html: Path
    tables: dict[str, Path] = field(default_factory=dict)
    """Table name -> its CSV."""
    figures: dict[str, list[Path]] = field(default_factory=dict)
    """Figure stem -> its PNG, PDF and CSV."""
    parent_run_id: str | None = None
    logged: bool = False


def build_report(data: SweepData, out_dir: Path, metric: str = schema.TEST_METRIC) -> Report:
    """Build every section for ``metric`` and write the report into ``out_dir``."""
    stats.metric_rows(data.frame, metric)  # an unknown metric is refused before anything is written
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    study = Study(data, metric, out_dir)
    sections = [build(study) for build in SECTIONS]

    report = Report(
        out_dir=out_dir,
        markdown=out_dir / "report.md",
        html=out_dir / "report.html",
        parent_run_id=data.target_parent_run_id,
    )
    for section in sections:
        for name, table in section.tables.items():
            report.tables[name] = out_dir / f"{name}.csv"
            table.to_csv(report.tables[name], index=False)
        report.figures.update(section.figures)
    blocks = [block for section in sections for block in section.blocks]
    report.markdown.write_text(to_markdown(blocks))
    report.html.write_text(to_html(blocks, title=f"raysweep analysis: {data.experiment_name}"))
    return report


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
