"""What every request shares: the settings, the workspace database, the lexicon; and the case sync."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import polars as pl
from fastapi import Request
from sqlalchemy.exc import SQLAlchemyError

from qa_checks import Lexicon
from reports.tables import Filters, Tables
from workspace.audit import Actor
from workspace.cases import RULE_CASES, sources_from
from workspace.roles import Role
from workspace.store import Workspace

from .settings import WebSettings

log = logging.getLogger("callqa.webapp")
SYSTEM = Actor("callqa", "system", "")


@dataclass
class AppState:
    settings: WebSettings
    workspace: Workspace
    lexicon: Lexicon
    _synced_at: float = 0.0
    _sync_lock: threading.Lock = field(default_factory=threading.Lock)

    def tables(self) -> Tables:
        return Tables(self.settings.results)  # lazy and cheap: each request sees the newest runs

    def sync_cases(self, force: bool = False) -> int:
        """Open the follow-up cases of calls scored since the last look (at most every `case_sync_every_s`
        unless forced). A failure (a full disk) is logged and the pages go on with the cases they have."""
        if not force and time.monotonic() - self._synced_at < self.settings.case_sync_every_s:
            return 0
        if not self._sync_lock.acquire(blocking=force):
            return 0  # another request is syncing
        try:
            self._synced_at = time.monotonic()
            return self._sync()
        except (SQLAlchemyError, OSError) as exc:
            log.warning("follow-up cases not synced: %s", exc)
            return 0
        finally:
            self._sync_lock.release()

    def _sync(self) -> int:
        tables = self.tables()
        calls = tables.calls.select("call_id", "run_id", "agent_id", "team", "started_at", "early_end").collect()
        unseen = self.workspace.cases.unseen(zip(calls["call_id"].to_list(), calls["run_id"].to_list(), strict=True))
        if not unseen:
            return 0
        ids = sorted({c for c, _ in unseen})
        new_calls = calls.filter(pl.col("call_id").is_in(ids))
        rules = [*RULE_CASES, "question.negative_answer"]
        findings = (Filters().apply_findings(tables).filter(pl.col("call_id").is_in(ids) & pl.col("rule").is_in(rules))
                    .select("call_id", "rule", "item", "start", "end", "evidence").collect())
        owners = {}
        for lead in self.workspace.users.with_role(Role.TEAM_LEAD):
            if lead.team:
                owners.setdefault(lead.team, lead.name)
        opened = self.workspace.cases.open_from(sources_from(new_calls.iter_rows(named=True),
                                                             findings.iter_rows(named=True)),
                                                unseen, owners, SYSTEM)
        return len(opened)


def state(request: Request) -> AppState:
    return request.app.state.callqa  # type: ignore[no-any-return]
