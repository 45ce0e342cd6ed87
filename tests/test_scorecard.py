"""Weekly scorecards: every number against a direct computation in plain Python over the same rows,
then the files (HTML, Excel, CSV), the command and the Prefect flow."""

from __future__ import annotations

import datetime as dt
import re
import time
import zipfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner
from reportdata import build_output

from callqa.cli_scorecard import scorecard as scorecard_command
from reports.charts import RATE_BIN
from reports.scorecard import (
    KEY_ALERTS,
    TOP_GROUP,
    TOP_OVERALL,
    UNKNOWN,
    Scorecard,
    alert_column,
    build_scorecard,
    previous_week,
    rate_band,
)
from reports.scorecard_files import SHEETS, write_all
from reports.tables import ReportError, Tables, iso_week, parse_week
from results.schema import CALL_COLUMNS, FINDING_COLUMNS

WEEK = "2026-W47"
DIMS = ("compliance", "professionalism", "customer_experience")
Row = dict[str, Any]

# ---------------------------------------------------------------------------------------------------
# the reference: what a scorecard should say, computed row by row


def day_of(row: Row) -> dt.date:
    return dt.date.fromisoformat(row["started_at"][:10])


def team_of(row: Row) -> str:
    return row["team"] if row["team"] is not None else UNKNOWN


def agent_of(row: Row) -> str:
    return row["agent_id"] if row["agent_id"] is not None else UNKNOWN


def newest(calls: list[Row], findings: list[Row]) -> tuple[list[Row], list[Row]]:
    best: dict[str, Row] = {}
    for r in calls:
        if r["call_id"] not in best or r["run_id"] > best[r["call_id"]]["run_id"]:
            best[r["call_id"]] = r
    keep = {(r["call_id"], r["run_id"]) for r in best.values()}
    return list(best.values()), [f for f in findings if (f["call_id"], f["run_id"]) in keep]


def mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def call_stats(rows: list[Row], lower: float, upper: float) -> Row:
    verdicts = [r["passed"] for r in rows if r["passed"] is not None]
    rates = [r["agent_chars_per_min"] for r in rows if r["agent_chars_per_min"] is not None]

    def share(test: Any) -> float | None:
        return sum(1 for v in rates if test(v)) / len(rates) if rates else None

    return {
        "calls": len(rows), "passed": sum(verdicts), "pass_rate": sum(verdicts) / len(verdicts) if verdicts else None,
        "score": mean([r["score"] for r in rows]), **{d: mean([r[d] for r in rows]) for d in DIMS},
        "rate_mean": mean(rates), "rate_measured": len(rates), "rate_below": share(lambda v: v < lower),
        "rate_within": share(lambda v: lower <= v <= upper), "rate_above": share(lambda v: v > upper),
    }


def finding_stats(rows: list[Row]) -> Row:
    alerts = [f for f in rows if f["kind"] == "alert"]
    return {
        "violations": sum(1 for f in rows if f["kind"] == "violation"),
        "critical_calls": len({f["call_id"] for f in rows if f["kind"] == "violation" and f["severity"] == "critical"}),
        "alert_calls": len({f["call_id"] for f in alerts}),
        **{alert_column(a): len({f["call_id"] for f in alerts if f["rule"] == a}) for a in KEY_ALERTS},
    }


