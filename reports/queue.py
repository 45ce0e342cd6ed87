"""The flagged-call queue: scored calls worst first, with the filters and exports QA analysts use.

The same `Filters` narrow the page (in the browser, over the rows embedded in it) and the exports
(here, in polars), so a CSV or Excel file holds exactly the calls the page showed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from callqa.model import SEVERITIES
from results.files import write_atomic

from .csv_cells import safe_frame
from .labels import SEVERITY_LABEL
from .render import render
from .tables import Filters, Tables, worst_first

EXPORT_COLUMNS = {
    "call_id": "通话", "date": "日期", "agent_id": "坐席", "team": "班组", "questionnaire": "问卷", "score": "得分",
    "passed": "合格", "n_critical": "严重", "n_major": "重要", "n_minor": "一般", "n_alerts": "预警",
    "compliance": "合规", "professionalism": "专业", "customer_experience": "客户体验",
    "agent_chars_per_min": "坐席语速", "duration": "时长(秒)", "rules": "触发规则", "recording": "录音",
}


def queue_frame(tables: Tables, filters: Filters | None = None) -> pl.DataFrame:
    """One row per call that passes the filters, worst first, with its findings' rules and severities."""
    filters = filters or Filters()
    calls = filters.apply_calls(tables)
    # only the findings of the calls listed: a week's queue must not group a year of findings
    findings = tables.findings.filter(filters.shared_level()).join(calls.select("call_id", "run_id"),
                                                                 on=["call_id", "run_id"], how="semi")
    per_call = findings.group_by("call_id").agg(
        *(pl.col("severity").filter((pl.col("severity") == s) & (pl.col("kind") == "violation")).len()
          .alias(f"n_{s}") for s in ("major", "minor")),
        pl.concat_str([pl.col("rule"), pl.col("severity")], separator="|").sort().alias("hits"),
    )
    rows = (calls.join(per_call, on="call_id", how="left")
            .with_columns(pl.col("n_major", "n_minor").fill_null(0), pl.col("hits").fill_null([])))
    return worst_first(rows).collect()


def _for_export(frame: pl.DataFrame) -> pl.DataFrame:
    rules = frame["hits"].list.eval(pl.element().str.split("|").list.first()).list.unique(maintain_order=True)
    out = frame.with_columns(rules.list.join("; ").alias("rules"), pl.col("date").cast(pl.Utf8))
    return out.select(list(EXPORT_COLUMNS)).rename(EXPORT_COLUMNS)


def write_queue_csv(frame: pl.DataFrame, path: Path) -> Path:
    # the BOM lets Excel open the Chinese text as UTF-8
    return write_atomic(path, lambda p: safe_frame(_for_export(frame)).write_csv(p, include_bom=True))


def write_queue_xlsx(frame: pl.DataFrame, path: Path) -> Path:
    return write_atomic(path, lambda p: _for_export(frame).write_excel(
        p, worksheet="质检队列", autofit=True, freeze_panes=(1, 0), autofilter=True))


def queue_data(frame: pl.DataFrame, call_href: Callable[[str], str], reviews: dict[str, int] | None = None
               ) -> dict[str, Any]:
    """What the page embeds: the rows and the values each filter offers."""
    reviews = reviews or {}
    rows = []
    for r in frame.iter_rows(named=True):
        hits = [h.split("|", 1) for h in r["hits"]]
        rows.append({
            "id": r["call_id"], "href": call_href(r["call_id"]), "date": str(r["date"]) if r["date"] else "",
            "agent": r["agent_id"] or "", "team": r["team"] or "", "q": r["questionnaire"] or "",
            "score": r["score"], "passed": r["passed"], "crit": r["n_critical"], "major": r["n_major"],
            "minor": r["n_minor"], "alerts": r["n_alerts"], "rate": r["agent_chars_per_min"],
            "hits": hits, "reviewed": reviews.get(r["call_id"], 0),
        })
    options = {
        "rule": sorted({h[0] for row in rows for h in row["hits"]}),
        "family": sorted({h[0].split(".")[0] for row in rows for h in row["hits"]}),
        "severity": [s for s in SEVERITIES if any(h[1] == s for row in rows for h in row["hits"])],
        "agent": sorted({row["agent"] for row in rows if row["agent"]}),
        "team": sorted({row["team"] for row in rows if row["team"]}),
        "questionnaire": sorted({q for row in rows for q in row["q"].split("+") if q}),
    }
    return {"calls": rows, "options": options, "severity_label": SEVERITY_LABEL}


def render_queue(frame: pl.DataFrame, call_href: Callable[[str], str], *, server: bool,
                 reviews: dict[str, int] | None = None, title: str = "质检队列") -> str:
    return render("queue.html.j2", data=queue_data(frame, call_href, reviews), server=server, title=title)
