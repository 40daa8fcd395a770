"""Encoders: where the VAE features come from. Every encoder's arms against alpha 0 and against ``vae``
(only for sweeps with encoders besides ``vae``; the other sections then read the ``vae`` arms)."""

from __future__ import annotations

from analysis import encoder_plots, encoder_stats, plots
from analysis.render import Heading, Image, Paragraph, Table, format_table
from analysis.sections.base import Section, Study, selection_text


def encoders(study: Study) -> Section:
    if not study.several_encoders:
        return Section()
    frame, metric, split = study.selection, study.metric, study.split
    curves = encoder_stats.encoder_curves(frame, metric)
    tests = encoder_stats.encoder_tests(frame, metric)
    summary = encoder_stats.encoder_summary(tests, encoder_stats.encoder_areas(frame, metric))
    seconds = encoder_stats.encoder_seconds(frame)
    section = Section(
        tables={
            "encoder_curves": curves,
            "encoder_tests": tests,
            "encoder_summary": summary,
            "encoder_seconds": seconds,
        }
    )
    for (dataset, heuristic), group in curves.groupby(["dataset", "heuristic"]):
        if (group["encoder"] == encoder_stats.PLAIN).all():
            continue  # random, entropy: no encoder arm
        fig, numbers = encoder_plots.encoder_figure(curves, tests, dataset, heuristic, metric)
        stem = f"encoders_{plots.slug(dataset)}_{plots.slug(heuristic)}"
        section.figures[stem] = plots.save(fig, numbers, study.out_dir, stem)

    blocks = section.blocks
    blocks.append(Heading("Encoders: where the VAE features come from"))
    blocks.append(
        Paragraph(
            "Each encoder arm (features from `vae`, `gmvae` or `cvae` at an alpha > 0) against the plain "
            "heuristic (alpha = 0, shared by all encoders) and, for `gmvae` and `cvae`, against `vae` at "
            f"the same alpha: paired by seed at every label count ({metric}, {split}), paired t-test and "
            "Wilcoxon. Holm corrects within one family per dataset and heuristic: every comparison of "
            "the table (each encoder arm against alpha 0 and against `vae`) x every label count, the "
            "tests the figure shows at once; 'significant', the figure's filled markers and 'min p (t, "
            "Holm, comparisons x labels)' use it ('min p (t, Holm, labels)' corrects over one "
            "comparison's label counts only). 'area gain' is the paired difference in normalised area "
            "under the curve; its t-test p is Holm-corrected across the comparisons of the dataset and "
            "heuristic ('p area (t, Holm, comparisons)'). "
            + selection_text(study)
            + " Full tables: `encoder_tests.csv`, `encoder_summary.csv`, `encoder_curves.csv`."
        )
    )
    if summary.empty:
        blocks.append(
            Paragraph("No encoder arm has a partner (alpha 0 or vae) in these runs: nothing to compare.")
        )
    else:
        blocks.append(
            Table(
                format_table(
                    summary,
                    {
                        "dataset": "dataset",
                        "heuristic": "heuristic",
                        "alpha": "alpha",
                        "encoder": "encoder",
                        "baseline": "against",
                        "n_pairs": "seeds",
                        "mean_diff_avg": f"mean diff ({metric}, {split})",
                        "n_significant": "significant",
                        "significant_at": "significant at (labels)",
                        "min_p_t_holm": "min p (t, Holm, labels)",
                        "min_p_t_holm_all": "min p (t, Holm, comparisons x labels)",
                        "min_p_at": "at labels",
                        "area_gain": f"area gain ({split})",
                        "area_gain_ci_low": "gain CI low",
                        "area_gain_ci_high": "gain CI high",
                        "area_p_t": "p area (t)",
                        "area_p_t_holm": "p area (t, Holm, comparisons)",
                        "area_p_wilcoxon": "p area (Wilcoxon)",
                    },
                )
            )
        )
    if not seconds.empty:
        blocks.append(
            Paragraph(
                "Encoder seconds per round that read VAE features: `cvae` retrains in the trial every such "
                "round; `vae` and `gmvae` train once per sweep (the parent run's `encoder_trainings`), so "
                "their rounds only wait for the shared array."
            )
        )
        blocks.append(
            Table(
                format_table(
                    seconds,
                    {
                        "dataset": "dataset",
                        "heuristic": "heuristic",
                        "encoder": "encoder",
                        "trials": "trials",
                        "rounds": "rounds",
                        "seconds_per_round": "per-round s",
                        "seconds_per_trial": "per-trial s",
                    },
                )
            )
        )
    for stem, paths in section.figures.items():
        blocks.append(
            Image(paths[0].name, f"{stem}: each encoder's arms and the plain heuristic, paired differences")
        )
    return section
