"""Follow-up cases (回访问题件): what a callback found that someone must act on.

Seed 003 names the case types and who handles them (转办: 回访不成功; 一级转办 非本人签名, 代理人违规,
不知道办理保险; 二级转办 未收到合同, 责任不清, 客户要求退保, 其他) and a reply within 2 working days; seed
004 grades them 一般/重要/紧急 and asks for handling within 24 hours (its case study: on-time handling from
65% to 98%). A case opens from a finding (an alert, a negative answer, a third party, a failed callback),
once per call and type; it is owned by the team lead of the agent's team; it moves

    open → transferred → resolved → closed        (resolved → transferred again when the reply fails)

and every move is a row of its history. Deadlines: acted on (transferred or resolved) within
`response_hours` of opening; once transferred, resolved within `reply_working_days` working days.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from callqa.masking import mask_numbers

from .audit import Actor, record
from .db import Database
from .roles import Role
from .tables import case_events, case_sources, cases
from .times import add_working_days, now, parse, stamp

OPEN, TRANSFERRED, RESOLVED, CLOSED = "open", "transferred", "resolved", "closed"
STATUSES = (OPEN, TRANSFERRED, RESOLVED, CLOSED)
STATUS_LABEL = {OPEN: "待处理", TRANSFERRED: "已转办", RESOLVED: "已回复", CLOSED: "已结案"}
GRADES = ("紧急", "重要", "一般")  # most pressing first


@dataclass(frozen=True)
class CaseType:
    code: str
    title: str
    transfer: str  # 回访不成功 | 一级转办 | 二级转办
    grade: str
    handler: str  # who the transfer list goes to


CASE_TYPES = {t.code: t for t in (
    CaseType("unreachable", "回访不成功", "回访不成功", "一般", "业务员核实联系方式"),
    CaseType("not_self_signed", "非本人签名", "一级转办", "重要", "业务员"),
    CaseType("agent_violation", "代理人违规", "一级转办", "重要", "业务员"),
    CaseType("unaware", "不知道办理保险", "一级转办", "重要", "业务员"),
    CaseType("no_contract", "未收到合同", "二级转办", "一般", "业务部门"),
    CaseType("coverage_unclear", "责任不清", "二级转办", "一般", "业务部门"),
    CaseType("surrender", "客户要求退保", "二级转办", "紧急", "业务部门"),
    CaseType("complaint", "客户投诉", "二级转办", "紧急", "客服投诉专员"),
    CaseType("other", "其他", "二级转办", "一般", "业务部门"),
)}

# which findings open which case (rule, or rule with the questionnaire item of a negative answer)
RULE_CASES = {"alert.surrender": "surrender", "alert.complaint": "complaint", "alert.misleading_sale": "agent_violation",
              "identity.third_party": "unreachable"}
NEGATIVE_ANSWER_CASES = {
    "identity": "unreachable", "purchase_signature": "not_self_signed", "contract_received": "no_contract",
    "coverage_exclusions": "coverage_unclear", "documents_read": "coverage_unclear",
    "premium_terms": "agent_violation", "dividend_uncertainty": "agent_violation",
    "return_uncertainty": "agent_violation", "surrender_loss": "agent_violation",
}
# why a call ended early (the result's metrics) when the callback did not reach or finish with the policyholder
FAILED_CALLBACK = ("接听人不是投保人本人", "客户拒绝回访或挂断", "客户中途挂机")

# who may move a case from one status to another (a team lead only within its team)
TRANSITIONS: dict[tuple[str, str], frozenset[Role]] = {
    (OPEN, TRANSFERRED): frozenset({Role.ANALYST, Role.QA_LEAD}),
    (OPEN, RESOLVED): frozenset({Role.TEAM_LEAD, Role.QA_LEAD}),
    (TRANSFERRED, RESOLVED): frozenset({Role.TEAM_LEAD, Role.QA_LEAD}),
    (RESOLVED, TRANSFERRED): frozenset({Role.ANALYST, Role.QA_LEAD}),
    (RESOLVED, CLOSED): frozenset({Role.ANALYST, Role.QA_LEAD}),
    (OPEN, CLOSED): frozenset({Role.QA_LEAD}),
    (TRANSFERRED, CLOSED): frozenset({Role.QA_LEAD}),
}
MAX_NOTE = 2000


class CaseError(ValueError):
    pass


@dataclass(frozen=True)
class CaseSettings:
    response_hours: float = 24.0
    reply_working_days: int = 2
    holidays: tuple[dt.date, ...] = ()

    @classmethod
    def from_env(cls) -> CaseSettings:
        """CALLQA_CASE_RESPONSE_HOURS, CALLQA_CASE_REPLY_WORKING_DAYS, CALLQA_HOLIDAYS (2026-10-01,2026-10-02…)."""
        def number(name: str, default: float) -> float:
            raw = os.environ.get(name)
            try:
                value = float(raw) if raw else default
            except ValueError:
                raise CaseError(f"{name}={raw!r}: not a number") from None
            if value <= 0:
                raise CaseError(f"{name}={raw!r}: must be above 0")
            return value

        try:
            holidays = tuple(dt.date.fromisoformat(d.strip()) for d in os.environ.get("CALLQA_HOLIDAYS", "").split(",")
                             if d.strip())
        except ValueError as exc:
            raise CaseError(f"CALLQA_HOLIDAYS: {exc}") from None
        return cls(number("CALLQA_CASE_RESPONSE_HOURS", 24.0), int(number("CALLQA_CASE_REPLY_WORKING_DAYS", 2)),
                   holidays)

    def respond_by(self, opened: dt.datetime) -> dt.datetime:
        return opened + dt.timedelta(hours=self.response_hours)

    def reply_by(self, transferred: dt.datetime) -> dt.datetime:
        return add_working_days(transferred, self.reply_working_days, self.holidays)


@dataclass(frozen=True)
class Case:
    id: int
    call_id: str
    run_id: str
    agent_id: str | None
    team: str | None
    call_started_at: str | None
    case_type: str
    grade: str
    rule: str | None
    item: str | None
    span_start: float | None
    span_end: float | None
    evidence: str
    owner: str | None
    handler: str | None
    status: str
    opened_at: str
    respond_by: str
    reply_by: str | None
    transferred_at: str | None
    resolved_at: str | None
    closed_at: str | None
    resolution: str

    @property
    def type(self) -> CaseType:
        return CASE_TYPES.get(self.case_type, CASE_TYPES["other"])

    @property
    def status_label(self) -> str:
        return STATUS_LABEL.get(self.status, self.status)

    @property
    def due_at(self) -> str | None:
        """The deadline pending now: acting on an open case, the reply to a transferred one."""
        if self.status == OPEN:
            return self.respond_by
        if self.status == TRANSFERRED:
            return self.reply_by
        return None

    def overdue(self, at: dt.datetime | None = None) -> bool:
        due = self.due_at
        return due is not None and due < stamp(at or now())

    def on_time(self, at: dt.datetime | None = None) -> bool | None:
        """Whether the case was handled within its deadlines: None while it is pending and not overdue (or
        was closed without being handled, as a false alarm)."""
        first_action = min(filter(None, (self.transferred_at, self.resolved_at)), default=None)
        if first_action is None:
            return False if self.status == OPEN and self.overdue(at) else None
        if first_action > self.respond_by:
            return False
        if self.transferred_at and self.reply_by:
            if self.resolved_at is None:
                return False if self.overdue(at) else None
            return self.resolved_at <= self.reply_by
        return True

    def age_hours(self, at: dt.datetime | None = None) -> float:
        return ((at or now()) - parse(self.opened_at)).total_seconds() / 3600

    def to_dict(self) -> dict[str, Any]:
        return dict(asdict(self), type_title=self.type.title, transfer=self.type.transfer,
                    status_label=self.status_label, due_at=self.due_at, overdue=self.overdue())


@dataclass(frozen=True)
class CaseEvent:
    id: int
    case_id: int
    at: str
    by: str
    from_status: str | None
    to_status: str
    note: str


@dataclass(frozen=True)
class CaseSource:
    """A finding (or a call's early end) that calls for a case, as the caller read it from the result tables."""

    call_id: str
    run_id: str
    case_type: str
    agent_id: str | None = None
    team: str | None = None
    call_started_at: str | None = None
    rule: str | None = None
    item: str | None = None
    span_start: float | None = None
    span_end: float | None = None
    evidence: str = ""


def case_type_of(rule: str, item: str | None) -> str | None:
    if rule == "question.negative_answer":
        return NEGATIVE_ANSWER_CASES.get(item or "", "other")
    return RULE_CASES.get(rule)


def sources_from(calls: Iterable[Mapping[str, Any]], findings: Iterable[Mapping[str, Any]]) -> list[CaseSource]:
    """The cases a set of scored calls calls for: `calls` rows (call_id, run_id, agent_id, team, started_at,
    early_end) and their `findings` rows (call_id, rule, item, start, end, evidence), as in the result tables.
    One source per call and case type: the first finding of that type stands for the rest."""
    meta = {c["call_id"]: c for c in calls}
    out: dict[tuple[str, str], CaseSource] = {}
    for f in sorted(findings, key=lambda f: (f["call_id"], f.get("start") or 0.0)):
        call = meta.get(f["call_id"])
        kind = case_type_of(f["rule"], f.get("item"))
        if call is None or kind is None or (f["call_id"], kind) in out:
            continue
        out[(f["call_id"], kind)] = CaseSource(
            f["call_id"], call["run_id"], kind, call.get("agent_id"), call.get("team"), call.get("started_at"),
            f["rule"], f.get("item"), f.get("start"), f.get("end"), mask_numbers(f.get("evidence") or ""))
    for call in meta.values():
        reason = call.get("early_end")
        if reason in FAILED_CALLBACK and (call["call_id"], "unreachable") not in out:
            out[(call["call_id"], "unreachable")] = CaseSource(
                call["call_id"], call["run_id"], "unreachable", call.get("agent_id"), call.get("team"),
                call.get("started_at"), evidence=f"提前结束：{reason}")
    return list(out.values())


def _case(row: Any) -> Case:
    return Case(**{k: row._mapping[k] for k in Case.__dataclass_fields__})


@dataclass
class CaseFilter:
    team: str | None = None
    status: Sequence[str] = ()
    grade: Sequence[str] = ()
    case_type: Sequence[str] = ()
    call_id: str | None = None
    ids: Sequence[int] = field(default_factory=tuple)


class CaseStore:
    def __init__(self, db: Database, settings: CaseSettings | None = None):
        self.db = db
        self.settings = settings or CaseSettings()

    def unseen(self, scorings: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Of these (call_id, run_id) scorings, those not looked at for cases yet."""
        wanted = set(scorings)
        if not wanted:
            return set()
        with self.db.read() as conn:
            seen = {(r[0], r[1]) for r in conn.execute(select(case_sources.c.call_id, case_sources.c.run_id))}
        return wanted - seen

    def open_from(self, sources: Sequence[CaseSource], looked_at: Iterable[tuple[str, str]], owners: Mapping[str, str],
                  actor: Actor, at: dt.datetime | None = None) -> list[Case]:
        """Open a case per source that has none yet (one per call and type) and mark the scorings `looked_at`
        as seen; `owners` maps a team to its case owner. Returns the cases opened."""
        at = at or now()
        opened = []
        with self.db.write() as conn:
            seen = {(r[0], r[1]) for r in conn.execute(select(case_sources.c.call_id, case_sources.c.run_id))}
            new = set(looked_at) - seen
            if new:
                conn.execute(insert(case_sources), [{"call_id": c, "run_id": r} for c, r in sorted(new)])
            for src in sources:
                if conn.execute(select(cases.c.id).where(cases.c.call_id == src.call_id,
                                                         cases.c.case_type == src.case_type)).first():
                    continue
                opened.append(self._insert(conn, src, owners.get(src.team or ""), actor, at, "由质检发现自动生成"))
        return opened

    def open_by_hand(self, src: CaseSource, owner: str | None, note: str, actor: Actor) -> Case:
        if src.case_type not in CASE_TYPES:
            raise CaseError(f"case type {src.case_type!r}: one of {', '.join(CASE_TYPES)}")
        with self.db.write() as conn:
            if conn.execute(select(cases.c.id).where(cases.c.call_id == src.call_id,
                                                     cases.c.case_type == src.case_type)).first():
                raise CaseError(f"call {src.call_id} has a {CASE_TYPES[src.case_type].title} case already")
            try:
                return self._insert(conn, src, owner, actor, now(), mask_numbers(note.strip()[:MAX_NOTE]) or "人工开立")
            except IntegrityError:  # opened by someone else a moment ago
                raise CaseError(f"call {src.call_id} has a {CASE_TYPES[src.case_type].title} case already") from None

    def _insert(self, conn: Connection, src: CaseSource, owner: str | None, actor: Actor, at: dt.datetime,
                note: str) -> Case:
        kind = CASE_TYPES[src.case_type]
        row_id = conn.execute(insert(cases).values(
            call_id=src.call_id, run_id=src.run_id, agent_id=src.agent_id, team=src.team,
            call_started_at=src.call_started_at, case_type=kind.code, grade=kind.grade, rule=src.rule, item=src.item,
            span_start=src.span_start, span_end=src.span_end, evidence=mask_numbers(src.evidence)[:MAX_NOTE],
            owner=owner, handler=None, status=OPEN, opened_at=stamp(at),
            respond_by=stamp(self.settings.respond_by(at)), resolution="")).inserted_primary_key[0]
        conn.execute(insert(case_events).values(case_id=row_id, at=stamp(at), by=actor.user, from_status=None,
                                                to_status=OPEN, note=note))
        record(conn, actor, "case_open", src.call_id, f"#{row_id} {kind.title} ({kind.grade})")
        return _case(conn.execute(select(cases).where(cases.c.id == row_id)).one())

    def move(self, case_id: int, to: str, actor: Actor, role: Role, *, note: str = "", handler: str | None = None,
             scope_team: str | None = None, at: dt.datetime | None = None) -> Case:
        """Move a case to status `to` (raises CaseError for a move this role may not make)."""
        at = at or now()
        note = mask_numbers(note.strip()[:MAX_NOTE])  # notes are shown, exported and printed on the transfer list
        with self.db.write() as conn:
            row = conn.execute(select(cases).where(cases.c.id == case_id)).first()
            if row is None or (scope_team is not None and row._mapping["team"] != scope_team):
                raise LookupError(f"no case {case_id}")
            case = _case(row)
            allowed = TRANSITIONS.get((case.status, to))
            if allowed is None:
                raise CaseError(f"case {case_id} is {case.status_label}: it cannot become {STATUS_LABEL.get(to, to)}")
            if role not in allowed:
                raise PermissionError(f"a {role.value} cannot move a case from {case.status} to {to}")
            values: dict[str, Any] = {"status": to}
            if to == TRANSFERRED:
                handler = (handler or "").strip()[:200] or case.type.handler
                values.update(transferred_at=stamp(at), reply_by=stamp(self.settings.reply_by(at)), handler=handler,
                              resolved_at=None)
            elif to == RESOLVED:
                if not note:
                    raise CaseError("resolving a case needs what was done (处理结果)")
                values.update(resolved_at=stamp(at), resolution=note)
            elif to == CLOSED:
                values.update(closed_at=stamp(at))
            conn.execute(update(cases).where(cases.c.id == case_id, cases.c.status == case.status).values(**values))
            conn.execute(insert(case_events).values(case_id=case_id, at=stamp(at), by=actor.user,
                                                    from_status=case.status, to_status=to,
                                                    note=note or (f"转办给 {values['handler']}" if to == TRANSFERRED else "")))
            record(conn, actor, "case_" + to, case.call_id, f"#{case_id} {case.status} → {to}" + (f": {note}" if note else ""))
            return _case(conn.execute(select(cases).where(cases.c.id == case_id)).one())

    def close_false_alarm(self, call_id: str, rule: str, item: str | None, actor: Actor) -> list[Case]:
        """A finding marked a false alarm closes the cases it opened that nobody has acted on."""
        closed = []
        with self.db.write() as conn:
            rows = conn.execute(select(cases).where(cases.c.call_id == call_id, cases.c.rule == rule,
                                                    cases.c.status == OPEN)).all()
            for row in rows:
                case = _case(row)
                if (case.item or None) != (item or None):
                    continue
                at = stamp()
                conn.execute(update(cases).where(cases.c.id == case.id).values(status=CLOSED, closed_at=at))
                conn.execute(insert(case_events).values(case_id=case.id, at=at, by=actor.user, from_status=OPEN,
                                                        to_status=CLOSED, note="发现被复核为误报，问题件关闭"))
                record(conn, actor, "case_closed", call_id, f"#{case.id}: false alarm")
                closed.append(case.id)
        return [c for c in (self.get(i) for i in closed) if c is not None]

    def get(self, case_id: int, scope_team: str | None = None) -> Case | None:
        with self.db.read() as conn:
            row = conn.execute(select(cases).where(cases.c.id == case_id)).first()
        if row is None or (scope_team is not None and row._mapping["team"] != scope_team):
            return None
        return _case(row)

    def history(self, case_id: int) -> list[CaseEvent]:
        with self.db.read() as conn:
            rows = conn.execute(select(case_events).where(case_events.c.case_id == case_id).order_by(case_events.c.id))
            return [CaseEvent(**{k: r._mapping[k] for k in CaseEvent.__dataclass_fields__}) for r in rows]

    def list(self, f: CaseFilter | None = None) -> list[Case]:
        f = f or CaseFilter()
        query = select(cases)
        if f.team is not None:
            query = query.where(cases.c.team == f.team)
        if f.status:
            query = query.where(cases.c.status.in_(list(f.status)))
        if f.grade:
            query = query.where(cases.c.grade.in_(list(f.grade)))
        if f.case_type:
            query = query.where(cases.c.case_type.in_(list(f.case_type)))
        if f.call_id:
            query = query.where(cases.c.call_id == f.call_id)
        if f.ids:
            query = query.where(cases.c.id.in_(list(f.ids)))
        with self.db.read() as conn:
            found = [_case(r) for r in conn.execute(query.order_by(cases.c.id))]
        # most pressing first: open before done, then grade, then the nearest deadline
        order = {s: i for i, s in enumerate(STATUSES)}
        return sorted(found, key=lambda c: (order.get(c.status, 9), GRADES.index(c.grade) if c.grade in GRADES else 9,
                                            c.due_at or "~", c.id))

    def teams(self) -> list[str]:
        with self.db.read() as conn:
            return sorted(t for t in conn.execute(select(cases.c.team).distinct()).scalars() if t)
