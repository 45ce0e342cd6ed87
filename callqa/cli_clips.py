"""`callqa clips`: bad-example audio clips for trainers, one per matching finding, with an index page."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from reports.clips import ClipOptions, make_clips
from reports.tables import SEVERITIES, Filters, ReportError, Tables


def _error(message: str) -> None:
    click.echo(f"callqa: error: {message}", err=True)


@click.command()
@click.option("--rule", multiple=True, help="Rule id (forbidden.blame) or family (forbidden); repeatable.")
@click.option("--severity", multiple=True, type=click.Choice(SEVERITIES), help="Repeatable.")
@click.option("--agent", multiple=True, help="Agent id; repeatable.")
@click.option("--team", multiple=True, help="Team; repeatable.")
@click.option("--week", default=None, help="ISO week of the calls, e.g. 2026-W47.")
@click.option("--from", "date_from", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="First call date (YYYY-MM-DD).")
@click.option("--to", "date_to", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Last call date, inclusive (YYYY-MM-DD).")
@click.option("--results", type=click.Path(file_okay=False, path_type=Path), default=Path("out"), show_default=True,
              help="The output folder of `callqa run`.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write the clips, index.csv and index.html into.")
@click.option("--context", type=click.FloatRange(min=0), default=3.0, show_default=True,
              help="Seconds of recording kept before and after each finding.")
@click.option("--max-span", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
              help="Longer findings are clipped to their first this many seconds (marked truncated).")
def clips(rule: tuple[str, ...], severity: tuple[str, ...], agent: tuple[str, ...], team: tuple[str, ...],
          week: str | None, date_from: dt.datetime | None, date_to: dt.datetime | None, results: Path, out_dir: Path, context: float,
          max_span: float) -> None:
    """Cut one audio clip per matching finding, with context, for training.

    Clips are cut from the original recordings without re-encoding and listed in OUT/index.csv and
    OUT/index.html (open it in a browser to listen through). Personal numbers are masked in the index.

    Exit status: 0 when every matching finding was clipped or could not be placed in time (those are
    listed), 1 when a recording was missing or unreadable (named; the other clips are still written),
    2 on a usage error or when RESULTS holds no result tables.
    """
    try:
        filters = Filters(rule=rule, severity=severity, agent=agent, team=team, week=week,
                          date_from=date_from.date() if date_from else None,
                          date_to=date_to.date() if date_to else None)
        filters.date_range()  # a bad week is a usage error, before any file is written
        tables = Tables(results)
        report = make_clips(tables, filters, out_dir, ClipOptions(context_s=context, max_span_s=max_span))
    except ReportError as exc:
        _error(str(exc))
        sys.exit(2)
    except OSError as exc:  # the clips folder cannot be written
        _error(f"{out_dir}: {exc}")
        sys.exit(1)

    if not report.clips and not report.skipped:
        click.echo("no findings match these filters; the index is empty")
    else:
        click.echo(f"{len(report.clips)} clips written to {out_dir}")
    if report.skipped:
        click.echo(f"{len(report.skipped)} findings skipped:")
    for s in report.skipped:
        where = f"{s.start:.1f}s" if s.start is not None else "-"
        line = f"{s.rule}  {s.call_id}  {where}: {s.reason}"
        # a missing or unreadable recording is an error someone must act on; the rest are notes
        if s.recording_problem:
            _error(line)
        else:
            click.echo(f"  {line}")
    click.echo(f"index: {report.index_html} ({report.index_csv.name} beside it)")
    sys.exit(1 if any(s.recording_problem for s in report.skipped) else 0)
