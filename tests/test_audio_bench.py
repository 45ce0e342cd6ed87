"""The audio benchmark's corpus, checked without any speech model.

Every listed call resolves to a labelled source whose labels its truth copies faithfully; every
committed recording matches its truth (format, duration, channels, where and how loud the speech is,
no silence long enough to plant dead air); the committed audio stays within its size budget. The
benchmark's scoring functions are exercised on real corpus truth, with the source text standing in
for a recognised transcript and with hand-made damage to it.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "benchmarks" / "audio_bench"))

import audio_accuracy  # noqa: E402
from corpus import COMMITTED, load_calls  # noqa: E402
from validate import check_audio, check_truth, committed_megabytes  # noqa: E402

CALLS = load_calls()
COMMITTED_CALLS = [c for c in CALLS if c.committed]
BUDGET_MB = 30.0


def test_corpus_covers_the_rule_families_and_clean_calls():
    assert len(CALLS) >= 30
    assert len({c.call_id for c in CALLS}) == len(CALLS)
    labels = [c.label() for c in CALLS]
    clean = [lab for lab in labels if not lab.get("rules")]
    assert len(clean) >= 8
    planted = {r for lab in labels for r in lab.get("rules") or []}
    for rule in ("question.skipped", "question.order", "question.merged", "question.negative_answer",
                 "question.unconfirmed", "identity.missing", "identity.weak", "identity.third_party",
                 "identity.sensitive_request", "opening.self_id", "opening.consent", "closing.standard",
                 "courtesy.thanks", "courtesy.honorific", "alert.surrender", "alert.misleading_sale",
                 "alert.complaint", "handling.no_soothing", "handling.no_appointment", "rate.too_fast",
                 "rate.too_slow", "rate.mismatch", "dynamics.interruption"):
        assert rule in planted, rule
    assert {r for r in planted if r.startswith("forbidden.")} >= {
        "forbidden.shirk", "forbidden.cut_off", "forbidden.blame", "forbidden.excuse", "forbidden.vague",
        "forbidden.colloquial", "forbidden.slang", "forbidden.filler", "forbidden.promise", "forbidden.inducement"}
    layouts = {c.layout for c in CALLS}
    assert layouts == {"stereo", "mono"}
    assert {c.agent_channel for c in CALLS if c.layout == "stereo"} == {0, 1}
    assert {c.codec for c in CALLS} == {"pcm", "mulaw"}
    assert len({c.voices for c in CALLS}) >= 3


@pytest.mark.parametrize("spec", CALLS, ids=[c.id for c in CALLS])
def test_truth_copies_its_labelled_source(spec):
    assert spec.source_path.is_file(), spec.source
    assert spec.source_path.parent.parent.parent == ROOT / "tests"
    assert check_truth(spec) == []


@pytest.mark.parametrize("spec", COMMITTED_CALLS, ids=[c.id for c in COMMITTED_CALLS])
def test_committed_audio_matches_its_truth(spec):
    assert spec.audio_path.parent == COMMITTED
    errors, facts = check_audio(spec)
    assert errors == []
    assert facts.duration == pytest.approx(spec.truth()["duration"], abs=0.002)


def test_committed_audio_is_a_representative_slice_within_budget():
    assert committed_megabytes(CALLS) <= BUDGET_MB
    kinds = {(c.layout, bool(c.label().get("rules"))) for c in COMMITTED_CALLS}
    assert kinds == {("stereo", True), ("stereo", False), ("mono", True), ("mono", False)}
    assert "mulaw" in {c.codec for c in COMMITTED_CALLS}
    listed = {c.audio_name for c in COMMITTED_CALLS} | {"manifest.csv"}
    assert {p.name for p in COMMITTED.iterdir()} == listed


def test_scoring_a_perfect_transcript_gives_no_errors():
    spec = COMMITTED_CALLS[0]
    truth = spec.truth()
    result = audio_accuracy.text_result(truth)
    score = audio_accuracy.score_call(truth, result, truth)
    assert score.cer["all"][0] == 0 and score.cer["all"][1] > 100
    assert score.roles["agent"][0] == score.roles["agent"][1] > 0
    assert all(score.turns)
    assert score.audio_rules == score.text_rules
    t = audio_accuracy.totals([score])
    assert [t["audio"][k] for k in ("tp", "fp", "fn")] == [t["text"][k] for k in ("tp", "fp", "fn")]
    assert t["rate"]["whole_within_5pct"] == 1
    assert t["customer_turn_recall"]["all"] == 1.0


def test_scoring_sees_swapped_roles_lost_turns_and_review_findings():
    spec = next(c for c in COMMITTED_CALLS if c.label().get("rules"))
    truth = spec.truth()
    result = audio_accuracy.text_result(truth)
    hyp = copy.deepcopy(truth)
    first_agent = next(s for s in hyp["segments"] if s["speaker"] == "agent")
    first_agent["speaker"] = "customer"  # one agent turn given to the customer
    customer = [s for s in hyp["segments"] if s["speaker"] == "customer" and s is not first_agent]
    hyp["segments"].remove(customer[-1])  # one customer turn never heard
    labelled = sorted(truth["planted"])
    result["findings"] = [{"rule": labelled[0], "status": "needs_review", "speaker": "agent", "start": 0.0,
                           "end": 1.0, "evidence": "", "message": ""}]
    score = audio_accuracy.score_call(truth, result, hyp)
    inside, total = score.roles["customer"]
    assert inside < total
    assert sum(score.turns) == len(score.turns) - 1
    assert score.review_rules == {labelled[0]} and score.audio_rules == set()
    t = audio_accuracy.totals([score])
    assert t["needs_review"] == {"on_labelled": 1, "not_labelled": 0}
    assert t["audio"]["tp"] == 0 and t["audio"]["fn"] == len(labelled)


def test_edit_distance():
    assert audio_accuracy.edit_distance("犹豫期十五天", "由于期十五天") == 2
    assert audio_accuracy.edit_distance("", "谢谢") == 2
    assert audio_accuracy.edit_distance("谢谢您", "谢您") == 1
