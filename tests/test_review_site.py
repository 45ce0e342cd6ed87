"""The review site without a browser: what is written, incremental builds, broken results, the CLI."""

from __future__ import annotations

import csv
import json
import os
import time

import pytest
from click.testing import CliRunner
from reportdata import build_output

from callqa.cli import main
from qa_checks import load_lexicon
from reports.masking import mask_numbers
from reports.ratecurve import rate_curve
from reports.review import build_view, load_call
from reports.site import build_site
from reports.tables import Filters, ReportError, Tables
from workspace.decisions import ReviewError, ReviewStore, review_from_dict


@pytest.fixture()
def out(tmp_path):
    return build_output(tmp_path / "out")


def test_site_pages_exports_and_incremental_rebuild(out):
    first = build_site(out)
    assert first.pages == 5 and first.unchanged == 0 and not first.errors
    with (first.dest / "queue.csv").open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    calls = Tables(out).calls.collect()
    assert sorted(r["通话"] for r in rows) == sorted(calls["call_id"].to_list())
    assert rows[0]["合格"] == "false"  # worst first: the failed call leads
    assert (first.dest / "queue.xlsx").stat().st_size > 0
    scored = json.loads((out / "results" / "mono_issues.json").read_text(encoding="utf-8"))["scoring"]
    page = (first.dest / "calls" / "mono_issues.html").read_text(encoding="utf-8")
    assert scored["lexicon_fingerprint"] in page and scored["engine_version"] in page  # what scored it
    again = build_site(out)
    assert again.pages == 0 and again.unchanged == 5
    result = out / "results" / "mono_issues.json"
    later = time.time() + 5
    os.utime(result, (later, later))
    assert build_site(out).pages == 1
    half = first.dest / "calls" / ".mono_issues.html.x1y2z3.tmp"  # a killed build's
    half.write_text("<html", encoding="utf-8")
    assert build_site(out, rebuild=True).pages == 5
    assert not half.exists()


def test_a_broken_result_is_named_and_the_other_pages_are_written(out):
    (out / "results" / "mono_issues.json").write_text("{broken", encoding="utf-8")
    report = build_site(out)
    assert report.pages == 4 and len(report.errors) == 1 and report.errors[0].startswith("mono_issues:")
    assert (report.dest / "index.html").exists()


def test_no_tables_is_a_clear_error(tmp_path):
    with pytest.raises(ReportError, match="no result tables"):
        build_site(tmp_path)
    result = CliRunner().invoke(main, ["review", "--results", str(tmp_path)])
    assert result.exit_code == 2 and "no result tables" in result.output


def test_review_cli_writes_the_queue(out):
    result = CliRunner().invoke(main, ["review", "--results", str(out)])
    assert result.exit_code == 0, result.output
    assert "5 review pages written" in result.output and (out / "review" / "index.html").exists()


def test_findings_are_tied_to_their_lines_and_evidence(out):
    result, transcript = load_call(out, "stereo_agent_right_issues")
    view = build_view(result, transcript, load_lexicon(None), "x.flac")
    vague = next(f for f in view.findings if f.rule == "forbidden.vague")
    assert vague.lines and all(
        transcript["segments"][i]["start"] < vague.end and transcript["segments"][i]["end"] > vague.start
        for i in vague.lines)
    assert "<mark>" in str(view.lines[vague.lines[0]].html)
    skipped = next(f for f in view.findings if f.rule == "question.skipped")
    assert skipped.lines == []  # a whole-call finding without words marks no line
    assert view.findings[0].severity == "critical"  # the list is worst first


def test_rate_curve_matches_a_direct_count(out):
    _, transcript = load_call(out, "stereo_fast_loud")
    lex = load_lexicon(None)
    points = rate_curve(transcript, lex)
    assert points
    window = float(lex.setting("rate.window_seconds"))
    agent = [s for s in transcript["segments"] if s["speaker"] == "agent"]
    first = points[0]
    chars, secs = 0, 0.0
    for seg in agent:  # the first window: agent lines from the start until 20 s of speech
        if secs >= window:
            break
        chars += len([c for c in seg["text"] if "\u4e00" <= c <= "\u9fff"])
        secs += seg["end"] - seg["start"]
    assert abs(first.chars_per_min - 60 * chars / secs) / first.chars_per_min < 0.1
    # the planted fast stretch shows above the band
    assert max(p.chars_per_min for p in points) > float(lex.setting("rate.upper"))


@pytest.mark.parametrize(("text", "masked"), [
    ("身份证后四位是三二一五", "身份证后四位是****"),
    ("手机13812345678", "手机***********"),
    ("卡号6222 0212 3456 7890", "卡号****************"),
    ("11010119900307771X", "*" * 18),
    ("保费六千元，十五年交", "保费六千元，十五年交"),
])
def test_masking(text, masked):
    assert mask_numbers(text) == masked


