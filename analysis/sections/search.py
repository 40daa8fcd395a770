"""A search's settings in the searcher's order, and whether the best one beats alpha 0 (empty for a grid)."""

from __future__ import annotations

from analysis import load, plots, search_plots, search_stats
from analysis.render import Heading, Image, Paragraph, Table, format_table
from analysis.sections.base import Section, Study, selection_text
from raysweep.choice import CHOSEN_BY
from raysweep.schema import VALIDATION_METRIC


def search(study: Study) -> Section:
    tags = study.search_tags
    if tags.empty:
        return Section()
    settings = search_stats.setting_table(study.areas, tags)
    best = search_stats.best_setting_tests(
        study.areas, tags, load.settings_tried(study.data), study.choice_areas
    )
    split, chosen_on = study.split, study.chosen_on
    section = Section(tables={"search_settings": settings, "search_best": best})
    for (dataset, heuristic), _ in settings.groupby(["dataset", "heuristic"]):
        fig, numbers = search_plots.search_figure(settings, best, dataset, heuristic, study.metric)
        stem = f"search_{plots.slug(dataset)}_{plots.slug(heuristic)}"
        section.figures[stem] = plots.save(fig, numbers, study.out_dir, stem)
    chooses = (
        f"chosen on validation ({CHOSEN_BY}; 'validation area, best')"
        if chosen_on == "validation"
        else f"chosen on test (these runs logged no `{VALIDATION_METRIC}`): biased upward"
    )
    columns = {
        "dataset": "dataset",
        "heuristic": "heuristic",
        "settings_tried": "settings tried",
        "area_alpha0": f"{split} area, alpha 0",
        "best_setting": f"best setting (chosen on {chosen_on})",
        "best_index": "found as",
        "best_choice_area": f"validation area, best ({VALIDATION_METRIC})",
        "best_area": f"{split} area, best",
        "gain": f"gain ({split})",
        "n_pairs": "seeds",
        "p_t": "p (t)",
        "p_t_corrected": "p, corrected",
        "significant": "significant",
        "note": "note",
    }
    if chosen_on == "test":  # chosen on the areas shown
        del columns["best_choice_area"]
    section.blocks = [
        Heading("Search: which setting, and does it beat alpha 0?"),
        Paragraph(
            "The search algorithm proposed settings one after another from the results so far; each ran on "
            "every seed, paired with the alpha-0 arm of its seed. Area: normalised area under the "
            f"{study.metric} curve ({split}), mean over seeds with a t-based 95% CI; settings stopped early "
            f"keep their partial curves out of every paired test. The best setting is {chooses}, among "
            f"the settings that finished every seed, and tested on the {split} areas; it is the best of the "
            "settings tried, so its paired t-test against alpha 0 is Bonferroni-corrected for that number "
            "('p, corrected'); 'significant' uses it. "
            + selection_text(study)
            + " Full tables: `search_settings.csv`, `search_best.csv`."
        ),
        Table(format_table(best, columns, keep_empty_columns=True)),
        Table(
            format_table(
                settings.sort_values(["dataset", "heuristic", "setting_index"]),
                {
                    "dataset": "dataset",
                    "heuristic": "heuristic",
                    "setting_index": "order",
                    "setting": "setting",
                    "mean_area": f"mean area ({split})",
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
