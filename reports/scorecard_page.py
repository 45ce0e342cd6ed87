"""The scorecard as one self-contained HTML page: tables with week-on-week change, SVG charts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import polars as pl

from .charts import (
    SEVERITY_COLOUR,
    esc,
    fmt_delta,
    fmt_num,
    fmt_pct,
    svg_bars,
    svg_histogram,
    svg_lines,
)
from .render import asset
from .scorecard import AGE_BUCKETS, DIMENSIONS, GRADES, KEY_ALERTS, TOP_OVERALL, Scorecard, alert_column, labels
from .tables import iso_week

_CSS = """
body{margin:24px;color:#222;max-width:1280px}
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
td.ok{background:#d5f5e3}td.near{background:#fdebd0}td.low{background:#fadbd8}
"""


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], classes: Sequence[str] = ()) -> str:
    """`rows` hold HTML already escaped; `classes` (per row, optional) style whole rows."""
    out = ["<table><thead><tr>", *(f"<th>{esc(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if i < len(classes) and classes[i] else ""
        out.append(f"<tr{cls}>" + "".join(row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _td(text: str, left: bool = False, raw: bool = False) -> str:
    return f'<td class="t">{text if raw else esc(text)}</td>' if left else f"<td>{text if raw else esc(text)}</td>"


def _rate_cell(sc: Scorecard, value: float | None) -> str:
    off = value is not None and not sc.rate_lower <= value <= sc.rate_upper
    return f'<td class="{"warn" if off else ""}">{esc(fmt_num(value))}</td>'


def _group_rows(sc: Scorecard, frame: pl.DataFrame, top: dict[tuple[str | None, str | None], str],
                name_cols: Sequence[str]) -> list[list[str]]:
    rows = []
    for r in frame.iter_rows(named=True):
        cells = [_td(r[c], left=True) for c in name_cols]
        cells += [
            _td(str(r["calls"])), _pass_cell(sc, r["pass_rate"]), _td(fmt_delta(r["d_pass_rate"], True), raw=True),
            _td(fmt_num(r["score"])), _td(fmt_delta(r["d_score"], False), raw=True),
            *(_td(fmt_num(r[d])) for d in DIMENSIONS),
            _rate_cell(sc, r["rate_mean"]),
            _td(f'{fmt_pct(r["rate_below"])} / {fmt_pct(r["rate_within"])} / {fmt_pct(r["rate_above"])}'),
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
    with_calls = sc.trend_weeks_with_calls()
    if len(with_calls) < 2:  # one point is no trend: say so rather than draw dots
        return (f'<p class="note" id="no-trend">趋势需要至少两周有通话的数据：近 {len(weeks)} 周中只有 '
                f'{esc("、".join(with_calls) or "无")} 有通话。</p>')
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
    rows = [[_td(r["week"], left=True), _td(str(r["calls"])), _pass_cell(sc, r["pass_rate"]),
             _td(fmt_delta(r["d_pass_rate"], True), raw=True), _td(fmt_num(r["score"])), _td(fmt_delta(r["d_score"], False), raw=True),
             *(_td(fmt_num(r[d])) for d in DIMENSIONS)] for r in overall.iter_rows(named=True)]
    table = _table(["周", "通话数", "通过率", "环比", "平均分", "环比", "合规", "专业", "客户体验"], rows)
    pivot_rows = []
    team_trend = sc.trend.filter(pl.col("level") == "team")
    for team, frame in team_trend.group_by("team", maintain_order=True):
        by_week = {r["week"]: r["pass_rate"] for r in frame.iter_rows(named=True)}
        pivot_rows.append([_td(str(team[0]), left=True), *(_pass_cell(sc, by_week.get(w)) for w in weeks)])
    pivot = _table(["团队 \\ 周", *weeks], pivot_rows)
    return charts + "<h3>全部坐席</h3>" + table + "<h3>各团队通过率</h3>" + pivot + _pass_legend(sc)


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


def _html_reviewed(sc: Scorecard) -> str:
    """Automatic and reviewed score side by side, per team and agent."""
    if sc.reviewed is None:
        return ""
    rows, classes = [], []
    for r in sc.reviewed.iter_rows(named=True):
        name = "全部" if r["level"] == "overall" else (r["team"] if r["level"] == "team" else f'{r["team"]} · {r["agent_id"]}')
        rows.append([_td(name, left=True), _td(str(r["calls"])), _td(str(r["reviewed_calls"])), _td(str(r["false_alarms"])),
                     _td(fmt_num(r["score"])), _td(fmt_num(r["score_reviewed"])), _td(fmt_pct(r["pass_rate"])),
                     _td(fmt_pct(r["pass_rate_reviewed"]))])
        classes.append("team" if r["level"] != "agent" else "")
    return ("<h2>人工复核</h2><p class=\"note\">复核后得分：已复核通话去掉被判为误报的发现后重新计分，"
            "未复核通话按自动评分计。</p>"
            + _table(["团队 / 坐席", "通话数", "已复核", "误报", "自动平均分", "复核后平均分", "自动通过率", "复核后通过率"],
                     rows, classes))


def _html_cases(sc: Scorecard) -> str:
    """On-time handling of the week's follow-up cases, and the cases open now by age and grade."""
    if sc.cases is None:
        return ""
    names = labels(sc)
    ages = [k for _, k, _ in AGE_BUCKETS]
    grades = [f"open_{g}" for g in GRADES]
    rows = [[_td("全部" if r["level"] == "overall" else r["team"], left=True), _td(str(r["opened"])),
             _td(str(r["decided"])), _td(str(r["on_time"])), _td(fmt_pct(r["on_time_rate"])), _td(str(r["open_now"])),
             _td(str(r["overdue_now"])), *(_td(str(r[c])) for c in ages + grades)]
            for r in sc.cases.iter_rows(named=True)]
    return ("<h2>回访问题件</h2><p class=\"note\">问题件数与按时处理率：本周通话生成的问题件（已处理或已超时者计入处理率）；"
            "未结问题件：当前仍未回复或结案的全部问题件，按已等待时长与等级。</p>"
            + _table(["团队", *(names[c] for c in ("opened", "decided", "on_time", "on_time_rate", "open_now",
                                                  "overdue_now")), *(names[c] for c in ages + grades)], rows))


def pass_class(sc: Scorecard, value: float | None) -> str:
    """A pass rate against the team's fixed levels: on target (ok), under it (near), under the alarm (low)."""
    if value is None:
        return ""
    return "ok" if value >= sc.pass_target else "near" if value >= sc.pass_alarm else "low"


def _pass_cell(sc: Scorecard, value: float | None) -> str:
    cls = pass_class(sc, value)
    return f'<td class="{cls}">{esc(fmt_pct(value))}</td>' if cls else "<td>–</td>"


def _pass_legend(sc: Scorecard) -> str:
    return (f'<p class="note">通过率底色：<span class="key"><i style="background:#d5f5e3"></i>达标（≥ {fmt_pct(sc.pass_target)}）'
            f'</span><span class="key"><i style="background:#fdebd0"></i>未达标</span><span class="key">'
            f'<i style="background:#fadbd8"></i>低于 {fmt_pct(sc.pass_alarm)}</span></p>')


def render_html(sc: Scorecard, header: str = "") -> str:
    """The page; `header` (HTML, trusted) goes first in the body (a server's navigation)."""
    o = sc.overall.row(0, named=True)
    cards = [("通话数", str(o["calls"]), ""), ("通过率", fmt_pct(o["pass_rate"]), fmt_delta(o["d_pass_rate"], True)),
             ("平均分", fmt_num(o["score"]), fmt_delta(o["d_score"], False)),
             *((labels(sc)[d], fmt_num(o[d]), "") for d in DIMENSIONS),
             ("平均语速", fmt_num(o["rate_mean"]), ""), ("预警通话", str(o["alert_calls"]), ""),
             *((sc.title(a), str(o[alert_column(a)]), "") for a in KEY_ALERTS)]
    if sc.reviewed is not None:
        r = sc.reviewed.row(0, named=True)
        cards[3:3] = [("复核后平均分", fmt_num(r["score_reviewed"]), ""), ("已复核通话", str(r["reviewed_calls"]), "")]
    if sc.cases is not None:
        c = sc.cases.row(0, named=True)
        cards += [("问题件按时处理率", fmt_pct(c["on_time_rate"]), ""), ("未结问题件", str(c["open_now"]), "")]
    card_html = "".join(f"<div class=\"card\"><span>{esc(k)}</span><b>{esc(v)}</b>{d}</div>" for k, v, d in cards)
    top = sc.violations.filter(pl.col("level") == "overall")
    bars = svg_bars(f"违规排行（前{TOP_OVERALL}，按次数）",
                    [(f'{r["title"]} ({r["rule"]})', r["findings"], SEVERITY_COLOUR.get(sc.severity(r["rule"]) or "", "#7f8c8d"))
                     for r in top.iter_rows(named=True)])
    hist = sc.rate_bins.filter(pl.col("level") == "overall")
    histogram = svg_histogram(f"语速分布（字/分钟，阴影为标准区间 {sc.rate_lower:g}–{sc.rate_upper:g}）",
                              list(zip(hist["bin"].to_list(), hist["calls"].to_list(), strict=True)),
                              (sc.rate_lower, sc.rate_upper))
    bands = (f'<p class="note">语速偏慢 {fmt_pct(o["rate_below"])} · 标准 {fmt_pct(o["rate_within"])} · '
             f'偏快 {fmt_pct(o["rate_above"])}（{o["rate_measured"]} 通有效语速）</p>')
    teams_html = _table(_group_head(sc, ["team"]), _group_rows(sc, sc.teams, _top_text(sc, "team"), ["team"]))
    agent_rows: list[list[str]] = []
    classes: list[str] = []
    for team, frame in sc.agents.group_by("team", maintain_order=True):
        agent_rows.append([f'<td class="t" colspan="{len(_group_head(sc, ["agent_id"]))}">{esc(team[0])}</td>'])
        classes.append("team")
        agent_rows += _group_rows(sc, frame, _top_text(sc, "agent"), ["agent_id"])
        classes += [""] * frame.height
    agents_html = _table(_group_head(sc, ["agent_id"]), agent_rows, classes)
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(f"坐席质检周报 {sc.week}")}</title><style>{asset("fonts.css")}{_CSS}</style></head><body>{header}
<h1>坐席质检周报 {esc(sc.week)}</h1>
<p class="meta">{esc(sc.monday)} 至 {esc(sc.sunday)} · 数据目录 {esc(sc.out_dir)} · 生成于 {esc(sc.generated_at)} ·
环比为与上周（{esc(iso_week(sc.monday - dt.timedelta(days=7)))}）之差，通过率以百分点计</p>
<div class="cards">{card_html}</div>
<h2>趋势（近 {len(sc.weeks)} 周）</h2>{_html_trend(sc)}
<h2>违规排行</h2>{bars}
<h2>语速分布</h2>{histogram}{bands}
<h2>预警</h2>{_html_alerts(sc)}
{_html_reviewed(sc)}{_html_cases(sc)}
<h2>团队</h2>{teams_html}{_pass_legend(sc)}
<h2>坐席</h2>{agents_html}
</body></html>
"""
