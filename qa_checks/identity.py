"""Identity rules (000 回访资格人必须为投保人本人; 004 身份核实技巧 and 案例一)."""

from __future__ import annotations

from callqa.model import Finding

from .call import AnalyzedCall, Utterance
from .questions import analyze_questions
from .textmatch import Hit


def third_party_turn(call: AnalyzedCall) -> Utterance | None:
    """The customer utterance saying they are not the policyholder, unless the policyholder then comes on."""
    tp_index = call.lex.cue("identity.third_party")
    handover = call.lex.cue("identity.handover")
    for u in call.customer:
        if call.find(u, tp_index):
            later = [c for c in call.customer if c.seg.start > u.seg.start]
            if any(call.find(c, handover) for c in later):
                return None
            return u
    return None


def factor_hits(call: AnalyzedCall, until: float | None) -> list[tuple[Utterance, Hit]]:
    """Second-factor checks by the agent (birth date, ID digits, phone on file, policy facts) up to `until`.

    Only before the questionnaire proper: the phone number checked at the end (contact_check) is not
    identity verification. Asking for the full ID number is the wrong way to verify
    (identity.sensitive_request), but it is a second factor all the same.
    """
    indexes = (call.lex.cue("identity.factor"), call.lex.cue("identity.sensitive"))
    return [(u, h) for u in call.agent if until is None or u.seg.start <= until
            for idx in indexes for h in call.find(u, idx, boundaries=False)]


def check_identity(call: AnalyzedCall) -> list[Finding]:
    lex = call.lex
    qa = analyze_questions(call)
    out: list[Finding] = []
    confirmed = [o for o in qa.occurrences if o.item == "identity"]
    started = qa.started_at
    factors = factor_hits(call, started)
    end = call.transcript.duration
    questionnaire_started = started is not None

    tp = third_party_turn(call)
    if tp is not None:
        went_on = [o for o in qa.occurrences if o.item in qa.items and o.item != "identity"
                   and o.time > tp.seg.start]
        if went_on:
            o = went_on[0]
            out.append(call.finding(
                "identity.third_party", tp, tp.seg.start, o.utt.seg.end, tp.seg.text,
                f"接听人表示不是投保人本人,坐席仍继续回访(「{lex.items[o.item].title}」)"))
    # with a third party on the line, missing or weak verification is not the finding
    if tp is None and questionnaire_started and not confirmed and not factors:
        out.append(call.finding("identity.missing", None, 0.0, end, "", "全程未核实接听人是否为投保人本人"))
    elif tp is None and questionnaire_started and not factors:
        u = confirmed[0].utt
        out.append(call.finding("identity.weak", u, u.seg.start, u.seg.end, u.seg.text,
                                "仅核对了姓名,未用出生日期、证件号后四位、投保手机号或保单信息交叉验证"))

    sensitive = lex.cue("identity.sensitive")
    ok = lex.cue("identity.sensitive_ok")
    for u in call.agent:
        for h in call.find(u, sensitive, negatable=True, boundaries=False):
            s, e = u.norm.sentence_span(h.start)
            if ok.search(u.clean[s:e], False):
                continue
            out.append(call.hit_finding("identity.sensitive_request", u, h,
                                        "直接索要完整身份证号、银行账号或密码等敏感信息"))
            break
    return out
