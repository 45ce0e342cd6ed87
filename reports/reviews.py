"""What QA analysts decide about findings (confirmed, false positive, appealed), kept in SQLite.

Decisions never go into the result files, which a re-run rewrites; every decision is a new row, so
the history of a finding stays, and the newest row per finding is its current verdict.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

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
    created_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reviews_call ON reviews (call_id, finding_key, id);
"""


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

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


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
                "INSERT INTO reviews (call_id, run_id, finding_key, rule, verdict, comment, reviewer, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (review.call_id, review.run_id, review.finding_key, review.rule, review.verdict, review.comment,
                 review.reviewer, now))
            row_id = cur.lastrowid
        return Review(**{**review.to_dict(), "created_at": now, "id": row_id})

    def current(self, call_id: str) -> list[Review]:
        """The newest decision on each reviewed finding of a call."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM reviews WHERE id IN (SELECT MAX(id) FROM reviews WHERE call_id = ? "
                "GROUP BY finding_key) ORDER BY id", (call_id,)).fetchall()
        return [Review(**dict(r)) for r in rows]

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
