"""Did each alpha arm change the picks? Per arm ``vae_share``, ``plain_overlap`` against its baseline (the
plain heuristic against itself under another selection seed) and ``vae_share_of_pick_distances``; arms
that bought the plain heuristic's labels flagged (also in the other sections' tables,
:func:`with_same_picks`)."""

from __future__ import annotations

import pandas as pd

from analysis import diagnostic_stats, plots
from analysis.render import Bullets, Heading, Paragraph, Table, format_table
from analysis.sections.base import Section, Study
from analysis.sections.overview import scaling_text


def picks(study: Study) -> Section:
    arms = study.arms
    section = Section(
        tables={"trial_diagnostics": study.trial_diagnostics, "arm_diagnostics": arms},
        blocks=[Heading("Did each alpha arm change the picks?")],
    )
    blocks = section.blocks
    if arms.empty:
        blocks.append(
            Paragraph(
                "These runs logged no pick diagnostics (vae_share, plain_overlap: logged by trials with VAE "
                "features since the diagnostics were added), so nothing shows whether an alpha arm picked "
                "other points than the plain heuristic."
            )
        )
        return section
    blocks.append(
        Paragraph(
            "Per arm, mean and 95% CI over seeds: `vae_share`, the VAE block's share of the squared "
            "distances the heuristic uses (averaged over rounds), and `plain_overlap`, the share of the "
            "arm's picks that the same heuristic at alpha = 0 also picks on the same trained model "
            "(weighted by the labels each round bought; not logged for loss prediction, whose model "
            "depends on alpha). A heuristic that draws at random (BADGE, TypiClust) picks other points "
            "even at alpha = 0 under another selection seed, so its overlap is read against its "
            "'baseline': the plain heuristic's overlap with itself under another seed on the same model "
            "(weighted the same way; 1 for deterministic heuristics, which log none). 'ratio' = "
            "overlap / baseline. `vae_share_of_pick_distances`: the VAE block's share of the distances "
            "that decided the picks (core-set, MedAL), where `vae_share` is its share of the pool's "
            f"spread. Alpha scaling: {scaling_text(study.scaling)}. An arm whose mean plain_overlap is "
            f"{diagnostic_stats.SAME_PICKS_OVERLAP} of its mean baseline or more bought (nearly) the plain "
            "heuristic's labels, as far as the plain heuristic agrees with itself: whatever its curve "
            "does, it does not test the VAE features. Intervals are clipped to [0, 1] "
            f"and not shown where fewer than {plots.MIN_SEEDS_FOR_CI} seeds back them (not informative); "
            "`arm_diagnostics.csv` keeps the t-intervals as computed."
        )
    )
    shown = arms.assign(
        flag=[diagnostic_stats.SAME_PICKS_TEXT if f else "" for f in arms["same_picks_as_plain"]]
    )
    for quantity in ("vae_share", "plain_overlap"):
        low, high = f"{quantity}_ci_low", f"{quantity}_ci_high"
        # the figures' rule: clipped to a fraction's range, none from fewer than MIN_SEEDS_FOR_CI seeds
        shown[low], shown[high] = plots.drawable_interval(shown[low], shown[high], shown["n"], plots.FRACTION)
    blocks.append(
        Table(
            format_table(
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
                    "plain_overlap_baseline": "baseline",
                    "overlap_ratio": "ratio",
                    "vae_share_of_pick_distances": "vae_share_of_pick_distances",
                    "flag": "flag",
                },
            )
        )
    )
    flagged = arms[arms["same_picks_as_plain"]]
    if flagged.empty:
        blocks.append(
            Paragraph(
                f"No arm has a mean plain_overlap of {diagnostic_stats.SAME_PICKS_OVERLAP} of its baseline "
                "or more."
            )
        )
    else:
        blocks.append(
            Bullets(
                [
                    f"{r.dataset} {r.heuristic} alpha = {r.alpha:g}: mean plain_overlap "
                    f"{r.plain_overlap:.4f}"
                    + (
                        f" against a baseline of {r.plain_overlap_baseline:.4f}"
                        if r.plain_overlap_baseline < 1
                        else ""
                    )
                    + f": {diagnostic_stats.SAME_PICKS_TEXT}"
                    for r in flagged.itertuples()
                ]
            )
        )
    return section


def with_same_picks(table: pd.DataFrame, arms: pd.DataFrame) -> pd.DataFrame:
    """``table`` (columns dataset, heuristic, alpha) with a ``same_picks`` column: yes for an arm that
    :func:`analysis.diagnostic_stats.arm_diagnostics` flagged (its picks are the plain heuristic's)."""
    flagged = arms[arms["same_picks_as_plain"]]
    same_picks = {(r.dataset, r.heuristic, r.alpha) for r in flagged.itertuples()}
    out = table.copy()
    if not same_picks or out.empty:
        return out
    out["same_picks"] = [
        "yes" if (r.dataset, r.heuristic, r.alpha) in same_picks else "" for r in out.itertuples()
    ]
    return out
