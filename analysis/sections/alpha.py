"""Which alpha? The alpha chosen on the validation split (the rule of :mod:`raysweep.choice`) and its paired
gain over alpha 0 on the test split, by the normalised area under each trial's learning curve; trials
with gaps in the label grid listed, never interpolated over."""

from __future__ import annotations

from analysis import alpha_stats
from analysis.render import Heading, Paragraph, Table, format_table
from analysis.sections.base import Section, Study, choice_text, selection_text
from analysis.sections.picks import with_same_picks
from raysweep.schema import VALIDATION_METRIC


def alpha(study: Study) -> Section:
    metric, split, gaps = study.metric, study.split, alpha_stats.label_gaps(study.areas)
    blocks = [
        Heading("Which alpha? Area under the learning curve"),
        Paragraph(
            f"Normalised area under each trial's {metric} curve (trapezoid over the number of labels "
            f"divided by the label range, so it is in {metric} units). Per dataset and heuristic: "
            + choice_text(study)
            + f" and its paired gain over alpha = 0 on the {split} areas (t-test and Wilcoxon over "
            "seeds). Choosing one of k alphas and then testing it favours chance winners (the seeds "
            "that chose also measure), so 'p (t, Holm, alphas)' corrects over the k alpha > 0 areas of "
            "that dataset and heuristic; claim a gain only from that column. "
            + selection_text(study)
            + " A trial counts as complete only with every label count of its dataset's grid (the "
            "counts its sweeps' schedules name, and any count a trial logged); "
            + (
                f"{len(gaps)} incomplete trials are left out of the areas and listed below (a gap is "
                "not interpolated over)."
                if len(gaps)
                else "every trial is complete."
            )
        ),
    ]
    # the flag is looked up by the arm's alpha: the best alpha is that arm
    shown = with_same_picks(study.alpha_summary.rename(columns={"best_alpha": "alpha"}), study.arms)
    chosen_on = study.chosen_on
    if chosen_on == "test":  # the areas it was chosen by are the ones shown
        shown = shown.drop(columns=["choice_area"])
    blocks.append(
        Table(
            format_table(
                shown.rename(columns={"alpha": "best_alpha"}),
                {
                    "dataset": "dataset",
                    "heuristic": "heuristic",
                    "alphas": "alphas",
                    "best_alpha": f"best alpha (chosen on {chosen_on})",
                    "choice_area": f"validation area, best ({VALIDATION_METRIC})",
                    "area_alpha0": f"{split} area, alpha 0",
                    "best_area": f"{split} area, best",
                    "gain": f"gain ({split})",
                    "gain_ci_low": "gain CI low",
                    "gain_ci_high": "gain CI high",
                    "p_t": "p (t)",
                    "p_t_holm": "p (t, Holm, alphas)",
                    "p_wilcoxon": "p (Wilcoxon)",
                    "same_picks": "best alpha has the plain picks",
                    "note": "note",
                },
            )
        )
    )
    if len(gaps):
        blocks.append(Paragraph("Incomplete trials (label counts of the grid they lack; `label_gaps.csv`):"))
        blocks.append(
            Table(
                format_table(
                    gaps,
                    {
                        "trial_key": "trial",
                        "n_points": "label counts logged",
                        "missing_n_labels": "missing label counts",
                    },
                )
            )
        )
    return Section(
        tables={
            "trial_areas": study.areas,
            "label_gaps": gaps,
            "alpha_curve": study.alpha_curve,
            "alpha_summary": study.alpha_summary,
        },
        blocks=blocks,
    )
