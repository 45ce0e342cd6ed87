"""Forbidden phrases 服务禁语 (seed 000) and verbal tics 口头禅 (seed 001), agent speech only.

A hit is dropped when it is someone else's words (quoted, 您说…), negated where the category says
negation flips it (不是大概), inside a question where the category allows it (您大概几点方便?), inside a
standard questionnaire sentence (退保可能会有损失), or inside an excepted longer phrase (保证利率).
"""

from __future__ import annotations

from callqa.model import Finding

from .call import AnalyzedCall, Utterance
from .questions import detect_items
from .textmatch import Hit


def _script_spans(call: AnalyzedCall, u: Utterance) -> list[tuple[int, int]]:
    """Where this utterance reads a questionnaire item: from the item's first word to its last.

    退保可能会有损失 reads the surrender item with 可能 inside it; 犹豫期内…保证一分不少 mentions the
    cooling-off item but the promise stands outside its words.
    """
    return [(o.start, o.end) for o in detect_items(call, u)]


def _excepted(hit: Hit, exceptions: list[Hit]) -> bool:
    return any(e.start <= hit.start and hit.end <= e.end for e in exceptions)


def check_forbidden(call: AnalyzedCall) -> list[Finding]:
    out: list[Finding] = []
    for u in call.agent:
        script: list[tuple[int, int]] | None = None
        seen: set[tuple[str, int]] = set()
        for cat in call.lex.forbidden.values():
            hits = cat.index.search(u.clean)
            if not hits:
                continue
            exceptions = cat.exceptions.search(u.clean, check_boundaries=False)
            taken: list[tuple[int, int]] = []  # 我保证 holds 保证: one finding for one place
            for h in hits:
                if any(h.start < b and a < h.end for a, b in taken):
                    continue
                if (cat.rule, h.start) in seen or _excepted(h, exceptions) or call.reported(u, h):
                    continue
                if cat.negatable and call.negated(u, h):
                    continue
                if cat.skip_in_questions and u.norm.is_question(h.start):
                    continue
                if cat.script_exempt:
                    if script is None:
                        script = _script_spans(call, u)
                    if any(a <= h.start and h.end <= b for a, b in script):
                        continue
                seen.add((cat.rule, h.start))
                taken.append(h.span)
                title = call.lex.rules[cat.rule].title
                how = "(同音识别)" if h.homophone else ""
                out.append(call.hit_finding(cat.rule, u, h, f"坐席使用了{title}「{u.excerpt(h.start, h.end)}」{how}"))
    return out


def check_filler(call: AnalyzedCall) -> tuple[list[Finding], dict[str, float]]:
    """Verbal tics are judged as a rate over the agent's speech, not per hit."""
    lex = call.lex
    hits: list[tuple[Utterance, Hit]] = []
    chars = 0
    for u in call.agent:
        chars += len(u.clean)
        hits.extend((u, h) for h in lex.filler.search(u.clean) if not u.norm.quoted[h.start])
    per_100 = 100.0 * len(hits) / chars if chars else 0.0
    metrics = {"filler_count": len(hits), "filler_per_100_chars": round(per_100, 2)}
    if len(hits) < int(lex.setting("filler.min_count")) or per_100 < float(lex.setting("filler.per_100_chars")):
        return [], metrics
    counts: dict[str, int] = {}
    for _, h in hits:
        counts[h.pattern] = counts.get(h.pattern, 0) + 1
    evidence = " ".join(f"{w}×{n}" for w, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    first_u, first_h = hits[0]
    last_u, last_h = hits[-1]
    f = call.finding("forbidden.filler", first_u, first_u.time_at(first_h.start), last_u.span_times(last_h.start, last_h.end)[1],
                     evidence, f"坐席口头禅过多:{len(hits)}次,每百字{per_100:.1f}次")
    return [f], metrics
