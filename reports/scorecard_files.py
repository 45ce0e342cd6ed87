"""The scorecard's files: a CSV per table, an Excel workbook, the HTML page; each written atomically."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

from results.files import make_dirs, write_atomic, write_text_atomic

from .exports import neutralise_frame, write_frame_csv, xlsx_workbook
from .scorecard import FORMATS, Scorecard, labels
from .scorecard_page import render_html
from .tables import ReportError

SHEETS = {"overall": "总览", "teams": "团队", "agents": "坐席", "violations": "违规排行", "alerts": "预警",
          "rate_bins": "语速分布", "trend": "趋势", "reviewed": "人工复核", "cases": "回访问题件"}
LEVEL_NAMES = {"overall": "全部", "team": "团队", "agent": "坐席"}
_PERCENT = ("pass_rate", "prev_pass_rate", "d_pass_rate", "rate_below", "rate_within", "rate_above", "share",
            "pass_rate_reviewed", "on_time_rate")


def write_csv(sc: Scorecard, directory: str | os.PathLike[str]) -> list[Path]:
    """One CSV per table, column names as in the frames, UTF-8 with a BOM (Excel then reads Chinese right)."""
    out = Path(directory)
    make_dirs(out)
    paths = []
    for name, frame in sc.frames().items():
        paths.append(write_frame_csv(frame, out / f"{name}.csv", float_precision=4))
    return paths


def write_excel(sc: Scorecard, path: str | os.PathLike[str]) -> Path:
    """One sheet per table with Chinese headers, percentages formatted, and a line chart of the trend."""
    names = labels(sc)

    def write(tmp: Path) -> None:
        # names from the manifests are data: "=…" must not become a formula, nor "http…" a link
        with xlsx_workbook(tmp) as wb:
            for key, frame in sc.frames().items():
                shown = frame.with_columns(pl.col("level").replace_strict(LEVEL_NAMES)) if "level" in frame.columns \
                    else frame
                shown = neutralise_frame(shown.rename({c: names.get(c, c) for c in shown.columns}))
                formats: dict[str, str] = {names[c]: "0.0%" for c in _PERCENT if c in frame.columns}
                shown.write_excel(workbook=wb, worksheet=SHEETS[key], column_formats=formats,
                                  float_precision=1, autofit=True, freeze_panes=(1, 0),
                                  table_style="Table Style Light 9")
            _excel_trend_chart(wb, sc, names)

    return write_atomic(path, write)


def _excel_trend_chart(wb: Any, sc: Scorecard, names: dict[str, str]) -> None:
    """Overall pass rate (left axis) and mean score (right axis) per week; the overall rows come first.
    No chart when fewer than two weeks have calls: one point is no trend (the page says so)."""
    n = sc.trend.filter(pl.col("level") == "overall").height
    if len(sc.trend_weeks_with_calls()) < 2:
        return
    sheet = SHEETS["trend"]
    cols = sc.trend.columns
    week_c, rate_c, score_c = cols.index("week"), cols.index("pass_rate"), cols.index("score")
    chart = wb.add_chart({"type": "line"})
    chart.add_series({"name": names["pass_rate"], "categories": [sheet, 1, week_c, n, week_c],
                      "values": [sheet, 1, rate_c, n, rate_c], "marker": {"type": "circle"}})
    score = wb.add_chart({"type": "line"})
    score.add_series({"name": names["score"], "categories": [sheet, 1, week_c, n, week_c],
                      "values": [sheet, 1, score_c, n, score_c], "marker": {"type": "square"}, "y2_axis": True})
    chart.combine(score)
    chart.set_title({"name": f"全部坐席 通过率与平均分 ({sc.weeks[0]} – {sc.weeks[-1]})"})
    chart.set_y_axis({"name": names["pass_rate"], "num_format": "0%"})
    score.set_y2_axis({"name": names["score"]})
    chart.set_size({"width": 720, "height": 320})
    wb.get_worksheet_by_name(sheet).insert_chart(1, len(cols) + 1, chart)


def write_html(sc: Scorecard, path: str | os.PathLike[str]) -> Path:
    return write_text_atomic(path, render_html(sc))


def write_all(sc: Scorecard, dest: str | os.PathLike[str], formats: Iterable[str] = FORMATS) -> list[Path]:
    """Write the chosen formats into `dest`: scorecard-<week>.html / .xlsx and csv/<table>.csv."""
    dest = Path(dest)
    wanted = set(formats)
    unknown = wanted - set(FORMATS)
    if unknown:
        raise ReportError(f"format {', '.join(sorted(unknown))}: expected some of {', '.join(FORMATS)}")
    written: list[Path] = []
    if "html" in wanted:
        written.append(write_html(sc, dest / f"scorecard-{sc.week}.html"))
    if "xlsx" in wanted:
        written.append(write_excel(sc, dest / f"scorecard-{sc.week}.xlsx"))
    if "csv" in wanted:
        written += write_csv(sc, dest / "csv")
    return written
