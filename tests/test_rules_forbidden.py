import pytest
from callbuilder import CLEAN, make_call, replace

from qa_checks import check_call


def with_agent_line(text, after=13):
    lines = list(CLEAN)
    lines.insert(after, ("agent", text))
    lines.insert(after + 1, ("customer", "哦。"))
    return make_call(lines)


@pytest.mark.parametrize(("text", "rule"), [
    ("理赔进度这个我不清楚,您问业务员吧。", "forbidden.shirk"),
    ("您听我解释,这个条款是这样的。", "forbidden.cut_off"),
    ("您怎么听不明白呢,我都说了好几遍了。", "forbidden.blame"),
    ("您的方言太重我听不懂。", "forbidden.blame"),
    ("不好意思啊,我是新员工,这个我还没培训。", "forbidden.excuse"),
    ("理赔款大概一周左右到账。", "forbidden.vague"),
    ("有问题你就打95500这个电话。", "forbidden.colloquial"),
    ("好的拉,那我们继续。", "forbidden.slang"),
    ("这个您放心,出了事肯定能赔。", "forbidden.promise"),
    ("材料交齐了三天内给您办好。", "forbidden.promise"),
    ("您的保单即将失效,建议您赶紧加保。", "forbidden.inducement"),
])
def test_forbidden_phrase_fires(rules_of, text, rule):
    assert rule in rules_of(with_agent_line(text))


@pytest.mark.parametrize(("speaker", "text"), [
    ("customer", "这个我也不知道,大概吧,可能是业务员填的。"),  # the customer's words
    ("agent", "这种可能性比较小,您不用担心。"),  # 可能性 is a word of its own
    ("agent", "这个时间不是大概的,是合同里写明的。"),  # negation
    ("agent", "我们不能保证收益,具体以合同为准。"),  # negation of a promise
    ("agent", "您大概什么时候方便?"),  # vague word inside a question to the customer
    ("agent", "您刚才说“我不知道”,是指没看过条款吗?"),  # quoting the customer
    ("agent", "这个账户有最低保证利率。"),  # 保证利率 is a product term
])
def test_forbidden_traps_do_not_fire(rules_of, speaker, text):
    lines = list(CLEAN)
    lines.insert(13, (speaker, text))
    lines.insert(14, ("customer" if speaker == "agent" else "agent", "好的。"))
    found = {r for r in rules_of(make_call(lines)) if r.startswith("forbidden.")}
    assert found == set()


def test_script_sentence_may_say_keneng(rules_of):
    # the standard surrender-loss sentence says 可能会有一定损失: script, not vague language
    assert "forbidden.vague" not in rules_of(make_call())


def test_homophone_of_forbidden_phrase(lex):
    result = check_call(with_agent_line("这个我不清出,您去问别人吧。"), lex)
    hits = [f for f in result.findings if f.rule == "forbidden.shirk"]
    assert hits and "同音" in hits[0].message


def test_filler_rate(rules_of):
    lines = [(s, ("嗯," + t.replace("。", ",啊,", 1)) if s == "agent" else t) for s, t in CLEAN]
    assert "forbidden.filler" in rules_of(make_call(lines))


def test_an_occasional_en_is_not_a_tic(rules_of):
    lines = replace(CLEAN, 8, "嗯,请问您已经收到保险合同了吗?")
    assert "forbidden.filler" not in rules_of(make_call(lines))


def test_finding_carries_evidence_and_time(lex):
    result = check_call(with_agent_line("理赔款大概一周左右到账。"), lex)
    f = next(f for f in result.findings if f.rule == "forbidden.vague")
    assert f.evidence == "大概" and f.speaker == "agent" and f.kind == "violation" and f.severity == "minor"
    seg = next(s for s in make_call([*list(CLEAN[:13]), ("agent", "理赔款大概一周左右到账。")]).segments if "大概" in s.text)
    assert seg.start <= f.start < f.end <= seg.end + 0.01
