"""A search's settings in the searcher's order, and whether the best one beats alpha 0 (empty for a grid)."""

from __future__ import annotations

from analysis import load, plots, search_plots, search_stats
from analysis.render import Heading, Image, Paragraph, Table, format_table
from analysis.sections.base import Section, Study


def search(study: Study) -> Section:
    tags = study.search_tags
    if tags.empty:
        return Section()
    settings = search_stats.setting_table(study.areas, tags)
    best = search_stats.best_setting_tests(study.areas, tags, load.settings_tried(study.data))
    section = Section(tables={"search_settings": settings, "search_best": best})
    for (dataset, heuristic), _ in settings.groupby(["dataset", "heuristic"]):
        fig, numbers = search_plots.search_figure(settings, best, dataset, heuristic, study.metric)
        stem = f"search_{plots.slug(dataset)}_{plots.slug(heuristic)}"
        section.figures[stem] = plots.save(fig, numbers, study.out_dir, stem)
    section.blocks = [
        Heading("Search: which setting, and does it beat alpha 0?"),
        Paragraph(
            "The search algorithm proposed settings one after another from the results so far; each ran on "
            "every seed, paired with the alpha-0 arm of its seed. Area: normalised area under the "
            f"{study.metric} curve, mean over seeds with a t-based 95% CI; settings stopped early keep their "
            "partial curves out of every paired test. The best setting is the largest of the settings "
            "tried, so its paired t-test against alpha 0 is Bonferroni-corrected for that number "
            "('p, corrected'); 'significant' uses it. Full tables: `search_settings.csv`, `search_best.csv`."
        ),
        Table(
            format_table(
                best,
                {
                    "dataset": "dataset",
                    "heuristic": "heuristic",
                    "settings_tried": "settings tried",
                    "area_alpha0": "area, alpha 0",
                    "best_setting": "best setting",
                    "best_index": "found as",
                    "best_area": "best area",
                    "gain": "gain",
                    "n_pairs": "seeds",
                    "p_t": "p (t)",
                    "p_t_corrected": "p, corrected",
                    "significant": "significant",
                    "note": "note",
                },
                keep_empty_columns=True,
            )
        ),
        Table(
            format_table(
                settings.sort_values(["dataset", "heuristic", "setting_index"]),
                {
                    "dataset": "dataset",
                    "heuristic": "heuristic",
                    "setting_index": "order",
                    "setting": "setting",
                    "mean_area": "mean area",
                    "ci_low": "CI low",
                    "ci_high": "CI high",
                    "n_seeds": "seeds",
                    "stopped": "stopped early",
                },
                keep_empty_columns=True,
            )
        ),
        *(
            Image(paths[0].name, f"{stem}: area against alpha, settings numbered in the searcher's order")
            for stem, paths in section.figures.items()
        ),
    ]
    return section
