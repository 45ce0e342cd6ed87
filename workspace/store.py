"""The workspace as one object: its database and a store per kind of record."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .appeals import AppealStore
from .audit import AuditLog
from .cases import CaseSettings, CaseStore
from .db import Database, default_location, open_database
from .decisions import ReviewStore
from .sampling import SamplingStore
from .users import UserStore


@dataclass
class Workspace:
    db: Database
    users: UserStore
    decisions: ReviewStore
    appeals: AppealStore
    cases: CaseStore
    sampling: SamplingStore
    audit: AuditLog

    @classmethod
    def open(cls, target: str | os.PathLike[str], settings: CaseSettings | None = None,
             create: bool = True) -> Workspace:
        db = open_database(target, create=create)
        return cls(db, UserStore(db), ReviewStore(db), AppealStore(db), CaseStore(db, settings), SamplingStore(db),
                   AuditLog(db))

    def close(self) -> None:
        self.db.dispose()


def results_workspace(out_dir: str | os.PathLike[str], target: str | None = None) -> Workspace | None:
    """The workspace of a results folder for reading its figures: `target` (a path or URL) if given, else
    the folder's own workspace file if one exists, else None (no one has reviewed anything there yet)."""
    if target:
        return Workspace.open(target, create=False)
    path = default_location(out_dir)
    return Workspace.open(path, create=False) if path.is_file() else None
