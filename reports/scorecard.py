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
"""

from __future__ import annotations

import datetime as dt
import html
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from .tables import ReportError, Tables, call_date, iso_week, parse_week, scan_table

LEXICONS = Path(__file__).resolve().parent.parent / "lexicons"
KEY_ALERTS = ("alert.surrender", "alert.complaint", "alert.misleading_sale")  # 退保预警, 投诉, 销售误导
DIMENSIONS = ("compliance", "professionalism", "customer_experience")
UNKNOWN = "未知"  # calls without a team or agent id still count, under this name
TOP_OVERALL = 10
TOP_GROUP = 5
RATE_BIN = 10  # 字/分钟 per histogram bin
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
    overall: pl.DataFrame
    teams: pl.DataFrame
    agents: pl.DataFrame
    violations: pl.DataFrame
    alerts: pl.DataFrame
    rate_bins: pl.DataFrame
    trend: pl.DataFrame
    rules: dict[str, dict[str, str]] = field(default_factory=dict)  # the catalogue: titles, severities
    generated_at: str = field(default_factory=lambda: dt.datetime.now().astimezone().isoformat(timespec="seconds"))

    def frames(self) -> dict[str, pl.DataFrame]:
        return {"overall": self.overall, "teams": self.teams, "agents": self.agents, "violations": self.violations,
                "alerts": self.alerts, "rate_bins": self.rate_bins, "trend": self.trend}

    def title(self, rule: str) -> str:
        return self.rules.get(rule, {}).get("title", rule)

    def severity(self, rule: str) -> str | None:
        return self.rules.get(rule, {}).get("severity")


# ---------------------------------------------------------------------------------------------------
# the QA team's catalogue: rule titles and the speaking-rate band


def _lexicon_dir(directory: str | os.PathLike[str] | None) -> Path:
    return Path(directory or os.environ.get("CALLQA_LEXICONS") or LEXICONS)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        return {}


def rule_catalogue(lexicons: str | os.PathLike[str] | None = None) -> dict[str, dict[str, str]]:
    """rule id -> {title, severity, ...} from rules.yaml (a rule no longer there shows its id, uncoloured)."""
    raw = _read_yaml(_lexicon_dir(lexicons) / "rules.yaml")
    return {rid: {k: str(v) for k, v in spec.items()} for rid, spec in raw.items() if isinstance(spec, dict)}


def rate_band(lexicons: str | os.PathLike[str] | None = None) -> tuple[float, float]:
    rate = _read_yaml(_lexicon_dir(lexicons) / "settings.yaml").get("rate", {})
    return float(rate.get("lower", 100)), float(rate.get("upper", 150))


def alert_column(rule: str) -> str:
    return rule.replace(".", "_")


# ---------------------------------------------------------------------------------------------------
# building


def _keys(frame: pl.LazyFrame) -> pl.LazyFrame:
    return frame.with_columns(pl.col("team").fill_null(UNKNOWN), pl.col("agent_id").fill_null(UNKNOWN))


def _in_dates(lo: dt.date, hi: dt.date) -> pl.Expr:
    return pl.col("date").is_between(lo, hi)


def _started_between(lo: dt.date, hi: dt.date) -> pl.Expr:
    """The same range on the raw `started_at` text (ISO dates sort as text): a predicate the parquet scan
    can check against row-group statistics, so runs of other weeks are skipped unread."""
    return (pl.col("started_at") >= lo.isoformat()) & (pl.col("started_at") < (hi + dt.timedelta(days=1)).isoformat())


def _newest_rows(scan: pl.LazyFrame, newest: pl.LazyFrame, lo: dt.date, hi: dt.date) -> pl.LazyFrame:
    """Rows of a raw table (calls or findings) of the newest scorings, dated lo–hi (as Tables does)."""
    return (scan.filter(_started_between(lo, hi)).join(newest, on=["call_id", "run_id"], how="semi")
            .with_columns(call_date()).filter(_in_dates(lo, hi)))


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


def build_scorecard(tables: Tables, week: str, weeks_back: int = 8,
                    lexicons: str | os.PathLike[str] | None = None) -> Scorecard:
    """The scorecard of ISO week `week` ("2026-W47") with `weeks_back` weeks of trend (this one included).

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
    catalogue = rule_catalogue(lexicons)
    titles = {rid: spec.get("title", rid) for rid, spec in catalogue.items()}

    # Which scoring of a call is the newest takes the whole history (Tables.calls), but only its keys:
    # the other columns are then read for the weeks involved only. Sorting a year of full rows first
    # doubled the time and the peak memory (benchmarks/scorecard_scale.py).
    newest = tables.calls.select("call_id", "run_id", "date").filter(_in_dates(first, sunday)).collect(
        engine="in-memory")
    if newest.filter(_in_dates(monday, sunday)).is_empty():
        raise ReportError(f"no calls in week {week} ({monday} – {sunday}) in {tables.out_dir / 'tables'}")
    scorings = newest.lazy().select("call_id", "run_id")
    call_cols = ["team", "agent_id", "call_id", "passed", "score", *DIMENSIONS, "agent_chars_per_min", "date"]
    calls = _keys(_newest_rows(scan_table(tables.out_dir, "calls"), scorings, first, sunday).select(call_cols))
    findings = _keys(_newest_rows(scan_table(tables.out_dir, "findings"), scorings, monday, sunday)
                     .filter(pl.col("kind").is_in(["violation", "alert"]))
                     .select("team", "agent_id", "call_id", "rule", "kind", "severity"))
    # the scans, once each (the streaming engine kept the peak lowest); the rest works on small aggregates
    partials, counts, per_agent, hist = pl.collect_all([
        _call_partials(calls, lower, upper), _finding_counts(findings), _agent_finding_calls(findings),
        _rate_hist(calls.filter(_in_dates(monday, sunday))),
    ], engine="streaming")
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
                     out_dir=str(tables.out_dir), rate_lower=lower, rate_upper=upper, overall=overall,
                     teams=teams, agents=agents, violations=violations, alerts=alerts, rate_bins=rate_bins,
                     trend=trend_df, rules=catalogue)


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
    }
    names.update({alert_column(r): sc.title(r) for r in KEY_ALERTS})
    return names


