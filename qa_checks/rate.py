"""Speaking rate 语速, as Huawei CEC defines it: a role's characters ÷ the sum of its utterance durations.

Pauses inside an utterance count as speaking time; silence between turns does not. Characters are the
spoken ones (numbers as read aloud). Besides the whole call, the worst sustained stretch is measured:
consecutive agent utterances adding up to at least `window_seconds` of speech (reading the exclusions
clause at 180/min is a violation even when the call average is fine).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from callqa.model import Finding

from .call import AnalyzedCall, Utterance


@dataclass(frozen=True, slots=True)
class RateWindow:
    chars_per_min: float
    start: float
    end: float
    first: int
    last: int


def rate_of(utts: list[Utterance]) -> tuple[int, float]:
    return sum(len(u.clean) for u in utts), sum(u.seg.duration for u in utts)


def cpm(chars: int, seconds: float) -> float:
    return 60.0 * chars / seconds if seconds > 0 else 0.0


def windows(utts: list[Utterance], min_seconds: float) -> Iterator[RateWindow]:
    """From each utterance, the shortest run of consecutive ones holding at least `min_seconds` of speech
    (two pointers); the runs stop where the rest of the call holds less."""
    j = 0
    chars = 0
    secs = 0.0
    for i in range(len(utts)):
        while j < len(utts) and secs < min_seconds:
            chars += len(utts[j].clean)
            secs += utts[j].seg.duration
            j += 1
        if secs < min_seconds:
            return
        yield RateWindow(cpm(chars, secs), utts[i].seg.start, utts[j - 1].seg.end, i, j - 1)
        chars -= len(utts[i].clean)
        secs -= utts[i].seg.duration


def worst_window(utts: list[Utterance], min_seconds: float) -> RateWindow | None:
    """The fastest run of consecutive utterances with at least `min_seconds` of speech."""
    # None only when the whole call holds less than `min_seconds` of speech
    return max(windows(utts, min_seconds), key=lambda w: w.chars_per_min, default=None)


def check_rate(call: AnalyzedCall) -> tuple[list[Finding], dict[str, object]]:
    lex = call.lex
    lower, upper = float(lex.setting("rate.lower")), float(lex.setting("rate.upper"))
    agent = [u for u in call.agent if u.clean]
    customer = [u for u in call.customer if u.clean]
    a_chars, a_secs = rate_of(agent)
    c_chars, c_secs = rate_of(customer)
    a_rate, c_rate = cpm(a_chars, a_secs), cpm(c_chars, c_secs)
    window = worst_window(agent, float(lex.setting("rate.window_seconds")))
    metrics: dict[str, object] = {
        "agent_chars": a_chars,
        "agent_speaking_seconds": round(a_secs, 2),
        "agent_chars_per_min": round(a_rate, 1),
        "customer_chars_per_min": round(c_rate, 1),
        "customer_speaking_seconds": round(c_secs, 2),
        "worst_window": (
            {"chars_per_min": round(window.chars_per_min, 1), "start": round(window.start, 2), "end": round(window.end, 2)}
            if window else None
        ),
    }
    out: list[Finding] = []
    if not agent or a_secs < float(lex.setting("rate.min_speaking_seconds")):
        return out, metrics
    first, last = agent[0], agent[-1]
    band = f"{lower:.0f}–{upper:.0f}字/分钟"
    if a_rate > upper:
        extra = f";最快片段{window.chars_per_min:.0f}字/分钟" if window else ""
        out.append(call.finding("rate.too_fast", first, first.seg.start, last.seg.end, f"{a_rate:.0f}字/分钟",
                                f"坐席全程语速{a_rate:.0f}字/分钟,超过{band}{extra}"))
    elif window and window.chars_per_min > float(lex.setting("rate.window_upper")):
        w_utts = agent[window.first : window.last + 1]
        out.append(call.finding("rate.too_fast", w_utts[0], window.start, window.end,
                                "".join(u.seg.text for u in w_utts),
                                f"坐席在{window.start:.0f}–{window.end:.0f}秒持续语速{window.chars_per_min:.0f}字/分钟,"
                                f"超过{band}(全程{a_rate:.0f})"))
    if a_rate < lower:
        out.append(call.finding("rate.too_slow", first, first.seg.start, last.seg.end, f"{a_rate:.0f}字/分钟",
                                f"坐席全程语速{a_rate:.0f}字/分钟,低于{band}"))
    ratio = float(lex.setting("rate.mismatch_ratio"))
    if (c_secs >= float(lex.setting("rate.mismatch_min_customer_seconds"))
            and c_chars >= int(lex.setting("rate.mismatch_min_customer_chars")) and c_rate > 0):
        r = a_rate / c_rate
        metrics["agent_customer_rate_ratio"] = round(r, 2)
        if r > ratio or r < 1 / ratio:
            out.append(call.finding("rate.mismatch", first, first.seg.start, last.seg.end,
                                    f"坐席{a_rate:.0f} / 客户{c_rate:.0f}字/分钟",
                                    f"坐席语速{a_rate:.0f}与客户语速{c_rate:.0f}字/分钟相差过大,应与客户语速相匹配"))
    return out, metrics
