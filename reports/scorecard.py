"""Weekly scorecards for managers: per agent and per team, with the trend of the weeks before.

    sc = build_scorecard(Tables("out"), "2026-W47", weeks_back=8)
    write_html(sc, "scorecard.html"); write_excel(sc, "scorecard.xlsx"); write_csv(sc, "csv/")

Numbers come from `Tables` (newest scoring per call, local call date), so a scorecard counts the same
calls as every other report. The work is staged: the keys of the newest scorings dated in the weeks
involved (a pass over call_id/run_id/started_at of the whole history), then lazy scans of only the needed
columns of those weeks (the filter on `started_at` lets parquet skip other weeks' row groups), reduced to
per week × team × agent partial sums; every table is derived from those small frames.

Definitions (the HTML and Excel sheets label them in Chinese):
- pass rate: calls passed / calls with a verdict; means are over calls with a value.
- speaking-rate bands use `rate.lower`/`rate.upper` of lexicons/settings.yaml (100–150 字/分钟, both
  ends inside the band); shares are over calls with a measured rate.
- violations count findings of kind `violation` (every severity); `calls` beside them counts calls.
- alerts (kind `alert`: 退保预警, 投诉, 销售误导, 否定回答) count calls with the alert (the alerts table also
  counts findings: one call may raise an alert twice).
- week-on-week change: this week minus the previous ISO week of the same agent or team (pass rate in
  fractions, i.e. 0.05 = 5 percentage points); empty when either week has no calls.
- an agent is keyed by (team, agent_id): an agent who changed team shows once per team.
- a week without calls is an error (`ReportError` naming the week and the folder), not an empty report:
  a scheduled scorecard of an empty week means calls did not reach the tables, which someone must see.
- with the review workspace (`workspace`): the reviewed score beside the automatic one (a reviewed call
  counts with its false alarms given back, the others with their automatic score; see reviewed.py), and
  the follow-up cases of the week's calls: the share handled within their deadlines (of those handled or
  overdue), and the cases open now by age and grade.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from callqa.model import DIMENSIONS
from qa_checks import load_lexicon
from workspace.case_stats import AGE_BUCKETS, ALL_TEAMS, calls_dated, case_figures
from workspace.cases import GRADES
from workspace.store import Workspace

from .charts import RATE_BIN
from .reviewed import reviewed_scores
from .tables import Filters, ReportError, Tables, iso_week, parse_week

KEY_ALERTS = ("alert.surrender", "alert.complaint", "alert.misleading_sale")  # 退保预警, 投诉, 销售误导

UNKNOWN = "未知"  # calls without a team or agent id still count, under this name
TOP_OVERALL = 10
TOP_GROUP = 5
FORMATS = ("html", "xlsx", "csv")

# ---------------------------------------------------------------------------------------------------
# result


@dataclass(frozen=True)
class Scorecard:
    """A week's scorecard. Frames, keyed by `level` (overall | team | agent) where they mix levels:

    overall    one row: the week for everyone
    teams      one row per team; agents: one row per (team, agent_id) with calls this week
    violations the most frequent violation rules, per level and group (rank 1 = most findings)
    alerts     every alert rule raised, per level and group
    rate_bins  speaking-rate histogram in RATE_BIN-字 bins per level and group (`bin` = lower edge)
    trend      per week of `weeks`, overall and per team of this week, with week-on-week change
    """

    week: str
    monday: dt.date
    sunday: dt.date
    weeks: tuple[str, ...]  # the trend's weeks, oldest first, ending with `week`
    out_dir: str
    rate_lower: float
    rate_upper: float
    pass_target: float  # pass rates at or above it are on target (green); under pass_alarm, red
    pass_alarm: float
    overall: pl.DataFrame
    teams: pl.DataFrame
    agents: pl.DataFrame
    violations: pl.DataFrame
    alerts: pl.DataFrame
    rate_bins: pl.DataFrame
    trend: pl.DataFrame
    rules: dict[str, dict[str, str]] = field(default_factory=dict)  # the catalogue: titles, severities
    generated_at: str = field(default_factory=lambda: dt.datetime.now().astimezone().isoformat(timespec="seconds"))
    reviewed: pl.DataFrame | None = None  # per level: automatic and reviewed score and pass rate (with a workspace)
    cases: pl.DataFrame | None = None  # per team: on-time handling, open cases by age and grade (with a workspace)

    def frames(self) -> dict[str, pl.DataFrame]:
        frames = {"overall": self.overall, "teams": self.teams, "agents": self.agents, "violations": self.violations,
                  "alerts": self.alerts, "rate_bins": self.rate_bins, "trend": self.trend}
        if self.reviewed is not None:
            frames["reviewed"] = self.reviewed
        if self.cases is not None:
            frames["cases"] = self.cases
        return frames

    def trend_weeks_with_calls(self) -> list[str]:
        """The trend's weeks that have any call: a trend needs two of them."""
        return self.trend.filter((pl.col("level") == "overall") & (pl.col("calls") > 0))["week"].to_list()

    def title(self, rule: str) -> str:
        return self.rules.get(rule, {}).get("title", rule)

    def severity(self, rule: str) -> str | None:
        return self.rules.get(rule, {}).get("severity")


