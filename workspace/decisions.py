"""What QA analysts decide about findings (confirmed, false positive, under appeal), kept in the workspace
database.

Decisions never go into the result files, which a re-run rewrites; every decision is a new row, so
the history of a finding stays, and the newest row per finding is its current verdict. A decision keeps
the finding's rule, item and time span, so when the call is scored again (a lexicon edit) it follows the
same finding of the newer scoring; a decision whose finding is gone stays in the history, shown as made
on an earlier scoring.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlalchemy import Connection, func, insert, select

from callqa.masking import mask_numbers
from results.matching import match_findings, same_finding

from .audit import Actor, record
from .db import Database, open_database
from .tables import reviews
from .times import stamp

# an appeal filed by a team lead puts its finding under appeal until the QA lead's ruling (appeals.py)
VERDICTS = ("confirmed", "false_positive", "appeal")
VERDICT_LABEL = {"confirmed": "确认违规", "false_positive": "误报", "appeal": "申诉中"}
COLUMNS = ("id", "created_at", "call_id", "run_id", "finding_key", "rule", "item", "span_start", "span_end",
           "verdict", "reviewer", "comment")

class ReviewError(ValueError):
    pass


@dataclass(frozen=True)
class Review:
    call_id: str
    finding_key: str
    rule: str
    verdict: str
    comment: str = ""
    reviewer: str = ""
    run_id: str = ""
    created_at: str = ""
    id: int | None = None
    item: str | None = None  # the finding as it was: its item and time span, to follow it to a newer scoring
    span_start: float | None = None
    span_end: float | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def on(self, finding: Mapping[str, Any]) -> Review:
        """This decision with the finding it was made on recorded beside it."""
        return replace(self, item=finding.get("item"), span_start=finding.get("start"), span_end=finding.get("end"))

    def as_finding(self) -> dict[str, Any]:
        return {"rule": self.rule, "item": self.item, "start": self.span_start, "end": self.span_end}


@dataclass
class CallDecisions:
    """A call's decisions as they apply to its newest scoring."""

    on_findings: dict[str, Review] = field(default_factory=dict)  # finding key -> its current decision
    carried: set[str] = field(default_factory=set)  # finding keys whose decision was made on an earlier scoring
    earlier: list[Review] = field(default_factory=list)  # decisions whose finding the newest scoring lacks


def apply_to_scoring(decisions: Sequence[Review], findings: Sequence[Mapping[str, Any]], run_id: str,
                     keys: Sequence[str]) -> CallDecisions:
    """Place each decision on the finding of this scoring (`findings`, keyed by `keys`) it was made on, or
    on the same finding re-found by a newer scoring (same rule and item, overlapping time); the newest
    decision on a finding wins. The rest were made on findings this scoring no longer has."""
    out = CallDecisions()
    index = {k: i for i, k in enumerate(keys)}
    moved = []
    for d in decisions:
        i = index.get(d.finding_key)
        if d.run_id == run_id and i is not None and findings[i].get("rule") == d.rule:
            _place(out, keys[i], d, carried=False)
        elif d.span_start is not None:
            moved.append(d)
        else:
            out.earlier.append(d)
    # decisions on the same finding in different scorings: the newest speaks for it, the rest are history
    latest: list[Review] = []
    for d in sorted(moved, key=lambda r: -(r.id or 0)):
        if not any(same_finding(d.as_finding(), k.as_finding()) for k in latest):
            latest.append(d)
    moved = latest
    pairs = match_findings([d.as_finding() for d in moved], findings)
    for n, d in enumerate(moved):
        if n in pairs:
            _place(out, keys[pairs[n]], d, carried=True)
        else:
            out.earlier.append(d)
    out.earlier.sort(key=lambda r: r.id or 0)
    return out


def _place(out: CallDecisions, key: str, d: Review, carried: bool) -> None:
    """The newer decision on a finding supersedes an older one (which stays in the history)."""
    held = out.on_findings.get(key)
    if held is not None and (held.id or 0) > (d.id or 0):
        return
    out.on_findings[key] = d
    if carried:
        out.carried.add(key)
    else:
        out.carried.discard(key)