SHEETS = {"overall": "总览", "teams": "团队", "agents": "坐席", "violations": "违规排行", "alerts": "预警",
          "rate_bins": "语速分布", "trend": "趋势"}
LEVEL_NAMES = {"overall": "全部", "team": "团队", "agent": "坐席"}
_PERCENT = ("pass_rate", "prev_pass_rate", "d_pass_rate", "rate_below", "rate_within", "rate_above", "share")


# ---------------------------------------------------------------------------------------------------
# CSV and Excel


def write_csv(sc: Scorecard, directory: str | os.PathLike[str]) -> list[Path]:
    """One CSV per table, column names as in the frames, UTF-8 with a BOM (Excel then reads Chinese right)."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in sc.frames().items():
        path = out / f"{name}.csv"
        frame.write_csv(path, include_bom=True, float_precision=4)
        paths.append(path)
    return paths


def write_excel(sc: Scorecard, path: str | os.PathLike[str]) -> Path:
    """One sheet per table with Chinese headers, percentages formatted, and a line chart of the trend."""
    import xlsxwriter

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = labels(sc)
    # names from the manifests are data: "=…" must not become a formula, nor "http…" a link
    with xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False}) as wb:
        for key, frame in sc.frames().items():
            shown = frame.with_columns(pl.col("level").replace_strict(LEVEL_NAMES)) if "level" in frame.columns \
                else frame
            shown = shown.rename({c: names.get(c, c) for c in shown.columns})
            formats: dict[str, str] = {names[c]: "0.0%" for c in _PERCENT if c in frame.columns}
            shown.write_excel(workbook=wb, worksheet=SHEETS[key], column_formats=formats,
                              float_precision=1, autofit=True, freeze_panes=(1, 0),
                              table_style="Table Style Light 9")
        _excel_trend_chart(wb, sc, names)
    return path


def _excel_trend_chart(wb: Any, sc: Scorecard, names: dict[str, str]) -> None:
    """Overall pass rate (left axis) and mean score (right axis) per week; the overall rows come first."""
    n = sc.trend.filter(pl.col("level") == "overall").height
    if not n:
        return
    sheet = SHEETS["trend"]
    cols = sc.trend.columns
    week_c, rate_c, score_c = cols.index("week"), cols.index("pass_rate"), cols.index("score")
    chart = wb.add_chart({"type": "line"})
    chart.add_series({"name": names["pass_rate"], "categories": [sheet, 1, week_c, n, week_c],
                      "values": [sheet, 1, rate_c, n, rate_c], "marker": {"type": "circle"}})
    score = wb.add_chart({"type": "line"})
    score.add_series({"name": names["score"], "categories": [sheet, 1, week_c, n, week_c],
                      "values": [sheet, 1, score_c, n, score_c], "marker": {"type": "square"}, "y2_axis": True})
    chart.combine(score)
    chart.set_title({"name": f"全部坐席 通过率与平均分 ({sc.weeks[0]} – {sc.weeks[-1]})"})
    chart.set_y_axis({"name": names["pass_rate"], "num_format": "0%"})
    score.set_y2_axis({"name": names["score"]})
    chart.set_size({"width": 720, "height": 320})
    wb.get_worksheet_by_name(sheet).insert_chart(1, len(cols) + 1, chart)


# ---------------------------------------------------------------------------------------------------
# HTML: one self-contained file, charts drawn here as inline SVG

_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
            "#17becf")
_SEVERITY_COLOUR = {"critical": "#c0392b", "major": "#e67e22", "minor": "#f1c40f", "info": "#95a5a6"}


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _delta(value: float | None, percent: bool) -> str:
    """A coloured change: green up, red down (higher pass rates and scores are better)."""
    if value is None:
        return '<span class="flat">–</span>'
    shown = value * 100 if percent else value
    if abs(shown) < 0.05:
        return '<span class="flat">±0</span>'
    cls, arrow = ("up", "▲") if shown > 0 else ("down", "▼")
    unit = "个百分点" if percent else "分"
    return f'<span class="{cls}" title="较上周 {shown:+.1f} {unit}">{arrow} {abs(shown):.1f}</span>'


def nice_ticks(values: Iterable[float], floor: float | None = None, ceil: float | None = None,
               count: int = 5) -> list[float]:
    """Round axis ticks (steps of 1, 2, 2.5 or 5 × 10^k) covering the values, kept within floor–ceil."""
    vals = [v for v in values if v is not None]
    lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
    if hi - lo < 1e-9:
        pad = abs(hi) * 0.05 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / (count - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first, last = math.floor(lo / step) * step, math.ceil(hi / step) * step
    if floor is not None:
        first = max(first, floor)
    if ceil is not None:
        last = min(last, ceil)
    ticks = [round(first + i * step, 10) for i in range(round((last - first) / step) + 1)]
    return ticks if len(ticks) > 1 else [first, first + step]


MANY_LINES = 6  # beyond this many groups, their lines turn grey (names on hover) behind the bold total


def svg_lines(title: str, x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None], bool]],
              fmt: str = "num", bounds: tuple[float | None, float | None] = (None, None)) -> str:
    """A line chart: series are (name, values, emphasised); a missing value breaks the line."""
    w, h, left, right, top, bottom = 640, 250, 52, 16, 28, 34
    ticks = nice_ticks((v for _, vals, _ in series for v in vals if v is not None), *bounds)
    lo, hi = ticks[0], ticks[-1]
    n = len(x_labels)
    grey = sum(not strong for _, _, strong in series) > MANY_LINES

    def colour_of(idx: int, strong: bool) -> str:
        return "#222" if strong else "#c3c8cf" if grey else _PALETTE[idx % len(_PALETTE)]

    def x(i: int) -> float:
        return left + (w - left - right) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return top + (h - top - bottom) * (1 - (v - lo) / (hi - lo))

    def label(v: float) -> str:
        return f"{v * 100:g}%" if fmt == "pct" else f"{v:g}"

    parts = [f'<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{_e(title)}">',
             f'<text x="{left}" y="16" class="ct">{_e(title)}</text>']
    for v in ticks:
        parts.append(f'<line x1="{left}" x2="{w - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" class="grid"/>'
                     f'<text x="{left - 6}" y="{y(v) + 4:.1f}" class="ax" text-anchor="end">{_e(label(v))}</text>')
    for i, lab in enumerate(x_labels):
        parts.append(f'<text x="{x(i):.1f}" y="{h - 12}" class="ax" text-anchor="middle">{_e(lab[-3:])}</text>')
    # the emphasised series last, so it is drawn on top
    for idx, (name, vals, strong) in sorted(enumerate(series), key=lambda item: item[1][2]):
        colour = colour_of(idx, strong)
        width = 3 if strong else 1.5
        segment: list[str] = []
        segments: list[list[str]] = []
        for i, v in enumerate(vals):
            if v is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            segment.append(f"{x(i):.1f},{y(v):.1f}")
        if segment:
            segments.append(segment)
        for seg in segments:
            parts.append(f'<polyline points="{" ".join(seg)}" fill="none" stroke="{colour}" stroke-width="{width}">'
                         f'<title>{_e(name)}</title></polyline>')
        for i, v in enumerate(vals):
            if v is not None:
                parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="{3.5 if strong else 2.5}" fill="{colour}">'
                             f'<title>{_e(name)} {_e(x_labels[i])}: {_e(f"{v * 100:.1f}%" if fmt == "pct" else f"{v:.1f}")}'
                             f'</title></circle>')
    parts.append("</svg>")
    shown = [(i, name, strong) for i, (name, _, strong) in enumerate(series) if strong or not grey]
    legend = "".join(f'<span class="key"><i style="background:{colour_of(i, strong)}"></i>{_e(name)}</span>'
                     for i, name, strong in shown)
    if grey:
        legend += f'<span class="key"><i style="background:{colour_of(0, False)}"></i>各团队（悬停看名称）</span>'
    return "".join(parts) + f'<div class="legend">{legend}</div>'


def svg_bars(title: str, items: Sequence[tuple[str, float, str]]) -> str:
    """Horizontal bars: (label, value, colour), biggest first as given."""
    if not items:
        return f'<p class="note">{_e(title)}：本周无记录</p>'
    w, row, left, top = 640, 24, 230, 28
    h = top + row * len(items) + 8
    top_value = max(v for _, v, _ in items) or 1
    parts = [f'<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{_e(title)}">',
             f'<text x="0" y="16" class="ct">{_e(title)}</text>']
    for i, (lab, v, colour) in enumerate(items):
        yy = top + i * row
        bw = (w - left - 60) * v / top_value
        parts.append(f'<text x="{left - 8}" y="{yy + 15}" class="lbl" text-anchor="end">{_e(lab)}</text>'
                     f'<rect x="{left}" y="{yy + 3}" width="{bw:.1f}" height="{row - 8}" fill="{colour}">'
                     f'<title>{_e(lab)}: {v:g}</title></rect>'
                     f'<text x="{left + bw + 6:.1f}" y="{yy + 15}" class="ax">{v:g}</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_histogram(title: str, bins: Sequence[tuple[int, int]], band: tuple[float, float], width: int = RATE_BIN) -> str:
    """Calls per rate bin, with the target band shaded; bins are (lower edge, calls)."""
    if not bins:
        return f'<p class="note">{_e(title)}：本周无语速数据</p>'
    counts = dict(bins)
    first = min(min(counts), int(band[0] // width * width) - width)
    last = max(max(counts), int(band[1] // width * width) + width)
    edges = list(range(first, last + width, width))
    w, h, left, right, top, bottom = 640, 240, 44, 12, 28, 34
    top_value = max(counts.values()) or 1
    span = edges[-1] + width - edges[0]

    def x(v: float) -> float:
        return left + (w - left - right) * (v - edges[0]) / span

    def y(v: float) -> float:
        return top + (h - top - bottom) * (1 - v / top_value)

    parts = [f'<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{_e(title)}">',
             f'<text x="{left}" y="16" class="ct">{_e(title)}</text>',
             f'<rect x="{x(band[0]):.1f}" y="{top}" width="{x(band[1]) - x(band[0]):.1f}" height="{h - top - bottom}" '
             f'class="band"><title>目标区间 {band[0]:g}–{band[1]:g} 字/分钟</title></rect>']
    bw = (w - left - right) * width / span
    for edge in edges:
        c = counts.get(edge, 0)
        inside = band[0] <= edge and edge + width <= band[1]
        parts.append(f'<rect x="{x(edge) + 1:.1f}" y="{y(c):.1f}" width="{bw - 2:.1f}" height="{y(0) - y(c):.1f}" '
                     f'fill="{"#2e86c1" if inside else "#e67e22"}"><title>{edge}–{edge + width} 字/分钟: {c} 通'
                     f'</title></rect>')
        if (edge // width) % 2 == 0:
            parts.append(f'<text x="{x(edge):.1f}" y="{h - 14}" class="ax" text-anchor="middle">{edge}</text>')
    parts.append(f'<line x1="{left}" x2="{w - right}" y1="{y(0):.1f}" y2="{y(0):.1f}" class="axis"/>'
                 f'<text x="{left - 6}" y="{top + 4}" class="ax" text-anchor="end">{top_value}</text></svg>')
    return "".join(parts)


_CSS = """
body{font-family:"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;margin:24px;color:#222;max-width:1280px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:2px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:16px 0 6px}.meta{color:#666;font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:110px}
.card b{display:block;font-size:20px}.card span{font-size:12px;color:#666}
table{border-collapse:collapse;font-size:13px;margin:6px 0 12px}th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}
th{background:#f4f6f8;position:sticky;top:0}td.t{text-align:left}tr.team td{background:#fafafa;font-weight:bold}
.up{color:#1e8449}.down{color:#c0392b}.flat{color:#999}.warn{color:#c0392b}.note{color:#666;font-size:13px}
.grid{stroke:#eee}.axis{stroke:#999}.ax{font-size:11px;fill:#666}.ct{font-size:13px;font-weight:bold;fill:#333}
.lbl{font-size:12px;fill:#333}.band{fill:#d5f5e3}.chart{max-width:100%;height:auto}
.legend{font-size:12px;margin:2px 0 10px}.key{margin-right:12px;white-space:nowrap}
.key i{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
.charts{display:flex;flex-wrap:wrap;gap:16px}
"""


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], classes: Sequence[str] = ()) -> str:
    """`rows` hold HTML already escaped; `classes` (per row, optional) style whole rows."""
    out = ["<table><thead><tr>", *(f"<th>{_e(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if i < len(classes) and classes[i] else ""
        out.append(f"<tr{cls}>" + "".join(row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _td(text: str, left: bool = False, raw: bool = False) -> str:
    return f'<td class="t">{text if raw else _e(text)}</td>' if left else f"<td>{text if raw else _e(text)}</td>"


def _rate_cell(sc: Scorecard, value: float | None) -> str:
    off = value is not None and not sc.rate_lower <= value <= sc.rate_upper
    return f'<td class="{"warn" if off else ""}">{_e(_num(value))}</td>'


def _group_rows(sc: Scorecard, frame: pl.DataFrame, top: dict[tuple[str | None, str | None], str],
                name_cols: Sequence[str]) -> list[list[str]]:
    rows = []
    for r in frame.iter_rows(named=True):
        cells = [_td(r[c], left=True) for c in name_cols]
        cells += [
            _td(str(r["calls"])), _td(_pct(r["pass_rate"])), _td(_delta(r["d_pass_rate"], True), raw=True),
            _td(_num(r["score"])), _td(_delta(r["d_score"], False), raw=True),
            *(_td(_num(r[d])) for d in DIMENSIONS),
            _rate_cell(sc, r["rate_mean"]),
            _td(f'{_pct(r["rate_below"])} / {_pct(r["rate_within"])} / {_pct(r["rate_above"])}'),
            _td(str(r["violations"])), _td(str(r["critical_calls"])),
            *(_td(str(r[alert_column(a)])) for a in KEY_ALERTS),
            _td(top.get((r.get("team"), r.get("agent_id")), ""), left=True),
        ]
        rows.append(cells)
    return rows


def _group_head(sc: Scorecard, name_cols: Sequence[str]) -> list[str]:
    n = labels(sc)
    return [*(n[c] for c in name_cols), "通话数", "通过率", "环比", "平均分", "环比", "合规", "专业", "客户体验",
            "平均语速", f"语速 慢/标准/快 ({sc.rate_lower:g}–{sc.rate_upper:g})", "违规次数", "致命违规通话",
            *(sc.title(a) for a in KEY_ALERTS), "主要违规"]


def _top_text(sc: Scorecard, level: str) -> dict[tuple[str | None, str | None], str]:
    """'title ×n、…' of the top 3 violations per group."""
    out: dict[tuple[str | None, str | None], list[str]] = {}
    for r in sc.violations.filter((pl.col("level") == level) & (pl.col("rank") <= 3)).iter_rows(named=True):
        out.setdefault((r["team"], r["agent_id"]), []).append(f'{r["title"]}×{r["findings"]}')
    return {k: "、".join(v) for k, v in out.items()}


def _html_trend(sc: Scorecard) -> str:
    weeks = list(sc.weeks)
    series_rate: list[tuple[str, list[float | None], bool]] = []
    series_score: list[tuple[str, list[float | None], bool]] = []
    for (level, team), frame in sc.trend.group_by(["level", "team"], maintain_order=True):
        by_week = dict(zip(frame["week"].to_list(), frame.iter_rows(named=True), strict=True))
        name = "全部" if level == "overall" else str(team)
        series_rate.append((name, [by_week[w]["pass_rate"] if w in by_week else None for w in weeks], level == "overall"))
        series_score.append((name, [by_week[w]["score"] if w in by_week else None for w in weeks], level == "overall"))
    charts = ('<div class="charts"><div>' + svg_lines("通过率（按周）", weeks, series_rate, "pct", (0.0, 1.0)) + "</div><div>"
              + svg_lines("平均分（按周）", weeks, series_score, "num", (0.0, 100.0)) + "</div></div>")
    overall = sc.trend.filter(pl.col("level") == "overall")
    rows = [[_td(r["week"], left=True), _td(str(r["calls"])), _td(_pct(r["pass_rate"])),
             _td(_delta(r["d_pass_rate"], True), raw=True), _td(_num(r["score"])), _td(_delta(r["d_score"], False), raw=True),
             *(_td(_num(r[d])) for d in DIMENSIONS)] for r in overall.iter_rows(named=True)]
    table = _table(["周", "通话数", "通过率", "环比", "平均分", "环比", "合规", "专业", "客户体验"], rows)
    pivot_rows = []
    team_trend = sc.trend.filter(pl.col("level") == "team")
    rates = team_trend["pass_rate"].drop_nulls()
    lo, hi = (rates.min(), rates.max()) if len(rates) else (0.0, 1.0)
    for team, frame in team_trend.group_by("team", maintain_order=True):
        by_week = {r["week"]: r["pass_rate"] for r in frame.iter_rows(named=True)}
        pivot_rows.append([_td(str(team[0]), left=True),
                           *(_heat(by_week.get(w), lo, hi) for w in weeks)])
    pivot = _table(["团队 \\ 周", *weeks], pivot_rows)
    return charts + "<h3>全部坐席</h3>" + table + "<h3>各团队通过率</h3>" + pivot


def _alert_pivot(sc: Scorecard, level: str, keys: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    """Rows of groups with any alert, one column per alert rule (calls with it), most alerted first."""
    frame = sc.alerts.filter(pl.col("level") == level)
    rules = sorted(set(KEY_ALERTS) | set(sc.alerts["rule"].to_list()), key=lambda r: (r not in KEY_ALERTS, r))
    groups: dict[tuple[str, ...], dict[str, int]] = {}
    for r in frame.iter_rows(named=True):
        groups.setdefault(tuple(r[k] for k in keys), {})[r["rule"]] = r["calls"]
    ordered = sorted(groups.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    rows = [[*(_td(k, left=True) for k in key), *(_td(str(counts.get(rule, 0))) for rule in rules)]
            for key, counts in ordered]
    return [sc.title(r) for r in rules], rows


def _html_alerts(sc: Scorecard) -> str:
    if sc.alerts.is_empty():
        return '<p class="note">本周无预警。</p>'
    titles, team_rows = _alert_pivot(sc, "team", ["team"])
    _, agent_rows = _alert_pivot(sc, "agent", ["team", "agent_id"])
    return ('<p class="note">每格为出现该预警的通话数。</p>' + _table(["团队", *titles], team_rows)
            + "<h3>有预警的坐席</h3>" + _table(["团队", "坐席", *titles], agent_rows))


def _heat(value: float | None, lo: float, hi: float) -> str:
    """A pass-rate cell shaded from red (the week's lowest) to green (highest)."""
    if value is None:
        return "<td>–</td>"
    hue = 120 * (value - lo) / (hi - lo) if hi > lo else 120
    return f'<td style="background:hsl({hue:.0f},60%,88%)">{_e(_pct(value))}</td>'


def render_html(sc: Scorecard) -> str:
    o = sc.overall.row(0, named=True)
    cards = [("通话数", str(o["calls"]), ""), ("通过率", _pct(o["pass_rate"]), _delta(o["d_pass_rate"], True)),
             ("平均分", _num(o["score"]), _delta(o["d_score"], False)),
             *((labels(sc)[d], _num(o[d]), "") for d in DIMENSIONS),
             ("平均语速", _num(o["rate_mean"]), ""), ("预警通话", str(o["alert_calls"]), ""),
             *((sc.title(a), str(o[alert_column(a)]), "") for a in KEY_ALERTS)]
    card_html = "".join(f"<div class=\"card\"><span>{_e(k)}</span><b>{_e(v)}</b>{d}</div>" for k, v, d in cards)
    top = sc.violations.filter(pl.col("level") == "overall")
    bars = svg_bars(f"违规排行（前{TOP_OVERALL}，按次数）",
                    [(f'{r["title"]} ({r["rule"]})', r["findings"], _SEVERITY_COLOUR.get(sc.severity(r["rule"]) or "", "#7f8c8d"))
                     for r in top.iter_rows(named=True)])
    hist = sc.rate_bins.filter(pl.col("level") == "overall")
    histogram = svg_histogram(f"语速分布（字/分钟，阴影为标准区间 {sc.rate_lower:g}–{sc.rate_upper:g}）",
                              list(zip(hist["bin"].to_list(), hist["calls"].to_list(), strict=True)),
                              (sc.rate_lower, sc.rate_upper))
    bands = (f'<p class="note">语速偏慢 {_pct(o["rate_below"])} · 标准 {_pct(o["rate_within"])} · '
             f'偏快 {_pct(o["rate_above"])}（{o["rate_measured"]} 通有效语速）</p>')
    teams_html = _table(_group_head(sc, ["team"]), _group_rows(sc, sc.teams, _top_text(sc, "team"), ["team"]))
    agent_rows: list[list[str]] = []
    classes: list[str] = []
    for team, frame in sc.agents.group_by("team", maintain_order=True):
        agent_rows.append([f'<td class="t" colspan="{len(_group_head(sc, ["agent_id"]))}">{_e(team[0])}</td>'])
        classes.append("team")
        agent_rows += _group_rows(sc, frame, _top_text(sc, "agent"), ["agent_id"])
        classes += [""] * frame.height
    agents_html = _table(_group_head(sc, ["agent_id"]), agent_rows, classes)
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(f"坐席质检周报 {sc.week}")}</title><style>{_CSS}</style></head><body>
<h1>坐席质检周报 {_e(sc.week)}</h1>
<p class="meta">{_e(sc.monday)} 至 {_e(sc.sunday)} · 数据目录 {_e(sc.out_dir)} · 生成于 {_e(sc.generated_at)} ·
环比为与上周（{_e(iso_week(sc.monday - dt.timedelta(days=7)))}）之差，通过率以百分点计</p>
<div class="cards">{card_html}</div>
<h2>趋势（近 {len(sc.weeks)} 周）</h2>{_html_trend(sc)}
<h2>违规排行</h2>{bars}
<h2>语速分布</h2>{histogram}{bands}
<h2>预警</h2>{_html_alerts(sc)}
<h2>团队</h2>{teams_html}
<h2>坐席</h2>{agents_html}
</body></html>
"""


def write_html(sc: Scorecard, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(sc), encoding="utf-8")
    return path


def write_all(sc: Scorecard, dest: str | os.PathLike[str], formats: Iterable[str] = FORMATS) -> list[Path]:
    """Write the chosen formats into `dest`: scorecard-<week>.html / .xlsx and csv/<table>.csv."""
    dest = Path(dest)
    wanted = set(formats)
    unknown = wanted - set(FORMATS)
    if unknown:
        raise ReportError(f"format {', '.join(sorted(unknown))}: expected some of {', '.join(FORMATS)}")
    written: list[Path] = []
    if "html" in wanted:
        written.append(write_html(sc, dest / f"scorecard-{sc.week}.html"))
    if "xlsx" in wanted:
        written.append(write_excel(sc, dest / f"scorecard-{sc.week}.xlsx"))
    if "csv" in wanted:
        written += write_csv(sc, dest / "csv")
    return written
