"""Identity rules (000 回访资格人必须为投保人本人; 004 身份核实技巧 and 案例一)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from callqa.model import Basis, Finding

from .call import AnalyzedCall
from .parties import factor_hits, third_party_turn
from .questions import NEEDS as QUESTION_NEEDS
from .questions import questions_of, unaccounted
from .registry import Needs, rule_check
from .script import cue_heard


@rule_check("identity.third_party", needs=QUESTION_NEEDS)
def check_third_party(call: AnalyzedCall) -> Iterator[Finding]:
    """The person says they are not the policyholder (我是他儿子, 他不在) and the agent goes on with the
    questionnaire."""
    tp = third_party_turn(call)
    if tp is None:
        return
    qa = questions_of(call)
    went_on = [o for o in qa.occurrences if o.item in qa.items and o.item != "identity" and o.time > tp.seg.start
               and not o.guessed]  # a question only guessed by sound is no proof the agent went on
    if went_on:
        o = went_on[0]
        yield call.finding("identity.third_party", tp, tp.seg.start, o.utt.seg.end, tp.seg.text,
                           f"接听人表示不是投保人本人,坐席仍继续回访(「{call.lex.items[o.item].title}」)",
                           confidence=call.heard_confidence(tp, 0, len(tp.clean)))


def _factor_answered(call: AnalyzedCall, until: float) -> bool:
    """The customer read out digits or a date before the questionnaire (五六七八, 一九八五年三月): a second
    factor was asked for, however the recogniser heard the question (its own transcripts only)."""
    if not call.has_probabilities:
        return False
    return any(_DIGITS.search(u.clean) for u in call.customer if u.seg.start <= until)


_DIGITS = re.compile(r"[零一二三四五六七八九幺两]{3,}|[一二]?[零一二三四五六七八九]{1,2}年[一二三四五六七八九十]{1,2}月")


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
    if factor_hits(call, started) or _factor_answered(call, started):
        return
    before = [u for u in call.agent if u.seg.start <= started]
    if cue_heard(call, "identity.factor", before):
        return  # asked in words the recogniser garbled (先分证后四位 for 身份证后四位)
    if call.has_probabilities and unaccounted(call, -1.0, started):
        # something the agent said before the questionnaire is unaccounted for: it may be the check
        rule = "identity.weak" if confirmed else "identity.missing"
        u = confirmed[0].utt if confirmed else None
        yield call.finding(rule, u, u.seg.start if u else 0.0, u.seg.end if u else started, u.seg.text if u else "",
                           "未能确认是否以第二要素核实身份(该处录音识别不清,请核听)", basis=Basis.ABSENT, confidence=0.0)
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