# ---------------------------------------------------------------------------------------------------
# the QA team's catalogue: rule titles and the speaking-rate band


def rule_catalogue(lexicons: str | os.PathLike[str] | None = None) -> dict[str, dict[str, str]]:
    """rule id -> {title, severity, kind, dimension} from the rule catalogue (a rule no longer there shows its
    id, uncoloured)."""
    return {rid: {"title": spec.title, "severity": spec.severity, "kind": spec.kind, "dimension": spec.dimension}
            for rid, spec in load_lexicon(lexicons).rules.items()}


def rate_band(lexicons: str | os.PathLike[str] | None = None) -> tuple[float, float]:
    lex = load_lexicon(lexicons)
    return float(lex.setting("rate.lower")), float(lex.setting("rate.upper"))


def pass_rate_bounds(lexicons: str | os.PathLike[str] | None = None) -> tuple[float, float]:
    """The team's pass-rate target and the alarm level under it (settings.yaml `scorecard`)."""
    lex = load_lexicon(lexicons)
    target, alarm = lex.setting("scorecard.pass_rate_target"), lex.setting("scorecard.pass_rate_alarm")
    for name, value in (("pass_rate_target", target), ("pass_rate_alarm", alarm)):
        if not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ReportError(f"{lex.directory / 'settings.yaml'}: scorecard.{name} {value!r}: expected a share "
                              "between 0 and 1 (0.9 = 90%)")
    if alarm > target:
        raise ReportError(f"{lex.directory / 'settings.yaml'}: scorecard.pass_rate_alarm {alarm} is above "
                          f"pass_rate_target {target}")
    return float(target), float(alarm)


def alert_column(rule: str) -> str:
    return rule.replace(".", "_")


# ---------------------------------------------------------------------------------------------------
# building


def _keys(frame: pl.LazyFrame) -> pl.LazyFrame:
    return frame.with_columns(pl.col("team").fill_null(UNKNOWN), pl.col("agent_id").fill_null(UNKNOWN))


def _in_dates(lo: dt.date, hi: dt.date) -> pl.Expr:
    return pl.col("date").is_between(lo, hi)


def _call_partials(calls: pl.LazyFrame, lower: float, upper: float) -> pl.LazyFrame:
    """Additive sums per week × team × agent: every call-level figure is derived from these."""
    rate = pl.col("agent_chars_per_min")
    sums: list[pl.Expr] = [
        pl.len().alias("calls"),
        pl.col("passed").sum().alias("passed"),
        pl.col("passed").count().alias("judged"),
        pl.col("score").sum().alias("score_sum"), pl.col("score").count().alias("score_n"),
    ]
    for dim in DIMENSIONS:
        sums += [pl.col(dim).sum().alias(f"{dim}_sum"), pl.col(dim).count().alias(f"{dim}_n")]
    sums += [
        rate.sum().alias("rate_sum"), rate.count().alias("rate_measured"),
        (rate < lower).sum().alias("rate_below"),
        rate.is_between(lower, upper).sum().alias("rate_within"),
        (rate > upper).sum().alias("rate_above"),
    ]
    counts = [e.meta.output_name() for e in sums if not e.meta.output_name().endswith("_sum")]
    return (calls.with_columns(pl.col("date").dt.truncate("1w").alias("week_start"))
            .group_by("week_start", "team", "agent_id").agg(sums)
            .with_columns(pl.col(counts).cast(pl.Int64)))


