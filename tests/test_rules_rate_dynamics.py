from callbuilder import CLEAN, make_call, timed

from callqa.model import transcript_from_dict
from qa_checks import check_call


def test_rate_metrics_follow_the_definition(lex):
    t = make_call()
    result = check_call(t, lex)
    agent = [s for s in t.segments if s.speaker == "agent"]
    from qa_checks.textnorm import spoken_chars

    expected = 60 * sum(spoken_chars(s.text) for s in agent) / sum(s.duration for s in agent)
    assert abs(result.metrics["agent_chars_per_min"] - expected) < 0.1
    assert 100 <= expected <= 150


def test_too_fast_whole_call(rules_of):
    assert "rate.too_fast" in rules_of(make_call(agent_cps=3.2))


def test_too_slow(rules_of):
    assert "rate.too_slow" in rules_of(make_call(agent_cps=1.4))


def test_silence_between_turns_is_not_speaking_time(lex):
    slow_gaps = check_call(make_call(gap=6.0), lex)
    assert "rate.too_slow" not in {f.rule for f in slow_gaps.findings}


def test_sustained_fast_stretch(lex):
    lines = list(CLEAN)
    exclusions = ("agent", "下面给您说明一下责任免除条款:因投保人对被保险人的故意杀害或故意伤害,被保险人故意犯罪或者抗拒依法采取的"
                  "刑事强制措施,被保险人自本合同成立或者合同效力恢复之日起二年内自杀,但被保险人自杀时为无民事行为能力人的除外,"
                  "被保险人主动吸食或注射毒品,酒后驾驶、无合法有效驾驶证驾驶,或驾驶无有效行驶证的机动车,我们不承担给付保险金的责任。",
                  {"cps": 3.1})
    lines[13:13] = [exclusions, ("customer", "哦,好。")]
    result = check_call(make_call(lines), lex)
    f = [x for x in result.findings if x.rule == "rate.too_fast"]
    assert f and f[0].start > 30  # the stretch, not the whole call
    assert result.metrics["worst_window"]["chars_per_min"] > 165
    assert result.metrics["agent_chars_per_min"] <= 150


def test_rate_mismatch(rules_of):
    lines = [(s, t + ("我们家的保险都是在你们这里买的,业务员小刘人很好,讲得也很清楚。" if s == "customer" else "")) for s, t in CLEAN]
    assert "rate.mismatch" in rules_of(make_call(lines, customer_cps=4.5, agent_cps=1.8))


def test_interruption(rules_of):
    lines = list(CLEAN)
    lines[9] = ("customer", "收到了,不过我想问一下这个合同里面写的那个理赔的流程具体是怎么走的。")
    lines[10] = ("agent", "请问您是否认真阅读了保险条款、产品说明书和投保提示书?", {"overlap": 2.0})
    assert "dynamics.interruption" in rules_of(make_call(lines))


def test_backchannel_overlap_is_not_interruption(rules_of):
    lines = list(CLEAN)
    lines[9] = ("customer", "收到了,不过我想问一下这个合同里面写的那个理赔的流程具体是怎么走的。")
    lines.insert(10, ("agent", "嗯嗯。", {"overlap": 2.0}))
    assert "dynamics.interruption" not in rules_of(make_call(lines))


def test_words_give_finding_times(lex):
    segs = timed(CLEAN)
    segs[12]["text"] = "理赔款大概一周到账。销售人员有没有说明保险责任和责任免除?"
    s = segs[12]
    segs[12]["words"] = [
        {"word": "理赔款", "start": s["start"], "end": s["start"] + 1.0},
        {"word": "大概", "start": s["start"] + 1.5, "end": s["start"] + 2.0},
        {"word": "一周到账。销售人员有没有说明保险责任和责任免除?", "start": s["start"] + 2.0, "end": s["end"]},
    ]
    t = transcript_from_dict({"call_id": "w", "questionnaire": "traditional", "segments": segs})
    f = next(x for x in check_call(t, lex).findings if x.rule == "forbidden.vague")
    assert abs(f.start - (s["start"] + 1.5)) < 1e-6


def test_loud_agent_stretch_from_audio_levels(lex):
    segs = timed(CLEAN)
    for s in segs:
        s["loudness_db"] = -24.0 if s["speaker"] == "agent" else -26.0
    shout = next(i for i, s in enumerate(segs) if "犹豫期" in s["text"])
    segs[shout]["loudness_db"] = -12.0
    t = transcript_from_dict({"call_id": "l", "questionnaire": "traditional", "segments": segs})
    f = [x for x in check_call(t, lex).findings if x.rule == "dynamics.loud"]
    assert f and f[0].start == segs[shout]["start"] and "12 dB" in f[0].message


def test_even_levels_are_not_loud(lex):
    segs = timed(CLEAN)
    for i, s in enumerate(segs):
        s["loudness_db"] = -24.0 + (i % 3)  # ordinary variation
    t = transcript_from_dict({"call_id": "l", "questionnaire": "traditional", "segments": segs})
    assert "dynamics.loud" not in {x.rule for x in check_call(t, lex).findings}


def test_dead_air_from_audio_silences(lex):
    t = transcript_from_dict({"call_id": "d", "questionnaire": "traditional", "segments": timed(CLEAN),
                              "audio": {"silences": [[50.0, 61.5], [70.0, 73.0]]}})
    result = check_call(t, lex)
    f = [x for x in result.findings if x.rule == "dynamics.dead_air"]
    assert [(x.start, x.end) for x in f] == [(50.0, 61.5)] and f[0].severity == "info"
    assert result.metrics["longest_silence"] == 11.5


def test_no_audio_no_audio_findings(rules_of):
    rules = rules_of(make_call())
    assert not {"dynamics.loud", "dynamics.dead_air"} & rules
