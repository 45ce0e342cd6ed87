"""`callqa serve` (the review workspace on the web) and `callqa users` (its accounts)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

import click

from workspace.roles import ROLE_LABEL, Role

_ROLES = click.Choice([r.value for r in Role])
_RESULTS = click.option("--results", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("out"),
                        show_default=True, help="The `callqa run` output folder.")
_DB = click.option("--db", default=None, help="The workspace database: a SQLite file or a database URL such as "
                   "postgresql+psycopg://user@host/callqa (default RESULTS/workspace.sqlite3).")


def _error(message: str, code: int = 2) -> NoReturn:
    click.echo(f"callqa: error: {message}", err=True)
    sys.exit(code)


def _database(out: Path, db: str | None) -> str:
    from workspace.db import default_location

    return db or os.environ.get("CALLQA_DB") or str(default_location(out))


@click.command(short_help="Serve the review workspace: logins, queue, reviews, cases.")
@_RESULTS
@_DB
@click.option("--recordings", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The folder recordings are served from; a recording anywhere else is refused. "
                   "Default $CALLQA_RECORDINGS; without it no audio is served.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every network interface; then name --allowed-host).")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--allowed-host", "allowed_hosts", multiple=True,
              help="A host name the server answers to besides localhost and --host (repeatable); any other "
                   "Host header is refused (DNS rebinding).")
@click.option("--trusted-origin", "trusted_origins", multiple=True,
              help="Another origin allowed to post, e.g. https://qa.example.com behind a TLS proxy (repeatable).")
@click.option("--secure-cookies", is_flag=True, help="Send the session cookie over HTTPS only (behind TLS).")
@click.option("--lexicons", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Lexicon folder (default: $CALLQA_LEXICONS, else the bundled lexicons/).")
def serve(out: Path, db: str | None, recordings: Path | None, host: str, port: int, allowed_hosts: tuple[str, ...],
          trusted_origins: tuple[str, ...], secure_cookies: bool, lexicons: Path | None) -> None:
    """Serve the review workspace: logins and roles, the queue and review pages with the recordings, decisions,
    appeals, follow-up cases (问题件), assignments, scorecards and the audit log."""
    from qa_checks import LexiconError
    from reports.tables import ReportError
    from webapp.app import create_app, describe
    from webapp.serve import first_admin, run
    from webapp.settings import LOCAL_HOSTS, WebSettings
    from workspace.cases import CaseError, CaseSettings
    from workspace.db import DatabaseError
    from workspace.store import Workspace

    recordings = recordings or (Path(os.environ["CALLQA_RECORDINGS"]) if os.environ.get("CALLQA_RECORDINGS") else None)
    if recordings is not None and not recordings.is_dir():
        _error(f"--recordings {recordings}: not a folder")
    hosts = tuple(dict.fromkeys([*LOCAL_HOSTS, *([host] if host not in ("0.0.0.0", "::", "") else []),
                                 *allowed_hosts]))
    try:
        settings = WebSettings(out, _database(out, db), recordings, hosts, trusted_origins, secure_cookies, lexicons,
                               cases=CaseSettings.from_env())
        workspace = Workspace.open(settings.database, settings.cases)
        app = create_app(settings, workspace)
    except (ReportError, LexiconError, DatabaseError, CaseError, OSError) as exc:
        _error(str(exc))
    admin = first_admin(workspace)
    if admin:
        click.echo(f"first run: administrator {admin[0]!r} created with password {admin[1]} "
                   "(shown this once; sign in and add the team's users, or use `callqa users add`)")
    where = describe(app)
    click.echo(f"callqa review workspace on http://{host}:{port}/ (Ctrl-C to stop); database {where['database']}; "
               + (f"recordings from {where['recordings']}" if where["recordings"] else "no recordings folder: no audio"))
    try:
        run(app, host, port)
    except (OSError, SystemExit) as exc:
        _error(f"cannot serve on {host}:{port}: {exc}")


@click.group(short_help="Add and list the review workspace's users.")
def users() -> None:
    """The review workspace's accounts: analyst, team_lead, qa_lead, trainer, manager, admin."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=_ROLES, required=True)
@click.option("--team", default=None, help="The team of a team lead (required for team_lead).")
@click.option("--password", default=None, help="The password (at least 10 characters); default: prompted, or "
              "generated and printed once with --generate.")
@click.option("--generate", is_flag=True, help="Generate a password and print it once.")
@_RESULTS
@_DB
def users_add(name: str, role: str, team: str | None, password: str | None, generate: bool, out: Path,
              db: str | None) -> None:
    """Add a user (the first one may be the administrator: then no password is generated at `serve`)."""
    from workspace.db import DatabaseError
    from workspace.store import Workspace
    from workspace.users import UserError, new_password

    if generate:
        password = new_password()
    elif password is None:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        user = Workspace.open(_database(out, db)).users.add(name, role, password or "", team)
    except (UserError, DatabaseError, ValueError) as exc:
        _error(str(exc))
    click.echo(f"added {user.name} ({ROLE_LABEL[user.role]}{', ' + user.team if user.team else ''})"
               + (f"; password {password} (shown this once)" if generate else ""))


@users.command("list")
@_RESULTS
@_DB
def users_list(out: Path, db: str | None) -> None:
    """List the users."""
    from workspace.db import DatabaseError
    from workspace.store import Workspace

    try:
        found = Workspace.open(_database(out, db), create=False).users.all()
    except DatabaseError as exc:
        _error(str(exc))
    for u in found:
        click.echo(f"{u.name}\t{u.role.value}\t{u.team or ''}\t{'active' if u.active else 'disabled'}")
