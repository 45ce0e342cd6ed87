"""Times as the workspace stores them (ISO 8601 text in UTC) and deadlines in working days."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIMEZONE = "Asia/Shanghai"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def stamp(moment: dt.datetime | None = None) -> str:
    """'2026-11-23T08:00:00+00:00'."""
    moment = moment or now()
    if moment.tzinfo is None:
        raise ValueError("a naive time cannot be stored: give its time zone")
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat()


def parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def local_zone() -> ZoneInfo:
    """Where working days are counted: CALLQA_TIMEZONE, default Asia/Shanghai."""
    name = os.environ.get("CALLQA_TIMEZONE") or DEFAULT_TIMEZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"CALLQA_TIMEZONE={name!r}: not a time zone") from None


def add_working_days(start: dt.datetime, days: int, holidays: Iterable[dt.date] = (),
                     zone: ZoneInfo | None = None) -> dt.datetime:
    """`days` working days after `start` (Monday to Friday, not a holiday), at the same local time of day.
    A start on a day off counts from the next working day's start: a case sent on Saturday is due at the
    end of Tuesday, not on Monday evening."""
    zone = zone or local_zone()
    off = set(holidays)
    local = start.astimezone(zone)

    def working(day: dt.date) -> bool:
        return day.weekday() < 5 and day not in off

    if not working(local.date()):  # counted from the start of the next working day
        day = local.date()
        while not working(day):
            day += dt.timedelta(days=1)
        local = dt.datetime.combine(day, dt.time(0), zone)
    day, left = local.date(), days
    while left:
        day += dt.timedelta(days=1)
        if working(day):
            left -= 1
    return dt.datetime.combine(day, local.time(), zone).astimezone(dt.UTC)
