"""The figures of the alpha study, drawn and shown with their captions: the curves of every heuristic
with VAE variants (figures 1-4), the alpha sweep of every dataset with an alpha axis, the runtime."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis import plots
from analysis.render import Heading, Image, Paragraph
from analysis.sections.base import Section, Study

CAPTIONS = {
    "curves": "mean over seeds with 95% CI; stars: paired t-test p < 0.05, Holm over alphas x label "
    "counts. Right: paired difference.",
    "alpha_sweep": "against alpha: normalised area (star: the alpha chosen on {chosen_on}) and paired gain "
    "over alpha = 0 (top), plain_overlap beside its baseline (dashed bars; an arm at 0.99 of "
    "it or more has the plain picks) and vae_share (bottom), mean and 95% CI over seeds; alpha = inf (VAE only) "
    "past the axis break.",
    "runtime": "train + selection seconds, the share of VAE training, and summed wall time per heuristic.",
}
"""Figure stem prefix -> caption (``{chosen_on}``: the split the choice read)."""
CHOSEN_ON = {
    "validation": "validation",
    "test": "test, biased upward: these runs logged no validation metric",
}


def figures(study: Study) -> Section:
    drawn = _draw(study)
    blocks = [
        Heading("Figures"),
        Paragraph(
            "Intervals in the figures are clipped to what the quantity can be (accuracy, AUC, areas, "
            "overlaps and shares in [0, 1], their differences in [-1, 1]; the CSVs keep the raw "
            f"bounds). Where fewer than {plots.MIN_SEEDS_FOR_CI} seeds back a point its interval is not "
            "drawn and the panel says so: a t-interval of 2 seeds spans most of the plot."
        ),
    ]
    for stem, paths in drawn.items():
        kind = next((k for k in CAPTIONS if stem.startswith(k)), "")
        caption = CAPTIONS.get(kind, "").format(chosen_on=CHOSEN_ON[study.chosen_on])
        blocks.append(Image(paths[0].name, f"{stem}: {caption}"))
    return Section(figures=drawn, blocks=blocks)


def _draw(study: Study) -> dict[str, list[Path]]:
    """Save every figure the study has: stem -> [png, pdf, csv]."""
    summary, curve, metric, out_dir = study.curve_summary, study.alpha_curve, study.metric, study.out_dir
    drawn: dict[str, list[Path]] = {}
    best = {
        (r.dataset, r.heuristic): r.best_alpha
        for r in study.alpha_summary.itertuples()
        if pd.notna(r.best_alpha)
    }
    for (dataset, heuristic), group in summary.groupby(["dataset", "heuristic"]):
        if group["alpha"].nunique() < 2:
            continue  # no VAE variant: nothing to compare (random, entropy)
        fig, numbers = plots.curve_figure(
            summary,
            study.paired_tests,
            dataset,
            heuristic,
            best.get((dataset, heuristic)),
            metric,
            study.chosen_on,
        )
        stem = f"curves_{plots.slug(dataset)}_{plots.slug(heuristic)}"
        drawn[stem] = plots.save(fig, numbers, out_dir, stem)
    for dataset in sorted(curve["dataset"].unique()):
        if curve[curve["dataset"] == dataset].groupby("heuristic")["alpha"].nunique().max() < 2:
            continue  # no heuristic with an alpha axis on this dataset
        chosen = {h: a for (d, h), a in best.items() if d == dataset}
        fig, numbers = plots.alpha_figure(
            curve, dataset, metric, study.arms, study.scaling, chosen, study.chosen_on
        )
        stem = f"alpha_sweep_{plots.slug(dataset)}"
        drawn[stem] = plots.save(fig, numbers, out_dir, stem)
    by_heuristic = study.runtime["by_heuristic"]
    if not by_heuristic.empty:
        fig, numbers = plots.runtime_figure(by_heuristic)
        drawn["runtime"] = plots.save(fig, numbers, out_dir, "runtime")
    return drawn
