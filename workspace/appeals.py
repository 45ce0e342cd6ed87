"""Appeals (申诉): a team lead contests a finding on one of its agents' calls; the QA lead's ruling is final.

Filing an appeal puts the finding under appeal (a decision with verdict `appeal`); the ruling adds the
final decision: upheld (申诉成立) makes the finding a false alarm, rejected (驳回) confirms it. After a
ruling the finding takes no further appeal, and only a QA lead may record another decision on it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update

from callqa.masking import mask_numbers

from .audit import Actor, record
from .db import Database
from .decisions import Review, insert_review
from .tables import appeals
from .times import stamp

PENDING, UPHELD, REJECTED = "pending", "upheld", "rejected"
OUTCOMES = {UPHELD: "false_positive", REJECTED: "confirmed"}
STATUS_LABEL = {PENDING: "待裁决", UPHELD: "申诉成立", REJECTED: "驳回"}
MAX_TEXT = 2000


class AppealError(ValueError):
    """An appeal or ruling that cannot be made (already appealed, already ruled, no reason…)."""


@dataclass(frozen=True)
class Appeal:
    id: int
    call_id: str
    run_id: str
    finding_key: str
    rule: str
    item: str | None
    span_start: float | None
    span_end: float | None
    agent_id: str | None
    team: str | None
    reason: str
    filed_by: str
    filed_at: str
    status: str
    ruled_by: str | None
    ruled_at: str | None
    ruling: str | None

    @property
    def status_label(self) -> str:
        return STATUS_LABEL.get(self.status, self.status)

    def to_dict(self) -> dict[str, Any]:
        return dict(asdict(self), status_label=self.status_label)


def _appeal(row: Any) -> Appeal:
    return Appeal(**{k: row._mapping[k] for k in Appeal.__dataclass_fields__})


def _same_finding(review: Review) -> Any:
    """The appeals of this finding: same call, rule and item; the same scoring's key, or an overlapping span
    (an appeal follows its finding to a newer scoring as decisions do)."""
    cond = and_(appeals.c.call_id == review.call_id, appeals.c.rule == review.rule)
    cond = and_(cond, appeals.c.item.is_(None) if review.item is None else appeals.c.item == review.item)
    if review.span_start is None or review.span_end is None:
        return and_(cond, appeals.c.finding_key == review.finding_key, appeals.c.run_id == review.run_id)
    return and_(cond, appeals.c.span_start < review.span_end, appeals.c.span_end > review.span_start)


class AppealStore:
    def __init__(self, db: Database):
        self.db = db

    def on_finding(self, conn: Connection, finding: Review) -> list[Appeal]:
        return [_appeal(r) for r in conn.execute(select(appeals).where(_same_finding(finding)).order_by(appeals.c.id))]

    def ruled(self, finding: Review) -> bool:
        """Whether this finding's appeal has been ruled on (its verdict is then final)."""
        with self.db.read() as conn:
            return any(a.status != PENDING for a in self.on_finding(conn, finding))

    def file(self, finding: Review, reason: str, actor: Actor, agent_id: str | None, team: str | None) -> Appeal:
        """Appeal `finding` (a Review carrying the finding's call, scoring, key, rule, item and span)."""
        reason = mask_numbers(reason.strip()[:MAX_TEXT])  # what people write is shown and exported
        if not reason:
            raise AppealError("an appeal needs its reason")
        with self.db.write() as conn:
            if self.on_finding(conn, finding):
                raise AppealError(f"call {finding.call_id}: this {finding.rule} finding has been appealed already")
            row_id = conn.execute(insert(appeals).values(
                call_id=finding.call_id, run_id=finding.run_id, finding_key=finding.finding_key, rule=finding.rule,
                item=finding.item, span_start=finding.span_start, span_end=finding.span_end, agent_id=agent_id,
                team=team, reason=reason, filed_by=actor.user, filed_at=stamp(), status=PENDING,
            )).inserted_primary_key[0]
            insert_review(conn, Review(finding.call_id, finding.finding_key, finding.rule, "appeal", reason,
                                       actor.user, finding.run_id, item=finding.item, span_start=finding.span_start,
                                       span_end=finding.span_end))
            record(conn, actor, "appeal", finding.call_id, f"#{row_id} {finding.rule} {finding.finding_key}: {reason}")
            return _appeal(conn.execute(select(appeals).where(appeals.c.id == row_id)).one())

    def rule(self, appeal_id: int, outcome: str, ruling: str, actor: Actor) -> tuple[Appeal, Review]:
        """The QA lead's final ruling; returns the appeal and the decision it adds."""
        if outcome not in OUTCOMES:
            raise AppealError(f"ruling: outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
        ruling = mask_numbers(ruling.strip()[:MAX_TEXT])
        with self.db.write() as conn:
            row = conn.execute(select(appeals).where(appeals.c.id == appeal_id)).first()
            if row is None:
                raise LookupError(f"no appeal {appeal_id}")
            appeal = _appeal(row)
            if appeal.status != PENDING:
                raise AppealError(f"appeal {appeal_id} was ruled on already ({appeal.status_label}); the ruling is final")
            now = stamp()
            conn.execute(update(appeals).where(appeals.c.id == appeal_id, appeals.c.status == PENDING)
                         .values(status=outcome, ruled_by=actor.user, ruled_at=now, ruling=ruling))
            decision = insert_review(conn, Review(
                appeal.call_id, appeal.finding_key, appeal.rule, OUTCOMES[outcome],
                f"申诉裁决：{STATUS_LABEL[outcome]}" + (f"。{ruling}" if ruling else ""), actor.user, appeal.run_id,
                item=appeal.item, span_start=appeal.span_start, span_end=appeal.span_end))
            record(conn, actor, "ruling", appeal.call_id, f"#{appeal_id} {appeal.rule}: {outcome}" + (f" ({ruling})" if ruling else ""))
            return _appeal(conn.execute(select(appeals).where(appeals.c.id == appeal_id)).one()), decision

    def get(self, appeal_id: int) -> Appeal | None:
        with self.db.read() as conn:
            row = conn.execute(select(appeals).where(appeals.c.id == appeal_id)).first()
        return _appeal(row) if row else None

    def list(self, *, team: str | None = None, status: str | None = None, call_id: str | None = None) -> list[Appeal]:
        query = select(appeals)
        if team is not None:
            query = query.where(appeals.c.team == team)
        if status:
            query = query.where(appeals.c.status == status)
        if call_id:
            query = query.where(appeals.c.call_id == call_id)
        with self.db.read() as conn:
            return [_appeal(r) for r in conn.execute(query.order_by(appeals.c.id.desc()))]
