"""The workspace database without the web: passwords, throttling, sessions, append-only history, appeals,
follow-up cases (types, deadlines in working days, moves, figures), sampling draws, and the file itself."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from workspace.appeals import AppealError
from workspace.audit import Actor
from workspace.case_stats import ALL_TEAMS, case_figures
from workspace.cases import CaseError, CaseSettings, CaseSource, case_type_of, sources_from
from workspace.db import default_location, open_database
from workspace.decisions import Review
from workspace.roles import Role
from workspace.sampling import SamplingRule, WeekCall, draw
from workspace.store import Workspace
from workspace.times import add_working_days
from workspace.users import MAX_FAILURES_PER_NAME, Throttled, UserError, hash_password, verify_password

SHANGHAI = ZoneInfo("Asia/Shanghai")
QA = Actor("主管", "qa_lead", "10.0.0.1")


# CALLQA_TEST_POSTGRES=postgresql+psycopg://user@host:port/db runs the database tests on PostgreSQL as well
POSTGRES = os.environ.get("CALLQA_TEST_POSTGRES")


@pytest.fixture(params=["sqlite", "postgresql"])
def ws(request: pytest.FixtureRequest, tmp_path: Path) -> Workspace:
    if request.param == "sqlite":
        w = Workspace.open(tmp_path / "ws.sqlite3")
    else:
        if not POSTGRES:
            pytest.skip("no PostgreSQL to test on (set CALLQA_TEST_POSTGRES to a database URL)")
        from sqlalchemy import create_engine

        from workspace.tables import METADATA

        engine = create_engine(POSTGRES)
        METADATA.drop_all(engine)  # a clean workspace for each test
        engine.dispose()
        w = Workspace.open(POSTGRES)
    yield w
    w.close()


def test_history_is_append_only_on_every_database(ws: Workspace) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    ws.decisions.add(Review("c", "0:r:1", "r", "confirmed"), QA)
    for table in ("audit", "reviews"):
        for statement in (f"DELETE FROM {table}", f"UPDATE {table} SET id = id"):
            with pytest.raises(DBAPIError, match="append-only"), ws.db.write() as conn:
                conn.execute(text(statement))
    assert len(ws.decisions.history("c")) == 1 and ws.audit.count("decision") == 1


def test_passwords_are_salted_scrypt_and_checked_in_constant_form() -> None:
    a, b = hash_password("same password here"), hash_password("same password here")
    assert a != b and a.startswith("scrypt$16384$8$1$")
    assert verify_password("same password here", a) and not verify_password("same password hera", a)
    assert not verify_password("x", "md5$abc") and not verify_password("x", "garbage")


def test_users_roles_and_throttled_logins(ws: Workspace) -> None:
    with pytest.raises(UserError, match="team"):
        ws.users.add("组长", "team_lead", "long enough pw")
    with pytest.raises(UserError, match="at least"):
        ws.users.add("短", "analyst", "short")
    with pytest.raises(ValueError, match="role"):
        ws.users.add("甲", "superuser", "long enough pw")
    lead = ws.users.add("组长", "team_lead", "long enough pw", "回访二组")
    assert lead.scope_team == "回访二组" and ws.users.add("甲", "analyst", "long enough pw").scope_team is None
    with pytest.raises(UserError, match="exists"):
        ws.users.add("甲", "analyst", "long enough pw")
    assert ws.users.authenticate("甲", "long enough pw", "1.1.1.1") is not None
    for _ in range(MAX_FAILURES_PER_NAME):
        assert ws.users.authenticate("甲", "wrong", "1.1.1.1") is None
    with pytest.raises(Throttled) as throttled:
        ws.users.authenticate("甲", "long enough pw", "1.1.1.1")
    assert 0 < throttled.value.retry_after_s <= 15 * 60 + 1
    # another name from another address is not held up by it
    assert ws.users.authenticate("组长", "long enough pw", "2.2.2.2") is not None


def test_sessions_end_with_a_new_password_or_a_disabled_user(ws: Workspace) -> None:
    user = ws.users.add("乙", "analyst", "long enough pw")
    token, session = ws.users.start_session(user, "1.1.1.1")
    assert ws.users.session(token) == session and ws.users.session("forged") is None
    ws.users.change(user.id, password="another long pw")
    assert ws.users.session(token) is None
    token, _ = ws.users.start_session(user, "1.1.1.1")
    ws.users.change(user.id, active=False)
    assert ws.users.session(token) is None and ws.users.authenticate("乙", "another long pw", "1.1.1.1") is None


def test_the_database_file_is_owner_only_in_wal_mode_and_history_is_append_only(tmp_path: Path) -> None:
    old = tmp_path / "reviews.sqlite3"
    sqlite3.connect(old).execute("CREATE TABLE reviews (id INTEGER PRIMARY KEY AUTOINCREMENT, call_id TEXT NOT NULL, "
                                 "run_id TEXT NOT NULL DEFAULT '', finding_key TEXT NOT NULL, rule TEXT NOT NULL, "
                                 "verdict TEXT NOT NULL, comment TEXT NOT NULL DEFAULT '', reviewer TEXT NOT NULL "
                                 "DEFAULT '', created_at TEXT NOT NULL)").connection.commit()
    os.chmod(old, 0o644)
    assert default_location(tmp_path) == old  # an older results folder keeps its decisions
    ws = Workspace.open(old)
    assert oct(old.stat().st_mode & 0o777) == "0o600"
    added = ws.decisions.add(Review("c", "0:r:1", "r", "confirmed", span_start=1.0, span_end=2.0), QA)
    assert added.id == 1 and ws.decisions.current("c")[0].span_end == 2.0  # columns added on open
    ws.cases.open_from([CaseSource("c", "r", "other")], [], {}, QA)  # a case: a row of its history
    db = sqlite3.connect(old)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    for table in ("audit", "reviews", "case_events"):
        for statement in (f"DELETE FROM {table}", f"UPDATE {table} SET id = id"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                db.execute(statement)
    ws.close()
    assert open_database(tmp_path / "fresh.sqlite3").location.endswith("fresh.sqlite3")


def test_concurrent_writers_queue_instead_of_failing(ws: Workspace) -> None:
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for k in range(10):
                ws.decisions.add(Review("c", f"{n}:r:{k}", "r", "confirmed", comment=f"{n}-{k}"), QA)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(ws.decisions.history("c")) == 80 and ws.audit.count("decision") == 80


def test_an_appeal_is_filed_once_and_ruled_once(ws: Workspace) -> None:
    finding = Review("c1", "2:forbidden.vague:10.0", "forbidden.vague", "", run_id="r1", span_start=10.0, span_end=11.0)
    lead = Actor("组长", "team_lead", "1.1.1.1")
    appeal = ws.appeals.file(finding, "客户原话，不是坐席说的", lead, "A017", "回访一组")
    assert appeal.status == "pending" and ws.decisions.current("c1")[0].verdict == "appeal"
    with pytest.raises(AppealError, match="already"):
        ws.appeals.file(finding, "again", lead, "A017", "回访一组")
    # the same finding re-found by a newer scoring (another key, overlapping time) is the same appeal
    moved = Review("c1", "3:forbidden.vague:10.2", "forbidden.vague", "", run_id="r2", span_start=10.2, span_end=11.1)
    with pytest.raises(AppealError, match="already"):
        ws.appeals.file(moved, "again", lead, "A017", "回访一组")
    with pytest.raises(AppealError, match="outcome"):
        ws.appeals.rule(appeal.id, "maybe", "", QA)
    ruled, decision = ws.appeals.rule(appeal.id, "upheld", "确为客户原话", QA)
    assert ruled.status == "upheld" and decision.verdict == "false_positive" and "申诉成立" in decision.comment
    with pytest.raises(AppealError, match="final"):
        ws.appeals.rule(appeal.id, "rejected", "", QA)
    assert ws.appeals.ruled(moved)


def test_findings_map_to_the_seeds_case_types() -> None:
    assert case_type_of("alert.surrender", None) == "surrender"
    assert case_type_of("alert.misleading_sale", None) == "agent_violation"
    assert case_type_of("question.negative_answer", "purchase_signature") == "not_self_signed"
    assert case_type_of("question.negative_answer", "contract_received") == "no_contract"
    assert case_type_of("question.negative_answer", "coverage_exclusions") == "coverage_unclear"
    assert case_type_of("question.negative_answer", "something_new") == "other"
    assert case_type_of("forbidden.vague", None) is None
    calls = [{"call_id": "a", "run_id": "r", "agent_id": "A1", "team": "T", "started_at": "2026-11-16T10:00:00+08:00",
              "early_end": "客户拒绝回访或挂断"},
             {"call_id": "b", "run_id": "r", "agent_id": "A2", "team": "T", "started_at": None, "early_end": "改约回访时间"}]
    findings = [{"call_id": "a", "rule": "alert.complaint", "start": 5.0, "end": 6.0, "evidence": "我要投诉，电话13812345678"},
                {"call_id": "a", "rule": "alert.complaint", "start": 9.0, "end": 9.5, "evidence": "投诉"},
                {"call_id": "b", "rule": "question.negative_answer", "item": "contract_received", "start": 1.0,
                 "end": 2.0, "evidence": "没收到"}]
    found = {(s.call_id, s.case_type) for s in sources_from(calls, findings)}
    assert found == {("a", "complaint"), ("a", "unreachable"), ("b", "no_contract")}
    complaint = next(s for s in sources_from(calls, findings) if s.case_type == "complaint")
    assert complaint.span_start == 5.0 and "13812345678" not in complaint.evidence


def test_working_day_deadlines_skip_weekends_and_holidays() -> None:
    friday = dt.datetime(2026, 11, 20, 15, 0, tzinfo=SHANGHAI)
    assert add_working_days(friday, 2, zone=SHANGHAI).astimezone(SHANGHAI) == dt.datetime(2026, 11, 24, 15, 0, tzinfo=SHANGHAI)
    saturday = dt.datetime(2026, 11, 21, 15, 0, tzinfo=SHANGHAI)  # counted from Monday's start: due end of Tuesday
    assert add_working_days(saturday, 2, zone=SHANGHAI).astimezone(SHANGHAI) == dt.datetime(2026, 11, 25, 0, 0, tzinfo=SHANGHAI)
    before_holiday = dt.datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)
    week = [dt.date(2026, 10, d) for d in range(1, 8)]
    assert add_working_days(before_holiday, 2, week, SHANGHAI).astimezone(SHANGHAI).date() == dt.date(2026, 10, 9)


def test_cases_move_by_role_and_count_on_time(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLQA_TIMEZONE", "Asia/Shanghai")
    opened_at = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC)
    sources = [CaseSource("a", "r", "surrender", "A1", "T1", "2026-11-16T10:00:00+08:00", "alert.surrender"),
               CaseSource("b", "r", "no_contract", "A2", "T2", "2026-11-17T10:00:00+08:00")]
    opened = ws.cases.open_from(sources, [("a", "r"), ("b", "r")], {"T1": "组长一"}, QA, at=opened_at)
    assert [(c.case_type, c.grade, c.owner) for c in opened] == [("surrender", "紧急", "组长一"), ("no_contract", "一般", None)]
    assert ws.cases.open_from(sources, [("a", "r")], {}, QA, at=opened_at) == []  # once per call and type
    assert ws.cases.unseen([("a", "r"), ("a", "r2")]) == {("a", "r2")}
    a, _ = opened
    assert a.respond_by == (opened_at + dt.timedelta(hours=24)).isoformat()
    with pytest.raises(PermissionError):
        ws.cases.move(a.id, "transferred", Actor("组长一", "team_lead", ""), Role.TEAM_LEAD)
    with pytest.raises(CaseError, match="cannot become"):
        ws.cases.move(a.id, "open", QA, Role.QA_LEAD)
    moved = ws.cases.move(a.id, "transferred", QA, Role.QA_LEAD, at=opened_at + dt.timedelta(hours=2))
    assert moved.reply_by is not None and moved.handler == "业务部门"
    with pytest.raises(LookupError):
        ws.cases.move(a.id, "resolved", QA, Role.TEAM_LEAD, note="x", scope_team="T2")
    done = ws.cases.move(a.id, "resolved", Actor("组长一", "team_lead", ""), Role.TEAM_LEAD, note="客户撤回退保",
                         scope_team="T1", at=opened_at + dt.timedelta(hours=30))
    assert done.on_time() is True
    # b was never acted on: overdue a day later, not on time
    later = opened_at + dt.timedelta(days=2)
    figures = {f.team: f for f in case_figures(ws.cases.list(), at=later)}
    assert figures[ALL_TEAMS].opened == 2 and figures[ALL_TEAMS].decided == 2 and figures[ALL_TEAMS].on_time == 1
    assert figures["T2"].open_now == 1 and figures["T2"].overdue_now == 1 and figures["T2"].by_age["open_2to5d"] == 1
    assert figures["T1"].on_time_rate == 1.0 and figures["T2"].on_time_rate == 0.0
    closed = ws.cases.close_false_alarm("b", "alert.x", None, QA)
    assert closed == []  # b was opened by no rule: nothing to close by a false alarm


def test_case_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLQA_CASE_RESPONSE_HOURS", "4")
    monkeypatch.setenv("CALLQA_HOLIDAYS", "2026-10-01, 2026-10-02")
    settings = CaseSettings.from_env()
    assert settings.response_hours == 4 and settings.holidays == (dt.date(2026, 10, 1), dt.date(2026, 10, 2))
    monkeypatch.setenv("CALLQA_CASE_RESPONSE_HOURS", "soon")
    with pytest.raises(CaseError, match="CALLQA_CASE_RESPONSE_HOURS"):
        CaseSettings.from_env()


def test_sampling_takes_every_failed_call_and_a_share_of_passed_ones_per_agent() -> None:
    rules = [SamplingRule(1, "failed", "failed", 1.0, 0, True, "", ""),
             SamplingRule(2, "passed 5%", "passed", 0.05, 1, True, "", ""),
             SamplingRule(3, "alerts", "rule:alert", 0.5, 0, False, "", "")]
    calls = [WeekCall(f"A{n:03d}", "A1", "T", n % 10 != 0, ("alert.complaint",) if n % 7 == 0 else ())
             for n in range(100)]
    calls += [WeekCall(f"B{n:03d}", "B1", "T", True) for n in range(10)]
    drawn = draw(rules, calls, "2026-W47")
    failed = {c.call_id for c in calls if c.passed is False}
    assert failed <= set(drawn)
    assert sum(1 for c in drawn if c.startswith("A") and c not in failed) == 5  # 5% of A1's 90 passed calls, rounded up
    assert sum(1 for c in drawn if c.startswith("B")) == 1  # at least one of B1's ten
    assert draw(rules, calls, "2026-W47") == drawn  # stable
    assert draw(rules, calls, "2026-W48") != drawn  # another week draws others
