"""Do VAE features help? Each VAE variant against its plain partner, paired by seed at every label count."""

from __future__ import annotations

from analysis import stats
from analysis.render import Heading, Paragraph, Table, format_table
from analysis.sections.base import Section, Study, selection_text
from analysis.sections.picks import with_same_picks


def significance(study: Study) -> Section:
    summary = stats.significance_summary(study.paired_tests)
    blocks = [
        Heading("Do VAE features help? Paired tests against the plain heuristic"),
        Paragraph(
            "Each VAE variant (alpha > 0) is compared with its plain partner (same dataset and heuristic, "
            "alpha = 0) seed by seed at every label count, after checking that both started from the "
            "same initial labels. Tests: paired t-test and Wilcoxon signed-rank. Two Holm families: "
            "'Holm, labels' corrects over the label counts of one comparison (one alpha against 0); "
            "'Holm, alphas x labels' corrects over every alpha and label count of a dataset and "
            "heuristic, the tests one figure shows at once. 'significant' and the figures' markers "
            "use the second, the stricter: Holm-corrected paired t-test p < 0.05 over alphas x labels. "
            "With n seeds the exact two-sided Wilcoxon p-value cannot fall below 2/2^n "
            "(0.0625 for 5 seeds), so Wilcoxon is reported as a robustness check only. "
            f"Differences are on the {study.split} split ({study.metric}). "
            + selection_text(study)
            + " Full table: `paired_tests.csv`."
        ),
    ]
    if summary.empty:
        blocks.append(Paragraph("No VAE variant has an alpha = 0 partner in these runs: nothing to compare."))
    else:
        shown = with_same_picks(summary, study.arms)
        blocks.append(
            Table(
                format_table(
                    shown,
                    {
                        "dataset": "dataset",
                        "heuristic": "heuristic",
                        "alpha": "alpha",
                        "n_pairs": "seeds",
                        "label_counts": "label counts",
                        "mean_diff_avg": f"mean diff ({study.metric}, {study.split})",
                        "n_significant": "significant",
                        "significant_at": "significant at (labels)",
                        "min_p_t_holm": "min p (t, Holm, labels)",
                        "min_p_t_holm_all": "min p (t, Holm, alphas x labels)",
                        "min_p_at": "at labels",
                        "min_p_wilcoxon_holm": "min p (Wilcoxon, Holm, labels)",
                        "same_picks": "same picks as plain",
                    },
                )
            )
        )
    return Section(
        tables={
            "curve_summary": study.curve_summary,
            "paired_tests": study.paired_tests,
            "significance_summary": summary,
        },
        blocks=blocks,
    )
