"""Conversation dynamics: cutting in (000 禁止直接打断客户), raised voice (高声喧哗), dead air.

Interruptions come from overlapping segment times. Loudness and silences come from the audio: the
speech pipeline writes each segment's `loudness_db` and the call's `audio.silences`; a transcript from
another system without them simply gets no loudness or dead-air findings.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator, Mapping
from typing import Any

from callqa.model import Basis, Finding

from .call import AnalyzedCall, SegmentView
from .registry import NUMBER, Needs, measure, rule_check

INTERRUPTION_NEEDS = Needs(settings={"dynamics.interruption_min_overlap": NUMBER,
                                     "dynamics.interruption_min_chars": int})


def interruptions(call: AnalyzedCall) -> list[tuple[SegmentView, SegmentView, float]]:
    """(agent segment, the customer segment it cut into, seconds of overlap), one per agent segment.

    The customer segment is the earliest one that started before the agent and is still speaking
    `min_overlap` seconds after the agent started. Bisection over the customer starts and over the running
    maximum of their ends finds it, so a long call costs n log n, not n² (a long customer turn can outlast
    shorter ones after it, which is why the running maximum is searched).
    """
    lex = call.lex
    min_overlap = float(lex.setting("dynamics.interruption_min_overlap"))
    min_chars = int(lex.setting("dynamics.interruption_min_chars"))
    customers = call.customer
    starts = [c.seg.start for c in customers]
    reach = list(itertools.accumulate((c.seg.end for c in customers), max))
    out = []
    for a in call.agent:
        if len(a.clean) < min_chars:
            continue  # 嗯 / 好的 / 对 over the customer is listening, not cutting in
        if a.seg.end - a.seg.start < min_overlap:
            continue
        before = bisect.bisect_left(starts, a.seg.start)  # customer segments that started before the agent
        first = bisect.bisect_left(reach, a.seg.start + min_overlap, hi=before)
        if first < before:
            c = customers[first]
            out.append((a, c, min(a.seg.end, c.seg.end) - a.seg.start))
    return out


@measure(needs=INTERRUPTION_NEEDS)
def interruption_measures(call: AnalyzedCall) -> Mapping[str, Any]:
    return {"interruptions": len(call.memo(interruptions))}


@rule_check("dynamics.interruption", needs=INTERRUPTION_NEEDS)
def check_interruption(call: AnalyzedCall) -> Iterator[Finding]:
    """The agent starts speaking while the customer is still speaking, beyond a set overlap; short
    backchannels (嗯, 好的) do not count."""
    for a, c, overlap in call.memo(interruptions):
        yield call.finding("dynamics.interruption", a, a.seg.start, min(a.seg.end, c.seg.end), a.seg.text,
                           f"客户尚在讲话(「{c.seg.text[:20]}」),坐席插话重叠{overlap:.1f}秒", basis=Basis.MEASURED)


@rule_check("dynamics.loud", needs=Needs(settings={"dynamics.loud_db_above_baseline": NUMBER,
                                                   "dynamics.loud_min_seconds": NUMBER}))
def check_loud(call: AnalyzedCall) -> Iterator[Finding]:
    """Agent speech well above the agent's own usual level for a sustained stretch (高声喧哗)."""
    lex = call.lex
    levels = [u.seg.loudness_db for u in call.agent if u.seg.loudness_db is not None]
    if len(levels) < 3:
        return
    baseline = sorted(levels)[len(levels) // 2]
    above = float(lex.setting("dynamics.loud_db_above_baseline"))
    min_s = float(lex.setting("dynamics.loud_min_seconds"))
    loud = [u for u in call.agent if u.seg.loudness_db is not None and u.seg.loudness_db - baseline >= above]
    if sum(u.seg.duration for u in loud) < min_s:
        return
    worst = max(loud, key=lambda u: u.seg.loudness_db or 0.0)
    yield call.finding("dynamics.loud", worst, worst.seg.start, worst.seg.end, worst.seg.text,
                       f"坐席音量比本通电话常态高{(worst.seg.loudness_db or 0) - baseline:.0f} dB"
                       f"(共{sum(u.seg.duration for u in loud):.1f}秒),疑似高声喧哗", basis=Basis.MEASURED)


@measure()
def silence_measures(call: AnalyzedCall) -> Mapping[str, Any]:
    audio = call.transcript.audio
    if audio is None:
        return {}
    return {"longest_silence": round(max((b - a for a, b in audio.silences), default=0.0), 1)}


@rule_check("dynamics.dead_air", needs=Needs(settings={"dynamics.dead_air_seconds": NUMBER}))
def check_dead_air(call: AnalyzedCall) -> Iterator[Finding]:
    """Silence longer than a set number of seconds inside the call (from the audio measures)."""
    audio = call.transcript.audio
    if audio is None:
        return
    limit = float(call.lex.setting("dynamics.dead_air_seconds"))
    for a, b in sorted((g for g in audio.silences if g[1] - g[0] >= limit), key=lambda g: g[0]):
        yield call.finding("dynamics.dead_air", None, a, b, "", f"通话中静默{b - a:.0f}秒(无人说话)", basis=Basis.MEASURED)
