"""Case figures for managers and the weekly scorecard: on-time handling and open cases by age, per team."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .cases import CLOSED, GRADES, RESOLVED, Case
from .times import now, stamp

ALL_TEAMS = "全部"
UNKNOWN_TEAM = "未知"
# how long open cases have been waiting: (upper bound in hours, column key, label)
AGE_BUCKETS: tuple[tuple[float | None, str, str], ...] = (
    (24, "open_lt1d", "不足1天"), (48, "open_1to2d", "1–2天"), (120, "open_2to5d", "2–5天"), (None, "open_gt5d", "5天以上"))


@dataclass
class CaseFigures:
    team: str
    opened: int = 0  # cases opened in the period
    decided: int = 0  # of those, handled or overdue: the ones an on-time rate can speak about
    on_time: int = 0
    open_now: int = 0  # not resolved or closed, whenever opened
    overdue_now: int = 0
    by_age: dict[str, int] = field(default_factory=lambda: {key: 0 for _, key, _ in AGE_BUCKETS})  # per AGE_BUCKETS key
    by_grade: dict[str, int] = field(default_factory=lambda: dict.fromkeys(GRADES, 0))  # open cases per grade

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.decided if self.decided else None


def age_bucket(hours: float) -> str:
    """The AGE_BUCKETS key of a case open this many hours."""
    for bound, key, _ in AGE_BUCKETS:
        if bound is None or hours < bound:
            return key
    return AGE_BUCKETS[-1][1]


def opened_between(start: dt.datetime | None, end: dt.datetime | None) -> Callable[[Case], bool]:
    lo, hi = (stamp(start) if start else None), (stamp(end) if end else None)
    return lambda case: (lo is None or case.opened_at >= lo) and (hi is None or case.opened_at < hi)


def calls_dated(first: dt.date, last: dt.date) -> Callable[[Case], bool]:
    """Cases of the calls made from `first` to `last` (the call's own date, as the scorecards count calls)."""
    lo, hi = first.isoformat(), last.isoformat()
    return lambda case: bool(case.call_started_at) and lo <= (case.call_started_at or "")[:10] <= hi


def case_figures(cases: Iterable[Case], in_period: Callable[[Case], bool] | None = None,
                 at: dt.datetime | None = None) -> list[CaseFigures]:
    """Per team and for all teams (first): the on-time rate of the cases `in_period` (default: all) that
    were handled or are overdue, and the cases open at `at` by age and grade."""
    at = at or now()
    teams: dict[str, CaseFigures] = {ALL_TEAMS: CaseFigures(ALL_TEAMS)}
    for case in cases:
        team = case.team or UNKNOWN_TEAM
        rows = (teams[ALL_TEAMS], teams.setdefault(team, CaseFigures(team)))
        counted = in_period is None or in_period(case)
        verdict = case.on_time(at)
        still_open = case.status not in (RESOLVED, CLOSED)
        for row in rows:
            if counted:
                row.opened += 1
                if verdict is not None:
                    row.decided += 1
                    row.on_time += verdict
            if still_open:
                row.open_now += 1
                row.overdue_now += case.overdue(at)
                row.by_age[age_bucket(case.age_hours(at))] += 1
                if case.grade in row.by_grade:
                    row.by_grade[case.grade] += 1
    return [teams[ALL_TEAMS], *(teams[t] for t in sorted(teams) if t != ALL_TEAMS)]
