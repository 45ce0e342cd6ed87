"""The result tables as reports read them: lazy polars frames, one row per call at its newest scoring.

Every report (queue, review pages, scorecards, clips) starts here, so "the latest scoring of a call"
and "the calls of week 2026-W47" mean the same thing everywhere.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from results.store import newest_scorings, scan_table

_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)


class ReportError(ValueError):
    """A report cannot be made: no tables, a bad week, an unknown filter value."""


def parse_week(text: str) -> tuple[dt.date, dt.date]:
    """'2026-W47' -> (Monday of that ISO week, the Monday after)."""
    m = _WEEK.match(text.strip())
    if not m:
        raise ReportError(f"week {text!r}: expected an ISO week like 2026-W47")
    year, week = int(m.group(1)), int(m.group(2))
    try:
        monday = dt.date.fromisocalendar(year, week, 1)
    except ValueError as exc:
        raise ReportError(f"week {text!r}: {exc}") from None
    return monday, monday + dt.timedelta(days=7)


def iso_week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def call_date() -> pl.Expr:
    """The call's local date: the date part of `started_at` as recorded (its own time zone)."""
    return pl.col("started_at").str.slice(0, 10).str.to_date(format="%Y-%m-%d", strict=False).alias("date")


@dataclass
class Tables:
    """The calls and findings of an output folder (`callqa run --out`), newest scoring per call."""

    out_dir: Path
    calls: pl.LazyFrame = field(init=False)
    findings: pl.LazyFrame = field(init=False)
    # damaged table parts left out of the frames, each named with its problem: reports warn about them
    problems: list[str] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        if not (self.out_dir / "tables").is_dir():
            raise ReportError(f"{self.out_dir}: no result tables here (expected {self.out_dir / 'tables'}; "
                              "run `callqa run RECORDINGS --out DIR` first)")
        # collected once (two columns): the frames below then scan the tables for their own rows only, and a
        # semi join only drops rows, so filters on them reach the Parquet scans. (call_id, run_id) is unique:
        # a run's rows are tabled once (ResultStore.sync_tables).
        calls = scan_table(self.out_dir, "calls", self.problems)
        newest = newest_scorings(calls).collect().lazy()
        self.calls = calls.join(newest, on=["call_id", "run_id"], how="semi").with_columns(call_date())
        self.findings = (scan_table(self.out_dir, "findings", self.problems)
                         .join(newest, on=["call_id", "run_id"], how="semi").with_columns(call_date()))

    def recording_path(self, recording: str | None) -> Path | None:
        return resolve_recording(self.out_dir, recording)


def resolve_recording(out_dir: Path, recording: str | None) -> Path | None:
    """Where a call's recording is now: as stored, else relative to the working folder, the output
    folder's parent or the output folder (a run given relative paths stores them as given)."""
    if not recording:
        return None
    path = Path(recording)
    candidates = [path] if path.is_absolute() else [Path.cwd() / path, out_dir.parent / path, out_dir / path]
    for c in candidates:
        if c.is_file():
            return c.resolve()
    return None


@dataclass(frozen=True)
class Filters:
    """What a queue, an export or a set of clips is narrowed to. Empty fields do not filter."""

    rule: tuple[str, ...] = ()
    severity: tuple[str, ...] = ()
    status: tuple[str, ...] = ()  # violation, alert, needs_review (to verify)
    agent: tuple[str, ...] = ()
    team: tuple[str, ...] = ()
    questionnaire: tuple[str, ...] = ()
    date_from: dt.date | None = None
    date_to: dt.date | None = None  # inclusive
    week: str | None = None

    def date_range(self) -> tuple[dt.date | None, dt.date | None]:
        lo, hi = self.date_from, self.date_to
        if self.week:
            monday, next_monday = parse_week(self.week)
            sunday = next_monday - dt.timedelta(days=1)
            lo = max(lo, monday) if lo else monday
            hi = min(hi, sunday) if hi else sunday
        return lo, hi

    def shared_level(self) -> pl.Expr:
        """Conditions on the columns calls and findings both carry (agent, team, date)."""
        cond = pl.lit(True)
        if self.agent:
            cond &= pl.col("agent_id").is_in(list(self.agent))
        if self.team:
            cond &= pl.col("team").is_in(list(self.team))
        lo, hi = self.date_range()
        # the same bounds on the raw ISO text as well: a condition on a stored column reaches the Parquet
        # scan (files and row groups of other weeks are skipped); the one on `date` is the exact one
        if lo:
            cond &= (pl.col("started_at") >= lo.isoformat()) & (pl.col("date") >= lo)
        if hi:
            cond &= (pl.col("started_at") < (hi + dt.timedelta(days=1)).isoformat()) & (pl.col("date") <= hi)
        return cond

    def call_level(self) -> pl.Expr:
        """Conditions on a call's own columns (agent, team, date, questionnaire)."""
        cond = self.shared_level()
        if self.questionnaire:
            # a merged policy ("traditional+participating") matches each of its parts
            parts = pl.col("questionnaire").fill_null("").str.split("+")
            cond &= parts.list.eval(pl.element().is_in(list(self.questionnaire))).list.any()
        return cond

    def finding_level(self) -> pl.Expr:
        cond = pl.lit(True)
        if self.rule:  # a rule id, or a family ("forbidden" matches forbidden.blame, forbidden.vague…)
            cond &= pl.any_horizontal([(pl.col("rule") == r) | pl.col("rule").str.starts_with(r.rstrip(".") + ".")
                                       for r in self.rule])
        if self.severity:
            cond &= pl.col("severity").is_in(list(self.severity))
        if self.status:
            cond &= pl.col("status").fill_null(pl.col("kind")).is_in(list(self.status))
        return cond

    def apply_calls(self, tables: Tables) -> pl.LazyFrame:
        calls = tables.calls.filter(self.call_level())
        if self.rule or self.severity or self.status:
            hit = tables.findings.filter(self.shared_level() & self.finding_level()).select("call_id").unique()
            calls = calls.join(hit, on="call_id", how="semi")
        return calls

    def apply_findings(self, tables: Tables) -> pl.LazyFrame:
        findings = tables.findings.filter(self.shared_level() & self.finding_level())
        if self.questionnaire:  # a column of the call, not of its findings
            findings = findings.join(tables.calls.filter(self.call_level()).select("call_id"), on="call_id",
                                     how="semi")
        return findings


def worst_first(calls: pl.LazyFrame) -> pl.LazyFrame:
    """Failed calls first, then by critical and other findings, then by score (lowest first)."""
    return calls.sort(["passed", "n_critical", "score", "n_findings", "call_id"],
                      descending=[False, True, False, True, False], nulls_last=True)
