"""analysis.sections.encoders: every encoder against alpha 0 and against vae; nothing without other encoders."""

from __future__ import annotations

from analysis.render import Heading, Image, Table, to_markdown
from analysis.sections.encoders import encoders


def test_a_sweep_with_encoders_gets_its_tables_its_figure_and_its_text(encoder_sweep, study_of):
    section = encoders(study_of(encoder_sweep))
    assert list(section.tables) == ["encoder_curves", "encoder_tests", "encoder_summary", "encoder_seconds"]
    assert set(section.tables["encoder_summary"]["encoder"]) == {"vae", "gmvae", "cvae"}
    assert list(section.figures) == ["encoders_digits_coreset"]
    assert all(path.exists() for path in section.figures["encoders_digits_coreset"])
    assert section.blocks[0] == Heading("Encoders: where the VAE features come from")
    summary, seconds = [block.frame for block in section.blocks if isinstance(block, Table)]
    assert len(summary) == 5 and set(summary["against"]) == {"alpha 0", "vae"}
    assert seconds.set_index("encoder").loc["cvae", "per-round s"] == "2.0"
    text = to_markdown(section.blocks)
    assert "paired by seed at every label count (accuracy, test)" in text
    # one Holm family per dataset and heuristic, named in the text and shown as its own column
    assert (
        "every comparison of the table (each encoder arm against alpha 0 and against `vae`) x every label count"
        in text
    )
    assert {"min p (t, Holm, comparisons x labels)", "p area (t, Holm, comparisons)"} <= set(summary.columns)
    assert "`cvae` retrains in the trial every such round" in text
    assert section.blocks[-1] == Image(
        "encoders_digits_coreset.png",
        "encoders_digits_coreset: each encoder's arms and the plain heuristic, paired differences",
    )


def test_a_sweep_without_other_encoders_gets_no_section(grid, study_of):
    section = encoders(study_of(grid))
    assert section.tables == {} and section.figures == {} and section.blocks == []
