"""The filter options the report commands share (queue, clips, review), turned into one `Filters`."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click

from callqa.model import SEVERITIES, Status
from callqa.terminal import plain
from reports.tables import Filters, ReportError

_DATE = click.DateTime(formats=["%Y-%m-%d"])
_PERIOD = [
    click.option("--week", default=None, metavar="YYYY-Www", help="Only the calls of this ISO week, e.g. 2026-W47."),
    click.option("--from", "date_from", type=_DATE, default=None, metavar="YYYY-MM-DD", help="First call date."),
    click.option("--to", "date_to", type=_DATE, default=None, metavar="YYYY-MM-DD", help="Last call date, inclusive."),
]
_FINDINGS = [
    click.option("--rule", multiple=True, help="Rule id (forbidden.blame) or family (forbidden); repeatable."),
    click.option("--severity", multiple=True, type=click.Choice([s.value for s in SEVERITIES]),
                 help="Finding severity; repeatable."),
    click.option("--status", multiple=True, type=click.Choice([s.value for s in Status]),
                 help="violation, alert or needs_review (findings to verify: the recogniser was unsure); repeatable."),
    click.option("--agent", multiple=True, help="Agent id; repeatable."),
    click.option("--team", multiple=True, help="Team; repeatable."),
    click.option("--questionnaire", multiple=True, help="Questionnaire (traditional, participating…); repeatable."),
]
_NAMES = ("rule", "severity", "status", "agent", "team", "questionnaire", "week", "date_from", "date_to")


def _with_filters(options: list[Callable[[Any], Any]]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def run(**kwargs: Any) -> Any:
            given = {k: kwargs.pop(k) for k in _NAMES if k in kwargs}
            for k in ("date_from", "date_to"):
                if given.get(k) is not None:
                    given[k] = given[k].date()
            filters = Filters(**{k: v for k, v in given.items() if v is not None})
            try:
                filters.date_range()  # a bad week is a usage error, before anything is read or written
            except ReportError as exc:
                click.echo(f"callqa: error: {plain(exc)}", err=True)
                sys.exit(2)
            return command(filters=filters, **kwargs)

        for option in reversed(options):
            run = option(run)
        return run

    return decorate


period_options = _with_filters(_PERIOD)
filter_options = _with_filters(_FINDINGS + _PERIOD)