def _ratio(num: str, den: str) -> pl.Expr:
    return pl.when(pl.col(den) > 0).then(pl.col(num) / pl.col(den)).otherwise(None)


def _summarise(partials: pl.LazyFrame, keys: Sequence[str]) -> pl.LazyFrame:
    """Sum the partials over `keys` and turn the sums into rates and means."""
    sum_cols = [c for c in partials.collect_schema().names() if c not in ("week_start", "team", "agent_id")]
    aggs = [pl.col(c).sum() for c in sum_cols]
    if "agent_id" not in keys:
        aggs.append(pl.col("agent_id").n_unique().cast(pl.Int64).alias("agents"))
    summed = partials.group_by(*keys).agg(aggs) if keys else partials.select(aggs)
    means = [_ratio(f"{c}_sum", f"{c}_n").alias(c) for c in ("score", *DIMENSIONS)]
    return summed.select(
        *keys, *(["agents"] if "agent_id" not in keys else []),
        pl.col("calls"), pl.col("passed"),
        _ratio("passed", "judged").alias("pass_rate"),
        *means,
        _ratio("rate_sum", "rate_measured").alias("rate_mean"),
        pl.col("rate_measured"),
        *(_ratio(f"rate_{b}", "rate_measured").alias(f"rate_{b}") for b in ("below", "within", "above")),
    )


def _finding_counts(findings: pl.LazyFrame) -> pl.LazyFrame:
    """Findings and calls per team × agent × rule (rule-level and agent-level figures derive from it)."""
    return (findings.group_by("team", "agent_id", "rule", "kind")
            .agg(pl.len().cast(pl.Int64).alias("findings"), pl.col("call_id").n_unique().cast(pl.Int64).alias("calls")))


def _agent_finding_calls(findings: pl.LazyFrame) -> pl.LazyFrame:
    """Per agent: violations, and calls with a critical violation or with any alert (a call once)."""
    viol = pl.col("kind") == "violation"
    return findings.group_by("team", "agent_id").agg(
        viol.sum().cast(pl.Int64).alias("violations"),
        pl.col("call_id").filter(viol & (pl.col("severity") == "critical")).n_unique().cast(pl.Int64)
        .alias("critical_calls"),
        pl.col("call_id").filter(pl.col("kind") == "alert").n_unique().cast(pl.Int64).alias("alert_calls"),
    )


def _rate_hist(calls: pl.LazyFrame) -> pl.LazyFrame:
    rate = pl.col("agent_chars_per_min")
    return (calls.filter(rate.is_not_null())
            .with_columns(((rate / RATE_BIN).floor() * RATE_BIN).cast(pl.Int64).alias("bin"))
            .group_by("team", "agent_id", "bin").agg(pl.len().cast(pl.Int64).alias("calls")))


LEVELS: tuple[tuple[str, tuple[str, ...]], ...] = (("overall", ()), ("team", ("team",)), ("agent", ("team", "agent_id")))


def _by_level(frame: pl.LazyFrame, extra: Sequence[str], value_cols: Sequence[str]) -> pl.LazyFrame:
    """Sum `value_cols` per level (overall, team, agent) and `extra` keys, in one long frame."""
    parts = []
    for level, keys in LEVELS:
        grouped = frame.group_by(*keys, *extra).agg(pl.col(c).sum() for c in value_cols)
        parts.append(grouped.with_columns(
            pl.lit(level).alias("level"),
            *(pl.lit(None, pl.Utf8).alias(k) for k in ("team", "agent_id") if k not in keys)))
    order = ["level", "team", "agent_id", *extra, *value_cols]
    return pl.concat([p.select(order) for p in parts])


