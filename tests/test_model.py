import pytest

from callqa.model import TranscriptError, transcript_from_dict, transcript_to_dict

GOOD = {
    "call_id": "C1", "agent_id": "A017", "started_at": "2026-11-16T10:32:00+08:00", "questionnaire": ["participating", "universal"],
    "crm_ticket": "T-9",
    "segments": [
        {"speaker": "agent", "start": 0.0, "end": 4.1, "text": "您好,我是太平洋寿险回访专员王丽。",
         "words": [{"word": "您好", "start": 0.0, "end": 0.5}]},
        {"speaker": "customer", "start": 4.3, "end": 5.0, "text": "嗯,你好。"},
    ],
}


def test_round_trip_keeps_everything():
    t = transcript_from_dict(GOOD)
    assert t.questionnaire == ["participating", "universal"] and t.extra == {"crm_ticket": "T-9"}
    assert t.segments[0].words[0].word == "您好" and t.duration == 5.0
    assert transcript_from_dict(transcript_to_dict(t)) == t


@pytest.mark.parametrize(("data", "message"), [
    ([], "top level must be a JSON object"),
    ({"segments": []}, "'call_id' is missing"),
    ({"call_id": "x"}, "'segments' is missing"),
    ({"call_id": "x", "segments": [{"speaker": "agent", "start": "0", "end": 1, "text": ""}]}, "segments[0].start must be a number"),
    ({"call_id": "x", "segments": [{"speaker": "agent", "start": float("nan"), "end": 1, "text": ""}]}, "finite"),
    ({"call_id": "x", "segments": [{"speaker": "agent", "start": 0, "end": 1, "text": 5}]}, "segments[0].text must be a string"),
    ({"call_id": "x", "questionnaire": 3, "segments": []}, "'questionnaire' must be a name"),
    ({"call_id": "x", "agent_id": 17, "segments": []}, "'agent_id' must be a string"),
])
def test_contract_errors_say_what_and_where(data, message):
    with pytest.raises(TranscriptError, match=None) as exc:
        transcript_from_dict(data)
    assert message in str(exc.value)


def test_segments_out_of_order_are_sorted():
    t = transcript_from_dict({"call_id": "x", "segments": [
        {"speaker": "customer", "start": 5, "end": 6, "text": "好"}, {"speaker": "agent", "start": 0, "end": 4, "text": "您好"}]})
    assert [s.speaker for s in t.segments] == ["agent", "customer"]
