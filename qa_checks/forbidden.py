"""Forbidden phrases 服务禁语 (seed 000) and verbal tics 口头禅 (seed 001), agent speech only.

A hit is dropped when it is someone else's words (quoted, 您说…), negated where the category says
negation flips it (不是大概), inside a question where the category allows it (您大概几点方便?), inside a
standard questionnaire sentence (退保可能会有损失), or inside an excepted longer phrase (保证利率).
Each category is its own rule, with its phrase list in forbidden.yaml.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

from callqa.model import Finding

from .call import AnalyzedCall, SegmentView
from .lexicon import ForbiddenCategory
from .questions import NEEDS as QUESTION_NEEDS
from .questions import items_by_segment
from .registry import NUMBER, Check, Needs, add_check, measure, rule_check
from .script import SOUND_PHRASE_NEEDS, WordHit, agent_turns, phrases_by_sound, script_words, words_heard
from .spans import Spans
from .textmatch import Hit
from .textnorm import asks

CATEGORIES = ("forbidden.shirk", "forbidden.cut_off", "forbidden.blame", "forbidden.excuse", "forbidden.vague",
              "forbidden.colloquial", "forbidden.slang", "forbidden.promise", "forbidden.inducement")
FILLER_NEEDS = Needs(settings={"filler.min_count": int, "filler.per_100_chars": NUMBER})


def script_spans(call: AnalyzedCall) -> dict[int, Spans]:
    """Per agent segment, where it reads a questionnaire item: from the item's first word to its last.

    退保可能会有损失 reads the surrender item with 可能 inside it; 犹豫期内…保证一分不少 mentions the
    cooling-off item but the promise stands outside its words.
    """
    return {i: Spans((o.start, o.end) for o in occs) for i, occs in call.memo(items_by_segment).items()}


def _asks(u: SegmentView, hit: Hit) -> bool:
    """Whether the words around a hit ask the customer something (您大概几点方便?). A recogniser joins two
    sentences with a comma (合同大概上周寄出,您收到保单了吗?): the clause holding the hit decides, and the
    sentence's question mark only for its last clause."""
    sent = u.norm.sentence_text(hit.start)
    s, _ = u.norm.sentence_span(hit.start)
    at = u.norm.pos[hit.start] - u.norm.pos[s]  # the hit's place in the sentence text
    start = max(sent.rfind(",", 0, at), sent.rfind('"', 0, at)) + 1
    comma = sent.find(",", at)
    clause = sent[start:] if comma < 0 else sent[start:comma]
    if comma >= 0 and not clause.endswith("?"):
        return asks(clause)
    return u.norm.is_question(hit.start)


SCRIPT_WINDOW = 6  # characters each side of a hit searched for the script's own words


def _among_script_words(call: AnalyzedCall, u: SegmentView, hit: Hit) -> bool:
    """Whether a hit is the script's in a sentence the recogniser garbled (its own transcripts only; a typed
    one had its script words matched exactly): between words of a questionnaire item heard by sound, one
    each side, in its clause (退保可能会有损失 heard as 吹爆可能会有水湿); inside one (预计 of 由预计,
    犹豫期 misheard); or the wording of an item read in its sentence, in the item's own `say` (可能会有损失
    of the surrender question, 损失 heard as 所需)."""
    if not call.has_probabilities:
        return False
    s, e = u.norm.sentence_span(hit.start)
    a, b = max(s, hit.start - SCRIPT_WINDOW), min(e, hit.end + SCRIPT_WINDOW)
    phrases = [p for spec in call.lex.items.values() for ps in (spec.groups or {}).values() for p in ps]
    words = [w for w in words_heard(call, phrases, [[u]], unsure_only=False) if w.first is u and w.last is u]
    before = any(a <= w.start and w.end <= hit.start for w in words)
    after = any(hit.end <= w.start and w.end <= b for w in words)
    inside = any(w.start <= hit.start and hit.end <= w.end and w.phrase != u.clean[w.start:w.end] for w in words)
    said = u.clean[hit.start:hit.end]
    read = {o.item for o in call.memo(items_by_segment)[u.index] if s <= o.start < e}
    return (before and after) or inside or any(said in t.text for i in read for t in call.lex.items[i].say)


_BY_SOUND = object()  # the tag of a phrase heard by sound


def _heard_by_sound(call: AnalyzedCall, cat: ForbiddenCategory, u: SegmentView) -> list[Hit]:
    """The category's longer phrases heard by sound in `u` where the recogniser wrote none of them."""
    return [Hit(w.start, w.end, w.phrase, _BY_SOUND) for w in call.memo(_forbidden_by_sound).get(cat.rule, ())
            if w.first is u and w.last is u]


