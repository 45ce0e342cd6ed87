"""The append-only audit log: who did what, when, from where. Every access to a recording (each request
of it, byte ranges included) and every decision, appeal, ruling, case change, export and user change is a
row; rows are never changed or deleted (the database refuses it, see db.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass

from sqlalchemy import Connection, func, insert, select

from .db import Database
from .tables import audit
from .times import stamp

COLUMNS = ("id", "at", "user", "role", "action", "target", "detail", "ip")


@dataclass(frozen=True)
class Actor:
    """Who acts, from where (the address of the request)."""

    user: str
    role: str
    ip: str


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: str
    user: str
    role: str
    action: str
    target: str
    detail: str
    ip: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def record(conn: Connection, actor: Actor, action: str, target: str = "", detail: str = "") -> None:
    """One row, in the caller's transaction: the audit row and the change it records commit together."""
    conn.execute(insert(audit).values(at=stamp(), user=actor.user, role=actor.role, action=action,
                                      target=target[:500], detail=detail[:2000], ip=actor.ip[:64]))


class AuditLog:
    def __init__(self, db: Database):
        self.db = db

    def add(self, actor: Actor, action: str, target: str = "", detail: str = "") -> None:
        with self.db.write() as conn:
            record(conn, actor, action, target, detail)

    def rows(self, *, action: str | None = None, user: str | None = None, target: str | None = None,
             since: str | None = None, until: str | None = None, limit: int | None = None,
             newest_first: bool = True) -> Iterator[AuditRow]:
        query = select(audit)
        if action:
            query = query.where(audit.c.action == action)
        if user:
            query = query.where(audit.c.user == user)
        if target:
            query = query.where(audit.c.target == target)
        if since:
            query = query.where(audit.c.at >= since)
        if until:
            query = query.where(audit.c.at < until)
        query = query.order_by(audit.c.id.desc() if newest_first else audit.c.id)
        if limit:
            query = query.limit(limit)
        with self.db.read() as conn:
            for r in conn.execute(query):
                yield AuditRow(**{c: r._mapping[c] for c in COLUMNS})

    def count(self, action: str | None = None) -> int:
        query = select(func.count()).select_from(audit)
        if action:
            query = query.where(audit.c.action == action)
        with self.db.read() as conn:
            return int(conn.execute(query).scalar_one())
