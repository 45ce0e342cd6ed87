"""The workspace's tables. Times are ISO 8601 text in UTC ("2026-11-23T08:00:00+00:00"): the same on SQLite and
PostgreSQL, ordered as text, and the shape the decisions table has always had."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

METADATA = MetaData()

users = Table(
    "users", METADATA,
    Column("id", Integer, primary_key=True),
    Column("name", String(80), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("team", String(80)),  # a team lead's team
    Column("password_hash", String(200), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", String(32), nullable=False),
)

sessions = Table(
    "sessions", METADATA,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 of the cookie: a copy of the
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),  # database opens no session
    Column("csrf", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Column("ip", String(64), nullable=False, default=""),
)

login_attempts = Table(
    "login_attempts", METADATA,
    Column("id", Integer, primary_key=True),
    Column("name", String(80), nullable=False),
    Column("ip", String(64), nullable=False),
    Column("at", String(32), nullable=False),
    Column("ok", Boolean, nullable=False),
    Index("login_attempts_name", "name", "at"),
    Index("login_attempts_ip", "ip", "at"),
)

# every decision on a finding is a new row; the newest per finding is its verdict (see decisions.py)
reviews = Table(
    "reviews", METADATA,
    Column("id", Integer, primary_key=True),
    Column("call_id", Text, nullable=False),
    Column("run_id", Text, nullable=False, default=""),
    Column("finding_key", Text, nullable=False),
    Column("rule", Text, nullable=False),
    Column("verdict", Text, nullable=False),
    Column("comment", Text, nullable=False, default=""),
    Column("reviewer", Text, nullable=False, default=""),
    Column("created_at", Text, nullable=False),
    Column("item", Text),
    Column("span_start", Float),
    Column("span_end", Float),
    Index("reviews_call", "call_id", "finding_key", "id"),
    sqlite_autoincrement=True,
)

appeals = Table(
    "appeals", METADATA,
    Column("id", Integer, primary_key=True),
    Column("call_id", Text, nullable=False),
    Column("run_id", Text, nullable=False, default=""),
    Column("finding_key", Text, nullable=False),
    Column("rule", Text, nullable=False),
    Column("item", Text),
    Column("span_start", Float),
    Column("span_end", Float),
    Column("agent_id", Text),
    Column("team", Text),
    Column("reason", Text, nullable=False),
    Column("filed_by", Text, nullable=False),
    Column("filed_at", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # pending | upheld | rejected
    Column("ruled_by", Text),
    Column("ruled_at", String(32)),
    Column("ruling", Text),
    Index("appeals_call", "call_id", "rule"),
)

cases = Table(
    "cases", METADATA,
    Column("id", Integer, primary_key=True),
    Column("call_id", Text, nullable=False),
    Column("run_id", Text, nullable=False, default=""),
    Column("agent_id", Text),
    Column("team", Text),
    Column("call_started_at", Text),
    Column("case_type", String(32), nullable=False),
    Column("grade", String(8), nullable=False),  # 一般 | 重要 | 紧急
    Column("rule", Text),  # the finding that opened it (none for one opened by hand)
    Column("item", Text),
    Column("span_start", Float),
    Column("span_end", Float),
    Column("evidence", Text, nullable=False, default=""),  # masked
    Column("owner", Text),
    Column("handler", Text),  # whom it was transferred to (业务员, 业务部门…)
    Column("status", String(16), nullable=False),  # open | transferred | resolved | closed
    Column("opened_at", String(32), nullable=False),
    Column("respond_by", String(32), nullable=False),
    Column("reply_by", String(32)),
    Column("transferred_at", String(32)),
    Column("resolved_at", String(32)),
    Column("closed_at", String(32)),
    Column("resolution", Text, nullable=False, default=""),
    UniqueConstraint("call_id", "case_type", name="cases_one_per_call_and_type"),
    Index("cases_team", "team", "status"),
)

case_events = Table(
    "case_events", METADATA,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("at", String(32), nullable=False),
    Column("by", Text, nullable=False),
    Column("from_status", String(16)),
    Column("to_status", String(16), nullable=False),
    Column("note", Text, nullable=False, default=""),
    Index("case_events_case", "case_id", "id"),
)

# calls whose newest scoring has been looked at for cases: each scoring once
case_sources = Table(
    "case_sources", METADATA,
    Column("call_id", Text, primary_key=True),
    Column("run_id", Text, primary_key=True),
)

audit = Table(
    "audit", METADATA,
    Column("id", Integer, primary_key=True),
    Column("at", String(32), nullable=False),
    Column("user", Text, nullable=False),
    Column("role", String(20), nullable=False, default=""),
    Column("action", String(40), nullable=False),
    Column("target", Text, nullable=False, default=""),
    Column("detail", Text, nullable=False, default=""),
    Column("ip", String(64), nullable=False, default=""),
    Index("audit_at", "at"),
    sqlite_autoincrement=True,
)

sampling_rules = Table(
    "sampling_rules", METADATA,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("selects", String(80), nullable=False),  # failed | passed | alert | rule:<id or family>
    Column("share", Float, nullable=False),  # of the matching calls per agent per week
    Column("minimum", Integer, nullable=False, default=0),  # at least this many per agent per week (if any)
    Column("active", Boolean, nullable=False, default=True),
    Column("updated_by", Text, nullable=False, default=""),
    Column("updated_at", String(32), nullable=False),
)

assignments = Table(
    "assignments", METADATA,
    Column("id", Integer, primary_key=True),
    Column("call_id", Text, nullable=False),
    Column("week", String(8), nullable=False),
    Column("agent_id", Text),
    Column("team", Text),
    Column("reason", Text, nullable=False),  # the sampling rule that drew it
    Column("reviewer", Text),
    Column("assigned_by", Text),
    Column("assigned_at", String(32)),
    Column("status", String(8), nullable=False),  # open | done
    Column("done_at", String(32)),
    Column("created_at", String(32), nullable=False),
    UniqueConstraint("call_id", "week", name="assignments_one_per_call_and_week"),
    Index("assignments_reviewer", "reviewer", "status"),
)

APPEND_ONLY = ("audit", "reviews", "case_events")
