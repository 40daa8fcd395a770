"""analysis.sections.confirmed: the headline, from the ``confirmed`` experiment's confirmation
(tests/helpers/analysis_sweeps.py); nothing without a confirmation."""

from __future__ import annotations

import pytest

from analysis.render import Heading, Image, Table, to_markdown
from analysis.sections.confirmed import confirmed as confirmed_section


def test_the_headline_table_gives_the_chosen_alpha_its_gain_on_fresh_seeds_and_the_floor(confirmed, study_of):
    section = confirmed_section(study_of(confirmed))
    assert section.blocks[0] == Heading("Confirmed on fresh seeds")
    assert list(section.tables) == ["confirmed", "confirmed_floor", "confirmed_curves"]
    headline, floor = [block.frame for block in section.blocks if isinstance(block, Table)]
    assert list(headline.columns) == [
        "dataset", "heuristic", "alpha (chosen on validation)", "seeds", "test area, alpha 0", "test area, chosen",
        "gain (test)", "gain CI low", "gain CI high", "p (t)", "p (t, Holm, confirmed)", "p (Wilcoxon)",
        "random floor (test area)", "plain_overlap", "overlap baseline", "same picks as plain",
        "selection gain (test)",
    ]  # fmt: skip
    core, medal = headline.to_dict("records")
    assert (core["heuristic"], core["alpha (chosen on validation)"], core["seeds"]) == ("coreset", "1", "5")
    assert float(core["gain (test)"]) == pytest.approx(0.02, abs=0.003)
    assert (core["plain_overlap"], core["overlap baseline"], core["same picks as plain"]) == (
        "0.6000",
        "1.0000",
        "",
    )
    # MedAL's chosen arm picked what plain picks (0.995 of a deterministic baseline): said in the headline
    assert (medal["plain_overlap"], medal["same picks as plain"]) == ("0.9950", "yes")
    assert floor[["heuristic", "seeds"]].values.tolist() == [["random", "5"]]
    text = to_markdown(section.blocks)
    assert "sweep c1-confirm confirms sweep c1" in text
    assert (
        "on the choosing seeds (seeds 0, 1, 2, 3, 4;" in text
        and "5 fresh seeds (seeds 5, 6, 7, 8, 9)" in text
    )
    assert "across the 2 confirmed comparisons" in text
    assert list(section.figures) == ["confirmed_digits_coreset", "confirmed_digits_medal"]
    assert all(path.exists() for paths in section.figures.values() for path in paths)
    assert section.blocks[-1] == Image(
        "confirmed_digits_medal.png",
        "confirmed_digits_medal: the chosen alpha, alpha = 0 and random on the fresh seeds, mean and 95% CI",
    )


def test_without_a_confirmation_there_is_no_section(grid, study_of):
    section = confirmed_section(study_of(grid))
    assert section.tables == {} and section.figures == {} and section.blocks == []
