"""The workspace database: SQLite in the results folder by default, PostgreSQL (or any SQLAlchemy URL) for a team.

    db = open_database("out/workspace.sqlite3")            # a path: SQLite, created owner-only
    db = open_database("postgresql+psycopg://qa@db/callqa")  # a URL

Reads and writes are separate doors. A read (`db.read()`) never writes anything: no journal-mode switch, no
"last seen" stamp, so pages keep working when the disk is full. A write (`db.write()`) is one transaction;
on SQLite it starts with BEGIN IMMEDIATE, so concurrent writers queue on the busy timeout instead of
failing when a reader's snapshot would have to be upgraded. WAL mode is set once, when the file is made
(it is a property of the file, not of the connection).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from results.files import file_mode, make_dirs

from .tables import APPEND_ONLY, METADATA

DEFAULT_NAME = "workspace.sqlite3"
OLD_NAME = "reviews.sqlite3"  # where decisions were kept before the workspace held more than them
BUSY_TIMEOUT_S = 30.0


class DatabaseError(RuntimeError):
    """The workspace database cannot be opened or is not what it should be."""


def default_location(out_dir: str | os.PathLike[str]) -> Path:
    """The workspace of a results folder: OUT/workspace.sqlite3 (or an older OUT/reviews.sqlite3 it replaces)."""
    out = Path(out_dir)
    new, old = out / DEFAULT_NAME, out / OLD_NAME
    return old if old.is_file() and not new.exists() else new


def _sqlite_file(path: Path) -> None:
    """Create the file owner-only before SQLite opens it (its -wal and -shm files take the same mode)."""
    make_dirs(path.parent)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, file_mode()))
    with contextlib.suppress(PermissionError):  # not ours to change: the owner keeps its mode
        os.chmod(path, file_mode())  # a file made by an older release may be readable by everyone


@dataclass
class Database:
    engine: Engine
    location: str  # the path or the URL without its password, for messages

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn.execution_options(write=True)
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(target: str | os.PathLike[str], create: bool = True) -> Database:
    """Open (and with `create`, make or bring up to date) the workspace database at a path or URL."""
    spec = str(target)
    if "://" in spec:
        try:
            url = make_url(spec)
        except ArgumentError as exc:
            raise DatabaseError(f"database URL {spec!r}: {exc}") from None
        location = url.render_as_string(hide_password=True)
    else:
        path = Path(spec).expanduser().resolve()
        if path.is_dir():
            raise DatabaseError(f"{path}: a folder, not a database file")
        if create:
            _sqlite_file(path)
        elif not path.is_file():
            raise DatabaseError(f"{path}: no workspace database here")
        url = make_url(f"sqlite:///{path}")
        location = str(path)
    options: dict[str, Any] = {"pool_pre_ping": url.get_backend_name() != "sqlite"}
    if url.get_backend_name() == "sqlite":
        options.update(connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_S},
                       pool_size=8, max_overflow=32)
    try:
        engine = create_engine(url, **options)
    except Exception as exc:  # a driver that is not installed, a malformed option
        raise DatabaseError(f"database {location}: {exc}") from None
    if engine.dialect.name == "sqlite":
        _sqlite_transactions(engine)
    db = Database(engine, location)
    if create:
        try:
            _create(db)
        except Exception as exc:
            engine.dispose()
            raise DatabaseError(f"database {location}: {exc}") from exc
    else:  # a file that is not a database says so here, not halfway through a command
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT count(*) FROM sqlite_master" if engine.dialect.name == "sqlite"
                                     else "SELECT 1")
        except Exception as exc:
            engine.dispose()
            reason = str(getattr(exc, "orig", exc)).splitlines()[0] if str(exc) else type(exc).__name__
            raise DatabaseError(f"{location}: not a review database ({reason})") from None
    return db


def _sqlite_transactions(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver issues no BEGIN of its own: `_begin` does
        dbapi_connection.execute("PRAGMA foreign_keys = ON")  # per connection, and writes nothing

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")


def _create(db: Database) -> None:
    if db.is_sqlite:
        raw = db.engine.raw_connection()  # outside any transaction: SQLite switches the mode only there
        try:
            sqlite = raw.driver_connection
            assert sqlite is not None
            if str(sqlite.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                sqlite.execute("PRAGMA journal_mode = WAL")  # once, when the file is new
        finally:
            raw.close()
    with db.write() as conn:
        METADATA.create_all(conn)
        _add_missing_columns(conn)
        _append_only(conn)


# columns added to the decisions table after its first release: a database made before them gains them
_ADDED_COLUMNS = {"reviews": {"item": "TEXT", "span_start": "REAL", "span_end": "REAL"}}


def _add_missing_columns(conn: Connection) -> None:
    from sqlalchemy import inspect

    inspector = inspect(conn)
    for table, columns in _ADDED_COLUMNS.items():
        have = {c["name"] for c in inspector.get_columns(table)}
        for column, kind in columns.items():
            if column not in have:
                conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _append_only(conn: Connection) -> None:
    """The audit log, the decisions and the case history can be added to, never changed or deleted."""
    if conn.dialect.name == "sqlite":
        for table in APPEND_ONLY:
            for verb in ("UPDATE", "DELETE"):
                conn.exec_driver_sql(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")
    elif conn.dialect.name == "postgresql":
        conn.execute(text(
            "CREATE OR REPLACE FUNCTION callqa_append_only() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql"))
        for table in APPEND_ONLY:
            conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"))
            conn.execute(text(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                              "FOR EACH ROW EXECUTE FUNCTION callqa_append_only()"))