def _forbidden_by_sound(call: AnalyzedCall) -> dict[str, list[WordHit]]:
    """Per category, its phrases heard by sound in the agent's turns (`phrases_by_sound`)."""
    turns = agent_turns(call, lambda v: True)
    return {rule: phrases_by_sound(call, cat.index.phrases, turns) for rule, cat in call.lex.forbidden.items()}


def check_category(rule: str, call: AnalyzedCall) -> Iterator[Finding]:
    cat = call.lex.forbidden.get(rule)
    if cat is None:
        return
    title = call.lex.rules[rule].title
    for u in call.agent:
        hits = cat.index.search(u.clean)
        by_sound = _heard_by_sound(call, cat, u)
        if by_sound:  # in order of start, the words heard first where the two cover the same place
            hits = sorted(hits + by_sound, key=lambda h: (h.start, -h.end, h.tag is _BY_SOUND))
        if not hits:
            continue
        exceptions = Spans(e.span for e in cat.exceptions.search(u.clean, check_boundaries=False))
        # 我保证 holds 保证: one finding for one place. Hits come in order of start, so a hit overlaps a
        # place taken before it exactly when it starts before the furthest end taken.
        taken_end = -1
        for h in hits:
            if h.start < taken_end:
                continue
            if exceptions.contains(h.start, h.end) or call.reported(u, h):
                continue
            if cat.negatable and call.negated(u, h):
                continue
            if cat.skip_in_questions and _asks(u, h):
                continue
            if cat.script_exempt and (call.memo(script_spans)[u.index].contains(h.start, h.end)
                                      or (call.has_probabilities  # by sound: the recogniser's own only
                                          and all((u.index, i) in script_words(call, u) for i in range(h.start, h.end)))
                                      or _among_script_words(call, u, h)):
                continue
            taken_end = max(taken_end, h.end)
            how = "(近音识别)" if h.tag is _BY_SOUND else "(同音识别)" if h.homophone else ""
            yield call.hit_finding(rule, u, h, f"坐席使用了{title}「{u.excerpt(h.start, h.end)}」{how}")


for _rule in CATEGORIES:
    add_check(Check(
        name=f"check_{_rule}", rules=(_rule,), run=partial(check_category, _rule), needs=QUESTION_NEEDS + SOUND_PHRASE_NEEDS,
        doc=f"The agent says a phrase of the {_rule.split('.')[1]} list of forbidden.yaml (its exceptions, "
            "negation, questions and the questionnaire script exempt it as the category says).",
    ))


def filler_hits(call: AnalyzedCall) -> tuple[list[tuple[SegmentView, Hit]], int]:
    """The agent's verbal tics (not quoted), and how many characters the agent spoke."""
    hits: list[tuple[SegmentView, Hit]] = []
    chars = 0
    for u in call.agent:
        chars += len(u.clean)
        hits.extend((u, h) for h in call.lex.filler.search(u.clean) if not u.norm.quoted[h.start])
    return hits, chars


@measure()
def filler_measures(call: AnalyzedCall) -> Mapping[str, Any]:
    hits, chars = call.memo(filler_hits)
    return {"filler_count": len(hits), "filler_per_100_chars": round(100.0 * len(hits) / chars if chars else 0.0, 2)}


@rule_check("forbidden.filler", needs=FILLER_NEEDS)
def check_filler(call: AnalyzedCall) -> Iterator[Finding]:
    """Verbal tics (嗯, 啊 used as habits) judged as a rate over the agent's speech, not per hit."""
    lex = call.lex
    hits, chars = call.memo(filler_hits)
    per_100 = 100.0 * len(hits) / chars if chars else 0.0
    if len(hits) < int(lex.setting("filler.min_count")) or per_100 < float(lex.setting("filler.per_100_chars")):
        return
    counts: dict[str, int] = {}
    for _, h in hits:
        counts[h.pattern] = counts.get(h.pattern, 0) + 1
    evidence = " ".join(f"{w}×{n}" for w, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    first_u, first_h = hits[0]
    last_u, last_h = hits[-1]
    heard = [c for u, h in hits if (c := call.heard_confidence(u, h.start, h.end)) is not None]
    yield call.finding("forbidden.filler", first_u, first_u.time_at(first_h.start),
                       last_u.span_times(last_h.start, last_h.end)[1], evidence,
                       f"坐席口头禅过多:{len(hits)}次,每百字{per_100:.1f}次",
                       confidence=sum(heard) / len(heard) if heard else None)
