"""analysis.sections.significance: each VAE variant against its plain partner, paired by seed."""

from __future__ import annotations

import dataclasses

from analysis.render import Paragraph, to_markdown
from analysis.sections.significance import significance


def test_the_paired_tests_name_their_holm_families_and_flag_the_arm_with_the_plain_picks(alphas, study_of):
    section = significance(study_of(alphas))
    text = to_markdown(section.blocks)
    assert (
        "'Holm, alphas x labels' corrects over every alpha and label count of a dataset and heuristic" in text
    )
    assert "| same picks as plain |" in text
    assert "| digits | coreset | 0.25 | 3 | 5 |" in text and "| yes |" in text
    assert "| digits | coreset | inf (VAE only) | 3 | 5 |" in text
    assert list(section.tables) == ["curve_summary", "paired_tests", "significance_summary"]
    assert len(section.tables["significance_summary"]) == 5  # three core-set arms, MedAL, loss prediction


def test_the_study_shows_its_seeds_and_label_counts(study, study_of):
    text = to_markdown(significance(study_of(study)).blocks)
    assert "| digits | coreset | 0.5 | 5 | 5 |" in text  # 5 seeds, 5 label counts
    assert "same picks as plain" not in text  # no arm flagged, no column


def test_without_vae_variants_there_is_nothing_to_compare(grid, study_of):
    plain_only = dataclasses.replace(grid, frame=grid.frame[grid.frame["alpha"] == 0])
    section = significance(study_of(plain_only))
    assert section.blocks[-1] == Paragraph(
        "No VAE variant has an alpha = 0 partner in these runs: nothing to compare."
    )
    assert section.tables["paired_tests"].empty
