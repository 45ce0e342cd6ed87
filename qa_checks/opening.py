"""Opening, closing and courtesy: 自报身份, 征求同意, 谢谢, 您, 结束语 (seeds 000, 001, 002, 004)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from callqa.model import Basis, Finding

from .call import AnalyzedCall, SegmentView
from .questions import NEEDS as QUESTION_NEEDS
from .questions import questions_of, unaccounted
from .registry import NUMBER, Needs, measure, rule_check
from .script import NEEDS as SCRIPT_NEEDS
from .script import agent_turns, cue_heard, heard, speech_of, words_heard
from .spans import Spans
from .textmatch import Hit

THANKS_NEEDS = Needs(settings={"courtesy.thanks_recommended": int}, cues=("thanks", "thanks_negators"))
HONORIFIC_NEEDS = Needs(cues=("honorific_bad", "honorific_ignore"))


@rule_check("opening.self_id", needs=SCRIPT_NEEDS + Needs(
    settings={"opening.first_seconds": NUMBER, "opening.first_turns": int},
    cues=("opening.company", "opening.agent", "opening.purpose")))
def check_self_id(call: AnalyzedCall) -> Iterator[Finding]:
    """The agent's first turn names the company, the agent (name or 工号) and the purpose (回访)."""
    lex = call.lex
    if not call.agent:
        return
    first_seconds = float(lex.setting("opening.first_seconds"))
    n_turns = int(lex.setting("opening.first_turns"))
    first_turns = sorted({u.turn for u in call.agent})[:n_turns]
    opening = [u for u in call.agent if u.turn in first_turns and u.seg.start <= first_seconds] or call.agent[:1]
    said = _opening_lines_heard(call, opening)
    missing = []
    for part, label in (("opening.company", "公司名称"), ("opening.agent", "坐席姓名或工号"), ("opening.purpose", "来电目的(回访)")):
        if (not any(call.find(u, lex.cue(part), boundaries=False) for u in opening) and not cue_heard(call, part, opening)
                and part not in said):
            missing.append(label)
    if missing:
        u0, u1 = opening[0], opening[-1]
        yield call.absent_finding("opening.self_id", u0, u0.seg.start, u1.seg.end, "".join(u.seg.text for u in opening),
                                  "开场白未说明" + "、".join(missing), region=(u0.seg.start, u1.seg.end))


def _opening_lines_heard(call: AnalyzedCall, opening: list[SegmentView]) -> set[str]:
    """The parts of the introduction said in an opening sentence of scripts.yaml heard by sound: its
    {company} slot names the company (长城远秀 for 长城人寿, a name no list holds), {name} or {number} the
    agent, its 回访 the purpose (维讽 for 回访). The recogniser's own transcripts only."""
    lines = (call.lex.scripts or {}).get("opening", [])
    if not lines or not call.has_probabilities:
        return set()
    ids = {u.index for u in opening}
    parts: set[str] = set()
    for h in heard(call, lines, speech_of(agent_turns(call, lambda u: u.index in ids))):
        text = h.template.text
        if "{company}" in text:
            parts.add("opening.company")
        if "{name}" in text or "{number}" in text:
            parts.add("opening.agent")
        if call.lex.cue("opening.purpose").search(text, False):
            parts.add("opening.purpose")
    return parts


@rule_check("opening.consent", needs=QUESTION_NEEDS + SCRIPT_NEEDS + Needs(cues=("opening.consent",)))
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
    if any(u.norm.is_question(h.start) or _left_for_the_customer(call, u, h.start)
           for u in before for h in call.find(u, consent, boundaries=False)):
        return
    ids = {u.index for u in before}
    if heard(call, call.lex.script("consent"), speech_of(agent_turns(call, lambda u: u.index in ids))):
        return  # asked in words the recogniser garbled (方便满 for 方便吗)
    u0 = call.agent[0]
    if call.has_probabilities and _may_hide_consent(call, unaccounted(call, -1.0, started)):
        # the agent said something before the questionnaire that nothing accounts for and that sounds like
        # a word of consent (见听吧 for 接听吗): it may be the consent
        yield call.finding("opening.consent", u0, u0.seg.start, started, "",
                           "未能确认开始问卷前是否征求客户同意(该处录音识别不清,请核听)", basis=Basis.ABSENT, confidence=0.0)
        return
    yield call.absent_finding("opening.consent", u0, u0.seg.start, started, "",
                              "开始问卷前未征求客户同意(如:请问现在方便接听吗?)", region=(0.0, started))


