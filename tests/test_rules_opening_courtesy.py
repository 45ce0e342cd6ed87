from callbuilder import CLEAN, make_call, replace

from qa_checks import check_call


def test_clean_call_has_no_findings(lex):
    result = check_call(make_call(), lex)
    assert result.findings == []
    assert result.passed and result.score == 100.0
    assert result.metrics["items_asked"] == 9


def test_self_id_missing_company_and_agent(rules_of):
    lines = replace(CLEAN, 0, "喂,您好,这边给您打个电话做个回访,请问您是王建国先生吗?")
    assert "opening.self_id" in rules_of(make_call(lines))


def test_self_id_missing_purpose(rules_of, lex):
    lines = replace(CLEAN, 0, "您好,我是中英人寿客服专员张敏,工号三七二一,请问您是王建国先生吗?")
    result = check_call(make_call(lines), lex)
    f = [f for f in result.findings if f.rule == "opening.self_id"]
    assert f and "来电目的" in f[0].message


def test_consent_missing(rules_of):
    lines = replace(CLEAN, 4, "好的,核对无误。那我们开始吧。")
    assert "opening.consent" in rules_of(make_call(lines))


def test_consent_paraphrased_is_fine(rules_of):
    lines = replace(CLEAN, 4, "好的,核对无误。耽误您两三分钟时间做个确认,您看可以吗?")
    assert "opening.consent" not in rules_of(make_call(lines))


def test_no_thanks_at_all(rules_of):
    lines = [(s, t.replace("谢谢您。", "").replace("感谢您的配合,", "")) for s, t in CLEAN]
    assert "courtesy.thanks" in rules_of(make_call(lines))


def test_thanks_homophone_counts(lex):
    lines = [(s, t.replace("谢谢您。", "些些您。").replace("感谢您的配合,", "")) for s, t in CLEAN]
    result = check_call(make_call(lines), lex)
    assert result.metrics["thanks_count"] == 1
    assert "courtesy.thanks" not in {f.rule for f in result.findings}


def test_bu_yong_xie_is_not_thanks(lex):
    lines = [(s, t.replace("谢谢您。", "不用谢。").replace("感谢您的配合,", "")) for s, t in CLEAN]
    assert check_call(make_call(lines), lex).metrics["thanks_count"] == 0


def test_honorific_ni_repeated(rules_of):
    lines = replace(CLEAN, 8, "你收到保险合同了吗?你看一下。")
    lines = replace(lines, 12, "业务员有没有跟你讲保险责任和责任免除,你清楚吗?")
    assert "courtesy.honorific" in rules_of(make_call(lines))


def test_single_ni_or_customer_ni_is_not_flagged(rules_of):
    lines = replace(CLEAN, 8, "你收到保险合同了吗?")
    lines = replace(lines, 9, "收到了,你们寄得挺快的,你放心。")
    assert "courtesy.honorific" not in rules_of(make_call(lines))


def test_closing_without_farewell(rules_of):
    lines = replace(CLEAN, 22, "好的,本次回访就到这里。")
    assert "closing.standard" in rules_of(make_call(lines))


def test_closing_with_blessing_instead_of_goodbye(rules_of):
    lines = replace(CLEAN, 22, "好的,谢谢您,祝您工作顺利。")
    assert "closing.standard" not in rules_of(make_call(lines))


def test_empty_or_silent_calls_give_no_questionnaire_findings(lex):
    from callqa.model import transcript_from_dict

    for segs in ([], [{"speaker": "customer", "start": 0, "end": 1, "text": "喂?"}],
                 [{"speaker": "agent", "start": 0, "end": 0.5, "text": "。"}]):
        result = check_call(transcript_from_dict({"call_id": "e", "segments": segs}), lex)
        assert not [f for f in result.findings if f.rule.startswith(("question.", "identity.", "opening."))]
        assert result.metrics["early_end"] == "通话中没有坐席语音"
