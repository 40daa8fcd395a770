"""analysis.sections.alpha: the best alpha, chosen on validation and reported on test, and the trials left
out of the areas."""

from __future__ import annotations

import pytest

from analysis.render import Table, to_markdown
from analysis.sections.alpha import alpha


def test_the_alpha_table_names_its_correction_and_lists_the_gap(alphas, study_of):
    section = alpha(study_of(alphas))
    text = to_markdown(section.blocks)
    assert "corrects over the k alpha > 0 areas of that dataset and heuristic" in text
    assert "1 incomplete trials are left out of the areas" in text
    assert "| digits/medal/1/0 | 4 | 300 |" in text
    assert "| no VAE variants |" in text  # random: one alpha only
    assert "| digits | coreset | 0, 0.25, 1, inf |" in text
    assert list(section.tables) == ["trial_areas", "label_gaps", "alpha_curve", "alpha_summary"]
    assert section.tables["label_gaps"]["trial_key"].tolist() == ["digits/medal/1/0"]


def test_a_sweep_stopped_before_its_last_round_lists_every_trial_as_incomplete(stopped, study_of):
    text = to_markdown(alpha(study_of(stopped)).blocks)
    assert "9 incomplete trials are left out of the areas" in text
    assert "| digits/coreset/0.5/1 | 4 | 500 |" in text


def test_a_complete_sweep_says_so_and_lists_no_gaps(study, study_of):
    section = alpha(study_of(study))
    text = to_markdown(section.blocks)
    assert "every trial is complete." in text and "Incomplete trials" not in text
    assert section.tables["label_gaps"].empty
    assert "| digits | coreset | 0, 0.5, 1 | " in text and "| best alpha has the plain picks |" not in text


def test_the_best_alpha_is_chosen_on_validation_and_its_test_gain_shown(confirmed, study_of):
    section = alpha(study_of(confirmed))
    text = to_markdown(section.blocks)
    [table] = [block.frame for block in section.blocks if isinstance(block, Table)]
    core = table.set_index("heuristic").loc["coreset"]
    # validation favours alpha 1, test alpha 2: the table shows alpha 1 and its test gain (+0.01)
    assert core["best alpha (chosen on validation)"] == "1"
    assert float(core["gain (test)"]) == pytest.approx(0.01, abs=0.003)
    assert float(core["validation area, best (val_accuracy)"]) > float(core["test area, best"])
    assert "the alpha chosen on validation (mean val_accuracy_area over seeds" in text
    assert "These are selection results (the seeds that chose); the confirmed numbers" in text
    # only the selection's trials: the confirmation's seeds are not in the areas
    assert set(section.tables["trial_areas"]["seed"]) == set(range(5))


def test_runs_without_validation_curves_are_chosen_on_test_and_say_so(alphas, study_of):
    section = alpha(study_of(alphas))
    [table, _] = [block.frame for block in section.blocks if isinstance(block, Table)]
    assert (
        "best alpha (chosen on test)" in table.columns and "validation area, best (val_accuracy)" not in table
    )
    text = to_markdown(section.blocks)
    assert "so it is chosen on test: biased upward" in text
    assert "confirm it on fresh seeds with `python -m raysweep.launch CONFIG --confirm`" in text
