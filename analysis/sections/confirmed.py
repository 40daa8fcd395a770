"""Confirmed on fresh seeds: the report's headline (only when the runs hold a confirmation).

Per (dataset, heuristic) the confirmation reran, the alpha chosen on validation against its alpha-0
partner on seeds the choice never saw: gain in normalised test area with its 95% interval, the paired
t-test Holm-corrected across the confirmed comparisons, Wilcoxon, the random floor, and whether the
chosen arm picked anything else than the plain heuristic (``plain_overlap`` against its baseline).
"""

from __future__ import annotations

import pandas as pd

from analysis import confirm_plots, confirm_stats, plots
from analysis.render import Heading, Image, Paragraph, Table, format_table
from analysis.sections.base import Section, Study
from raysweep.choice import CHOSEN_BY


def confirmed(study: Study) -> Section:
    if study.confirmation.empty:
        return Section()
    tests, metric = study.confirmed, study.metric
    curves = confirm_stats.confirmation_curves(study.data.frame, metric)
    floors = confirm_stats.floor_areas(study.confirmation_areas)
    section = Section(
        tables={"confirmed": tests, "confirmed_floor": floors, "confirmed_curves": curves},
        blocks=[Heading("Confirmed on fresh seeds")],
    )
    for (dataset, heuristic), _ in tests.groupby(["dataset", "heuristic"]):
        fig, numbers = confirm_plots.confirmation_figure(curves, tests, dataset, heuristic, metric)
        stem = f"confirmed_{plots.slug(dataset)}_{plots.slug(heuristic)}"
        section.figures[stem] = plots.save(fig, numbers, study.out_dir, stem)

    trials = study.data.trials
    confirming = confirm_stats.confirmation_rows(trials)
    seeds = sorted(confirming["seed"].unique())
    chose = sorted(confirm_stats.selection_rows(trials)["seed"].unique())
    sweeps = "; ".join(f"sweep {c} confirms sweep {s}" for c, s in study.data.confirmations.items())
    section.blocks.append(
        Paragraph(
            f"The report's headline ({sweeps}). Per dataset and heuristic, the alpha chosen on validation "
            f"on the choosing seeds ({_seeds_text(chose)}; chosen by {CHOSEN_BY}) was rerun with its "
            "alpha = 0 partner and the heuristics without VAE features on "
            f"{len(seeds)} fresh seeds ({_seeds_text(seeds)}), which the choice never saw. 'gain' is the "
            f"mean over those seeds of the paired difference in normalised area under the test {metric} "
            "curve (chosen alpha - alpha 0) with its 95% t-interval; 'p (t, Holm, confirmed)' corrects "
            f"the paired t-test across the {len(tests)} confirmed comparisons (every dataset and "
            "heuristic confirmed): claim a gain only from that column. With n seeds the exact "
            "two-sided Wilcoxon p cannot fall below 2/2^n, so it is a robustness check. 'random floor' "
            "is random's area on the same seeds. 'plain_overlap' and its baseline: whether the chosen "
            "arm picked anything else than the plain heuristic (see 'Did each alpha arm change the "
            "picks?'). 'selection gain' is the same arm's gain on the seeds that chose it: what the "
            "sections below report, which the choice biases upward in expectation."
        )
    )
    shown = _with_picks(tests, study.confirmation_arms)
    shown["note"] = shown["note"].where(shown["note"] != "")  # no column of empty notes
    if (shown["encoder"] == "vae").all():
        shown = shown.drop(columns="encoder")
    section.blocks.append(
        Table(
            format_table(
                shown,
                {
                    "dataset": "dataset",
                    "heuristic": "heuristic",
                    "alpha": "alpha (chosen on validation)",
                    "encoder": "encoder",
                    "n_pairs": "seeds",
                    "area_alpha0": "test area, alpha 0",
                    "area_chosen": "test area, chosen",
                    "gain": "gain (test)",
                    "gain_ci_low": "gain CI low",
                    "gain_ci_high": "gain CI high",
                    "p_t": "p (t)",
                    "p_t_holm": "p (t, Holm, confirmed)",
                    "p_wilcoxon": "p (Wilcoxon)",
                    "floor_area": "random floor (test area)",
                    "plain_overlap": "plain_overlap",
                    "plain_overlap_baseline": "overlap baseline",
                    "same_picks": "same picks as plain",
                    "selection_gain": "selection gain (test)",
                    "note": "note",
                },
            )
        )
    )
    if not floors.empty:
        section.blocks.append(
            Paragraph("The heuristics without VAE features on the same fresh seeds (normalised test area):")
        )
        section.blocks.append(
            Table(
                format_table(
                    floors,
                    {
                        "dataset": "dataset",
                        "heuristic": "heuristic",
                        "n": "seeds",
                        "mean_area": "test area",
                        "ci_low": "CI low",
                        "ci_high": "CI high",
                    },
                )
            )
        )
    for stem, paths in section.figures.items():
        section.blocks.append(
            Image(
                paths[0].name,
                f"{stem}: the chosen alpha, alpha = 0 and random on the fresh seeds, mean and 95% CI",
            )
        )
    return section


def _with_picks(tests: pd.DataFrame, arms: pd.DataFrame) -> pd.DataFrame:
    """``tests`` with the chosen arm's plain_overlap, its baseline and the same-picks flag."""
    columns = [
        "dataset",
        "heuristic",
        "alpha",
        "plain_overlap",
        "plain_overlap_baseline",
        "same_picks_as_plain",
    ]
    out = tests.merge(arms.reindex(columns=columns), on=["dataset", "heuristic", "alpha"], how="left")
    # only a flagged arm gets a value, so the column shows only when one is flagged
    out["same_picks"] = [
        "yes" if flag is True or flag == 1.0 else None for flag in out["same_picks_as_plain"].tolist()
    ]
    return out.drop(columns="same_picks_as_plain")


def _seeds_text(seeds: list[int]) -> str:
    return ("seed " if len(seeds) == 1 else "seeds ") + ", ".join(str(s) for s in seeds)
