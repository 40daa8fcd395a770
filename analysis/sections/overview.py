"""The report's title and what it read: the store, the sweeps, the trials, the metric, the alpha scaling."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from analysis.render import Bullets, Title
from analysis.sections.base import Section, Study

SCALING_MEANINGS = {
    "balanced": "each block divided by its pool spread before alpha: alpha is the VAE block's weight "
    "relative to the task block, alpha = 1 gives both equal spread",
    "raw": "the paper's [T_f ⁀ alpha V]: alpha multiplies the raw VAE features",
}


def overview(study: Study) -> Section:
    data, trials = study.data, study.data.trials
    seeds_per_variant = trials.groupby(["dataset", "heuristic", "alpha"])["seed"].nunique()
    return Section(
        blocks=[
            Title(f"raysweep analysis: {data.experiment_name}"),
            Bullets(
                [
                    f"tracking URI: `{data.tracking_uri}`",
                    f"sweeps: {', '.join(data.sweep_ids)}; report logged to parent run "
                    f"`{data.target_parent_run_id or 'none'}`",
                    f"{trials['trial_key'].nunique()} trials ({len(trials)} runs) on "
                    f"{', '.join(sorted(trials['dataset'].unique()))}; heuristics "
                    f"{', '.join(sorted(trials['heuristic'].unique()))}; seeds per variant "
                    f"{_range_text(seeds_per_variant)}",
                    f"metric: `{study.metric}`, step = number of labels; duplicates dropped: "
                    f"{data.duplicates_dropped} metric points, trial keys with more than one run: "
                    f"{data.duplicate_runs}",
                    f"alpha scaling of the VAE arms: {scaling_text(study.scaling)}",
                    *study.notes,
                    f"generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
                ]
            ),
        ]
    )


def scaling_text(scaling: str | None) -> str:
    """The VAE arms' alpha scaling and what it means, for the sections that name it."""
    if scaling is None:
        return "none (no VAE trials)"
    return f"`{scaling}` ({SCALING_MEANINGS[scaling]})" if scaling in SCALING_MEANINGS else f"`{scaling}`"


def _range_text(counts: pd.Series) -> str:
    low, high = int(counts.min()), int(counts.max())
    return str(low) if low == high else f"{low}-{high}"
