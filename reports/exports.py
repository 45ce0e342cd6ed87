"""CSV and Excel files that are safe to open in a spreadsheet.

Every exported text cell comes from somewhere a call centre does not control (team and agent names from a
manifest, evidence a customer said, an analyst's comment), and a spreadsheet runs a cell that starts with
`=`, `+`, `-` or `@` (or a tab or carriage return before one) as a formula: `=HYPERLINK("http://…", "点我")`
sends whatever the sheet holds to someone else. Such a cell is written with a leading apostrophe, which a
spreadsheet shows as text; Excel files are also written with formulas and links off.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from results.files import write_atomic

# tab and carriage return too (a cell starting with them is trimmed and read again), and the full-width
# forms a Chinese input method types, which Excel also takes as formula starts; the same rule is in
# static/queue.js for the queue page's own export
FORMULA_START = r"^[ ]*[=+\-@\t\r＝＋－＠]"
PLAIN_NUMBER = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_FORMULA_START = re.compile(FORMULA_START)
_PLAIN_NUMBER = re.compile(PLAIN_NUMBER)
_XLSX_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False}


def neutralise(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, made text; anything else as it is (a plain number
    such as -3 cannot do anything and stays readable)."""
    if isinstance(value, str) and _FORMULA_START.match(value) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def neutralise_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text column of `frame` with formula starts neutralised (numbers stay numbers)."""
    texts = [name for name, dtype in frame.schema.items() if dtype == pl.Utf8]
    if not texts:
        return frame
    risky = pl.col(texts).str.contains(FORMULA_START) & ~pl.col(texts).str.contains(PLAIN_NUMBER)
    return frame.with_columns(pl.when(risky).then(pl.lit("'") + pl.col(texts)).otherwise(pl.col(texts)).name.keep())


def write_frame_csv(frame: pl.DataFrame, path: str | os.PathLike[str], **options: Any) -> Path:
    """The frame as CSV, UTF-8 with a BOM (Excel then reads Chinese right), written atomically."""
    safe = neutralise_frame(frame)
    return write_atomic(path, lambda tmp: safe.write_csv(tmp, include_bom=True, **options))


def write_frame_xlsx(frame: pl.DataFrame, path: str | os.PathLike[str], worksheet: str, **options: Any) -> Path:
    """The frame as one Excel sheet, text cells never formulas or links, written atomically."""
    import xlsxwriter

    safe = neutralise_frame(frame)

    def write(tmp: Path) -> None:
        with xlsxwriter.Workbook(str(tmp), _XLSX_OPTIONS) as wb:
            safe.write_excel(workbook=wb, worksheet=worksheet, **options)

    return write_atomic(path, write)


def xlsx_workbook(path: str | os.PathLike[str]) -> Any:
    """An xlsxwriter workbook that never turns a text cell into a formula or a link."""
    import xlsxwriter

    return xlsxwriter.Workbook(str(path), _XLSX_OPTIONS)


def csv_text(fieldnames: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """Rows as CSV text (no BOM: the writer adds it), every cell neutralised."""
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(fieldnames), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: neutralise("" if v is None else v) for k, v in row.items()})
    return buf.getvalue()


def write_rows_csv(path: str | os.PathLike[str], fieldnames: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> Path:
    """Rows as CSV, UTF-8 with a BOM, every cell neutralised, written atomically."""
    text = csv_text(fieldnames, rows)
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8-sig", newline=""))
