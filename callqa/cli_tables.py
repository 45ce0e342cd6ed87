"""The result tables as the command line opens them: damaged parts named, never a bare polars traceback."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from callqa.terminal import plain
from reports.tables import Tables


def warn_damaged(lines: list[str]) -> None:
    for line in lines:
        click.echo(f"callqa: warning: {plain(line)}", err=True)


def open_tables(out: Path) -> Tables:
    """The tables of OUT, each damaged part left out with a warning naming it."""
    tables = Tables(out)
    warn_damaged(tables.problems)
    return tables


@contextlib.contextmanager
def table_errors(out: Path) -> Iterator[None]:
    """A table that fails past its footer (a damaged page inside a file) stops the command with an error
    naming the file, found by reading each part whole; exit status 2."""
    import polars as pl

    try:
        yield
    except pl.exceptions.PolarsError as exc:
        from results.store import damaged_parts

        named = damaged_parts(out)
        message = "; ".join(named) if named else f"{out}: the result tables cannot be read: {exc}"
        click.echo(f"callqa: error: {plain(message)}", err=True)
        sys.exit(2)
