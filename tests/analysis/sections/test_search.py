"""analysis.sections.search: a search's settings and its best one against alpha 0; nothing for a grid."""

from __future__ import annotations

from helpers.analysis_sweeps import PEAK

from analysis.render import Heading, Image, Table, to_markdown
from analysis.sections.search import search


def test_a_search_gets_its_tables_its_figure_and_its_text(searched, study_of):
    section = search(study_of(searched["data"]))
    assert list(section.tables) == ["search_settings", "search_best"]
    assert section.tables["search_best"]["best_alpha"].tolist() == [PEAK]
    assert list(section.figures) == ["search_digits_coreset"]
    assert all(path.exists() for path in section.figures["search_digits_coreset"])
    assert section.blocks[0] == Heading("Search: which setting, and does it beat alpha 0?")
    best, settings = [block.frame for block in section.blocks if isinstance(block, Table)]
    # these runs logged no val_accuracy: chosen on test, no validation column
    assert list(best.columns) == [
        "dataset", "heuristic", "settings tried", "test area, alpha 0", "best setting (chosen on test)", "found as",
        "test area, best", "gain (test)", "seeds", "p (t)", "p, corrected", "significant", "note",
    ]  # fmt: skip
    assert best.loc[0, ["settings tried", "best setting (chosen on test)", "found as", "seeds"]].tolist() == [
        "6",
        "alpha=1.3",
        "3",
        "4",
    ]
    assert settings["order"].tolist() == [str(i) for i in range(7)]
    assert settings["stopped early"].tolist() == ["no"] * 6 + ["yes"]
    assert settings.loc[6, "mean area (test)"] == ""  # stopped before any seed finished: no area, column kept
    assert section.blocks[-1] == Image(
        "search_digits_coreset.png",
        "search_digits_coreset: area against alpha, settings numbered in the searcher's order",
    )
    assert "Full tables: `search_settings.csv`, `search_best.csv`." in to_markdown(section.blocks)


def test_a_grid_has_no_search_section(grid, study_of):
    section = search(study_of(grid))
    assert section.tables == {} and section.figures == {} and section.blocks == []
