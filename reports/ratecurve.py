"""The agent's speaking rate over a call, drawn as an inline SVG with the target band.

Characters are counted as the rate rule counts them (spoken characters, numbers as read aloud), over
a sliding run of consecutive agent utterances holding at least `window_seconds` of speech, so the curve
shows the stretch a QA analyst hears as rushed, not single short lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from callqa.model import transcript_from_dict
from qa_checks.call import AnalyzedCall
from qa_checks.lexicon import Lexicon
from qa_checks.rate import RateWindow, cpm, rate_of, windows


@dataclass(frozen=True)
class RatePoint:
    t: float  # seconds into the call: the middle of the window
    chars_per_min: float
    start: float
    end: float


def rate_curve(transcript: dict[str, Any], lex: Lexicon, window_seconds: float | None = None) -> list[RatePoint]:
    window = float(window_seconds or lex.setting("rate.window_seconds"))
    utts = AnalyzedCall(transcript_from_dict(transcript), lex).agent
    spans = list(windows(utts, window))
    if not spans and utts:  # less speech than one window: the call's one rate
        chars, secs = rate_of(utts)
        spans = [RateWindow(cpm(chars, secs), utts[0].seg.start, utts[-1].seg.end, 0, len(utts) - 1)]
    return [RatePoint(round((w.start + w.end) / 2, 2), round(w.chars_per_min, 1), w.start, w.end) for w in spans]


def rate_svg(points: list[RatePoint], duration: float, lower: float, upper: float,
             width: int = 640, height: int = 180) -> str:
    """A line chart of chars/min over time with the lower–upper band shaded; an empty call says so."""
    left, right, top, bottom = 40, 10, 10, 24
    w, h = width - left - right, height - top - bottom
    y_max = max([upper * 1.4, *(p.chars_per_min * 1.1 for p in points)])
    span = max(duration, max((p.end for p in points), default=0.0), 1.0)

    def x(t: float) -> float:
        return left + w * t / span

    def y(v: float) -> float:
        return top + h * (1 - v / y_max)

    parts = [f'<svg class="rate" viewBox="0 0 {width} {height}" width="100%" role="img" '
             f'aria-label="坐席语速曲线（字/分钟）">',
             f'<rect x="{left}" y="{y(upper):.1f}" width="{w}" height="{y(lower) - y(upper):.1f}" fill="#c8e6c9"/>',
             f'<text x="{left + 4}" y="{y(upper) + 12:.1f}">{lower:.0f}–{upper:.0f} 字/分钟</text>',
             f'<line x1="{left}" y1="{top + h}" x2="{left + w}" y2="{top + h}" stroke="#999"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + h}" stroke="#999"/>']
    for v in (0, lower, upper, round(y_max / 50) * 50):
        parts.append(f'<text x="{left - 4}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.0f}</text>')
    step = 30 if span <= 300 else 60 * max(1, round(span / 600))
    t = 0.0
    while t <= span:
        parts.append(f'<text x="{x(t):.1f}" y="{height - 6}" text-anchor="middle">{int(t // 60)}:{int(t % 60):02d}</text>')
        t += step
    if points:
        path = " ".join(f"{'M' if i == 0 else 'L'}{x(p.t):.1f},{y(p.chars_per_min):.1f}" for i, p in enumerate(points))
        parts.append(f'<path d="{path}" fill="none" stroke="#1565c0" stroke-width="2"/>')
        for p in points:
            colour = "#c62828" if p.chars_per_min > upper or p.chars_per_min < lower else "#1565c0"
            parts.append(f'<circle cx="{x(p.t):.1f}" cy="{y(p.chars_per_min):.1f}" r="3" fill="{colour}" '
                         f'data-seek="{p.start}"><title>{escape(f"{p.start:.0f}–{p.end:.0f} 秒: {p.chars_per_min:.0f} 字/分钟")}'
                         f'</title></circle>')
    else:
        parts.append(f'<text x="{left + w / 2}" y="{top + h / 2}" text-anchor="middle">坐席语音不足，无法计算语速</text>')
    parts.append("</svg>")
    return "".join(parts)
