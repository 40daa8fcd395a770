"""analysis.sections.overview: the title and what the report read."""

from __future__ import annotations

import dataclasses

from analysis.render import Bullets, Title, to_markdown
from analysis.sections.overview import overview, scaling_text


def test_the_header_says_what_was_read_and_how_alpha_is_scaled(alphas, study_of):
    section = overview(study_of(alphas))
    title, bullets = section.blocks
    assert title == Title("raysweep analysis: alphas")
    assert isinstance(bullets, Bullets)
    text = to_markdown(section.blocks)
    assert "alpha scaling of the VAE arms: `balanced`" in text
    assert f"- sweeps: a1; report logged to parent run `{alphas.target_parent_run_id}`" in text
    assert (
        "- 27 trials (27 runs) on digits; heuristics coreset, lloss, medal, random; seeds per variant 3"
        in text
    )
    assert "- metric: `accuracy`, step = number of labels; duplicates dropped: 0 metric points" in text
    assert [item for item in bullets.items if item in alphas.notes] == alphas.notes
    assert bullets.items[-1].startswith("generated ") and bullets.items[-1].endswith(" UTC")
    assert section.tables == {} and section.figures == {}


def test_seeds_per_variant_is_a_range_when_variants_differ(study, study_of):
    fewer = study.trials[~((study.trials["alpha"] == 0.5) & (study.trials["seed"] == 4))]
    text = to_markdown(overview(study_of(dataclasses.replace(study, trials=fewer))).blocks)
    assert "seeds per variant 4-5" in text


def test_the_header_names_the_arms_the_alpha_sections_read(encoder_sweep, study_of):
    assert "the alpha sections compare `vae` arms" in to_markdown(overview(study_of(encoder_sweep)).blocks)


def test_scaling_text():
    assert scaling_text(None) == "none (no VAE trials)"
    assert scaling_text("raw") == "`raw` (the paper's [T_f ⁀ alpha V]: alpha multiplies the raw VAE features)"
    assert scaling_text("balanced").startswith("`balanced` (each block divided by its pool spread")
    assert scaling_text("other") == "`other`"
