"""analysis.sections.alpha: the best alpha by area, and the trials left out of the areas."""

from __future__ import annotations

from analysis.render import to_markdown
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
