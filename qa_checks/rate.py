"""Speaking rate 语速, as Huawei CEC defines it: a role's characters ÷ the sum of its utterance durations.

Pauses inside an utterance count as speaking time; silence between turns does not. Characters are the
spoken ones (numbers as read aloud). Besides the whole call, the worst sustained stretch is measured:
consecutive agent utterances adding up to at least `window_seconds` of speech (reading the exclusions
clause at 180/min is a violation even when the call average is fine).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from callqa.model import Basis, Finding

from .call import AnalyzedCall, SegmentView
from .registry import NUMBER, POSITIVE, Needs, measure, rule_check


@dataclass(frozen=True, slots=True)
class RateWindow:
    chars_per_min: float
    start: float
    end: float
    first: int
    last: int


def rate_of(utts: list[SegmentView]) -> tuple[int, float]:
    return sum(len(u.clean) for u in utts), sum(u.seg.duration for u in utts)


def cpm(chars: int, seconds: float) -> float:
    return 60.0 * chars / seconds if seconds > 0 else 0.0


def windows(utts: list[SegmentView], min_seconds: float) -> Iterator[RateWindow]:
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


def worst_window(utts: list[SegmentView], min_seconds: float) -> RateWindow | None:
    """The fastest run of consecutive utterances with at least `min_seconds` of speech."""
    # None only when the whole call holds less than `min_seconds` of speech
    return max(windows(utts, min_seconds), key=lambda w: w.chars_per_min, default=None)


@dataclass(frozen=True, slots=True)
class Rates:
    """The speaking rates of a call: the agent's whole call and worst stretch, and the customer's."""

    agent: list[SegmentView]
    agent_chars: int
    agent_seconds: float
    customer_chars: int
    customer_seconds: float
    window: RateWindow | None

    @property
    def agent_rate(self) -> float:
        return cpm(self.agent_chars, self.agent_seconds)

    @property
    def customer_rate(self) -> float:
        return cpm(self.customer_chars, self.customer_seconds)


RATE_NEEDS = Needs(settings={"rate.lower": NUMBER, "rate.upper": NUMBER, "rate.window_seconds": POSITIVE,
                             "rate.min_speaking_seconds": NUMBER})


def rates(call: AnalyzedCall) -> Rates:
    agent = [u for u in call.agent if u.clean]
    customer = [u for u in call.customer if u.clean]
    a_chars, a_secs = rate_of(agent)
    c_chars, c_secs = rate_of(customer)
    window = worst_window(agent, float(call.lex.setting("rate.window_seconds")))
    return Rates(agent, a_chars, a_secs, c_chars, c_secs, window)


@measure(needs=RATE_NEEDS)
def rate_measures(call: AnalyzedCall) -> Mapping[str, Any]:
    r = call.memo(rates)
    w = r.window
    return {
        "agent_chars": r.agent_chars,
        "agent_speaking_seconds": round(r.agent_seconds, 2),
        "agent_chars_per_min": round(r.agent_rate, 1),
        "customer_chars_per_min": round(r.customer_rate, 1),
        "customer_speaking_seconds": round(r.customer_seconds, 2),
        "worst_window": ({"chars_per_min": round(w.chars_per_min, 1), "start": round(w.start, 2),
                          "end": round(w.end, 2)} if w else None),
    }


def _judged(call: AnalyzedCall) -> Rates | None:
    """The call's rates, when the agent spoke long enough for a call-level rate to mean something."""
    r = call.memo(rates)
    if not r.agent or r.agent_seconds < float(call.lex.setting("rate.min_speaking_seconds")):
        return None
    return r


def _band(call: AnalyzedCall) -> str:
    return f"{float(call.lex.setting('rate.lower')):.0f}–{float(call.lex.setting('rate.upper')):.0f}字/分钟"