def review_from_dict(data: object) -> Review:
    if not isinstance(data, dict):
        raise ReviewError("a review must be a JSON object")
    for key in ("call_id", "finding_key", "rule", "verdict"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise ReviewError(f"review: '{key}' is required (a non-empty string)")
    if data["verdict"] not in VERDICTS:
        raise ReviewError(f"review: verdict must be one of {', '.join(VERDICTS)}, not {data['verdict']!r}")
    extra = {k: str(data.get(k) or "")[:2000] for k in ("comment", "reviewer", "run_id")}
    return Review(data["call_id"], data["finding_key"], data["rule"], data["verdict"], **extra)


def _review(row: Any) -> Review:
    return Review(**{k: row._mapping[k] for k in COLUMNS})


def insert_review(conn: Connection, review: Review, actor: Actor | None = None) -> Review:
    """Add a decision inside the caller's transaction (with its audit row when `actor` is given)."""
    now = stamp()
    row_id = conn.execute(insert(reviews).values(
        call_id=review.call_id, run_id=review.run_id, finding_key=review.finding_key, rule=review.rule,
        verdict=review.verdict, comment=mask_numbers(review.comment), reviewer=review.reviewer, created_at=now,
        item=review.item,
        span_start=review.span_start, span_end=review.span_end)).inserted_primary_key[0]
    if actor is not None:
        record(conn, actor, "decision", review.call_id,
               f"{review.rule} {review.finding_key}: {review.verdict}"
               + (f" ({mask_numbers(review.comment)})" if review.comment else ""))
    return replace(review, comment=mask_numbers(review.comment), created_at=now, id=int(row_id))


def _latest(*group: Any) -> Any:
    return select(func.max(reviews.c.id)).group_by(*group)


class ReviewStore:
    """Decisions in the workspace database (a `Database`, or a path or URL to open one)."""

    def __init__(self, db: Database | str | os.PathLike[str]):
        self.db = db if isinstance(db, Database) else open_database(db)

    def add(self, review: Review, actor: Actor | None = None) -> Review:
        with self.db.write() as conn:
            return insert_review(conn, review, actor)

    def _select(self, query: Any) -> list[Review]:
        with self.db.read() as conn:
            return [_review(r) for r in conn.execute(query)]

    def current(self, call_id: str) -> list[Review]:
        """The newest decision on each reviewed finding of a call."""
        latest = _latest(reviews.c.finding_key).where(reviews.c.call_id == call_id)
        return self._select(select(reviews).where(reviews.c.id.in_(latest)).order_by(reviews.c.id))

    def latest_per_finding(self, call_id: str) -> list[Review]:
        """The newest decision on each finding of each scoring of a call, oldest first."""
        latest = _latest(reviews.c.run_id, reviews.c.finding_key).where(reviews.c.call_id == call_id)
        return self._select(select(reviews).where(reviews.c.id.in_(latest)).order_by(reviews.c.id))

    def for_scoring(self, call_id: str, findings: Sequence[Mapping[str, Any]], run_id: str,
                    keys: Sequence[str]) -> CallDecisions:
        """The call's decisions placed on the findings of one scoring (see `apply_to_scoring`)."""
        return apply_to_scoring(self.latest_per_finding(call_id), findings, run_id, keys)

    def history(self, call_id: str) -> list[Review]:
        return self._select(select(reviews).where(reviews.c.call_id == call_id).order_by(reviews.c.id))

    def all(self) -> list[Review]:
        """Every decision ever recorded, oldest first (for export and audit)."""
        return self._select(select(reviews).order_by(reviews.c.id))

    def reviewed_calls(self, call_ids: Sequence[str] | None = None) -> list[str]:
        """Calls with at least one decision (of those given)."""
        query = select(reviews.c.call_id).distinct()
        if call_ids is not None:
            query = query.where(reviews.c.call_id.in_(list(call_ids)))
        with self.db.read() as conn:
            return [r[0] for r in conn.execute(query)]

    def with_verdict(self, verdict: str) -> list[Review]:
        """The decisions that are the newest on their finding of their scoring and carry this verdict."""
        latest = _latest(reviews.c.call_id, reviews.c.run_id, reviews.c.finding_key)
        return self._select(select(reviews).where(reviews.c.id.in_(latest), reviews.c.verdict == verdict)
                            .order_by(reviews.c.id))

    def reviewed_counts(self) -> dict[str, int]:
        """Reviewed findings per call, for the queue."""
        query = select(reviews.c.call_id, func.count(reviews.c.finding_key.distinct())).group_by(reviews.c.call_id)
        with self.db.read() as conn:
            return {r[0]: int(r[1]) for r in conn.execute(query)}

    def verdicts_by_rule(self) -> dict[str, dict[str, int]]:
        """Current verdicts per rule: how often analysts confirm or reject what a rule finds."""
        latest = _latest(reviews.c.call_id, reviews.c.finding_key)
        query = (select(reviews.c.rule, reviews.c.verdict, func.count())
                 .where(reviews.c.id.in_(latest)).group_by(reviews.c.rule, reviews.c.verdict))
        out: dict[str, dict[str, int]] = {}
        with self.db.read() as conn:
            for rule, verdict, n in conn.execute(query):
                out.setdefault(rule, {})[verdict] = int(n)
        return out
