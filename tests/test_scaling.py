"""The rulebook's work grows linearly with the transcript, on the shapes that used to be quadratic.

Work is counted, not timed: the number of Python function calls (cProfile's count, the same on any
machine) when the input grows eight times. Linear work grows about 8×, n log n a little more (about
10× here), quadratic 64×. Time itself is measured in benchmarks/qa_scaling.py.
"""

from __future__ import annotations

import bisect
import cProfile
import json
import pstats
import random
import sys
from pathlib import Path

import pytest

from callqa.model import transcript_from_dict
from qa_checks import check_call, load_lexicon
from qa_checks.call import AnalyzedCall
from qa_checks.spans import Spans
from qa_checks.textnorm import normalize

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from qa_scaling import many_segments, one_segment
from qa_throughput import make_calls

GROWTH = 8
LIMIT = 12  # linear and n log n stay under it; quadratic is far over


def _calls(raw: str) -> int:
    """Function calls to check a transcript with every text cache empty (jieba and the pinyin tables,
    loaded once per process, are loaded by a first check outside the count)."""
    lex = load_lexicon()
    transcript = transcript_from_dict(json.loads(raw))
    check_call(transcript, lex)
    lex.clear_caches()
    profile = cProfile.Profile()
    profile.runcall(check_call, transcript, lex)
    return pstats.Stats(profile).total_calls  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def pool() -> list[dict]:
    return [json.loads(r) for r in make_calls(6, 5.0)]


def _questions_and_answers(n: int) -> str:
    """Short turns: the agent asks an item, the customer hedges; every question and answer is looked up
    against the rest of the call."""
    segments = [{"speaker": "agent", "start": float(i), "end": i + 1.0, "text": "请问您收到合同了吗"} if i % 2 == 0
                else {"speaker": "customer", "start": float(i), "end": i + 1.0, "text": "差不多吧,记不清了"}
                for i in range(n)]
    return json.dumps({"call_id": "QA", "segments": segments}, ensure_ascii=False)


def _recognised_turns(n: int) -> str:
    """The recogniser's own transcript (words with probabilities) of garbled questions: items missing in
    words are looked for by sound where they belong, script sentences and phrases by sound over every turn."""
    lines = ("您好我是中英人秀回访专员工号三七二一", "是我", "请问您可同收到了罚", "差不多吧记不清了",
             "您等我书完这些都是规定必须问的", "嗯")
    segments = []
    for i in range(n):
        text = lines[i % len(lines)]
        words = [{"word": c, "start": i + k / len(text), "end": i + (k + 1) / len(text), "probability": 0.55}
                 for k, c in enumerate(text)]
        segments.append({"speaker": "agent" if i % 2 == 0 else "customer", "start": float(i), "end": i + 1.0,
                         "text": text, "words": words})
    return json.dumps({"call_id": "RQ", "segments": segments}, ensure_ascii=False)


def test_a_long_recognised_call_costs_linear_work() -> None:
    small, large = _calls(_recognised_turns(60)), _calls(_recognised_turns(60 * GROWTH))
    assert large / small < LIMIT, (small, large)


def test_one_long_segment_full_of_hits_costs_linear_work() -> None:
    small, large = _calls(one_segment(1500)), _calls(one_segment(1500 * GROWTH))
    assert large / small < LIMIT, (small, large)


def test_many_questions_and_answers_cost_linear_work() -> None:
    small, large = _calls(_questions_and_answers(400)), _calls(_questions_and_answers(400 * GROWTH))
    assert large / small < LIMIT, (small, large)


def test_many_calls_end_to_end_cost_linear_work(pool: list[dict]) -> None:
    small, large = _calls(many_segments(300, pool)), _calls(many_segments(300 * GROWTH, pool))
    assert large / small < LIMIT, (small, large)


def test_spans_answer_as_the_plain_scans_do() -> None:
    rng = random.Random(5)
    for _ in range(300):
        spans = [(a, a + rng.randint(1, 6)) for a in (rng.randint(0, 40) for _ in range(rng.randint(0, 8)))]
        s = Spans(spans)
        for _ in range(20):
            x = rng.randint(0, 45)
            y = x + rng.randint(1, 6)
            assert s.overlaps(x, y) == any(a < y and x < b for a, b in spans)
            assert s.contains(x, y) == any(a <= x and y <= b for a, b in spans)
            assert s.holds(x) == any(a <= x < b for a, b in spans)


def test_sentence_span_and_turn_lookups_agree_with_walking(pool: list[dict]) -> None:
    norm = normalize("您好。请问您是王先生吗?是的,我是。那我们开始回访,好吗;好")
    for i in range(len(norm.clean)):
        sid = norm.sentence_of[i]
        members = [k for k in range(len(norm.clean)) if norm.sentence_of[k] == sid]
        assert norm.sentence_span(i) == (members[0], members[-1] + 1)
    call = AnalyzedCall(transcript_from_dict(pool[0]), load_lexicon())
    for turn in range(call.n_turns):
        assert call.turn_segments(turn) == [u for u in call.segments if u.turn == turn]
        for speaker in ("agent", "customer"):
            walked, turns = [], []
            for u in call.segments:
                if u.turn > turn and u.speaker == speaker:
                    if u.turn not in turns:
                        if len(turns) == 2:
                            break
                        turns.append(u.turn)
                    walked.append(u)
            assert call.next_turns(turn, speaker, 2) == walked


def test_word_times_found_by_bisection_match_the_walk(pool: list[dict]) -> None:
    raw = dict(pool[1])
    seg = dict(raw["segments"][0])
    text = seg["text"]
    seg["words"] = [{"word": text[k : k + 2], "start": seg["start"] + k * 0.2, "end": seg["start"] + k * 0.2 + 0.3}
                    for k in range(0, len(text), 2)]
    raw["segments"] = [seg, *raw["segments"][1:]]
    u = AnalyzedCall(transcript_from_dict(raw), load_lexicon()).segments[0]
    ends = [0]
    for w in u.seg.words:
        ends.append(ends[-1] + len(normalize(w.word).clean))
    for i in range(len(u.clean) + 1):
        k = bisect.bisect_right(ends[1:], i)
        walked = u.seg.words[k].start if k < len(u.seg.words) else u.seg.words[-1].end
        assert u.time_at(i) == walked
