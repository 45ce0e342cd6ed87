"""`callqa scorecard`: the weekly scorecard of a results folder as HTML, Excel and CSV."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import NoReturn

import click

from callqa.terminal import plain


def _error(message: str) -> NoReturn:
    click.echo(f"callqa: error: {plain(message)}", err=True)
    sys.exit(2)


def _formats(text: str) -> list[str]:
    from reports.scorecard import FORMATS

    wanted = [f.strip().lower() for f in text.split(",") if f.strip()]
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown or not wanted:
        _error(f"--format {text!r}: expected a comma-separated list of {', '.join(FORMATS)}")
    return list(dict.fromkeys(wanted))


@click.command(short_help="Write the weekly scorecard per agent and team.")
@click.option("--week", default=None, metavar="YYYY-Www",
              help="ISO week, e.g. 2026-W47 (default: the latest week that has calls).")
@click.option("--results", "--out", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("out"), show_default=True,
              help="Results folder of `callqa run`.")
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the files (default: RESULTS/scorecards/<week>/).")
@click.option("--weeks-back", type=click.IntRange(1, 104), default=8, show_default=True,
              help="Weeks in the trend, the scorecard's week included.")
@click.option("--format", "formats", default="html,xlsx,csv", show_default=True,
              help="Any of html, xlsx, csv, comma-separated.")
@click.option("--db", default=None, help="The review workspace (a SQLite file or database URL) for reviewed scores and "
              "follow-up cases; default RESULTS/workspace.sqlite3 where it exists.")
@click.option("--serve", is_flag=True,
              help="Instead: serve the Prefect deployment that writes last week's scorecard every Monday 07:00.")
def scorecard(week: str | None, out: Path, dest: Path | None, weeks_back: int, formats: str, db: str | None,
              serve: bool) -> None:
    """Weekly scorecards per agent and team: pass rate, dimension scores, top violations, speaking
    rate, alerts, and the trend of the weeks before with week-on-week change.

    Exit status: 0 when written, 2 on an error (no tables, a bad week, a week without calls).
    """
    from reports.scorecard import build_scorecard, latest_week
    from reports.scorecard_files import write_all
    from reports.tables import ReportError
    from workspace.db import DatabaseError
    from workspace.store import results_workspace

    from .cli_tables import open_tables, table_errors

    chosen = _formats(formats)
    if serve:
        if week:
            _error("--week cannot be used with --serve: each Monday's run takes the week that just ended")
        from reports.weekly import CRON, TIMEZONE, deploy_weekly, require_server

        if not (out / "tables").is_dir():
            _error(f"{out}: no result tables here (expected {out / 'tables'})")
        try:
            require_server()
        except ReportError as exc:
            _error(str(exc))
        click.echo(f"serving the weekly scorecard of {out}: {CRON} ({TIMEZONE}); stop with Ctrl-C")
        deploy_weekly(out, str(dest) if dest else None, weeks_back, db=db)
        return
    latest = not week
    try:
        workspace = results_workspace(out, db)
    except DatabaseError as exc:
        _error(str(exc))
    try:
        with table_errors(out):
            tables = open_tables(out)
            week = week or latest_week(tables)
            sc = build_scorecard(tables, week, weeks_back, workspace=workspace)
        files = write_all(sc, dest or out / "scorecards" / sc.week, chosen)
    except ReportError as exc:
        _error(str(exc))
    except OSError as exc:
        _error(f"writing the scorecard: {exc}")
    o = sc.overall.row(0, named=True)
    which = ""
    if latest:  # say why this week, and whether it is over yet
        over = sc.sunday < dt.date.today()
        which = f", the latest week with calls{'' if over else ', not over yet'}; --week picks another"
    click.echo(f"scorecard {sc.week} ({sc.monday} – {sc.sunday}{which}): {o['calls']} calls, "
               f"{len(sc.teams)} teams, {len(sc.agents)} agents")
    for f in files:
        click.echo(f"  {f}")