def _left_for_the_customer(call: AnalyzedCall, u: SegmentView, i: int) -> bool:
    """On recognised speech, whether the sentence holding clean index `i` ends the agent's turn and the
    customer speaks next: the words of consent put to the customer though the recogniser lost the question
    (现在方便监情报 for 现在方便接听吗)."""
    if not call.has_probabilities or u.norm.sentence_span(i)[1] < len(u.clean):
        return False
    after = call.segments[u.index + 1:]
    return bool(after) and after[0].speaker == "customer"


def _may_hide_consent(call: AnalyzedCall, pending: list[tuple[SegmentView, int, int]]) -> bool:
    """Whether one of the agent's garbled sentences could be the consent question: a word of consent
    (方便, 几分钟, 打扰 …) or a consent sentence (您现在早点忙 for 您现在方便吗) sounds like something in it. A garbled name check (为你好许许文竟你是吗) or
    a date read back (…一九五八年…对不对) holds none."""
    if not pending:
        return False
    ids = {u.index for u, _, _ in pending}
    phrases = [*call.lex.cue("opening.consent").phrases, *(t.text for t in call.lex.script("consent"))]
    words = words_heard(call, phrases, agent_turns(call, lambda u: u.index in ids), unsure_only=False)
    return any(w.first is u and s <= w.start < e for w in words for u, s, e in pending)


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


@rule_check("courtesy.thanks", needs=THANKS_NEEDS + SCRIPT_NEEDS + Needs(settings={"courtesy.thanks_min": int}))
def check_thanks(call: AnalyzedCall) -> Iterator[Finding]:
    """The agent says 谢谢 (谢谢您, 感谢…) at least once; fewer than three is noted in the metrics."""
    if (call.agent and call.memo(thanks_count) < int(call.lex.setting("courtesy.thanks_min"))
            and not cue_heard(call, "thanks", call.agent)):
        end = call.transcript.duration
        yield call.absent_finding("courtesy.thanks", None, 0.0, end, "",
                                  "坐席全程未说\u201c谢谢\u201d(规范:每通电话最少一声,建议三声)", region=(0.0, end))


@rule_check("courtesy.honorific", needs=HONORIFIC_NEEDS + Needs(settings={"courtesy.honorific_min_count": int,
                                                                         "confidence.heard_below": NUMBER}))
def check_honorific(call: AnalyzedCall) -> Iterator[Finding]:
    """The agent addresses the customer as 您, not 你 (ASR writes 你 for 您 now and then: a count decides)."""
    you_hits = call.memo(honorific_hits)
    if len(you_hits) >= int(call.lex.setting("courtesy.honorific_min_count")):
        u, _ = you_hits[0]
        words = "、".join(dict.fromkeys(hu.norm.sentence_text(hh.start)[:16] for hu, hh in you_hits[:3]))
        heard = [call.heard_confidence(hu, hh.start, hh.end) for hu, hh in you_hits]
        # 你 and 您 differ by one sound: the count of those heard surely must reach the threshold
        sure = sum(1 for c in heard if c is None or c >= float(call.lex.setting("confidence.heard_below")))
        confidence = None if all(c is None for c in heard) else sure / len(heard)
        yield call.finding("courtesy.honorific", u, u.seg.start, you_hits[-1][0].seg.end, words,
                           f"坐席称呼客户用\u201c你\u201d{len(you_hits)}次,应使用\u201c您\u201d", confidence=confidence)


@rule_check("closing.standard", needs=QUESTION_NEEDS + SCRIPT_NEEDS + Needs(
    settings={"courtesy.closing_last_turns": int}, cues=("thanks", "farewell")))
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
    missing = [m for m in missing if not cue_heard(call, "thanks" if m == "致谢" else "farewell", closing)]
    if missing:  # a closing sentence the recogniser garbled still closes the call
        ids = {u.index for u in closing}
        for h in heard(call, lex.script("closing"), speech_of(agent_turns(call, lambda u: u.index in ids)))[:1]:
            missing = [m for m in missing if not (m == "致谢" and "谢" in h.template.text)
                       and not (m != "致谢" and ("再见" in h.template.text or "愉快" in h.template.text))]
    if missing:
        u0, u1 = closing[0], closing[-1]
        yield call.absent_finding("closing.standard", u1, u0.seg.start, u1.seg.end, "".join(u.seg.text for u in closing),
                                  "结束语缺少" + "、".join(missing), region=(u0.seg.start, u1.seg.end))
