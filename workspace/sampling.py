"""Sampling rules and review assignments.

A rule selects calls of a week (every failed call; 5% of the passed calls of each agent; calls with an
alert; calls with findings of a rule) and draws its share per agent, at least `minimum` where the agent has
any; the draw is a stable hash of week, rule and call, so drawing the same week again adds nothing and a
new rule adds only its own calls. Each drawn call becomes an assignment, which the QA lead gives to an
analyst (by hand, or evenly across the active analysts); the analyst marks it done.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, insert, select, update

from .audit import Actor, record
from .db import Database
from .tables import assignments, sampling_rules
from .times import stamp

DEFAULT_RULES = (("每通不合格通话", "failed", 1.0, 0), ("合格通话按坐席每周抽检 5%", "passed", 0.05, 1))
SELECTS = {"failed": "不合格通话", "passed": "合格通话", "alert": "有预警的通话"}  # and rule:<id or family>
OPEN, DONE = "open", "done"


class SamplingError(ValueError):
    pass


@dataclass(frozen=True)
class SamplingRule:
    id: int
    name: str
    selects: str
    share: float
    minimum: int
    active: bool
    updated_by: str
    updated_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Assignment:
    id: int
    call_id: str
    week: str
    agent_id: str | None
    team: str | None
    reason: str
    reviewer: str | None
    assigned_by: str | None
    assigned_at: str | None
    status: str
    done_at: str | None
    created_at: str


@dataclass(frozen=True)
class WeekCall:
    """What a rule looks at of a call: its agent, verdict, and the rules its findings fired."""

    call_id: str
    agent_id: str | None
    team: str | None
    passed: bool | None
    rules: tuple[str, ...] = ()
    alerts: int = 0


def check_selects(selects: str) -> str:
    selects = selects.strip()
    if selects in SELECTS or (selects.startswith("rule:") and len(selects) > 5):
        return selects
    raise SamplingError(f"sampling rule selects {selects!r}: one of {', '.join(SELECTS)} or rule:<rule id or family>")


def matches(selects: str, call: WeekCall) -> bool:
    if selects == "failed":
        return call.passed is False
    if selects == "passed":
        return call.passed is True
    if selects == "alert":
        return call.alerts > 0
    wanted = selects[len("rule:"):].rstrip(".")
    return any(r == wanted or r.startswith(wanted + ".") for r in call.rules)


def _draw_order(week: str, rule_id: int, call_id: str) -> str:
    return hashlib.sha256(f"{week}\x00{rule_id}\x00{call_id}".encode()).hexdigest()


def draw(rules: Sequence[SamplingRule], calls: Iterable[WeekCall], week: str) -> dict[str, str]:
    """call_id -> the name of the first rule that drew it."""
    per_agent: dict[str, list[WeekCall]] = defaultdict(list)
    for c in calls:
        per_agent[c.agent_id or ""].append(c)
    drawn: dict[str, str] = {}
    for rule in rules:
        if not rule.active:
            continue
        for agent_calls in per_agent.values():
            pool = sorted((c for c in agent_calls if matches(rule.selects, c)),
                          key=lambda c: _draw_order(week, rule.id, c.call_id))
            if not pool:
                continue
            n = min(len(pool), max(math.ceil(rule.share * len(pool) - 1e-9), rule.minimum))
            for c in pool[:n]:
                drawn.setdefault(c.call_id, rule.name)
    return drawn


def _rule(row: Any) -> SamplingRule:
    return SamplingRule(**{k: row._mapping[k] for k in SamplingRule.__dataclass_fields__})


def _assignment(row: Any) -> Assignment:
    return Assignment(**{k: row._mapping[k] for k in Assignment.__dataclass_fields__})


class SamplingStore:
    def __init__(self, db: Database):
        self.db = db

    def rules(self) -> list[SamplingRule]:
        with self.db.read() as conn:
            rows = conn.execute(select(sampling_rules).order_by(sampling_rules.c.id)).all()
        if rows:
            return [_rule(r) for r in rows]
        with self.db.write() as conn:  # a new workspace starts with the default rules
            if not conn.execute(select(func.count()).select_from(sampling_rules)).scalar_one():
                for name, selects, share, minimum in DEFAULT_RULES:
                    conn.execute(insert(sampling_rules).values(name=name, selects=selects, share=share, minimum=minimum,
                                                               active=True, updated_by="", updated_at=stamp()))
            return [_rule(r) for r in conn.execute(select(sampling_rules).order_by(sampling_rules.c.id))]

    def save_rule(self, actor: Actor, *, rule_id: int | None, name: str, selects: str, share: float, minimum: int,
                  active: bool) -> SamplingRule:
        name = name.strip()[:200]
        if not name:
            raise SamplingError("a sampling rule needs a name")
        if not 0 < share <= 1:
            raise SamplingError(f"share {share}: between 0 (exclusive) and 1")
        if not 0 <= minimum <= 1000:
            raise SamplingError(f"minimum {minimum}: between 0 and 1000")
        values = {"name": name, "selects": check_selects(selects), "share": share, "minimum": minimum,
                  "active": active, "updated_by": actor.user, "updated_at": stamp()}
        with self.db.write() as conn:
            if rule_id is None:
                rule_id = int(conn.execute(insert(sampling_rules).values(**values)).inserted_primary_key[0])
            elif not conn.execute(update(sampling_rules).where(sampling_rules.c.id == rule_id).values(**values)).rowcount:
                raise LookupError(f"no sampling rule {rule_id}")
            record(conn, actor, "sampling_rule", str(rule_id),
                   f"{name}: {values['selects']} {share:g} min {minimum} {'on' if active else 'off'}")
            return _rule(conn.execute(select(sampling_rules).where(sampling_rules.c.id == rule_id)).one())

    def draw_week(self, week: str, calls: Sequence[WeekCall], actor: Actor) -> list[Assignment]:
        """Add the week's drawn calls as unassigned assignments; returns the new ones."""
        drawn = draw(self.rules(), calls, week)
        meta = {c.call_id: c for c in calls}
        with self.db.write() as conn:
            have = set(conn.execute(select(assignments.c.call_id).where(assignments.c.week == week)).scalars())
            new = [c for c in sorted(drawn) if c not in have]
            now = stamp()
            if new:
                conn.execute(insert(assignments), [
                    {"call_id": c, "week": week, "agent_id": meta[c].agent_id, "team": meta[c].team, "reason": drawn[c],
                     "status": OPEN, "created_at": now} for c in new])
            record(conn, actor, "sampling_draw", week, f"{len(new)} new of {len(drawn)} drawn from {len(calls)} calls")
            rows = conn.execute(select(assignments).where(assignments.c.week == week,
                                                          assignments.c.call_id.in_(new))).all() if new else []
        return [_assignment(r) for r in rows]

    def assign(self, ids: Sequence[int], reviewer: str, actor: Actor) -> int:
        with self.db.write() as conn:
            n = conn.execute(update(assignments).where(assignments.c.id.in_(list(ids)), assignments.c.status == OPEN)
                             .values(reviewer=reviewer, assigned_by=actor.user, assigned_at=stamp())).rowcount
            record(conn, actor, "assign", reviewer, f"{n} assignments: {', '.join(map(str, ids))[:1500]}")
        return int(n)

    def assign_evenly(self, week: str, reviewers: Sequence[str], actor: Actor) -> dict[str, int]:
        """Give the week's unassigned calls to `reviewers` in turn, fewest open assignments first."""
        if not reviewers:
            raise SamplingError("no active analyst to assign to")
        with self.db.read() as conn:
            free = list(conn.execute(select(assignments.c.id).where(
                assignments.c.week == week, assignments.c.reviewer.is_(None)).order_by(assignments.c.id)).scalars())
            load = dict(conn.execute(select(assignments.c.reviewer, func.count()).where(
                assignments.c.status == OPEN, assignments.c.reviewer.is_not(None)).group_by(assignments.c.reviewer)).all())
        given: dict[str, list[int]] = {r: [] for r in reviewers}
        for a in free:
            who = min(reviewers, key=lambda r: (load.get(r, 0) + len(given[r]), r))
            given[who].append(a)
        for who, ids in given.items():
            if ids:
                self.assign(ids, who, actor)
        return {who: len(ids) for who, ids in given.items()}

    def finish(self, assignment_id: int, actor: Actor, may_finish_any: bool) -> Assignment:
        with self.db.write() as conn:
            row = conn.execute(select(assignments).where(assignments.c.id == assignment_id)).first()
            if row is None:
                raise LookupError(f"no assignment {assignment_id}")
            a = _assignment(row)
            if a.reviewer != actor.user and not may_finish_any:
                raise PermissionError(f"assignment {assignment_id} is {a.reviewer or 'nobody'}'s")
            conn.execute(update(assignments).where(assignments.c.id == assignment_id)
                         .values(status=DONE, done_at=stamp()))
            record(conn, actor, "assignment_done", a.call_id, f"#{assignment_id} ({a.week})")
            return _assignment(conn.execute(select(assignments).where(assignments.c.id == assignment_id)).one())

    def list(self, *, week: str | None = None, reviewer: str | None = None, status: str | None = None,
             call_id: str | None = None) -> list[Assignment]:
        query = select(assignments)
        if week:
            query = query.where(assignments.c.week == week)
        if reviewer:
            query = query.where(assignments.c.reviewer == reviewer)
        if status:
            query = query.where(assignments.c.status == status)
        if call_id:
            query = query.where(assignments.c.call_id == call_id)
        with self.db.read() as conn:
            return [_assignment(r) for r in conn.execute(query.order_by(assignments.c.week.desc(), assignments.c.id))]

    def weeks(self) -> list[str]:
        with self.db.read() as conn:
            return sorted(conn.execute(select(assignments.c.week).distinct()).scalars(), reverse=True)


def week_calls(rows: Iterable[Mapping[str, Any]]) -> list[WeekCall]:
    """WeekCall rows from queue-frame rows (call_id, agent_id, team, passed, n_alerts, hits ["rule|severity"])."""
    return [WeekCall(r["call_id"], r.get("agent_id"), r.get("team"), r.get("passed"),
                     tuple(dict.fromkeys(h.split("|", 1)[0] for h in r.get("hits") or [])), int(r.get("n_alerts") or 0))
            for r in rows]
