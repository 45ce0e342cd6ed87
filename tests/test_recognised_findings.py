"""Findings on the recogniser's own transcripts (words with probabilities), where a garbled word must
neither raise a false finding nor hide a true one: the classes of recognition error met on recordings."""

from __future__ import annotations

from typing import Any

from callbuilder import CLEAN, replace, timed

from callqa.model import Transcript, transcript_from_dict
from qa_checks import check_call
from qa_checks.phonetic import compile_template, fuzzed_syllables, syllable_cost, within_reach

PUNCT = set(",。?!、,;: ")


def recognised(lines: list[tuple[Any, ...]], probability: float = 0.8, call_id: str = "R-1",
               questionnaire: str | None = "traditional", **kw: Any) -> Transcript:
    """A transcript as the pipeline writes it: each character a word with the recogniser's confidence."""
    segments = timed(lines, **kw)
    for seg in segments:
        chars = [c for c in seg["text"] if c not in PUNCT]
        step = (seg["end"] - seg["start"]) / max(1, len(chars))
        seg["words"] = [{"word": c, "start": round(seg["start"] + i * step, 3),
                         "end": round(seg["start"] + (i + 1) * step, 3), "probability": probability}
                        for i, c in enumerate(chars)]
    data: dict[str, Any] = {"call_id": call_id, "segments": segments}
    if questionnaire:
        data["questionnaire"] = questionnaire
    return transcript_from_dict(data)


def typed(lines: list[tuple[Any, ...]], **kw: Any) -> Transcript:
    return transcript_from_dict({"call_id": "T-1", "questionnaire": "traditional", "segments": timed(lines, **kw)})


def asserted(result, rule: str) -> list:
    return [f for f in result.findings if f.rule == rule and f.asserted]


def test_the_clean_call_recognised_has_no_findings():
    assert [f.rule for f in check_call(recognised(CLEAN)).findings if f.asserted] == []


def test_initials_made_at_one_place_cost_less_than_other_confusions():
    assert syllable_cost("he", "ke") == syllable_cost("bao", "pao") == syllable_cost("xi", "qi") == 0.35
    assert syllable_cost("he", "me") > 0.35
    assert syllable_cost("he", "he") == 0.0


def test_a_phrase_too_unlike_what_was_said_is_not_aligned_at_all():
    heard = fuzzed_syllables("您等我书完这些都是规定")
    phrase = compile_template("您等我说完")
    assert within_reach(phrase, heard, 0.2 * phrase.length)  # 说 heard nowhere: one syllable, within 1.0
    assert not within_reach(compile_template("这个我不清楚"), heard, 0.2 * 6)


def test_a_forbidden_phrase_garbled_by_the_recogniser_is_heard_by_sound():
    lines = replace(CLEAN, 18, "您等我书完,如果犹豫期过后退保,只能退还保单的现金价值,可能会有一定损失,您清楚吗?")
    found = asserted(check_call(recognised(lines)), "forbidden.cut_off")
    assert len(found) == 1 and "近音识别" in found[0].message and found[0].evidence.startswith("您等我书完")
    # a typed transcript says what was said: 书完 is not 说完
    assert asserted(check_call(typed(lines)), "forbidden.cut_off") == []


def test_a_short_forbidden_phrase_is_not_looked_for_by_sound():
    # 你是哪位 (four syllables) sounds like too many innocent words: 呢十八位
    lines = replace(CLEAN, 20, "最后跟您核对一下联系电话,是13912345678,呢十八位,对吗?")
    assert asserted(check_call(recognised(lines)), "forbidden.colloquial") == []


def test_a_vague_word_inside_a_garbled_item_word_is_the_scripts():
    # 犹豫期 heard as 有预计: the 预计 is not the agent being vague
    lines = replace(CLEAN, 14, "您的保单有十五天有预计,从您签收合同的次日开始计算,有预计内解除合同可以全额退还所交保费,您清楚吗?")
    assert asserted(check_call(recognised(lines)), "forbidden.vague") == []


def test_an_opening_heard_by_sound_names_the_company_no_list_holds():
    # 长城人寿 heard as 长城远秀 and 回访 as 维讽: the opening sentence, heard by sound, says both
    lines = replace(CLEAN, 0, "您好,我是长城远秀维讽专员李娜,公号零六六二,想就您新投保的保单做个维讽,请问是王建国先生吗?")
    assert asserted(check_call(recognised(lines)), "opening.self_id") == []
    assert asserted(check_call(typed(lines)), "opening.self_id") != []


