"""Cells of a CSV export that a spreadsheet must show as text, never run as a formula.

Call ids, agent and team names come from manifests and file names, comments from reviewers: anyone
can make one start with `=`, `+`, `-` or `@` (`=HYPERLINK("http://…","点此")`, `+cmd|' /C calc'!A0`).
Excel and LibreOffice read such a CSV cell as a formula. Every text cell that starts like one gets a
leading `'`, which both show as text and hide; a cell that is a plain number is left as it is (it
cannot do anything, and `-3` stays readable). Excel files need none of this: they are written with
formulas off (`strings_to_formulas: False`), so there a cell is always text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import polars as pl

# tab and carriage return too (a cell starting with them is trimmed and read again), and the
# full-width forms a Chinese input method types, which Excel also takes as formula starts
FORMULA_START = r"^[=+\-@\t\r＝＋－＠]"
PLAIN_NUMBER = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_FORMULA_START = re.compile(FORMULA_START)
_PLAIN_NUMBER = re.compile(PLAIN_NUMBER)


def safe_cell(value: Any) -> Any:
    """`value` as a CSV cell: text that a spreadsheet would run as a formula gets a leading `'`."""
    if isinstance(value, str) and _FORMULA_START.match(value) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def safe_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: safe_cell(v) for k, v in row.items()}


def safe_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with `safe_cell` applied to every text column (numbers, dates and flags cannot be formulas)."""
    text = [c for c, dtype in frame.schema.items() if dtype == pl.String]
    if not text:
        return frame
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(FORMULA_START) & ~pl.col(c).str.contains(PLAIN_NUMBER))
        .then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c)
        for c in text
    )
