"""Identity rules (000 回访资格人必须为投保人本人; 004 身份核实技巧 and 案例一)."""

from __future__ import annotations

from collections.abc import Iterator

from callqa.model import Finding

from .call import AnalyzedCall
from .parties import factor_hits, third_party_turn
from .questions import NEEDS as QUESTION_NEEDS
from .questions import questions_of
from .registry import Needs, rule_check


@rule_check("identity.third_party", needs=QUESTION_NEEDS)
def check_third_party(call: AnalyzedCall) -> Iterator[Finding]:
    """The person says they are not the policyholder (我是他儿子, 他不在) and the agent goes on with the
    questionnaire."""
    tp = third_party_turn(call)
    if tp is None:
        return
    qa = questions_of(call)
    went_on = [o for o in qa.occurrences if o.item in qa.items and o.item != "identity" and o.time > tp.seg.start]
    if went_on:
        o = went_on[0]
        yield call.finding("identity.third_party", tp, tp.seg.start, o.utt.seg.end, tp.seg.text,
                           f"接听人表示不是投保人本人,坐席仍继续回访(「{call.lex.items[o.item].title}」)",
                           confidence=call.heard_confidence(tp, 0, len(tp.clean)))


@rule_check("identity.missing", "identity.weak", needs=QUESTION_NEEDS)
def check_verification(call: AnalyzedCall) -> Iterator[Finding]:
    """`identity.missing`: the agent never confirmed the person is the policyholder. `identity.weak`: only
    the name was confirmed, with no second factor (birth date, ID's last four digits, the phone on the
    application, policy facts). With a third party on the line neither is the finding."""
    qa = questions_of(call)
    started = qa.started_at
    if started is None or third_party_turn(call) is not None:
        return
    confirmed = [o for o in qa.occurrences if o.item == "identity"]
    if factor_hits(call, started):
        return
    if not confirmed:
        yield call.absent_finding("identity.missing", None, 0.0, call.transcript.duration, "",
                                  "全程未核实接听人是否为投保人本人", region=(0.0, started))
    else:
        u = confirmed[0].utt
        yield call.absent_finding("identity.weak", u, u.seg.start, u.seg.end, u.seg.text,
                                  "仅核对了姓名,未用出生日期、证件号后四位、投保手机号或保单信息交叉验证",
                                  region=(0.0, started))


@rule_check("identity.sensitive_request", needs=Needs(cues=("identity.sensitive", "identity.sensitive_ok")))
def check_sensitive_request(call: AnalyzedCall) -> Iterator[Finding]:
    """The agent asks for a full ID number or a bank account number (004 避免敏感信息直接询问)."""
    sensitive = call.lex.cue("identity.sensitive")
    ok = call.lex.cue("identity.sensitive_ok")
    for u in call.agent:
        for h in call.find(u, sensitive, negatable=True, boundaries=False):
            s, e = u.norm.sentence_span(h.start)
            if ok.search(u.clean[s:e], False):
                continue
            yield call.hit_finding("identity.sensitive_request", u, h, "直接索要完整身份证号、银行账号或密码等敏感信息")
            break  # one finding per segment
