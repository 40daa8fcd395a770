"""analysis.sections.base: the Study every section reads, and the contract every section keeps."""

from __future__ import annotations

import dataclasses

import pandas as pd

from analysis.render import Block
from analysis.report import SECTIONS
from analysis.sections.base import Section, Study


def test_every_section_takes_a_study_and_returns_a_section_of_its_own_tables_and_figures(grid, study_of):
    study = study_of(grid)
    tables: list[str] = []
    figures: list[str] = []
    for build in SECTIONS:
        section = build(study)
        assert isinstance(section, Section), build.__name__
        assert all(isinstance(table, pd.DataFrame) for table in section.tables.values()), build.__name__
        assert all(isinstance(block, Block) for block in section.blocks), build.__name__
        for paths in section.figures.values():
            assert [p.suffix for p in paths] == [".png", ".pdf", ".csv"] and all(p.exists() for p in paths)
            assert all(p.parent == study.out_dir for p in paths)
        tables += section.tables
        figures += section.figures
    # one home for each table and figure: no two sections write the same file
    assert len(tables) == len(set(tables)) and len(figures) == len(set(figures))
    assert figures == ["curves_digits_coreset", "alpha_sweep_digits", "runtime"]


def test_with_several_encoders_the_alpha_sections_read_the_vae_arms_and_the_header_says_so(
    encoder_sweep, grid, study_of
):
    study = study_of(encoder_sweep)
    assert study.several_encoders
    assert set(study.frame["encoder"]) == {"none", "vae"}
    assert set(study.data.frame["encoder"]) == {"none", "vae", "gmvae", "cvae"}  # the data keeps them all
    assert study.notes[: len(encoder_sweep.notes)] == encoder_sweep.notes
    assert study.notes[-1] == (
        "several encoders: the alpha sections compare `vae` arms with alpha 0; the encoders section "
        "compares every encoder"
    )
    plain = study_of(grid)
    assert not plain.several_encoders
    assert plain.frame is grid.frame and plain.notes == grid.notes


def test_the_shared_tables_are_computed_once_from_the_studys_rows(searched, study_of):
    study = study_of(searched["data"])
    assert study.paired_tests is study.paired_tests and study.areas is study.areas
    # a search's settings stopped early keep their partial curves out of the paired tests, not the areas
    assert 20.0 not in set(study.paired_tests["alpha"]) and 20.0 in set(study.areas["alpha"])
    assert set(study.search_tags["trial_key"]) >= set(searched["stopped"])
    assert study.alpha_curve["n"].sum() == study.areas["complete"].sum()


def test_the_alpha_scaling_is_the_vae_trials(alphas, study_of):
    assert study_of(alphas).scaling == "balanced"
    without_vae = dataclasses.replace(alphas, trials=alphas.trials[~alphas.trials["uses_vae"]])
    assert study_of(without_vae).scaling is None
    assert Study(alphas, "auc", study_of(alphas).out_dir).metric == "auc"