def _level_order() -> pl.Expr:
    return pl.col("level").replace_strict({"overall": 0, "team": 1, "agent": 2}, return_dtype=pl.Int8)


def _top_violations(counts: pl.LazyFrame, titles: dict[str, str]) -> pl.LazyFrame:
    viol = counts.filter(pl.col("kind") == "violation")
    ranked = (_by_level(viol, ["rule"], ["findings", "calls"])
              .sort([_level_order(), "team", "agent_id", "findings", "rule"],
                    descending=[False, False, False, True, False], nulls_last=False)
              .with_columns(pl.int_range(1, pl.len() + 1).over("level", "team", "agent_id").alias("rank")))
    top = pl.when(pl.col("level") == "overall").then(TOP_OVERALL).otherwise(TOP_GROUP)
    return (ranked.filter(pl.col("rank") <= top)
            .with_columns(pl.col("rule").replace_strict(titles, default=pl.col("rule")).alias("title"))
            .select("level", "team", "agent_id", "rank", "rule", "title", "findings", "calls"))


def _alert_table(counts: pl.LazyFrame, titles: dict[str, str]) -> pl.LazyFrame:
    alerts = counts.filter(pl.col("kind") == "alert")
    return (_by_level(alerts, ["rule"], ["findings", "calls"])
            .with_columns(pl.col("rule").replace_strict(titles, default=pl.col("rule")).alias("title"))
            .sort([_level_order(), "team", "agent_id", "calls", "rule"], descending=[False, False, False, True, False])
            .select("level", "team", "agent_id", "rule", "title", "calls", "findings"))


def _rate_bins(hist: pl.LazyFrame) -> pl.LazyFrame:
    bins = _by_level(hist, ["bin"], ["calls"])
    return (bins.with_columns((pl.col("calls") / pl.col("calls").sum().over("level", "team", "agent_id")).alias("share"))
            .sort([_level_order(), "team", "agent_id", "bin"]))


def _with_change(now: pl.LazyFrame, prev: pl.LazyFrame, keys: Sequence[str]) -> pl.LazyFrame:
    """Add last week's pass rate and mean score and the change (this week minus last)."""
    before = prev.select(*keys, pl.col("pass_rate").alias("prev_pass_rate"), pl.col("score").alias("prev_score"))
    joined = now.join(before, on=list(keys), how="left") if keys else pl.concat([now, before], how="horizontal")
    return joined.with_columns((pl.col("pass_rate") - pl.col("prev_pass_rate")).alias("d_pass_rate"),
                               (pl.col("score") - pl.col("prev_score")).alias("d_score"))


def _with_finding_columns(frame: pl.LazyFrame, per_agent: pl.LazyFrame, counts: pl.LazyFrame,
                          keys: Sequence[str]) -> pl.LazyFrame:
    """Violations, critical and alert calls, and one column per key alert (calls with it)."""
    sums = ["violations", "critical_calls", "alert_calls"]
    key_alerts = (counts.filter(pl.col("rule").is_in(list(KEY_ALERTS)) & (pl.col("kind") == "alert"))
                  .with_columns(pl.col("rule").replace_strict({r: alert_column(r) for r in KEY_ALERTS}).alias("col")))
    cols = [alert_column(r) for r in KEY_ALERTS]
    wide = key_alerts.group_by("team", "agent_id").agg(
        pl.col("calls").filter(pl.col("col") == c).sum().alias(c) for c in cols)
    both = per_agent.join(wide, on=["team", "agent_id"], how="full", coalesce=True)
    grouped = both.group_by(*keys).agg(pl.col(c).sum() for c in sums + cols) if keys else both.select(
        pl.col(c).sum() for c in sums + cols)
    joined = frame.join(grouped, on=list(keys), how="left") if keys else pl.concat([frame, grouped], how="horizontal")
    return joined.with_columns(pl.col(c).fill_null(0).cast(pl.Int64) for c in sums + cols)


