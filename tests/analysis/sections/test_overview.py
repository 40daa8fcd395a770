"""analysis.sections.overview: the title and what the report read."""

from __future__ import annotations

import dataclasses

import pandas as pd

from analysis.render import Bullets, Title, to_markdown
from analysis.sections.overview import encoder_draws_text, overview, scaling_text


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


def test_the_header_says_which_split_each_number_comes_from_and_over_which_encoder_draws(confirmed, study_of):
    text = to_markdown(overview(study_of(confirmed)).blocks)
    assert (
        "- splits: choices (the best alpha, a search's best setting) read the validation split: the "
        "normalised area under `val_accuracy`; results (curves, paired tests, gains, the confirmation) read "
        "`accuracy` on the test split (`config.dataset.eval_split`: test)" in text
    )
    assert (
        "- 30 trials (30 runs) on digits; heuristics coreset, medal, random; seeds per variant 5 (the selection"
        in text
    )
    assert "- confirmation: 25 trials on fresh seeds 5, 6, 7, 8, 9 (sweep c1-confirm)" in text
    assert "- encoder draws (selection): over encoder draws: one pool encoder per seed (5 encoders;" in text
    assert "- encoder draws (confirmation): over encoder draws" in text


def test_one_encoder_for_every_seed_is_named_and_older_runs_are_chosen_on_test(baselines, alphas, study_of):
    text = to_markdown(overview(study_of(baselines)).blocks)
    assert (
        "encoder draws: conditional on one encoder draw: every seed's VAE arms read the pool encoder of `vae.seed` = 7"
        in text
    )
    older = to_markdown(overview(study_of(alphas)).blocks)
    assert (
        "read the test split: these runs logged no `val_accuracy` (a launcher older than the validation split): chosen on test: biased upward"
        in older
    )
    assert "encoder draws: unknown: these runs logged no `config.vae.seed`" in older
    assert "the confirmation" not in older


def test_a_sweep_that_measured_accuracy_on_the_validation_split_is_named(grid, study_of):
    on_val = dataclasses.replace(grid, trials=grid.trials.assign(eval_split="val"))
    text = to_markdown(overview(study_of(on_val)).blocks)
    assert (
        'sweep g1 measured `accuracy` on `eval_split: val`: its "test" numbers are validation numbers' in text
    )


def test_encoder_draws_text():
    trials = pd.DataFrame({"uses_vae": [True, True, False], "seed": [0, 1, 0], "vae_seed": [3.0, 4.0, 0.0]})
    assert "over encoder draws: one pool encoder per seed (2 encoders" in encoder_draws_text(trials)
    assert "mixed: the VAE arms read 2 encoders (3, 4)" in encoder_draws_text(trials.assign(seed=[0, 0, 0]))
    assert (
        encoder_draws_text(trials[~trials["uses_vae"]], "confirmation")
        == "encoder draws (confirmation): no VAE arms"
    )
