"""What QA analysts decide about findings (confirmed, false positive, appealed), kept in SQLite.

Decisions never go into the result files, which a re-run rewrites; every decision is a new row, so
the history of a finding stays, and the newest row per finding is its current verdict. A decision keeps
the finding's rule, item and time span, so when the call is scored again (a lexicon edit) it follows the
same finding of the newer scoring; a decision whose finding is gone stays in the history, shown as made
on an earlier scoring.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from results.matching import match_findings, same_finding

VERDICTS = ("confirmed", "false_positive", "appeal")

SCHEMA = """
CREATE TABLE IF NOT EXISTS reviews (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id     TEXT NOT NULL,
    run_id      TEXT NOT NULL DEFAULT '',
    finding_key TEXT NOT NULL,
    rule        TEXT NOT NULL,
    verdict     TEXT NOT NULL CHECK (verdict IN ('confirmed', 'false_positive', 'appeal')),
    comment     TEXT NOT NULL DEFAULT '',
    reviewer    TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    item        TEXT,
    span_start  REAL,
    span_end    REAL
);
CREATE INDEX IF NOT EXISTS reviews_call ON reviews (call_id, finding_key, id);
"""
# columns added after the first release: a database made before them gains them on open
_ADDED_COLUMNS = {"item": "TEXT", "span_start": "REAL", "span_end": "REAL"}


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


class ReviewStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(SCHEMA)
            have = {row[1] for row in db.execute("PRAGMA table_info(reviews)")}
            for column, kind in _ADDED_COLUMNS.items():
                if column not in have:
                    db.execute(f"ALTER TABLE reviews ADD COLUMN {column} {kind}")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        db.row_factory = sqlite3.Row
        try:
            db.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer
            with db:  # one transaction: committed whole or rolled back
                yield db
        finally:
            db.close()

    def add(self, review: Review) -> Review:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._connect() as db:
            cur = db.execute(
                "INSERT INTO reviews (call_id, run_id, finding_key, rule, verdict, comment, reviewer, created_at, "
                "item, span_start, span_end) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (review.call_id, review.run_id, review.finding_key, review.rule, review.verdict, review.comment,
                 review.reviewer, now, review.item, review.span_start, review.span_end))
            row_id = cur.lastrowid
        return Review(**{**review.to_dict(), "created_at": now, "id": row_id})

    def current(self, call_id: str) -> list[Review]:
        """The newest decision on each reviewed finding of a call."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM reviews WHERE id IN (SELECT MAX(id) FROM reviews WHERE call_id = ? "
                "GROUP BY finding_key) ORDER BY id", (call_id,)).fetchall()
        return [Review(**dict(r)) for r in rows]

    def latest_per_finding(self, call_id: str) -> list[Review]:
        """The newest decision on each finding of each scoring of a call, oldest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM reviews WHERE id IN (SELECT MAX(id) FROM reviews WHERE call_id = ? "
                "GROUP BY run_id, finding_key) ORDER BY id", (call_id,)).fetchall()
        return [Review(**dict(r)) for r in rows]

    def for_scoring(self, call_id: str, findings: Sequence[Mapping[str, Any]], run_id: str,
                    keys: Sequence[str]) -> CallDecisions:
        """The call's decisions placed on the findings of one scoring (see `apply_to_scoring`)."""
        return apply_to_scoring(self.latest_per_finding(call_id), findings, run_id, keys)

    def history(self, call_id: str) -> list[Review]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM reviews WHERE call_id = ? ORDER BY id", (call_id,)).fetchall()
        return [Review(**dict(r)) for r in rows]

    def all(self) -> list[Review]:
        """Every decision ever recorded, oldest first (for export and audit)."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM reviews ORDER BY id").fetchall()
        return [Review(**dict(r)) for r in rows]

    def reviewed_counts(self) -> dict[str, int]:
        """Reviewed findings per call, for the queue."""
        with self._connect() as db:
            rows = db.execute("SELECT call_id, COUNT(DISTINCT finding_key) FROM reviews GROUP BY call_id").fetchall()
        return {r[0]: r[1] for r in rows}

    def verdicts_by_rule(self) -> dict[str, dict[str, int]]:
        """Current verdicts per rule: how often analysts confirm or reject what a rule finds."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT rule, verdict, COUNT(*) FROM reviews WHERE id IN (SELECT MAX(id) FROM reviews "
                "GROUP BY call_id, finding_key) GROUP BY rule, verdict").fetchall()
        out: dict[str, dict[str, int]] = {}
        for rule, verdict, n in rows:
            out.setdefault(rule, {})[verdict] = n
        return out