def _trend(partials: pl.LazyFrame, weeks: pl.LazyFrame, teams: pl.LazyFrame) -> pl.LazyFrame:
    """Every week × (overall, each team of this week), with change against the week before."""
    overall = weeks.join(_summarise(partials, ["week_start"]), on="week_start", how="left").with_columns(
        pl.lit("overall").alias("level"), pl.lit(None, pl.Utf8).alias("team"))
    per_team = (weeks.join(teams, how="cross")
                .join(_summarise(partials, ["week_start", "team"]), on=["week_start", "team"], how="left")
                .with_columns(pl.lit("team").alias("level")))
    cols = ["level", "team", "week", "week_start", "agents", "calls", "passed", "pass_rate", "score", *DIMENSIONS,
            "rate_mean"]
    both = pl.concat([overall.select(cols), per_team.select(cols)]).sort([_level_order(), "team", "week_start"])
    return both.with_columns(
        pl.col("agents", "calls", "passed").fill_null(0),
        pl.col("pass_rate").diff().over("level", "team").alias("d_pass_rate"),
        pl.col("score").diff().over("level", "team").alias("d_score"),
    )


def _reviewed_table(tables: Tables, monday: dt.date, sunday: dt.date, workspace: Workspace,
                    lexicons: str | os.PathLike[str] | None) -> pl.DataFrame:
    week = _keys(tables.calls.filter(Filters(date_from=monday, date_to=sunday).call_level())
                 .select("team", "agent_id", "call_id", "score", "passed")).collect()
    scores = reviewed_scores(tables.out_dir, week["call_id"].to_list(), workspace.decisions, load_lexicon(lexicons))
    week = week.join(scores, on="call_id", how="left").with_columns(
        pl.col("reviewed_score").is_not_null().alias("is_reviewed"),
        pl.coalesce("reviewed_score", "score").alias("final_score"),
        pl.coalesce("reviewed_passed", "passed").alias("final_passed"))
    parts = []
    for level, keys in LEVELS:
        aggs = [pl.len().cast(pl.Int64).alias("calls"), pl.col("is_reviewed").sum().cast(pl.Int64).alias("reviewed_calls"),
                pl.col("false_alarms").fill_null(0).sum().cast(pl.Int64).alias("false_alarms"),
                pl.col("score").mean().alias("score"), pl.col("final_score").mean().alias("score_reviewed"),
                pl.col("passed").cast(pl.Float64).mean().alias("pass_rate"),
                pl.col("final_passed").cast(pl.Float64).mean().alias("pass_rate_reviewed")]
        grouped = week.group_by(*keys).agg(aggs) if keys else week.select(aggs)
        parts.append(grouped.with_columns(pl.lit(level).alias("level"),
                                          *(pl.lit(None, pl.Utf8).alias(k) for k in ("team", "agent_id") if k not in keys)))
    cols = ["level", "team", "agent_id", "calls", "reviewed_calls", "false_alarms", "score", "score_reviewed",
            "pass_rate", "pass_rate_reviewed"]
    return pl.concat([p.select(cols) for p in parts]).sort([_level_order(), "team", "agent_id"], nulls_last=False)


CASE_COLUMNS = ("opened", "decided", "on_time", "on_time_rate", "open_now", "overdue_now")


def _case_table(workspace: Workspace, monday: dt.date, sunday: dt.date) -> pl.DataFrame:
    rows = []
    for f in case_figures(workspace.cases.list(), calls_dated(monday, sunday)):
        row: dict[str, object] = {"level": "overall" if f.team == ALL_TEAMS else "team",
                                  "team": None if f.team == ALL_TEAMS else f.team}
        row.update({c: getattr(f, c) for c in CASE_COLUMNS})
        row.update(f.by_age)
        row.update({f"open_{g}": n for g, n in f.by_grade.items()})
        rows.append(row)
    schema = {"level": pl.Utf8, "team": pl.Utf8, **{c: pl.Float64 if c == "on_time_rate" else pl.Int64 for c in CASE_COLUMNS},
              **{key: pl.Int64 for _, key, _ in AGE_BUCKETS}, **{f"open_{g}": pl.Int64 for g in GRADES}}
    return pl.DataFrame(rows, schema=schema)


