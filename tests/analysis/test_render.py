"""analysis.render: every block kind as markdown and as HTML, and the cell formats, on known values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.render import (
    Bullets,
    Heading,
    Image,
    Paragraph,
    Table,
    Title,
    cell,
    format_table,
    to_html,
    to_markdown,
)

BLOCKS = [
    Title("raysweep analysis: study"),
    Heading("Runtime"),
    Paragraph("see `paired_tests.csv` & more"),
    Bullets(["one", "two `x`"]),
    Table(pd.DataFrame({"a|b": ["1"], "c": ["x|y"]})),
    Table(pd.DataFrame({"a": []})),
    Image("runtime.png", "runtime: bars <per heuristic>"),
]


def test_markdown_of_every_block_kind():
    assert to_markdown(BLOCKS).splitlines() == [
        "# raysweep analysis: study",
        "",
        "## Runtime",
        "",
        "see `paired_tests.csv` & more",
        "",
        "- one",
        "- two `x`",
        "",
        "| a\\|b | c |",
        "|---|---|",
        "| 1 | x\\|y |",
        "",
        "(no rows)",
        "",
        "![runtime: bars <per heuristic>](runtime.png)",
        "",
        "*runtime: bars <per heuristic>*",
    ]


def test_html_of_every_block_kind_is_escaped_with_code_spans():
    page = to_html(BLOCKS, title="a <b> report")
    assert page.startswith(
        "<!doctype html><html><head><meta charset='utf-8'><title>a &lt;b&gt; report</title>"
    )
    body = page.split("<body>\n", 1)[1].split("\n</body>", 1)[0].splitlines()
    assert body == [
        "<h1>raysweep analysis: study</h1>",
        "<h2>Runtime</h2>",
        "<p>see <code>paired_tests.csv</code> &amp; more</p>",
        "<ul><li>one</li><li>two <code>x</code></li></ul>",
        "<table><thead><tr><th>a|b</th><th>c</th></tr></thead><tbody><tr><td>1</td><td>x|y</td></tr></tbody></table>",
        "<p>(no rows)</p>",
        '<figure><img src="runtime.png" alt="runtime: bars &lt;per heuristic&gt;">'
        "<figcaption>runtime: bars &lt;per heuristic&gt;</figcaption></figure>",
    ]


@pytest.mark.parametrize(
    ("value", "column", "shown"),
    [
        (None, "gain", ""),
        (math.nan, "p (t)", ""),
        (True, "significant", "yes"),
        (np.bool_(False), "stopped early", "no"),
        (0.00005, "p (t)", "<0.0001"),
        (0.0123456, "p, corrected", "0.0123"),
        (0.5, "min p (t, Holm, labels)", "0.5000"),
        (0.5, "p area (t)", "0.5000"),
        (0.9951, "plain_overlap", "0.9951"),  # not a p-value for starting with p
        (12345.678, "train s", "12,345.7"),
        (60.0, "wall s (sum)", "60.0"),
        (12.0, "sweep s (logged)", "12.0"),
        (60.0, "wall s per trial", "60.0"),
        (math.inf, "alpha", "inf (VAE only)"),
        (0.25, "best alpha", "0.25"),
        (math.inf, "best alpha (chosen on validation)", "inf (VAE only)"),
        (1.0, "alpha (chosen on validation)", "1"),
        (5.0, "seeds", "5"),
        (3.0, "found as", "3"),
        (6.0, "settings tried", "6"),
        (2.0, "order", "2"),
        (1.0, "VAE trainings", "1"),
        (500.0, "at labels", "500"),
        (9.0, "VAE trials", "9"),
        (2.5, "seeds", "2.5000"),  # a count column with a fraction is shown as a number
        (0.76261, "gain", "0.7626"),
        (np.float32(0.5), "gain", "0.5000"),
        (5, "label counts", "5"),
        ("digits", "dataset", "digits"),
    ],
)
def test_cell_formats_by_the_shown_column_name(value, column, shown):
    assert cell(value, column) == shown


def test_format_table_picks_renames_and_leaves_out_empty_columns():
    table = pd.DataFrame(
        {
            "heuristic": ["coreset", "lloss"],
            "p_t": [0.01, np.nan],
            "vae_seconds": [np.nan, np.nan],
            "extra": [1, 2],
        }
    )
    columns = {"p_t": "p (t)", "heuristic": "heuristic", "vae_seconds": "VAE s", "missing": "not there"}
    shown = format_table(table, columns)
    assert list(shown.columns) == ["p (t)", "heuristic"]  # in the order asked; vae_seconds never logged
    assert shown.to_dict("list") == {"p (t)": ["0.0100", ""], "heuristic": ["coreset", "lloss"]}
    kept = format_table(table, columns, keep_empty_columns=True)
    assert list(kept.columns) == ["p (t)", "heuristic", "VAE s"] and kept["VAE s"].tolist() == ["", ""]
    assert table.columns.tolist() == ["heuristic", "p_t", "vae_seconds", "extra"]  # the input is untouched
