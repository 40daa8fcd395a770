"""The report's blocks, written as markdown and HTML, and the one cell formatting of its tables.

A report is a list of blocks: :class:`Title` (h1), :class:`Heading` (h2), :class:`Paragraph` (p),
:class:`Bullets` (ul), :class:`Table` (a DataFrame of strings, see :func:`format_table`) and
:class:`Image` (img with a caption). :func:`to_markdown` and :func:`to_html` render the same blocks, so
``report.md`` and ``report.html`` say the same thing; the HTML needs no dependency beyond the
standard library. Text may hold `code` spans, the only inline markup the report uses.

:func:`format_table` picks and renames a table's columns and turns every value into the string the
report shows: :func:`cell` decides the format from the column's shown name (p-values, seconds,
alphas, counts), so one column name reads the same in every section.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Title:
    """The report's h1."""

    text: str


@dataclass(frozen=True)
class Heading:
    """A section's h2."""

    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: Sequence[str]


@dataclass(frozen=True)
class Table:
    """A table as shown: every value already a string (:func:`format_table`)."""

    frame: pd.DataFrame


@dataclass(frozen=True)
class Image:
    """A figure's PNG, relative to the report's folder, with its caption."""

    src: str
    caption: str


Block = Title | Heading | Paragraph | Bullets | Table | Image

P_VALUE_PREFIXES = ("p ", "p,", "min p")
"""Shown column names of p-values: ``p (t)``, ``p, corrected``, ``min p (t, Holm)``, ``p area (t)``."""
SECONDS_SUFFIXES = (" s", "s (sum)", "s (logged)", "per trial")
ALPHA_COLUMNS = ("alpha", "best alpha")
"""Columns of alphas, also with a qualifier: ``best alpha (chosen on validation)``."""
COUNT_COLUMNS = ("VAE trainings", "at labels", "seeds", "VAE trials", "found as", "settings tried", "order")
"""Columns of counts that arrive as floats (a merge or a NaN elsewhere in the column made them so)."""


def format_table(
    table: pd.DataFrame, columns: Mapping[str, str], keep_empty_columns: bool = False
) -> pd.DataFrame:
    """``table``'s ``columns`` (name -> shown name, in that order) as strings, ready for a :class:`Table`.

    Columns ``table`` lacks are left out; so are columns without a value (a quantity these runs
    never logged, e.g. ``vae_seconds``, would only add an empty column) unless
    ``keep_empty_columns``: the search tables show every column they name.
    """
    present = [c for c in columns if c in table and (keep_empty_columns or not table[c].isna().all())]
    out = table[present].rename(columns=columns).copy()
    for column in out:
        out[column] = [cell(v, column) for v in out[column]]
    return out


def cell(value: object, column: str) -> str:
    """One value as the report shows it in the column shown as ``column``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        if column.startswith(P_VALUE_PREFIXES):
            return "<0.0001" if value < 1e-4 else f"{value:.4f}"
        if column.endswith(SECONDS_SUFFIXES):
            return f"{value:,.1f}"
        if column in ALPHA_COLUMNS or column.startswith(tuple(f"{name} (" for name in ALPHA_COLUMNS)):
            return "inf (VAE only)" if math.isinf(value) else f"{value:g}"
        if column in COUNT_COLUMNS and value.is_integer() and abs(value) < 1e9:
            return str(int(value))
        return f"{value:.4f}"
    return str(value)


def to_markdown(blocks: Sequence[Block]) -> str:
    lines: list[str] = []
    for block in blocks:
        match block:
            case Title(text):
                lines += [f"# {text}", ""]
            case Heading(text):
                lines += [f"## {text}", ""]
            case Paragraph(text):
                lines += [text, ""]
            case Bullets(items):
                lines += [f"- {item}" for item in items] + [""]
            case Table(frame):
                lines += [_markdown_table(frame), ""]
            case Image(src, caption):
                lines += [f"![{caption}]({src})", "", f"*{caption}*", ""]
    return "\n".join(lines)


def _markdown_table(table: pd.DataFrame) -> str:
    if table.empty:
        return "(no rows)"

    def escape(value: object) -> str:
        return str(value).replace("|", "\\|")

    head = "| " + " | ".join(escape(c) for c in table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    rows = ["| " + " | ".join(escape(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([head, rule, *rows])


STYLE = (
    "body{font-family:sans-serif;max-width:1200px;margin:2em auto;line-height:1.45}"
    "table{border-collapse:collapse;font-size:0.85em;margin:1em 0}"
    "th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}th{background:#f3f3f3}"
    "img{max-width:100%}figcaption{font-size:0.85em;color:#555}code{background:#f5f5f5}"
)


def to_html(blocks: Sequence[Block], title: str) -> str:
    """One self-contained HTML page (inline style) with ``title`` in its head."""
    body: list[str] = []
    for block in blocks:
        match block:
            case Title(text):
                body.append(f"<h1>{_inline(text)}</h1>")
            case Heading(text):
                body.append(f"<h2>{_inline(text)}</h2>")
            case Paragraph(text):
                body.append(f"<p>{_inline(text)}</p>")
            case Bullets(items):
                body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
            case Table(frame):
                body.append(_html_table(frame))
            case Image(src, caption):
                body.append(
                    f'<figure><img src="{html.escape(src)}" alt="{html.escape(caption)}">'
                    f"<figcaption>{html.escape(caption)}</figcaption></figure>"
                )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def _inline(text: str) -> str:
    """Escaped text with its `code` spans as <code>."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _html_table(table: pd.DataFrame) -> str:
    if table.empty:
        return "<p>(no rows)</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
        for row in table.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