@rule_check("rate.too_fast", needs=RATE_NEEDS + Needs(settings={"rate.window_upper": NUMBER}))
def check_too_fast(call: AnalyzedCall) -> Iterator[Finding]:
    """The agent's characters per minute of speaking time above the upper bound over the call, or in a
    sustained stretch (reading the exclusions clause at 180/min in a call whose average is fine)."""
    r = _judged(call)
    if r is None:
        return
    lex = call.lex
    first, last, window, a_rate = r.agent[0], r.agent[-1], r.window, r.agent_rate
    if a_rate > float(lex.setting("rate.upper")):
        extra = f";最快片段{window.chars_per_min:.0f}字/分钟" if window else ""
        yield call.finding("rate.too_fast", first, first.seg.start, last.seg.end, f"{a_rate:.0f}字/分钟",
                           f"坐席全程语速{a_rate:.0f}字/分钟,超过{_band(call)}{extra}", basis=Basis.MEASURED)
    elif window and window.chars_per_min > float(lex.setting("rate.window_upper")):
        w_utts = r.agent[window.first : window.last + 1]
        yield call.finding("rate.too_fast", w_utts[0], window.start, window.end, "".join(u.seg.text for u in w_utts),
                           f"坐席在{window.start:.0f}–{window.end:.0f}秒持续语速{window.chars_per_min:.0f}字/分钟,"
                           f"超过{_band(call)}(全程{a_rate:.0f})", basis=Basis.MEASURED)


@rule_check("rate.too_slow", needs=RATE_NEEDS)
def check_too_slow(call: AnalyzedCall) -> Iterator[Finding]:
    """The agent's rate over the call below the lower bound."""
    r = _judged(call)
    if r is not None and r.agent_rate < float(call.lex.setting("rate.lower")):
        first, last = r.agent[0], r.agent[-1]
        yield call.finding("rate.too_slow", first, first.seg.start, last.seg.end, f"{r.agent_rate:.0f}字/分钟",
                           f"坐席全程语速{r.agent_rate:.0f}字/分钟,低于{_band(call)}", basis=Basis.MEASURED)


MISMATCH_NEEDS = RATE_NEEDS + Needs(settings={"rate.mismatch_ratio": POSITIVE,
                                              "rate.mismatch_min_customer_seconds": NUMBER,
                                              "rate.mismatch_min_customer_chars": int,
                                              "rate.mismatch_review_margin": NUMBER})


def rate_ratio(call: AnalyzedCall) -> float | None:
    """Agent rate over customer rate, when the customer said enough to have a rate."""
    r = call.memo(rates)
    lex = call.lex
    if (r.customer_seconds >= float(lex.setting("rate.mismatch_min_customer_seconds"))
            and r.customer_chars >= int(lex.setting("rate.mismatch_min_customer_chars")) and r.customer_rate > 0):
        return r.agent_rate / r.customer_rate
    return None


@measure(needs=MISMATCH_NEEDS)
def ratio_measures(call: AnalyzedCall) -> Mapping[str, Any]:
    ratio = rate_ratio(call)
    if ratio is None or _judged(call) is None:
        return {}
    return {"agent_customer_rate_ratio": round(ratio, 2)}


@rule_check("rate.mismatch", needs=MISMATCH_NEEDS)
def check_mismatch(call: AnalyzedCall) -> Iterator[Finding]:
    """The agent's rate far from the customer's (000: 语速应与客户语速相匹配)."""
    r = _judged(call)
    ratio = rate_ratio(call)
    limit = float(call.lex.setting("rate.mismatch_ratio"))
    if r is None or ratio is None or 1 / limit <= ratio <= limit:
        return
    first, last = r.agent[0], r.agent[-1]
    # the customer's rate on recognised speech is the least sure figure of a call (short answers garbled
    # into more characters, pauses cut): a ratio only just past the limit is for a person to verify
    margin = 1 + float(call.lex.setting("rate.mismatch_review_margin"))
    near = call.has_probabilities and 1 / (limit * margin) <= ratio <= limit * margin
    yield call.finding("rate.mismatch", first, first.seg.start, last.seg.end,
                       f"坐席{r.agent_rate:.0f} / 客户{r.customer_rate:.0f}字/分钟",
                       f"坐席语速{r.agent_rate:.0f}与客户语速{r.customer_rate:.0f}字/分钟相差过大,应与客户语速相匹配",
                       basis=Basis.MEASURED, confidence=0.0 if near else None)