def build_scorecard(tables: Tables, week: str, weeks_back: int = 8,
                    lexicons: str | os.PathLike[str] | None = None, workspace: Workspace | None = None) -> Scorecard:
    """The scorecard of ISO week `week` ("2026-W47") with `weeks_back` weeks of trend (this one included);
    with `workspace`, also reviewed scores and follow-up cases.

    Raises ReportError for a malformed week, weeks_back < 1, or a week with no calls in the tables.
    """
    if weeks_back < 1:
        raise ReportError(f"weeks back: {weeks_back}: at least 1 (the week itself)")
    monday, next_monday = parse_week(week)
    week = iso_week(monday)  # canonical spelling ("2026w47" -> "2026-W47")
    sunday = next_monday - dt.timedelta(days=1)
    prev_monday = monday - dt.timedelta(days=7)
    # one week more than the trend shows: the first trend week's change needs the week before it
    first = monday - dt.timedelta(days=7 * weeks_back)
    lower, upper = rate_band(lexicons)
    pass_target, pass_alarm = pass_rate_bounds(lexicons)
    catalogue = rule_catalogue(lexicons)
    titles = {rid: spec.get("title", rid) for rid, spec in catalogue.items()}

    # Tables holds each call's newest scoring; the date bounds reach the Parquet scans, so only the weeks
    # involved are read (benchmarks/scorecard_scale.py)
    call_cols = ["team", "agent_id", "call_id", "passed", "score", *DIMENSIONS, "agent_chars_per_min", "date"]
    calls = _keys(tables.calls.filter(Filters(date_from=first, date_to=sunday).call_level()).select(call_cols))
    # findings to verify (the recogniser was unsure) are not counted until a person confirms them
    findings = _keys(tables.findings.filter(Filters(date_from=monday, date_to=sunday).shared_level())
                     .filter(pl.col("kind").is_in(["violation", "alert"])
                             & (pl.col("status").fill_null(pl.col("kind")) != "needs_review"))
                     .select("team", "agent_id", "call_id", "rule", "kind", "severity"))
    # the scans, once each (the streaming engine kept the peak lowest); the rest works on small aggregates
    partials, counts, per_agent, hist = pl.collect_all([
        _call_partials(calls, lower, upper), _finding_counts(findings), _agent_finding_calls(findings),
        _rate_hist(calls.filter(_in_dates(monday, sunday))),
    ], engine="streaming")
    if partials.filter(pl.col("week_start") == monday).is_empty():
        raise ReportError(f"no calls in week {week} ({monday} – {sunday}) in {tables.out_dir / 'tables'}; "
                          + _weeks_text(weeks_with_calls(tables)))
    this_week = partials.filter(pl.col("week_start") == monday)

    p_now, p_prev = this_week.lazy(), partials.filter(pl.col("week_start") == prev_monday).lazy()
    counts_l, per_agent_l = counts.lazy(), per_agent.lazy()

    def level(keys: list[str]) -> pl.LazyFrame:
        frame = _with_change(_summarise(p_now, keys), _summarise(p_prev, keys), keys)
        frame = _with_finding_columns(frame, per_agent_l, counts_l, keys)
        return frame.sort(keys) if keys else frame

    trend_weeks = [monday - dt.timedelta(days=7 * k) for k in range(weeks_back, -1, -1)]
    weeks = pl.LazyFrame({"week_start": trend_weeks, "week": [iso_week(d) for d in trend_weeks]},
                         schema={"week_start": pl.Date, "week": pl.Utf8})
    team_names = this_week.lazy().select("team").unique()
    trend = _trend(partials.lazy(), weeks, team_names).filter(pl.col("week_start") >= trend_weeks[1])

    overall, teams, agents, violations, alerts, rate_bins, trend_df = pl.collect_all([
        level([]), level(["team"]), level(["team", "agent_id"]), _top_violations(counts_l, titles),
        _alert_table(counts_l, titles), _rate_bins(hist.lazy()), trend,
    ])
    return Scorecard(week=week, monday=monday, sunday=sunday, weeks=tuple(iso_week(d) for d in trend_weeks[1:]),
                     out_dir=str(tables.out_dir), rate_lower=lower, rate_upper=upper, pass_target=pass_target,
                     pass_alarm=pass_alarm, overall=overall,
                     teams=teams, agents=agents, violations=violations, alerts=alerts, rate_bins=rate_bins,
                     trend=trend_df, rules=catalogue,
                     reviewed=_reviewed_table(tables, monday, sunday, workspace, lexicons) if workspace else None,
                     cases=_case_table(workspace, monday, sunday) if workspace else None)


