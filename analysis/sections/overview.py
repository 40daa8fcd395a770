"""The report's title and what it read: the store, the sweeps (a confirmation apart), the trials, the
metric, which split each number comes from, whether inference is over encoder draws, the alpha scaling."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from analysis import confirm_stats
from analysis.render import Bullets, Title
from analysis.sections.base import Section, Study
from raysweep.schema import EVAL_SPLIT_PARAM, TEST_METRIC, VAE_SEED_PARAM, VALIDATION_METRIC

SCALING_MEANINGS = {
    "balanced": "each block divided by its pool spread before alpha: alpha is the VAE block's weight "
    "relative to the task block, alpha = 1 gives both equal spread",
    "raw": "the paper's [T_f ⁀ alpha V]: alpha multiplies the raw VAE features",
}


def overview(study: Study) -> Section:
    data, trials = study.data, study.selection_trials
    seeds_per_variant = trials.groupby(["dataset", "heuristic", "alpha"])["seed"].nunique()
    confirmation = confirm_stats.confirmation_rows(data.trials)
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
                    f"{_range_text(seeds_per_variant)}"
                    + (" (the selection: the seeds that chose)" if len(confirmation) else ""),
                    *(
                        [
                            f"confirmation: {confirmation['trial_key'].nunique()} trials on fresh seeds "
                            f"{', '.join(str(s) for s in sorted(confirmation['seed'].unique()))} (sweep "
                            + ", ".join(sorted(set(confirmation["sweep_id"])))
                            + ")"
                        ]
                        if len(confirmation)
                        else []
                    ),
                    f"metric: `{study.metric}`, step = number of labels; duplicates dropped: "
                    f"{data.duplicates_dropped} metric points, trial keys with more than one run: "
                    f"{data.duplicate_runs}",
                    *split_texts(study),
                    encoder_draws_text(trials, "selection" if len(confirmation) else None),
                    *([encoder_draws_text(confirmation, "confirmation")] if len(confirmation) else []),
                    f"alpha scaling of the VAE arms: {scaling_text(study.scaling)}",
                    *study.notes,
                    f"generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
                ]
            ),
        ]
    )


def split_texts(study: Study) -> list[str]:
    """Which split the choices read and which the results, and any sweep whose "test" is validation."""
    if study.chosen_on == "validation":
        choices = (
            f"choices (the best alpha, a search's best setting) read the validation split: the normalised "
            f"area under `{VALIDATION_METRIC}`"
        )
    else:
        choices = (
            f"choices (the best alpha, a search's best setting) read the test split: these runs logged no "
            f"`{VALIDATION_METRIC}` (a launcher older than the validation split): chosen on test: biased upward"
        )
    results = (
        "results (curves, paired tests, gains"
        + ("" if study.confirmation.empty else ", the confirmation")
        + f") read `{study.metric}` on the "
        + ("validation split" if study.split == "validation" else f"test split (`{EVAL_SPLIT_PARAM}`: test)")
    )
    texts = [f"splits: {choices}; {results}"]
    trials = study.data.trials
    on_val = trials[trials["eval_split"] == "val"]
    if len(on_val) and study.split == "test":
        sweeps = ", ".join(sorted(set(on_val["sweep_id"])))
        texts.append(
            f'sweep {sweeps} measured `{TEST_METRIC}` on `eval_split: val`: its "test" numbers are '
            "validation numbers, and a choice on validation is then reported on the split that chose it"
        )
    return texts


def encoder_draws_text(trials: pd.DataFrame, which: str | None = None) -> str:
    """Whether the VAE arms' inference is over encoder draws (one pool encoder per seed) or conditional
    on one draw (one ``vae.seed`` for every seed), from the trials' ``vae_seed``."""
    head = "encoder draws" + (f" ({which})" if which else "") + ": "
    vae = trials[trials["uses_vae"]]
    if vae.empty:
        return head + "no VAE arms"
    if vae["vae_seed"].isna().all():
        return head + (
            f"unknown: these runs logged no `{VAE_SEED_PARAM}` (launchers before it trained one encoder "
            "for every seed: inference conditional on that draw)"
        )
    per_seed = vae.groupby("seed")["vae_seed"].agg(lambda s: sorted(set(s.dropna())))
    encoder_seeds = sorted({v for values in per_seed for v in values})
    if len(encoder_seeds) == 1:
        return head + (
            f"conditional on one encoder draw: every seed's VAE arms read the pool encoder of `vae.seed` = "
            f"{int(encoder_seeds[0])}; the intervals leave out the variance of training the VAE"
        )
    if all(len(values) == 1 for values in per_seed) and len(encoder_seeds) == len(per_seed):
        return head + (
            f"over encoder draws: one pool encoder per seed ({len(encoder_seeds)} encoders; `vae.seed` = "
            "the trial's seed), shared by the arms of that seed, so the intervals include the variance "
            "of training the VAE"
        )
    return head + (
        f"mixed: the VAE arms read {len(encoder_seeds)} encoders ({', '.join(str(int(s)) for s in encoder_seeds)}) "
        "not one per seed: neither over encoder draws nor conditional on one"
    )


def scaling_text(scaling: str | None) -> str:
    """The VAE arms' alpha scaling and what it means, for the sections that name it."""
    if scaling is None:
        return "none (no VAE trials)"
    return f"`{scaling}` ({SCALING_MEANINGS[scaling]})" if scaling in SCALING_MEANINGS else f"`{scaling}`"


def _range_text(counts: pd.Series) -> str:
    low, high = int(counts.min()), int(counts.max())
    return str(low) if low == high else f"{low}-{high}"
