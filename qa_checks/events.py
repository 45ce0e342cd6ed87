"""Customer events and their handling: 退保预警, 销售误导, 投诉, 安抚, 预约 (seeds 000, 001, 003, 004).

Intent is read from the customer's words only; a negation before the cue cancels it (我不想退保).
"""

from __future__ import annotations

from callqa.model import Finding

from .call import AnalyzedCall, Utterance
from .textmatch import Hit, has_cue_before

_ALERTS = (
    ("alert.surrender", "surrender", "客户表达退保意愿,需受理退保预警"),
    ("alert.misleading_sale", "misleading_sale", "客户反映疑似销售误导,需转办核查"),
    ("alert.complaint", "complaint", "客户投诉或表示要投诉,需登记上报"),
)


def _customer_hits(call: AnalyzedCall, cue: str, ignore: str | None = None,
                   hypothetical: bool = False) -> list[tuple[Utterance, Hit]]:
    """Customer phrases of a cue list, not negated, not quoted, and (for intents) not hypothetical."""
    index = call.lex.cue(cue)
    ign = call.lex.cue(ignore) if ignore else None
    ifs = call.lex.cue("hypothetical")
    out = []
    for u in call.customer:
        masked = [h.span for h in ign.search(u.clean, False)] if ign else []
        for h in call.find(u, index, negatable=True, boundaries=False):
            if any(a <= h.start < b for a, b in masked) or call.reported(u, h):
                continue
            if hypothetical and has_cue_before(u.clean, h.start, ifs, min(8, h.start)) is not None:
                continue
            out.append((u, h))
    return out


def _raised_voice(call: AnalyzedCall) -> list[tuple[Utterance, Hit]]:
    """Customer utterances well above the customer's own usual level (from the audio pipeline)."""
    levels = [u.seg.loudness_db for u in call.customer if u.seg.loudness_db is not None]
    if len(levels) < 3:
        return []
    baseline = sorted(levels)[len(levels) // 2]
    above = float(call.lex.setting("dynamics.loud_db_above_baseline"))
    min_s = float(call.lex.setting("dynamics.loud_min_seconds"))
    return [(u, Hit(0, len(u.clean), "raised voice", "loudness")) for u in call.customer
            if u.seg.loudness_db is not None and u.seg.loudness_db - baseline >= above and u.seg.duration >= min_s]


def check_alerts(call: AnalyzedCall) -> list[Finding]:
    out = []
    for rule, cue, message in _ALERTS:
        hits = _customer_hits(call, cue, "complaint_ignore" if cue == "complaint" else None,
                              hypothetical=cue == "surrender")
        if hits:
            u, h = hits[0]
            more = f"(共{len(hits)}处)" if len(hits) > 1 else ""
            out.append(call.hit_finding(rule, u, h, message + more))
    return out


def check_handling(call: AnalyzedCall) -> list[Finding]:
    lex = call.lex
    out: list[Finding] = []
    soothing = lex.cue("soothing")
    n = int(lex.setting("handling.soothing_turns"))
    agitated = (_customer_hits(call, "agitation") + _customer_hits(call, "complaint", "complaint_ignore")
                + _raised_voice(call))
    agitated_turns = sorted({u.turn for u, _ in agitated})
    handled_until = -1
    for turn in agitated_turns:
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
        out.append(call.finding("handling.no_soothing", r, u.seg.start, r.seg.end, u.seg.text,
                                f"客户情绪激动(「{u.excerpt(h.start, h.end)}」),坐席未安抚即继续"))
        handled_until = replies[-1].turn
        break  # one finding per call is enough to send it to review

    from .questions import analyze_questions

    qa = analyze_questions(call)
    start = qa.started_at
    past = lex.cue("inconvenient_past")
    inconvenient = [
        (u, h) for u, h in _customer_hits(call, "inconvenient.anywhere") + [
            (u, h) for u, h in _customer_hits(call, "inconvenient.early") if start is None or u.seg.start < start]
        if has_cue_before(u.clean, h.start, past, min(12, h.start)) is None
    ]
    if inconvenient:
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
            out.append(call.finding("handling.no_appointment", later_agent[0] if later_agent else u, u.seg.start, end,
                                    u.seg.text, "客户表示现在不方便,坐席未询问何时方便再联系"))
    return out
