"""Opening, closing and courtesy: 自报身份, 征求同意, 谢谢, 您, 结束语 (seeds 000, 001, 002, 004)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from callqa.model import Finding

from .call import AnalyzedCall, SegmentView
from .questions import NEEDS as QUESTION_NEEDS
from .questions import questions_of
from .registry import NUMBER, Needs, measure, rule_check
from .spans import Spans
from .textmatch import Hit

THANKS_NEEDS = Needs(settings={"courtesy.thanks_recommended": int}, cues=("thanks", "thanks_negators"))
HONORIFIC_NEEDS = Needs(cues=("honorific_bad", "honorific_ignore"))


@rule_check("opening.self_id", needs=Needs(settings={"opening.first_seconds": NUMBER, "opening.first_turns": int},
                                           cues=("opening.company", "opening.agent", "opening.purpose")))
def check_self_id(call: AnalyzedCall) -> Iterator[Finding]:
    """The agent's first turn names the company, the agent (name or 工号) and the purpose (回访)."""
    lex = call.lex
    if not call.agent:
        return
    first_seconds = float(lex.setting("opening.first_seconds"))
    n_turns = int(lex.setting("opening.first_turns"))
    agent_turns = sorted({u.turn for u in call.agent})[:n_turns]
    opening = [u for u in call.agent if u.turn in agent_turns and u.seg.start <= first_seconds] or call.agent[:1]
    missing = []
    for part, label in (("opening.company", "公司名称"), ("opening.agent", "坐席姓名或工号"), ("opening.purpose", "来电目的(回访)")):
        if not any(call.find(u, lex.cue(part), boundaries=False) for u in opening):
            missing.append(label)
    if missing:
        u0, u1 = opening[0], opening[-1]
        yield call.finding("opening.self_id", u0, u0.seg.start, u1.seg.end, "".join(u.seg.text for u in opening),
                           "开场白未说明" + "、".join(missing))


@rule_check("opening.consent", needs=QUESTION_NEEDS + Needs(cues=("opening.consent",)))
def check_consent(call: AnalyzedCall) -> Iterator[Finding]:
    """The agent asks whether the customer can talk now before the questionnaire (请问现在方便接听吗). Consent
    is asked, not announced (…回访耽误您两分钟 is not a question); with no questionnaire asked, nothing was done
    without consent."""
    if not call.agent:
        return
    started = questions_of(call).started_at
    if started is None:
        return
    before = [u for u in call.agent if u.seg.start <= started]
    consent = call.lex.cue("opening.consent")
    if not any(u.norm.is_question(h.start) for u in before for h in call.find(u, consent, boundaries=False)):
        u0 = call.agent[0]
        yield call.finding("opening.consent", u0, u0.seg.start, started, "",
                           "开始问卷前未征求客户同意(如:请问现在方便接听吗?)")


def thanks_count(call: AnalyzedCall) -> int:
    """Places where the agent thanks the customer (谢谢您 holds 谢谢: places, not overlapping phrases)."""
    thanks = call.lex.cue("thanks")
    negators = call.lex.cue("thanks_negators")
    count = 0
    for u in call.agent:
        neg_spans = Spans(h.span for h in negators.search(u.clean, False))
        hits = [h for h in thanks.search(u.clean) if not neg_spans.holds(h.start)]
        last_end = -1
        for h in sorted(hits, key=lambda h: (h.start, -h.end)):
            if h.start >= last_end:
                count += 1
                last_end = h.end
    return count


def honorific_hits(call: AnalyzedCall) -> list[tuple[SegmentView, Hit]]:
    """你 said to the customer; 你 inside a forbidden phrase (你说什么我没有听清楚) is that phrase's finding."""
    lex = call.lex
    bad, ignore = lex.cue("honorific_bad"), lex.cue("honorific_ignore")
    out = []
    for u in call.agent:
        ign = Spans([h.span for h in ignore.search(u.clean, False)]
                    + [h.span for cat in lex.forbidden.values() for h in cat.index.search(u.clean, False)])
        for h in bad.search(u.clean, False):
            if not ign.holds(h.start) and not call.reported(u, h):
                out.append((u, h))
    return out


@measure(needs=THANKS_NEEDS + HONORIFIC_NEEDS)
def courtesy_measures(call: AnalyzedCall) -> Mapping[str, Any]:
    return {"thanks_count": call.memo(thanks_count),
            "thanks_recommended": int(call.lex.setting("courtesy.thanks_recommended")),
            "honorific_ni_count": len(call.memo(honorific_hits))}


@rule_check("courtesy.thanks", needs=THANKS_NEEDS + Needs(settings={"courtesy.thanks_min": int}))
def check_thanks(call: AnalyzedCall) -> Iterator[Finding]:
    """The agent says 谢谢 (谢谢您, 感谢…) at least once; fewer than three is noted in the metrics."""
    if call.agent and call.memo(thanks_count) < int(call.lex.setting("courtesy.thanks_min")):
        yield call.finding("courtesy.thanks", None, 0.0, call.transcript.duration, "",
                           "坐席全程未说\u201c谢谢\u201d(规范:每通电话最少一声,建议三声)")


@rule_check("courtesy.honorific", needs=HONORIFIC_NEEDS + Needs(settings={"courtesy.honorific_min_count": int}))
def check_honorific(call: AnalyzedCall) -> Iterator[Finding]:
    """The agent addresses the customer as 您, not 你 (ASR writes 你 for 您 now and then: a count decides)."""
    you_hits = call.memo(honorific_hits)
    if len(you_hits) >= int(call.lex.setting("courtesy.honorific_min_count")):
        u, _ = you_hits[0]
        words = "、".join(dict.fromkeys(hu.norm.sentence_text(hh.start)[:16] for hu, hh in you_hits[:3]))
        yield call.finding("courtesy.honorific", u, u.seg.start, you_hits[-1][0].seg.end, words,
                           f"坐席称呼客户用\u201c你\u201d{len(you_hits)}次,应使用\u201c您\u201d")


@rule_check("closing.standard", needs=QUESTION_NEEDS + Needs(settings={"courtesy.closing_last_turns": int},
                                                             cues=("thanks", "farewell")))
def check_closing(call: AnalyzedCall) -> Iterator[Finding]:
    """A closing: thanks and a farewell (再见 / 祝您生活愉快) in the agent's last turns; none is owed to a
    customer who hung up."""
    lex = call.lex
    if not call.agent:
        return
    early_end = questions_of(call).early_end
    if early_end is not None and "挂" in early_end[1]:
        return
    last_turns = sorted({u.turn for u in call.agent})[-int(lex.setting("courtesy.closing_last_turns")):]
    closing = [u for u in call.agent if u.turn in last_turns]
    missing = []
    if not any(call.find(u, lex.cue("thanks")) for u in closing):
        missing.append("致谢")
    if not any(call.find(u, lex.cue("farewell"), boundaries=False) for u in closing):
        missing.append("道别语(再见/祝您生活愉快)")
    if missing:
        u0, u1 = closing[0], closing[-1]
        yield call.finding("closing.standard", u1, u0.seg.start, u1.seg.end, "".join(u.seg.text for u in closing),
                           "结束语缺少" + "、".join(missing))