def test_a_question_whose_particle_was_garbled_is_asked_when_the_agent_waits_for_the_answer():
    # 签的吧 heard as 办法, and the customer's reply not caught: the agent's pause says it was put to her
    lines = [*CLEAN[:6],
             ("agent", "您投保的是中英福寿终身寿险,是您自己决定买的,投保单上的名字也请您今手鲜的办法。"),
             ("agent", "请问您已经收到保险合同了吗?", {"pause": 8.0}),
             *CLEAN[9:]]
    result = check_call(recognised(lines))
    skipped = [f for f in result.findings if f.rule == "question.skipped" and f.item == "purchase_signature"]
    assert not any(f.asserted for f in skipped)


def test_words_of_an_item_scattered_in_a_callback_booking_are_not_the_item():
    # the customer is driving; 那您看什么时间方便 is not 保什么 (coverage), and nothing was skipped
    lines = [CLEAN[0],
             ("customer", "我在开车,现在不太方便。"),
             ("agent", "王先生安全第一,那您看什么时间方便,我们再给您打过来?"),
             ("customer", "晚上七点以后吧。"),
             ("agent", "好的,那我们今天晚上七点以后再联系您,谢谢您,开车注意安全,再见。")]
    result = check_call(recognised(lines))
    assert asserted(result, "question.skipped") == []
    assert asserted(result, "question.order") == []


def test_an_item_asked_again_in_part_of_a_later_question_does_not_hide_that_question():
    # identity asked first; 是他本人吗 inside the signature question is the signature question's own words
    lines = replace(CLEAN, 6, "这份中英福寿终身寿险是王先生自己要买的,孤号上面的千年是他本人先生吗?")
    result = check_call(recognised(lines))
    skipped = [f for f in result.findings if f.rule == "question.skipped" and f.item == "purchase_signature"]
    assert not any(f.asserted for f in skipped)



def test_consent_whose_question_the_recogniser_lost_counts_when_the_customer_answers_it():
    # 现在方便接听吗 heard as 现在方便监情报: no question mark, but the agent stops and the customer answers
    lines = replace(CLEAN, 4, "好的,核对无误。回访需要占用您几分钟时间,现在方便监情报")
    assert asserted(check_call(recognised(lines)), "opening.consent") == []


def test_a_garbled_sentence_that_sounds_like_no_consent_does_not_hide_its_absence():
    # no consent asked; the only garbled sentence before the questionnaire is a name check
    lines = [("agent", "为你好许许文竟你是吗"), ("customer", "是的,哪位?"),
             ("agent", "许女士您好,我是中英人寿回访专员张敏,工号三七二一,给您新买的保单做个回访。"), *CLEAN[2:4], *CLEAN[6:]]
    found = [f for f in check_call(recognised(lines)).findings if f.rule == "opening.consent"]
    assert len(found) == 1 and found[0].asserted


def test_a_rate_mismatch_just_past_its_limit_on_recognised_speech_is_to_verify():
    fast_customer = [(spk, text, {"cps": 4.0}) if spk == "customer" else (spk, text) for spk, text in CLEAN]
    lines = [(spk, text * 3 if spk == "customer" else text, *opt) for spk, text, *opt in fast_customer]
    typed_result = check_call(typed(lines))
    ratio = typed_result.metrics["agent_customer_rate_ratio"]
    assert 1 / 2.07 <= ratio < 1 / 1.8  # past the limit by less than the margin
    assert asserted(typed_result, "rate.mismatch") != []
    found = [f for f in check_call(recognised(lines)).findings if f.rule == "rate.mismatch"]
    assert found and not any(f.asserted for f in found)


def test_a_customers_alert_words_garbled_are_heard_by_sound_but_not_a_negation_they_lack():
    # 跟存定期一样 heard as 跟准定期一样: the customer thought it was a deposit
    lines = replace(CLEAN, 15, "清楚。当时业务员说这个就跟准定期一样的。")
    found = asserted(check_call(recognised(lines)), "alert.misleading_sale")
    assert len(found) == 1 and "准定期" in found[0].evidence
    # 都是我签的 sounds a little like 他替我签的, and 是我签的 lacks the 不 of 不是我签的: no alert
    lines = replace(CLEAN, 7, "对,都是我签的,是我签的。")
    assert asserted(check_call(recognised(lines)), "alert.misleading_sale") == []


def test_questions_in_one_recognised_turn_the_customer_spoke_inside_are_merged_only_to_verify():
    # the recogniser stretched the agent's words over the customer's 清楚 between the two questions
    lines = [*CLEAN[:18],
             ("agent", "如果犹豫期过后退保,只能退还保单的现金价值,可能会有一定损失,您清楚吗?最后跟您核对一下联系电话,"
                       "是13912345678,对吗?"),
             ("customer", "清楚。", {"overlap": 9.0}),
             ("customer", "对的。"),
             *CLEAN[22:]]
    assert asserted(check_call(typed(lines)), "question.merged") != []
    found = [f for f in check_call(recognised(lines)).findings if f.rule == "question.merged"]
    assert found and not any(f.asserted for f in found)