def weeks_with_calls(tables: Tables) -> list[str]:
    """The ISO weeks that hold calls (newest scoring, local call date), oldest first; one column is read."""
    mondays = (tables.calls.select(pl.col("date").dt.truncate("1w")).drop_nulls().unique().collect()["date"]
               .sort().to_list())
    return [iso_week(d) for d in mondays]


SHOWN_WEEKS = 8  # weeks named in an error; more are counted


def _weeks_text(weeks: Sequence[str]) -> str:
    if not weeks:
        return "no week has calls with a date"
    shown = ", ".join(weeks[-SHOWN_WEEKS:])
    more = f" and {len(weeks) - SHOWN_WEEKS} earlier" if len(weeks) > SHOWN_WEEKS else ""
    return f"weeks with calls: {shown}{more}"


def latest_week(tables: Tables) -> str:
    """The latest ISO week that has calls: a scorecard's default week."""
    weeks = weeks_with_calls(tables)
    if not weeks:
        raise ReportError(f"no calls with a date in {tables.out_dir / 'tables'}: a scorecard needs calls with "
                          "started_at (from the manifest or the file name)")
    return weeks[-1]


def previous_week(today: dt.date | None = None) -> str:
    """The last complete ISO week: on a Monday, the week that ended yesterday."""
    return iso_week((today or dt.date.today()) - dt.timedelta(days=7))


# ---------------------------------------------------------------------------------------------------
# labels


def labels(sc: Scorecard) -> dict[str, str]:
    lo, hi = f"{sc.rate_lower:g}", f"{sc.rate_upper:g}"
    names = {
        "level": "层级", "team": "团队", "agent_id": "坐席", "agents": "坐席数", "calls": "通话数",
        "passed": "通过数", "pass_rate": "通过率", "score": "平均分", "compliance": "合规",
        "professionalism": "专业", "customer_experience": "客户体验", "rate_mean": "平均语速(字/分钟)",
        "rate_measured": "语速有效通话", "rate_below": f"语速<{lo}占比", "rate_within": f"语速{lo}–{hi}占比",
        "rate_above": f"语速>{hi}占比", "violations": "违规次数", "critical_calls": "致命违规通话",
        "alert_calls": "预警通话", "prev_pass_rate": "上周通过率", "prev_score": "上周平均分",
        "d_pass_rate": "通过率环比", "d_score": "平均分环比", "week": "周", "week_start": "周一",
        "rank": "排名", "rule": "规则", "title": "名称", "findings": "次数", "bin": "语速区间下限", "share": "占比",
        "reviewed_calls": "已复核通话", "false_alarms": "误报", "score_reviewed": "复核后平均分",
        "pass_rate_reviewed": "复核后通过率", "opened": "问题件数", "decided": "已到期或已处理", "on_time": "按时处理",
        "on_time_rate": "按时处理率", "open_now": "未结问题件", "overdue_now": "其中超时",
    }
    names.update({key: f"未结·{label}" for _, key, label in AGE_BUCKETS})
    names.update({f"open_{g}": f"未结·{g}" for g in GRADES})
    names.update({alert_column(r): sc.title(r) for r in KEY_ALERTS})
    return names
