"""`callqa clips`: bad-example audio clips for trainers, one per matching finding, with an index page."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from callqa.cli_filters import filter_options
from callqa.cli_tables import open_tables, table_errors
from callqa.terminal import plain
from reports.clips import ClipOptions, make_clips
from reports.tables import Filters, ReportError


def _error(message: str) -> None:
    click.echo(f"callqa: error: {plain(message)}", err=True)


@click.command(short_help="Cut audio clips of matching findings, for training.")
@filter_options
@click.option("--results", type=click.Path(file_okay=False, path_type=Path), default=Path("out"), show_default=True,
              help="The output folder of `callqa run`.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write the clips, index.csv and index.html into.")
@click.option("--context", type=click.FloatRange(min=0), default=3.0, show_default=True,
              help="Seconds of recording kept before and after each finding.")
@click.option("--max-span", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
              help="Longer findings are clipped to their first this many seconds (marked truncated).")
def clips(filters: Filters, results: Path, out_dir: Path, context: float, max_span: float) -> None:
    """Cut one audio clip per matching finding, with context, for training.

    Clips are cut from the original recordings without re-encoding and listed in OUT/index.csv and
    OUT/index.html (open it in a browser to listen through). Personal numbers are masked in the index.

    Exit status: 0 when every matching finding was clipped or could not be placed in time (those are
    listed), 1 when a recording was missing or unreadable (named; the other clips are still written),
    2 on a usage error or when RESULTS holds no result tables.
    """
    try:
        with table_errors(results):
            tables = open_tables(results)
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
            click.echo(f"  {plain(line)}")
    click.echo(f"index: {report.index_html} ({report.index_csv.name} beside it)")
    sys.exit(1 if any(s.recording_problem for s in report.skipped) else 0)
