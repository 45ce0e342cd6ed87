"""Customer events and their handling: 退保预警, 销售误导, 投诉, 安抚, 预约 (seeds 000, 001, 003, 004).

Intent is read from the customer's words only; a negation before the cue cancels it (我不想退保).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from callqa.model import Basis, Finding

from .call import AnalyzedCall, SegmentView
from .questions import NEEDS as QUESTION_NEEDS
from .questions import questions_of
from .registry import NUMBER, Check, Needs, add_check, rule_check
from .script import SOUND_PHRASE_NEEDS, phrases_by_sound
from .spans import Spans
from .textmatch import Hit, has_cue_before

# rule, the cue list of the customer's words, words that look like it but are not (a complaint about the
# weather), whether a hypothetical (万一要退保) cancels it, and the message
_ALERTS = (
    ("alert.surrender", "surrender", None, True, "客户表达退保意愿,需受理退保预警",
     "The customer expresses intent to surrender or cancel (我要退保, 和当时说的不一样我要退); not when negated, "
     "quoted or hypothetical (万一要退保)."),
    ("alert.misleading_sale", "misleading_sale", None, False, "客户反映疑似销售误导,需转办核查",
     "Signs of mis-selling in the customer's words: thought it was a deposit, not told about exclusions, the "
     "agent signed for them, promised returns."),
    ("alert.complaint", "complaint", "complaint_ignore", False, "客户投诉或表示要投诉,需登记上报",
     "The customer complains or threatens to complain."),
)
VOICE_NEEDS = Needs(settings={"dynamics.loud_db_above_baseline": NUMBER, "dynamics.loud_min_seconds": NUMBER})


def _customer_hits(call: AnalyzedCall, cue: str, ignore: str | None = None, hypothetical: bool = False, *,
                   by_sound: bool = False) -> list[tuple[SegmentView, Hit]]:
    """Customer phrases of a cue list, not negated, not quoted, and (for intents) not hypothetical. With
    `by_sound`, the list's longer phrases heard by sound where the recogniser wrote none of them
    (跟准定期一样 for 跟存定期一样), under the same conditions."""
    index = call.lex.cue(cue)
    ign = call.lex.cue(ignore) if ignore else None
    ifs = call.lex.cue("hypothetical")
    heard: dict[int, list[Hit]] = {}
    if by_sound:
        for w in phrases_by_sound(call, index.phrases, [[u] for u in call.customer], customer=True):
            h = Hit(w.start, w.end, w.phrase, cue)
            if not call.negated(w.first, h):
                heard.setdefault(w.first.index, []).append(h)
    out = []
    for u in call.customer:
        hits = heard.get(u.index, []) if by_sound else call.find(u, index, negatable=True, boundaries=False)
        if not hits:
            continue
        masked = Spans(h.span for h in ign.search(u.clean, False)) if ign else Spans()
        for h in hits:
            if masked.holds(h.start) or call.reported(u, h):
                continue
            if hypothetical and has_cue_before(u.clean, h.start, ifs, min(8, h.start)) is not None:
                continue
            out.append((u, h))
    return out


def _raised_voice(call: AnalyzedCall) -> list[tuple[SegmentView, Hit]]:
    """Customer utterances well above the customer's own usual level (from the audio pipeline)."""
    levels = [u.seg.loudness_db for u in call.customer if u.seg.loudness_db is not None]
    if len(levels) < 3:
        return []
    baseline = sorted(levels)[len(levels) // 2]
    above = float(call.lex.setting("dynamics.loud_db_above_baseline"))
    min_s = float(call.lex.setting("dynamics.loud_min_seconds"))
    return [(u, Hit(0, len(u.clean), "raised voice", "loudness")) for u in call.customer
            if u.seg.loudness_db is not None and u.seg.loudness_db - baseline >= above and u.seg.duration >= min_s]


def check_alert(rule: str, cue: str, ignore: str | None, hypothetical: bool, message: str,
                call: AnalyzedCall) -> Iterator[Finding]:
    hits = (_customer_hits(call, cue, ignore, hypothetical=hypothetical)
            or _customer_hits(call, cue, ignore, hypothetical=hypothetical, by_sound=True))
    if hits:
        u, h = hits[0]
        more = f"(共{len(hits)}处)" if len(hits) > 1 else ""
        yield call.hit_finding(rule, u, h, message + more)


for _rule, _cue, _ignore, _hypo, _message, _doc in _ALERTS:
    add_check(Check(name=f"check_{_rule}", rules=(_rule,), run=partial(check_alert, _rule, _cue, _ignore, _hypo, _message),
                    needs=SOUND_PHRASE_NEEDS + Needs(cues=tuple(c for c in (_cue, _ignore, "hypothetical") if c)),
                    doc=_doc))


@rule_check("handling.no_soothing", needs=VOICE_NEEDS + Needs(
    settings={"handling.soothing_turns": int}, cues=("soothing", "agitation", "complaint", "complaint_ignore",
                                                     "hypothetical")))
def check_no_soothing(call: AnalyzedCall) -> Iterator[Finding]:
    """The customer is agitated (words, or a voice raised well above their own level) and the agent does not
    acknowledge it (我理解您的心情 / 非常抱歉) before going on."""
    lex = call.lex
    soothing = lex.cue("soothing")
    n = int(lex.setting("handling.soothing_turns"))
    agitated = (_customer_hits(call, "agitation") + _customer_hits(call, "complaint", "complaint_ignore")
                + _raised_voice(call))
    handled_until = -1
    for turn in sorted({u.turn for u, _ in agitated}):
        if turn <= handled_until:
            continue
        replies = call.next_turns(turn, "agent", n)
        if not replies:
            continue
        if any(call.find(r, soothing, boundaries=False) for r in replies):
            handled_until = replies[-1].turn
            continue
        u, h = next((uu, hh) for uu, hh in agitated if uu.turn == turn)
        r = replies[0]
        # as sure as the agitation heard and the agent's reply heard without soothing words
        sure = [c for c in (call.heard_confidence(u, h.start, h.end) if h.tag != "loudness" else 1.0,
                            call.region_confidence("agent", r.seg.start, replies[-1].seg.end)) if c is not None]
        yield call.finding("handling.no_soothing", r, u.seg.start, r.seg.end, u.seg.text,
                           f"客户情绪激动(「{u.excerpt(h.start, h.end)}」),坐席未安抚即继续", basis=Basis.ABSENT,
                           confidence=min(sure) if sure else None)
        return  # one finding per call is enough to send it to review


@rule_check("handling.no_appointment", needs=QUESTION_NEEDS + Needs(cues=(
    "inconvenient.anywhere", "inconvenient.early", "inconvenient_past", "customer_gives_time", "appointment.ask",
    "appointment.propose_time", "hypothetical")))
def check_no_appointment(call: AnalyzedCall) -> Iterator[Finding]:
    """The customer says it is inconvenient now and the agent does not ask when to call back (000 不方便接听…
    必须询问客户何时方便联系)."""
    lex = call.lex
    start = questions_of(call).started_at
    past = lex.cue("inconvenient_past")
    inconvenient = [
        (u, h) for u, h in _customer_hits(call, "inconvenient.anywhere") + [
            (u, h) for u, h in _customer_hits(call, "inconvenient.early") if start is None or u.seg.start < start]
        if has_cue_before(u.clean, h.start, past, min(12, h.start)) is None
    ]
    if not inconvenient:
        return
    u, h = min(inconvenient, key=lambda x: x[0].seg.start)
    cust_next = [u, *call.next_turns(u.turn, "customer", 1)]
    gave_time = any(call.find(c, lex.cue("customer_gives_time"), boundaries=False) for c in cust_next)
    later_agent = [a for a in call.agent if a.seg.start >= u.seg.start]
    asked = any(
        any(a.norm.is_question(h.start, loose=True) for h in call.find(a, lex.cue("appointment.ask"), boundaries=False))
        or call.find(a, lex.cue("appointment.propose_time"), boundaries=False)
        for a in later_agent
    )
    if not (gave_time or asked):
        end = later_agent[-1].seg.end if later_agent else u.seg.end
        sure = [c for c in (call.heard_confidence(u, h.start, h.end), call.region_confidence("agent", u.seg.start, end))
                if c is not None]
        yield call.finding("handling.no_appointment", later_agent[0] if later_agent else u, u.seg.start, end,
                           u.seg.text, "客户表示现在不方便,坐席未询问何时方便再联系", basis=Basis.ABSENT,
                           confidence=min(sure) if sure else None)
