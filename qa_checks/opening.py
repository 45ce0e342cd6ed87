"""Opening, closing and courtesy: 自报身份, 征求同意, 谢谢, 您, 结束语 (seeds 000, 001, 002, 004)."""

from __future__ import annotations

from callqa.model import Finding

from .call import AnalyzedCall
from .questions import analyze_questions


def check_opening(call: AnalyzedCall) -> list[Finding]:
    lex = call.lex
    if not call.agent:
        return []
    out: list[Finding] = []
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
        out.append(call.finding("opening.self_id", u0, u0.seg.start, u1.seg.end, "".join(u.seg.text for u in opening),
                                "开场白未说明" + "、".join(missing)))

    qa = analyze_questions(call)
    started = qa.started_at
    before = [u for u in call.agent if started is None or u.seg.start <= started]
    if started is None:
        before = before[:4]
    # consent is asked, not announced (…回访耽误您两分钟 is not a question); with no questionnaire
    # asked, nothing was done without consent
    consent = lex.cue("opening.consent")
    asked = any(u.norm.is_question(h.start) for u in before for h in call.find(u, consent, boundaries=False))
    if started is not None and not asked:
        u0 = call.agent[0]
        out.append(call.finding("opening.consent", u0, u0.seg.start, started, "",
                                "开始问卷前未征求客户同意(如:请问现在方便接听吗?)"))
    return out


def check_courtesy(call: AnalyzedCall) -> tuple[list[Finding], dict[str, object]]:
    lex = call.lex
    out: list[Finding] = []
    thanks = lex.cue("thanks")
    negators = lex.cue("thanks_negators")
    count = 0
    for u in call.agent:
        neg_spans = [h.span for h in negators.search(u.clean, False)]
        hits = [h for h in thanks.search(u.clean) if not any(a <= h.start < b for a, b in neg_spans)]
        # 谢谢您 holds 谢谢: count places, not overlapping phrases
        last_end = -1
        for h in sorted(hits, key=lambda h: (h.start, -h.end)):
            if h.start >= last_end:
                count += 1
                last_end = h.end
    metrics: dict[str, object] = {"thanks_count": count, "thanks_recommended": int(lex.setting("courtesy.thanks_recommended"))}
    if call.agent and count < int(lex.setting("courtesy.thanks_min")):
        out.append(call.finding("courtesy.thanks", None, 0.0, call.transcript.duration, "",
                                "坐席全程未说\u201c谢谢\u201d(规范:每通电话最少一声,建议三声)"))

    bad, ignore = lex.cue("honorific_bad"), lex.cue("honorific_ignore")
    you_hits = []
    for u in call.agent:
        # 你 inside a forbidden phrase (你说什么我没有听清楚) is that phrase's finding, not this one
        ign = [h.span for h in ignore.search(u.clean, False)]
        ign += [h.span for cat in lex.forbidden.values() for h in cat.index.search(u.clean, False)]
        for h in bad.search(u.clean, False):
            if not any(a <= h.start < b for a, b in ign) and not call.reported(u, h):
                you_hits.append((u, h))
    metrics["honorific_ni_count"] = len(you_hits)
    if len(you_hits) >= int(lex.setting("courtesy.honorific_min_count")):
        u, h = you_hits[0]
        words = "、".join(dict.fromkeys(hu.norm.sentence_text(hh.start)[:16] for hu, hh in you_hits[:3]))
        out.append(call.finding("courtesy.honorific", u, u.seg.start, you_hits[-1][0].seg.end, words,
                                f"坐席称呼客户用\u201c你\u201d{len(you_hits)}次,应使用\u201c您\u201d"))
    return out, metrics


def check_closing(call: AnalyzedCall) -> list[Finding]:
    lex = call.lex
    if not call.agent:
        return []
    qa = analyze_questions(call)
    if qa.early_end is not None and "挂" in qa.early_end[1]:
        return []  # the customer hung up: there was no one to close to
    last_turns = sorted({u.turn for u in call.agent})[-int(lex.setting("courtesy.closing_last_turns")):]
    closing = [u for u in call.agent if u.turn in last_turns]
    missing = []
    if not any(call.find(u, lex.cue("thanks")) for u in closing):
        missing.append("致谢")
    if not any(call.find(u, lex.cue("farewell"), boundaries=False) for u in closing):
        missing.append("道别语(再见/祝您生活愉快)")
    if missing:
        u0, u1 = closing[0], closing[-1]
        return [call.finding("closing.standard", u1, u0.seg.start, u1.seg.end, "".join(u.seg.text for u in closing),
                             "结束语缺少" + "、".join(missing))]
    return []
