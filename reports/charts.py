"""Charts drawn as inline SVG, and the number formats the report pages share: no chart library, no
network, so a page stays one file that opens anywhere."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence

RATE_BIN = 10  # 字/分钟 per histogram bin


PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
            "#17becf")
SEVERITY_COLOUR = {"critical": "#c0392b", "major": "#e67e22", "minor": "#f1c40f", "info": "#95a5a6"}


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def fmt_num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def fmt_pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def fmt_delta(value: float | None, percent: bool) -> str:
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
        return "#222" if strong else "#c3c8cf" if grey else PALETTE[idx % len(PALETTE)]

    def x(i: int) -> float:
        return left + (w - left - right) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return top + (h - top - bottom) * (1 - (v - lo) / (hi - lo))

    def label(v: float) -> str:
        return f"{v * 100:g}%" if fmt == "pct" else f"{v:g}"

    parts = [f'<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{esc(title)}">',
             f'<text x="{left}" y="16" class="ct">{esc(title)}</text>']
    for v in ticks:
        parts.append(f'<line x1="{left}" x2="{w - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" class="grid"/>'
                     f'<text x="{left - 6}" y="{y(v) + 4:.1f}" class="ax" text-anchor="end">{esc(label(v))}</text>')
    for i, lab in enumerate(x_labels):
        parts.append(f'<text x="{x(i):.1f}" y="{h - 12}" class="ax" text-anchor="middle">{esc(lab[-3:])}</text>')
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
                         f'<title>{esc(name)}</title></polyline>')
        for i, v in enumerate(vals):
            if v is not None:
                parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="{3.5 if strong else 2.5}" fill="{colour}">'
                             f'<title>{esc(name)} {esc(x_labels[i])}: {esc(f"{v * 100:.1f}%" if fmt == "pct" else f"{v:.1f}")}'
                             f'</title></circle>')
    parts.append("</svg>")
    shown = [(i, name, strong) for i, (name, _, strong) in enumerate(series) if strong or not grey]
    legend = "".join(f'<span class="key"><i style="background:{colour_of(i, strong)}"></i>{esc(name)}</span>'
                     for i, name, strong in shown)
    if grey:
        legend += f'<span class="key"><i style="background:{colour_of(0, False)}"></i>各团队（悬停看名称）</span>'
    return "".join(parts) + f'<div class="legend">{legend}</div>'


def svg_bars(title: str, items: Sequence[tuple[str, float, str]]) -> str:
    """Horizontal bars: (label, value, colour), biggest first as given."""
    if not items:
        return f'<p class="note">{esc(title)}：本周无记录</p>'
    w, row, left, top = 640, 24, 230, 28
    h = top + row * len(items) + 8
    top_value = max(v for _, v, _ in items) or 1
    parts = [f'<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{esc(title)}">',
             f'<text x="0" y="16" class="ct">{esc(title)}</text>']
    for i, (lab, v, colour) in enumerate(items):
        yy = top + i * row
        bw = (w - left - 60) * v / top_value
        parts.append(f'<text x="{left - 8}" y="{yy + 15}" class="lbl" text-anchor="end">{esc(lab)}</text>'
                     f'<rect x="{left}" y="{yy + 3}" width="{bw:.1f}" height="{row - 8}" fill="{colour}">'
                     f'<title>{esc(lab)}: {v:g}</title></rect>'
                     f'<text x="{left + bw + 6:.1f}" y="{yy + 15}" class="ax">{v:g}</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_histogram(title: str, bins: Sequence[tuple[int, int]], band: tuple[float, float], width: int = RATE_BIN) -> str:
    """Calls per rate bin, with the target band shaded; bins are (lower edge, calls)."""
    if not bins:
        return f'<p class="note">{esc(title)}：本周无语速数据</p>'
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

    parts = [f'<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{esc(title)}">',
             f'<text x="{left}" y="16" class="ct">{esc(title)}</text>',
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
