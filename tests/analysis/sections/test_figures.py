"""analysis.sections.figures: which figures a sweep gets, and their captions."""

from __future__ import annotations

import pandas as pd
import pytest
from helpers.analysis_sweeps import INF

from analysis.render import Heading, Image
from analysis.sections.figures import figures


def test_every_heuristic_with_vae_variants_gets_curves_and_the_alpha_figure_carries_the_diagnostics(
    alphas, study_of
):
    study = study_of(alphas)
    section = figures(study)
    assert list(section.figures) == [
        "curves_digits_coreset",
        "curves_digits_lloss",
        "curves_digits_medal",
        "alpha_sweep_digits",
        "runtime",
    ]  # random has no VAE variant: no curves figure
    # the alpha figure carries overlap and share; inf has its own row
    figure = pd.read_csv(study.out_dir / "alpha_sweep_digits.csv")
    coreset = figure[figure.heuristic == "coreset"].set_index("alpha")
    assert coreset.loc[INF, "plain_overlap"] == pytest.approx(0.2) and coreset.loc[1.0, "vae_share"] == 0.5
    assert (study.out_dir / "alpha_sweep_digits.png").stat().st_size > 10_000
    assert section.blocks[0] == Heading("Figures")
    images = [block for block in section.blocks if isinstance(block, Image)]
    assert [image.src for image in images] == [f"{stem}.png" for stem in section.figures]
    assert images[0].caption.startswith("curves_digits_coreset: mean over seeds with 95% CI; stars:")
    assert images[3].caption.startswith("alpha_sweep_digits: against alpha: normalised area")
    # these runs logged no val_accuracy: the star's caption says the alpha was chosen on test
    assert (
        "(star: the alpha chosen on test, biased upward: these runs logged no validation metric)"
        in images[3].caption
    )
    assert images[4].caption == (
        "runtime: train + selection seconds, the share of VAE training, and summed wall time per heuristic."
    )
    assert section.tables == {}


def test_the_figures_show_the_alpha_chosen_on_validation(confirmed, study_of):
    study = study_of(confirmed)
    section = figures(study)
    assert "curves_digits_coreset" in section.figures and not any(
        s.startswith("confirmed") for s in section.figures
    )
    images = {image.src: image.caption for image in section.blocks if isinstance(image, Image)}
    assert "(star: the alpha chosen on validation)" in images["alpha_sweep_digits.png"]
    # the curves figure draws the selection's seeds only
    numbers = pd.read_csv(study.out_dir / "curves_digits_coreset.csv")
    assert set(numbers["n"]) == {5} and set(numbers["alpha"]) == {0.0, 1.0, 2.0}
