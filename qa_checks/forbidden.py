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
from .questions import NEEDS as QUESTION_NEEDS
from .questions import items_by_segment
from .registry import NUMBER, Check, Needs, add_check, measure, rule_check
from .spans import Spans
from .textmatch import Hit

CATEGORIES = ("forbidden.shirk", "forbidden.cut_off", "forbidden.blame", "forbidden.excuse", "forbidden.vague",
              "forbidden.colloquial", "forbidden.slang", "forbidden.promise", "forbidden.inducement")
FILLER_NEEDS = Needs(settings={"filler.min_count": int, "filler.per_100_chars": NUMBER})


def script_spans(call: AnalyzedCall) -> dict[int, Spans]:
    """Per agent segment, where it reads a questionnaire item: from the item's first word to its last.

    退保可能会有损失 reads the surrender item with 可能 inside it; 犹豫期内…保证一分不少 mentions the
    cooling-off item but the promise stands outside its words.
    """
    return {i: Spans((o.start, o.end) for o in occs) for i, occs in call.memo(items_by_segment).items()}


def check_category(rule: str, call: AnalyzedCall) -> Iterator[Finding]:
    cat = call.lex.forbidden.get(rule)
    if cat is None:
        return
    title = call.lex.rules[rule].title
    for u in call.agent:
        hits = cat.index.search(u.clean)
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
            if cat.skip_in_questions and u.norm.is_question(h.start):
                continue
            if cat.script_exempt and call.memo(script_spans)[u.index].contains(h.start, h.end):
                continue
            taken_end = max(taken_end, h.end)
            how = "(同音识别)" if h.homophone else ""
            yield call.hit_finding(rule, u, h, f"坐席使用了{title}「{u.excerpt(h.start, h.end)}」{how}")


for _rule in CATEGORIES:
    add_check(Check(
        name=f"check_{_rule}", rules=(_rule,), run=partial(check_category, _rule), needs=QUESTION_NEEDS,
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
    yield call.finding("forbidden.filler", first_u, first_u.time_at(first_h.start),
                       last_u.span_times(last_h.start, last_h.end)[1], evidence,
                       f"坐席口头禅过多:{len(hits)}次,每百字{per_100:.1f}次")