def expected(calls: list[Row], findings: list[Row], week: str, weeks_back: int = 8) -> dict[str, Any]:
    lower, upper = rate_band()
    calls, findings = newest(calls, findings)
    monday, _ = parse_week(week)
    by_week: dict[str, list[Row]] = defaultdict(list)
    for r in calls:
        by_week[iso_week(day_of(r))].append(r)
    prev = iso_week(monday - dt.timedelta(days=7))
    now = by_week[week]
    week_findings = [f for f in findings if iso_week(day_of(f)) == week and f["kind"] in ("violation", "alert")]

    def key_of(level: str, r: Row) -> tuple[str | None, str | None]:
        return {"overall": (None, None), "team": (team_of(r), None), "agent": (team_of(r), agent_of(r))}[level]

    groups = {level: sorted({key_of(level, r) for r in now}, key=str) for level in ("overall", "team", "agent")}
    summary: dict[str, list[Row]] = {}
    for level, keys in groups.items():
        rows = []
        for key in keys:
            mine = [r for r in now if key_of(level, r) == key]
            before = [r for r in by_week[prev] if key_of(level, r) == key]
            s = call_stats(mine, lower, upper)
            p = call_stats(before, lower, upper) if before else {"pass_rate": None, "score": None}
            s.update(team=key[0], agent_id=key[1], prev_pass_rate=p["pass_rate"], prev_score=p["score"],
                     d_pass_rate=minus(s["pass_rate"], p["pass_rate"]), d_score=minus(s["score"], p["score"]),
                     **finding_stats([f for f in week_findings if key_of(level, f) == key]))
            if level != "agent":
                s["agents"] = len({agent_of(r) for r in mine})
                del s["agent_id"]
            if level == "overall":
                del s["team"]
            rows.append(s)
        summary[level] = rows

    violations, alerts, bins = [], [], []
    for level, keys in groups.items():
        for key in keys:
            mine = [f for f in week_findings if key_of(level, f) == key]
            counted = Counter(f["rule"] for f in mine if f["kind"] == "violation")
            ranked = sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))
            for rank, (rule, n) in enumerate(ranked[:TOP_OVERALL if level == "overall" else TOP_GROUP], start=1):
                calls_with = len({f["call_id"] for f in mine if f["rule"] == rule and f["kind"] == "violation"})
                violations.append({"level": level, "team": key[0], "agent_id": key[1], "rank": rank, "rule": rule,
                                   "findings": n, "calls": calls_with})
            for rule in {f["rule"] for f in mine if f["kind"] == "alert"}:
                hits = [f for f in mine if f["rule"] == rule and f["kind"] == "alert"]
                alerts.append({"level": level, "team": key[0], "agent_id": key[1], "rule": rule,
                               "findings": len(hits), "calls": len({f["call_id"] for f in hits})})
            rates = [r["agent_chars_per_min"] for r in now if key_of(level, r) == key
                     and r["agent_chars_per_min"] is not None]
            for edge, n in Counter(int(v // RATE_BIN * RATE_BIN) for v in rates).items():
                bins.append({"level": level, "team": key[0], "agent_id": key[1], "bin": edge, "calls": n,
                             "share": n / len(rates)})

    trend = []
    weeks = [iso_week(monday - dt.timedelta(days=7 * k)) for k in range(weeks_back, -1, -1)]
    for level, keys in (("overall", [None]), ("team", [t for t, _ in groups["team"]])):
        for team in keys:
            last: Row | None = None
            for w in weeks:
                rows = [r for r in by_week[w] if level == "overall" or team_of(r) == team]
                s = call_stats(rows, lower, upper)
                s.update(level=level, team=team, week=w, agents=len({agent_of(r) for r in rows}))
                for col in ("rate_measured", "rate_below", "rate_within", "rate_above"):
                    del s[col]  # the trend follows the mean rate only
                s["d_pass_rate"] = minus(s["pass_rate"], last["pass_rate"]) if last else None
                s["d_score"] = minus(s["score"], last["score"]) if last else None
                last = s
                if w != weeks[0]:  # the week before the trend only serves its first week's change
                    trend.append(s)
    return {"overall": summary["overall"], "teams": summary["team"], "agents": summary["agent"],
            "violations": violations, "alerts": alerts, "rate_bins": bins, "trend": trend}


KEYS = {"overall": (), "teams": ("team",), "agents": ("team", "agent_id"),
        "violations": ("level", "team", "agent_id", "rank"), "alerts": ("level", "team", "agent_id", "rule"),
        "rate_bins": ("level", "team", "agent_id", "bin"), "trend": ("level", "team", "week")}


LABELS_ONLY = {"title", "week_start"}  # display columns: a rule's title, a week's Monday


def assert_matches(sc: Scorecard, want: dict[str, Any]) -> None:
    """Same rows and every figure equal; no column of the scorecard goes unchecked."""
    for name, frame in sc.frames().items():
        keys = KEYS[name]
        got = {tuple(r[k] for k in keys): r for r in frame.iter_rows(named=True)}
        exp = {tuple(r[k] for k in keys): r for r in want[name]}
        assert got.keys() == exp.keys(), name
        for row in exp.values():
            assert set(frame.columns) - LABELS_ONLY == set(row), name
        for key, row in exp.items():
            for col, value in row.items():
                actual = got[key][col]
                assert (actual is None) == (value is None), (name, key, col, actual, value)
                if value is not None:
                    assert actual == pytest.approx(value, abs=1e-9), (name, key, col)


# ---------------------------------------------------------------------------------------------------
# a hand-built folder over several weeks

RUN0, RUN1, RUN2 = "20261001T020000-old000", "20261123T020000-aaaaaa", "20261124T090000-bbbbbb"
TEAM1, TEAM2 = "一组", "<b>二组&"  # the second must come out escaped in HTML
AGENT3 = "=B1"  # and this one must not become a formula in Excel


def call(cid: str, agent: str | None, team: str | None, started: str, score: float | None, passed: bool | None,
         rate: float | None, run: str = RUN1) -> Row:
    row: Row = dict.fromkeys(CALL_COLUMNS)
    dims = (None,) * 3 if score is None else (min(100.0, score + 5), score + 2 if score < 98 else 100.0, score)
    row.update(call_id=cid, agent_id=agent, team=team, started_at=started, score=score, passed=passed,
               agent_chars_per_min=rate, run_id=run, recording=f"rec/{cid}.wav", **dict(zip(DIMS, dims, strict=True)))
    return row


def finding(c: Row, rule: str, kind: str = "violation", severity: str = "minor") -> Row:
    row: Row = dict.fromkeys(FINDING_COLUMNS)
    row.update({k: c[k] for k in ("call_id", "agent_id", "team", "started_at", "recording", "run_id")},
               rule=rule, kind=kind, severity=severity, dimension="compliance", evidence="…", message="…")
    return row


def synthetic_rows() -> tuple[list[Row], list[Row]]:
    c = {
        # 2026-W47: rates on both band edges, a missing rate, a call without team or agent, Sunday night
        "c1": call("c1", "A1", TEAM1, "2026-11-16T09:00:00+08:00", 92, True, 100.0),
        "c2": call("c2", "A1", TEAM1, "2026-11-17T10:00:00+08:00", 55, False, 150.0),
        "c3": call("c3", "A1", TEAM1, "2026-11-18T11:00:00+08:00", 76, True, 150.1),
        "c4": call("c4", "A2", TEAM1, "2026-11-19T12:00:00+08:00", 84, True, 99.9),
        "r1": call("cR", "A2", TEAM1, "2026-11-20T13:00:00+08:00", 40, False, 120.0),
        "r2": call("cR", "A2", TEAM1, "2026-11-20T13:00:00+08:00", 88, True, 131.0, run=RUN2),  # re-scored
        "c5": call("c5", AGENT3, TEAM2, "2026-11-21T14:00:00+08:00", 100, True, None),
        "c6": call("c6", AGENT3, TEAM2, "2026-11-22T23:50:00+08:00", 70, True, 163.0),
        "c9": call("c9", AGENT3, TEAM2, "2026-11-20T15:00:00+08:00", None, None, 125.0),
        "c7": call("c7", None, None, "2026-11-18T16:00:00+08:00", 66, False, 140.0),
        "c8": call("c8", "A1", TEAM1, "2026-11-23T00:10:00+08:00", 10, False, 90.0),  # next week
        # 2026-W46 (the change), W45, W40, W39 (the change of the trend's first week), W38 (out of range)
        "p1": call("p1", "A1", TEAM1, "2026-11-10T09:00:00+08:00", 80, True, 128.0),
        "p2": call("p2", "A1", TEAM1, "2026-11-12T09:00:00+08:00", 60, False, 112.0),
        "p3": call("p3", AGENT3, TEAM2, "2026-11-13T09:00:00+08:00", 90, True, 145.0),
        "q1": call("q1", "A2", TEAM1, "2026-11-03T09:00:00+08:00", 95, True, 133.0, run=RUN0),
        "s1": call("s1", "A1", TEAM1, "2026-09-29T09:00:00+08:00", 70, True, 118.0, run=RUN0),
        "t1": call("t1", "A1", TEAM1, "2026-09-22T09:00:00+08:00", 50, False, 101.0, run=RUN0),
        "u1": call("u1", "A1", TEAM1, "2026-09-15T09:00:00+08:00", 20, False, 101.0, run=RUN0),
    }
    f = [
        finding(c["c1"], "courtesy.thanks"), finding(c["c1"], "forbidden.filler", severity="info"),
        finding(c["c2"], "question.skipped", severity="critical"), finding(c["c2"], "forbidden.vague"),
        finding(c["c2"], "forbidden.vague"), finding(c["c2"], "courtesy.thanks"),
        finding(c["c3"], "rate.too_fast", severity="major"), finding(c["c3"], "forbidden.vague"),
        finding(c["c3"], "closing.standard"), finding(c["c3"], "alert.surrender", "alert", "major"),
        finding(c["c3"], "alert.surrender", "alert", "major"),
        finding(c["c4"], "forbidden.colloquial"), finding(c["c4"], "opening.consent", severity="major"),
        finding(c["c4"], "alert.complaint", "alert", "major"),
        # the first scoring of cR: dropped with it
        finding(c["r1"], "question.skipped", severity="critical"), finding(c["r1"], "forbidden.blame", severity="critical"),
        finding(c["r1"], "alert.misleading_sale", "alert", "major"),
        finding(c["r2"], "courtesy.thanks"), finding(c["r2"], "question.negative_answer", "alert", "major"),
        finding(c["c6"], "dynamics.interruption", severity="major"), finding(c["c6"], "rate.too_fast", severity="major"),
        finding(c["c6"], "alert.misleading_sale", "alert", "major"), finding(c["c6"], "alert.surrender", "alert", "major"),
        finding(c["c7"], "identity.weak", severity="major"), finding(c["c7"], "forbidden.vague"),
        finding(c["c7"], "handling.no_soothing", severity="major"),
        finding(c["c8"], "forbidden.blame", severity="critical"),
        finding(c["p1"], "courtesy.thanks"),
    ]
    return list(c.values()), f


def write_tables(out: Path, calls: list[Row], findings: list[Row]) -> Path:
    for run in sorted({r["run_id"] for r in calls}):
        folder = out / "tables" / f"run-{run}"
        folder.mkdir(parents=True)
        pl.DataFrame([r for r in calls if r["run_id"] == run], schema=CALL_COLUMNS).write_parquet(
            folder / "calls.parquet")
        pl.DataFrame([f for f in findings if f["run_id"] == run], schema=FINDING_COLUMNS).write_parquet(
            folder / "findings.parquet")
    return out


def read_rows(out: Path, name: str) -> list[Row]:
    return [row for f in sorted(out.glob(f"tables/run-*/{name}.parquet")) for row in pl.read_parquet(f).to_dicts()]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tables(tmp_path_factory.mktemp("synthetic") / "out", *synthetic_rows())


@pytest.fixture(scope="module")
def fixture_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_output(tmp_path_factory.mktemp("fixtures") / "out")


@pytest.fixture(scope="module")
def synthetic_card(synthetic: Path) -> Scorecard:
    return build_scorecard(Tables(synthetic), WEEK)


@pytest.fixture(scope="module")
def written(synthetic_card: Scorecard, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_all(synthetic_card, tmp_path_factory.mktemp("written"))


# ---------------------------------------------------------------------------------------------------
# numbers


def test_fixture_scorecard_equals_direct_computation(fixture_out: Path) -> None:
    sc = build_scorecard(Tables(fixture_out), WEEK)
    assert_matches(sc, expected(read_rows(fixture_out, "calls"), read_rows(fixture_out, "findings"), WEEK))
    assert sc.overall["calls"][0] == 5 and set(sc.agents["agent_id"]) == {"A017", "A023", "A031"}


@pytest.mark.parametrize("weeks_back", [8, 3, 1])
def test_synthetic_scorecard_equals_direct_computation(synthetic: Path, weeks_back: int) -> None:
    sc = build_scorecard(Tables(synthetic), WEEK, weeks_back)
    assert_matches(sc, expected(read_rows(synthetic, "calls"), read_rows(synthetic, "findings"), WEEK, weeks_back))
    assert len(sc.weeks) == weeks_back and sc.weeks[-1] == WEEK


def test_reference_sees_what_the_rows_were_built_for(synthetic_card: Scorecard) -> None:
    """The direct computation is only a check if the data exercises it: edges, gaps, ties, truncation."""
    sc = synthetic_card
    o = sc.overall.row(0, named=True)
    assert o["calls"] == 9  # c8 (Monday after, 00:10) is out, c6 (Sunday 23:50) is in, cR once
    assert (o["rate_measured"], o["rate_below"], o["rate_above"]) == (8, pytest.approx(1 / 8), pytest.approx(2 / 8))
    assert sc.agents.filter(pl.col("agent_id") == UNKNOWN)["team"].to_list() == [UNKNOWN]
    a1 = sc.violations.filter((pl.col("level") == "agent") & (pl.col("agent_id") == "A1"))
    assert a1["rule"].to_list()[:2] == ["forbidden.vague", "courtesy.thanks"] and a1.height == TOP_GROUP
    assert sc.violations.filter(pl.col("level") == "overall").height == TOP_OVERALL
    trend = sc.trend.filter(pl.col("level") == "overall")
    assert trend["calls"].to_list() == [1, 0, 0, 0, 0, 1, 3, 9]  # W40 … W47
    assert trend["d_pass_rate"][0] is not None  # W40 against W39
    assert trend["pass_rate"][1] is None and trend["d_pass_rate"][2] is None  # empty weeks stay empty
    assert sc.agents.filter(pl.col("agent_id") == "A1")["d_pass_rate"][0] is not None


def test_rescored_call_counts_once_with_its_newest_row(synthetic_card: Scorecard) -> None:
    a2 = synthetic_card.agents.filter(pl.col("agent_id") == "A2").row(0, named=True)
    assert a2["calls"] == 2 and a2["score"] == pytest.approx((84 + 88) / 2) and a2["pass_rate"] == 1.0
    assert a2["critical_calls"] == 0 and a2[alert_column("alert.misleading_sale")] == 0
    a2_rules = synthetic_card.violations.filter(pl.col("agent_id") == "A2")["rule"].to_list()
    assert "forbidden.blame" not in a2_rules and "question.skipped" not in a2_rules
    alerts = synthetic_card.alerts.filter(pl.col("agent_id") == "A2")
    assert sorted(alerts["rule"].to_list()) == ["alert.complaint", "question.negative_answer"]


def test_a_week_without_calls_is_a_clear_error(synthetic: Path) -> None:
    with pytest.raises(ReportError, match=r"no calls in week 2026-W44 .*" + re.escape(str(synthetic / "tables"))):
        build_scorecard(Tables(synthetic), "2026-W44")
    with pytest.raises(ReportError, match="expected an ISO week"):
        build_scorecard(Tables(synthetic), "2026-47")
    with pytest.raises(ReportError, match="weeks back"):
        build_scorecard(Tables(synthetic), WEEK, weeks_back=0)


def test_previous_week_is_the_last_complete_one() -> None:
    assert previous_week(dt.date(2026, 11, 23)) == "2026-W47"  # a Monday
    assert previous_week(dt.date(2026, 11, 22)) == "2026-W46"  # a Sunday: its week is not over
    assert previous_week(dt.date(2027, 1, 4)) == "2026-W53"


# ---------------------------------------------------------------------------------------------------
# files


def test_html_is_self_contained_escaped_and_has_charts(written: list[Path]) -> None:
    page = next(p for p in written if p.suffix == ".html").read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\(", page, re.IGNORECASE)
    assert page.count("<svg") >= 4  # pass-rate and score trends, top violations, rate histogram
    assert 'class="band"' in page  # the 100–150 band shaded in the histogram
    for label in ("通过率", "平均分", "合规", "专业", "客户体验", "语速分布", "预警", "退保预警", "投诉", "销售误导", "环比"):
        assert label in page
    assert "&lt;b&gt;二组&amp;" in page and "<b>二组" not in page
    assert 'class="down"' in page and 'class="up"' in page  # week-on-week change coloured


def test_excel_opens_with_a_sheet_per_table_and_a_chart(written: list[Path], synthetic_card: Scorecard) -> None:
    xlsx = next(p for p in written if p.suffix == ".xlsx")
    with zipfile.ZipFile(xlsx) as z:
        assert z.testzip() is None
        workbook = z.read("xl/workbook.xml").decode("utf-8")
        assert re.findall(r'<sheet name="([^"]+)"', workbook) == [SHEETS[k] for k in synthetic_card.frames()]
        assert any(n.startswith("xl/charts/chart") for n in z.namelist())
        strings = z.read("xl/sharedStrings.xml").decode("utf-8")
        assert "通过率" in strings and "&lt;b&gt;二组&amp;" in strings
        sheet = z.read("xl/worksheets/sheet3.xml").decode("utf-8")  # agents: header + one row each
        assert len(re.findall(r"<row ", sheet)) == synthetic_card.agents.height + 1
        assert AGENT3 in strings and not any("<f>" in z.read(n).decode("utf-8") for n in z.namelist()
                                             if n.startswith("xl/worksheets/sheet"))


def test_csv_per_table_with_bom_and_all_rows(written: list[Path], synthetic_card: Scorecard) -> None:
    csvs = {p.stem: p for p in written if p.suffix == ".csv"}
    assert set(csvs) == set(synthetic_card.frames())
    for name, frame in synthetic_card.frames().items():
        raw = csvs[name].read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
        back = pl.read_csv(raw[3:])
        assert back.height == frame.height and back.columns == frame.columns
    agents = pl.read_csv(csvs["agents"].read_bytes()[3:])
    assert agents["calls"].to_list() == synthetic_card.agents["calls"].to_list()
    # an agent named like a formula is text in the CSV too: a leading ' that spreadsheets hide
    assert "'" + AGENT3 in agents["agent_id"].to_list() and AGENT3 not in agents["agent_id"].to_list()


# ---------------------------------------------------------------------------------------------------
# the command


def test_command_writes_every_format_and_names_the_files(synthetic: Path) -> None:
    result = CliRunner().invoke(scorecard_command, ["--results", str(synthetic), "--week", WEEK])
    assert result.exit_code == 0, result.output
    dest = synthetic / "scorecards" / WEEK
    assert (dest / f"scorecard-{WEEK}.html").is_file() and (dest / f"scorecard-{WEEK}.xlsx").is_file()
    assert len(list((dest / "csv").glob("*.csv"))) == 7
    assert str(dest / f"scorecard-{WEEK}.html") in result.stdout and "9 calls" in result.stdout


def test_command_formats_and_dest(synthetic: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(scorecard_command, ["--results", str(synthetic), "--week", "2026w47", "--dest",
                                                    str(tmp_path), "--format", "csv", "--weeks-back", "3"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted(
        f"{n}.csv" for n in ("overall", "teams", "agents", "violations", "alerts", "rate_bins", "trend"))
    assert pl.read_csv(tmp_path / "csv" / "trend.csv")["week"].n_unique() == 3


def test_serve_without_a_prefect_server_says_what_to_start(synthetic: Path) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        result = CliRunner().invoke(scorecard_command, ["--results", str(synthetic), "--serve"])
    assert result.exit_code == 2
    assert result.stderr.startswith("callqa: error: ") and "prefect server start" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(("args", "message"), [
    (["--week", WEEK], "no result tables here"),
    (["--week", "2026-W60"], "2026-W60"),
    (["--week", "2026-W44"], "no calls in week 2026-W44"),
    (["--week", WEEK, "--format", "pdf"], "--format"),
    (["--week", WEEK, "--serve"], "--serve"),
])
def test_command_errors_exit_2_on_stderr(synthetic: Path, tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "empty" if args == ["--week", WEEK] else synthetic
    result = CliRunner().invoke(scorecard_command, ["--out", str(out), *args])
    assert result.exit_code == 2
    assert result.stderr.startswith("callqa: error: ") and message in result.stderr
    assert result.stdout == ""


# ---------------------------------------------------------------------------------------------------
# the Prefect flow


@pytest.fixture(scope="module")
def harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness():
        yield


@pytest.fixture
def last_week_out(tmp_path: Path) -> Path:
    """Two calls in the week that ended most recently, whatever today is."""
    monday, _ = parse_week(previous_week())
    rows = [call("L1", "A1", TEAM1, f"{monday}T09:00:00+08:00", 90, True, 130.0),
            call("L2", "A2", TEAM1, f"{monday + dt.timedelta(days=6)}T18:00:00+08:00", 50, False, 160.0)]
    return write_tables(tmp_path / "out", rows, [finding(rows[1], "question.skipped", severity="critical")])


def test_flow_writes_last_week_by_default_and_a_given_week(harness: None, last_week_out: Path, synthetic: Path,
                                                            tmp_path: Path) -> None:
    from reports.weekly import weekly_scorecard

    week = previous_week()
    files = [Path(p) for p in weekly_scorecard(str(last_week_out))]
    dest = last_week_out / "scorecards" / week
    assert dest / f"scorecard-{week}.html" in files and all(p.is_file() and dest in p.parents for p in files)
    assert pl.read_csv((dest / "csv" / "overall.csv").read_bytes()[3:])["calls"].to_list() == [2]

    files = [Path(p) for p in weekly_scorecard(str(synthetic), week=WEEK, dest=str(tmp_path / "w47"))]
    assert {p.suffix for p in files} == {".html", ".xlsx", ".csv"}
    sc = build_scorecard(Tables(synthetic), WEEK)
    overall = pl.read_csv((tmp_path / "w47" / "csv" / "overall.csv").read_bytes()[3:])
    assert overall["calls"].to_list() == sc.overall["calls"].to_list()


def test_flow_fails_fast_on_a_week_without_calls(harness: None, synthetic: Path) -> None:
    from reports.weekly import weekly_scorecard

    started = time.monotonic()
    with pytest.raises(ReportError, match="no calls in week 2026-W44"):
        weekly_scorecard(str(synthetic), week="2026-W44")
    assert time.monotonic() - started < 20  # not retried: the tasks wait 30 s between retries