def test_reviews_keep_history_and_reject_bad_input(tmp_path):
    store = ReviewStore(tmp_path / "r.sqlite3")
    base = {"call_id": "c1", "finding_key": "0:forbidden.vague:1.0", "rule": "forbidden.vague"}
    store.add(review_from_dict({**base, "verdict": "confirmed", "reviewer": "甲"}))
    store.add(review_from_dict({**base, "verdict": "false_positive", "comment": "客户原话"}))
    assert [r.verdict for r in store.current("c1")] == ["false_positive"]
    assert [r.verdict for r in store.history("c1")] == ["confirmed", "false_positive"]
    assert store.verdicts_by_rule() == {"forbidden.vague": {"false_positive": 1}}
    assert store.reviewed_counts() == {"c1": 1}
    for bad in ({**base, "verdict": "maybe"}, {"call_id": "c1"}, ["x"]):
        with pytest.raises(ReviewError):
            review_from_dict(bad)
    # the same file opened again holds the same decisions: they persist
    assert [r.comment for r in ReviewStore(tmp_path / "r.sqlite3").current("c1")] == ["客户原话"]


def test_filters_on_calls_and_findings(out):
    tables = Tables(out)
    results = [json.loads(p.read_text(encoding="utf-8")) for p in (out / "results").glob("*.json")]
    by_rule = Filters(rule=("alert",)).apply_calls(tables).collect()["call_id"].to_list()
    assert sorted(by_rule) == sorted(r["call_id"] for r in results
                                     if any(f["rule"].startswith("alert.") for f in r["findings"]))
    week = Filters(week="2026-W47", agent=("A017",)).apply_calls(tables).collect()["call_id"].to_list()
    assert sorted(week) == sorted(r["call_id"] for r in results if r["agent_id"] == "A017")
    assert Filters(week="2026-W48").apply_calls(tables).collect().height == 0
    with pytest.raises(ReportError, match="ISO week"):
        Filters(week="47").apply_calls(tables)


def test_queue_cli_exports_the_filtered_calls(out, tmp_path):
    csv_path, xlsx_path = tmp_path / "q.csv", tmp_path / "q.xlsx"
    result = CliRunner().invoke(main, ["queue", "--results", str(out), "--team", "回访二组", "--rule", "alert",
                                       "--csv", str(csv_path), "--xlsx", str(xlsx_path)])
    assert result.exit_code == 0, result.output
    results = [json.loads(p.read_text(encoding="utf-8")) for p in (out / "results").glob("*.json")]
    want = {r["call_id"] for r in results
            if r["team"] == "回访二组" and any(f["rule"].startswith("alert.") for f in r["findings"])}
    with csv_path.open(encoding="utf-8-sig") as fh:
        assert {row["通话"] for row in csv.DictReader(fh)} == want and want
    assert xlsx_path.stat().st_size > 0
    bad = CliRunner().invoke(main, ["queue", "--results", str(out), "--week", "W47"])
    assert bad.exit_code == 2 and "ISO week" in bad.output


def test_reviews_cli_summarises_and_exports_decisions(out, tmp_path):
    assert CliRunner().invoke(main, ["reviews", "--results", str(out)]).exit_code == 2  # none yet
    store = ReviewStore(out / "reviews.sqlite3")
    for call, key, verdict in (("a", "0:forbidden.vague:1", "confirmed"), ("b", "0:forbidden.vague:2", "false_positive"),
                               ("b", "0:forbidden.vague:2", "confirmed"), ("c", "1:alert.complaint:5", "appeal")):
        store.add(review_from_dict({"call_id": call, "finding_key": key, "rule": key.split(":")[1],
                                    "verdict": verdict}))
    target = tmp_path / "decisions.csv"
    result = CliRunner().invoke(main, ["reviews", "--results", str(out), "--csv", str(target)])
    assert result.exit_code == 0, result.output
    cells = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:6]]
             for line in result.output.splitlines() if line.startswith("│")}
    # the newest decision counts: b's finding went from false positive to confirmed
    assert cells == {"forbidden.vague": ["2", "0", "0", "100%"], "alert.complaint": ["0", "0", "1", "—"]}
    with target.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["verdict"] for r in rows] == ["confirmed", "false_positive", "confirmed", "appeal"]


def test_questionnaire_filter_reaches_findings_through_their_call(out):
    tables = Tables(out)
    every = tables.findings.collect().height
    assert every > 0
    assert Filters(questionnaire=("traditional",)).apply_findings(tables).collect().height == every
    assert Filters(questionnaire=("universal",)).apply_findings(tables).collect().height == 0
    assert Filters(questionnaire=("traditional",), rule=("alert",)).apply_calls(tables).collect().height == 2


def test_site_for_a_period_holds_only_its_calls(out, tmp_path):
    result = CliRunner().invoke(main, ["review", "--results", str(out), "--dest", str(tmp_path / "site"),
                                       "--from", "2026-11-17", "--to", "2026-11-18"])
    assert result.exit_code == 0, result.output
    pages = sorted(p.stem for p in (tmp_path / "site" / "calls").glob("*.html"))
    results = [json.loads(p.read_text(encoding="utf-8")) for p in (out / "results").glob("*.json")]
    assert pages == sorted(r["call_id"] for r in results if "2026-11-17" <= r["started_at"][:10] <= "2026-11-18")
    assert len(pages) == 2
