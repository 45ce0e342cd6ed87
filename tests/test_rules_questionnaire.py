from callbuilder import CLEAN, make_call, replace

from qa_checks import check_call


def findings(lex, transcript, rule):
    return [f for f in check_call(transcript, lex).findings if f.rule == rule]


def drop(lines, *indexes):
    return [ln for i, ln in enumerate(lines) if i not in indexes]


def test_skipped_item_named(lex):
    lines = drop(CLEAN, 14, 15)  # the cooling-off question and its answer
    f = findings(lex, make_call(lines), "question.skipped")
    assert [x.item for x in f] == ["cooling_off"]
    assert f[0].severity == "critical" and not check_call(make_call(lines), lex).passed


def test_paraphrase_counts_as_asked(rules_of):
    lines = replace(CLEAN, 14, "提醒您一下,合同签收后有十五天的尤玉期,这期间退保的话保费是全额退还的,这个您知道吧?")
    lines = replace(lines, 12, "给您办保险的业务员有没有讲过哪些情况保险公司不赔?")
    assert not {r for r in rules_of(make_call(lines)) if r.startswith("question.")}


def test_order_violation_names_the_moved_item(lex):
    lines = list(CLEAN)
    premium = lines[16:18]
    lines = lines[:16] + lines[18:]
    lines[8:8] = premium  # premium terms asked right after the signature question
    f = findings(lex, make_call(lines), "question.order")
    assert [x.item for x in f] == ["premium_terms"]


def test_one_early_mention_does_not_shift_everything(lex):
    # identity cross-check with the premium and the phone is not the questionnaire's premium or contact item
    lines = replace(CLEAN, 2, "谢谢您。为了核实您的身份,请问您投保时填写的手机号码是多少?")
    assert not findings(lex, make_call(lines), "question.order")


def test_merged_questions(lex):
    lines = drop(CLEAN, 9, 10)
    lines = replace(lines, 8, "请问您收到保险合同了吗?条款和产品说明书也都认真看过了吧?")
    f = findings(lex, make_call(lines), "question.merged")
    assert {x.item for x in f} == {"contract_received", "documents_read"}
    assert sum(x.weight for x in f) == f[0].weight  # one merged question, one deduction


def test_two_questions_with_answer_between_are_not_merged(rules_of):
    assert "question.merged" not in rules_of(make_call())


def test_cooling_off_sentence_mentioning_contract_is_one_item(rules_of):
    lines = replace(CLEAN, 14, "您的合同有十五天犹豫期,从您收到合同的次日起算,犹豫期内退保可全额退还保费,您清楚吗?")
    assert "question.merged" not in rules_of(make_call(lines))


def test_negative_answer_alert(lex):
    lines = replace(CLEAN, 9, "没有啊,还没收到。")
    f = findings(lex, make_call(lines), "question.negative_answer")
    assert f and f[0].item == "contract_received" and f[0].kind == "alert" and f[0].speaker == "customer"
    assert check_call(make_call(lines), lex).score == 100.0  # alerts do not lower the score


def test_not_signed_personally(lex):
    lines = replace(CLEAN, 7, "不是我签的,是业务员帮我签的。")
    rules = {f.rule: f for f in check_call(make_call(lines), lex).findings}
    assert rules["question.negative_answer"].item == "purchase_signature"
    assert "alert.misleading_sale" in rules


def test_no_problem_is_positive(rules_of):
    lines = replace(CLEAN, 13, "没问题,都清楚。")
    assert "question.negative_answer" not in rules_of(make_call(lines))


def test_unclear_answer_not_confirmed(lex):
    lines = replace(CLEAN, 11, "好像看过吧,记不太清了。")
    rules = {f.rule for f in check_call(make_call(lines), lex).findings}
    assert {"question.negative_answer", "question.unconfirmed"} <= rules


def test_unclear_answer_confirmed_again(rules_of):
    lines = replace(CLEAN, 11, "好像看过吧,记不太清了。")
    lines = [*lines[:12], ("agent", "跟您再确认一下,条款和产品说明书您是看过了,对吗?"), ("customer", "对,看过。"), *lines[12:]]
    assert "question.unconfirmed" not in rules_of(make_call(lines))


def test_early_end_third_party_has_no_skipped(rules_of):
    lines = [
        CLEAN[0],
        ("customer", "他不在家,我是他爱人,有什么事吗?"),
        ("agent", "好的,谢谢您。这个回访需要投保人本人接听,我们改天再联系王先生,祝您生活愉快,再见。"),
        ("customer", "好,再见。"),
    ]
    rules = rules_of(make_call(lines))
    assert not {r for r in rules if r.startswith("question.") or r.startswith("identity.")}


def test_early_end_inconvenient_with_appointment(rules_of):
    lines = [
        CLEAN[0],
        ("customer", "是我,我现在在开车,不方便。"),
        ("agent", "好的,谢谢您,那请问您什么时候方便?我们再给您打过来。"),
        ("customer", "晚上八点以后吧。"),
        ("agent", "好的,那我们晚上八点后再联系您,祝您生活愉快,再见。"),
    ]
    rules = rules_of(make_call(lines))
    assert not {r for r in rules if r.startswith("question.")}
    assert "handling.no_appointment" not in rules


def test_questionnaire_detected_participating(lex):
    lines = list(CLEAN)
    lines[18:18] = [("agent", "您购买的是分红型保险,红利分配是不确定的,在某些年度红利可能为零,您清楚吗?"), ("customer", "清楚。")]
    result = check_call(make_call(lines, questionnaire=None), lex)
    assert result.questionnaire == "participating" and result.questionnaire_source == "detected"
    assert not [f for f in result.findings if f.rule.startswith("question.")]


def test_participating_item_missing_is_skipped(lex):
    f = findings(lex, make_call(questionnaire="participating"), "question.skipped")
    assert [x.item for x in f] == ["dividend_uncertainty"]


def test_merged_policies_questionnaire(lex):
    assert lex.questionnaire_items(["participating", "universal"]) == [
        "identity", "purchase_signature", "contract_received", "documents_read", "coverage_exclusions",
        "cooling_off", "premium_terms", "dividend_uncertainty", "return_uncertainty", "surrender_loss", "contact_check"]
    f = findings(lex, make_call(questionnaire=["participating", "universal"]), "question.skipped")
    assert {x.item for x in f} == {"dividend_uncertainty", "return_uncertainty"}


def test_checklist_in_result(lex):
    rows = check_call(make_call(drop(CLEAN, 14, 15)), lex).checklist
    by_item = {r["item"]: r for r in rows}
    assert by_item["cooling_off"]["asked"] is False and by_item["premium_terms"]["answer"] == "positive"
