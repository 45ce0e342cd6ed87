from callbuilder import CLEAN, make_call, replace

from qa_checks import check_call


def test_identity_missing(rules_of):
    lines = replace(CLEAN, 0, "您好,我是中英人寿回访专员张敏,工号三七二一,这次来电是对您新投保的保单做一次电话回访。")
    lines = [ln for i, ln in enumerate(lines) if i not in (2, 3)]
    assert "identity.missing" in rules_of(make_call(lines))


def test_identity_weak_name_only(rules_of):
    lines = [ln for i, ln in enumerate(CLEAN) if i not in (2, 3)]
    rules = rules_of(make_call(lines))
    assert "identity.weak" in rules and "identity.missing" not in rules


def test_identity_cross_check_by_policy_facts(rules_of):
    lines = replace(CLEAN, 2, "谢谢您。为了确认您的身份,请问您投保的是哪款产品?")
    lines = replace(lines, 3, "中英福寿终身寿险。")
    assert not {r for r in rules_of(make_call(lines)) if r.startswith("identity.")}


def test_third_party_and_agent_goes_on(lex):
    lines = list(CLEAN)
    lines[1] = ("customer", "我是他儿子,他出去了,你有什么事跟我说就行。")
    result = check_call(make_call(lines), lex)
    f = [x for x in result.findings if x.rule == "identity.third_party"]
    assert f and f[0].severity == "critical" and not result.passed


def test_policyholder_comes_to_the_phone(rules_of):
    lines = list(CLEAN)
    lines[1:2] = [("customer", "他不在,你等一下,我叫他接。"), ("agent", "好的,谢谢。"), ("customer", "喂,我是本人,你说。")]
    assert "identity.third_party" not in rules_of(make_call(lines))


def test_sensitive_request(rules_of):
    lines = replace(CLEAN, 2, "谢谢您。为了核实身份,请您把身份证号码报一下。")
    assert "identity.sensitive_request" in rules_of(make_call(lines))
    lines = replace(CLEAN, 20, "最后请您把银行卡号念一下,我们核对一下。")
    assert "identity.sensitive_request" in rules_of(make_call(lines))


def test_last_four_digits_is_not_sensitive(rules_of):
    assert "identity.sensitive_request" not in rules_of(make_call())


def test_surrender_alert(lex):
    lines = replace(CLEAN, 19, "什么?那我现在就要退保,这保险我不想要了。")
    f = [x for x in check_call(make_call(lines), lex).findings if x.rule == "alert.surrender"]
    assert f and f[0].speaker == "customer" and "退保" in f[0].evidence


def test_surrender_question_or_negation_is_not_intent(rules_of):
    lines = replace(CLEAN, 19, "明白,我也没想退保,就是问问。")
    assert "alert.surrender" not in rules_of(make_call(lines))
    # the agent's script about surrender is not the customer's intent
    assert "alert.surrender" not in rules_of(make_call())


def test_misleading_sale(rules_of):
    lines = replace(CLEAN, 17, "啊?我以为是存款呢,业务员说跟存银行一样。")
    assert "alert.misleading_sale" in rules_of(make_call(lines))


def test_complaint_and_soothing(rules_of):
    lines = list(CLEAN)
    lines[17:18] = [("customer", "每年八千?你们这是骗人,我要投诉你们!")]
    rules = rules_of(make_call(lines))
    assert {"alert.complaint", "handling.no_soothing"} <= rules
    lines[18:18] = [("agent", "非常抱歉,我理解您的心情,这个情况我会如实记录并反馈。"), ("customer", "嗯。")]
    assert "handling.no_soothing" not in rules_of(make_call(lines))


def test_not_a_complaint(rules_of):
    lines = replace(CLEAN, 17, "清楚,我不是要投诉,就是觉得有点贵。")
    assert "alert.complaint" not in rules_of(make_call(lines))


def test_no_appointment(rules_of):
    lines = [CLEAN[0], ("customer", "我在开会,不方便。"), ("agent", "好的,那打扰您了,再见。")]
    assert "handling.no_appointment" in rules_of(make_call(lines))


def test_customer_gives_the_time(rules_of):
    lines = [CLEAN[0], ("customer", "我在开会,你明天上午再打吧。"), ("agent", "好的,谢谢您,那明天上午再联系您,再见。")]
    assert "handling.no_appointment" not in rules_of(make_call(lines))


def test_customer_later_busy_reading_is_not_inconvenience(rules_of):
    lines = replace(CLEAN, 11, "都看过了,就是没时间细看。")
    assert "handling.no_appointment" not in rules_of(make_call(lines))


def test_a_raised_customer_voice_needs_soothing(rules_of):
    from callbuilder import timed

    from callqa.model import transcript_from_dict

    lines = list(CLEAN)
    lines[17] = ("customer", "每年八千?这跟当初讲的根本就不是一回事,你们怎么能这样做生意呢。")
    segs = timed(lines)
    for s in segs:
        s["loudness_db"] = -25.0
    segs[17]["loudness_db"] = -12.0  # shouted, with no angry word a lexicon would know
    t = transcript_from_dict({"call_id": "v", "questionnaire": "traditional", "segments": segs})
    assert "handling.no_soothing" in rules_of(t)
    segs[17]["loudness_db"] = -24.0
    assert "handling.no_soothing" not in rules_of(transcript_from_dict({"call_id": "v", "questionnaire": "traditional", "segments": segs}))
