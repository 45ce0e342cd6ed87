"""Conversation dynamics: cutting in (000 禁止直接打断客户), raised voice (高声喧哗), dead air.

Interruptions come from overlapping segment times. Loudness and silences come from the audio: the
speech pipeline writes each segment's `loudness_db` and the call's `audio.silences`; a transcript from
another system without them simply gets no loudness or dead-air findings.
"""

from __future__ import annotations

from callqa.model import Finding

from .call import AnalyzedCall


def check_interruption(call: AnalyzedCall) -> tuple[list[Finding], dict[str, object]]:
    lex = call.lex
    min_overlap = float(lex.setting("dynamics.interruption_min_overlap"))
    min_chars = int(lex.setting("dynamics.interruption_min_chars"))
    out: list[Finding] = []
    count = 0
    customers = call.customer
    for a in call.agent:
        if len(a.clean) < min_chars:
            continue  # 嗯 / 好的 / 对 over the customer is listening, not cutting in
        for c in customers:
            if c.seg.start >= a.seg.start:
                break
            overlap = min(a.seg.end, c.seg.end) - a.seg.start
            if c.seg.end > a.seg.start and overlap >= min_overlap:
                count += 1
                out.append(call.finding("dynamics.interruption", a, a.seg.start, min(a.seg.end, c.seg.end), a.seg.text,
                                        f"客户尚在讲话(「{c.seg.text[:20]}」),坐席插话重叠{overlap:.1f}秒"))
                break
    return out, {"interruptions": count}


def check_loud(call: AnalyzedCall) -> list[Finding]:
    """Agent speech well above the agent's own usual level for a sustained stretch."""
    lex = call.lex
    levels = [u.seg.loudness_db for u in call.agent if u.seg.loudness_db is not None]
    if len(levels) < 3:
        return []
    baseline = sorted(levels)[len(levels) // 2]
    above = float(lex.setting("dynamics.loud_db_above_baseline"))
    min_s = float(lex.setting("dynamics.loud_min_seconds"))
    loud = [u for u in call.agent if u.seg.loudness_db is not None and u.seg.loudness_db - baseline >= above]
    if sum(u.seg.duration for u in loud) < min_s:
        return []
    worst = max(loud, key=lambda u: u.seg.loudness_db or 0.0)
    return [call.finding("dynamics.loud", worst, worst.seg.start, worst.seg.end, worst.seg.text,
                         f"坐席音量比本通电话常态高{(worst.seg.loudness_db or 0) - baseline:.0f} dB"
                         f"(共{sum(u.seg.duration for u in loud):.1f}秒),疑似高声喧哗")]


def check_dead_air(call: AnalyzedCall) -> tuple[list[Finding], dict[str, object]]:
    audio = call.transcript.extra.get("audio")
    if not isinstance(audio, dict) or not isinstance(audio.get("silences"), list):
        return [], {}
    limit = float(call.lex.setting("dynamics.dead_air_seconds"))
    gaps = [(float(a), float(b)) for a, b in audio["silences"]]
    long = sorted((g for g in gaps if g[1] - g[0] >= limit), key=lambda g: g[0])
    findings = [call.finding("dynamics.dead_air", None, a, b, "", f"通话中静默{b - a:.0f}秒(无人说话)") for a, b in long]
    return findings, {"longest_silence": round(max((b - a for a, b in gaps), default=0.0), 1)}
