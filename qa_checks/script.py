"""Where the agent reads a known sentence, found by how the recognised speech sounds (see phonetic.py).

The exact phrase matching of every family comes first; this is the second look the families take when it
finds nothing: a questionnaire item not asked in so many words, an opening, consent or closing not heard
as such. The agent's speech is aligned one turn at a time (the segments of a turn joined, never across the
customer's reply) against the sentences of the lexicons (`say` of each item, `scripts.yaml`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from .call import AnalyzedCall, SegmentView
from .phonetic import Speech, Template, allowed_cost, compile_template, fuzzed_syllables, within_reach
from .registry import NUMBER, Needs

NEEDS = Needs(settings={"alignment.tolerance": NUMBER, "alignment.min_syllables": int,
                        "alignment.long_syllables": int, "alignment.word_tolerance": NUMBER,
                        "alignment.unsure_below": NUMBER, "alignment.two_syllable_cost": NUMBER})
_QUESTION = re.compile(r"[吗呢吧?？]|是否|有没有|是不是|对不对|多少|哪")


@dataclass(frozen=True, slots=True)
class ScriptHit:
    """A script sentence heard in the agent's speech: from (segment, clean index) to (segment, clean index)."""

    template: Template
    cost: float
    first: SegmentView
    start: int
    last: SegmentView
    end: int

    @property
    def error_rate(self) -> float:
        return self.cost / max(1, self.template.length)

    @property
    def is_question(self) -> bool:
        return bool(_QUESTION.search(self.template.text))

    def span_in(self, seg: SegmentView) -> tuple[int, int] | None:
        """The clean-index span of this hit inside one of its segments."""
        if not (self.first.index <= seg.index <= self.last.index):
            return None
        a = self.start if seg.index == self.first.index else 0
        b = self.end if seg.index == self.last.index else len(seg.clean)
        return a, b


def agent_turns(call: AnalyzedCall, keep: Callable[[SegmentView], bool] | None = None) -> list[list[SegmentView]]:
    """The agent's segments grouped by turn (those `keep` accepts)."""
    turns: dict[int, list[SegmentView]] = {}
    for u in call.agent:
        if keep is None or keep(u):
            turns.setdefault(u.turn, []).append(u)
    return list(turns.values())


def speech_of(turns: Sequence[Sequence[SegmentView]]) -> Speech:
    pieces = []
    for turn in turns:
        clean = "".join(u.clean for u in turn)
        origins: list[object] = [(u, i) for u in turn for i in range(len(u.clean))]
        pieces.append((clean, origins))
    return Speech(pieces)


def agent_speech(call: AnalyzedCall) -> Speech:
    """All the agent's turns, built once per call."""
    return speech_of(agent_turns(call))


def _accepts(call: AnalyzedCall, template: Template, cost: float) -> bool:
    lex = call.lex
    return cost <= allowed_cost(template.length, float(lex.setting("alignment.tolerance")),
                                int(lex.setting("alignment.min_syllables")),
                                int(lex.setting("alignment.long_syllables")))


@dataclass(frozen=True, slots=True)
class WordHit:
    """A phrase of a cue list heard by sound in one agent turn."""

    phrase: str
    cost: float
    syllables: int
    first: SegmentView
    start: int
    last: SegmentView
    end: int


@lru_cache(maxsize=8192)
def phrase_template(phrase: str) -> Template | None:
    """A cue phrase as a template (regular expressions have no sound)."""
    if phrase.startswith("re:"):
        return None
    try:
        return compile_template(phrase)
    except ValueError:
        return None


def _unsure(call: AnalyzedCall, hit: WordHit) -> bool:
    """Whether the recogniser was unsure of the words a sound-alike stands on (a word heard with confidence
    is that word, not a script word that sounds like it)."""
    probs: list[float | None] = []
    for u in call.agent:
        if hit.first.index <= u.index <= hit.last.index:
            a = hit.start if u.index == hit.first.index else 0
            b = hit.end if u.index == hit.last.index else len(u.clean)
            probs += u.word_probabilities(a, b)
    known = [p for p in probs if p is not None]
    return bool(known) and sum(known) / len(known) < float(call.lex.setting("alignment.unsure_below"))


def words_heard(call: AnalyzedCall, phrases: Sequence[str], turns: Sequence[Sequence[SegmentView]], *,
                unsure_only: bool = True) -> list[WordHit]:
    """Each phrase's closest sound-alike in each of `turns`, where it is close enough: a two-syllable word
    may differ by about one confusable syllable (吹爆 for 退保, 水湿 for 损失), longer phrases by more
    (`alignment.word_tolerance` per syllable); a single syllable never counts by sound. A sound-alike must
    stand on words the recogniser was unsure of (unless `unsure_only` is off, where the caller has other
    evidence): a transcript without word probabilities (typed, or from another system) gets only exact words."""
    if not turns or not call.has_probabilities:
        return []
    speech = speech_of(turns)
    tolerance = float(call.lex.setting("alignment.word_tolerance"))
    pair = float(call.lex.setting("alignment.two_syllable_cost"))
    out = []
    for phrase in dict.fromkeys(phrases):
        template = phrase_template(phrase)
        if template is None or template.length < 2:
            continue
        for a in speech.align_each(template):
            limit = pair if template.length == 2 else tolerance * template.length
            if a.end <= a.start or a.cost > limit:
                continue
            first, last = speech.origin[a.start], speech.origin[a.end - 1]
            if first is None or last is None:
                continue
            (u0, i0), (u1, i1) = first, last  # type: ignore[misc]
            hit = WordHit(phrase, a.cost, template.length, u0, i0, u1, i1 + 1)
            if a.cost == 0 or not unsure_only or _unsure(call, hit):
                out.append(hit)
    return out


SOUND_PHRASE_NEEDS = Needs(settings={"alignment.phrase_min_syllables": int, "alignment.phrase_tolerance": NUMBER,
                                     "alignment.customer_phrase_min_syllables": int})


def phrases_by_sound(call: AnalyzedCall, phrases: Sequence[str], turns: Sequence[Sequence[SegmentView]], *,
                     customer: bool = False) -> list[WordHit]:
    """Phrases of a list that stands for a finding by itself (a forbidden phrase, a customer's 跟存定期一样)
    heard by sound where the recogniser wrote none of them (您等我书完 for 您等我说完; it is often sure of
    such words): only a phrase of `alignment.phrase_min_syllables` or more, within
    `alignment.phrase_tolerance` per syllable, because a short one sounds like too many innocent words.
    The customer's speech is recognised worse than the agent's: there a phrase needs
    `alignment.customer_phrase_min_syllables`, and its negations heard as they are (是我签的 must not become
    不是我签的, nor 都是我签的 他替我签的). The recogniser's own transcripts only."""
    if not call.has_probabilities or not turns:
        return []
    least = int(call.lex.setting("alignment.customer_phrase_min_syllables" if customer
                                 else "alignment.phrase_min_syllables"))
    tolerance = float(call.lex.setting("alignment.phrase_tolerance"))
    said = fuzzed_syllables("".join(u.clean for turn in turns for u in turn))
    longer = [p for p in phrases if (t := phrase_template(p)) is not None and t.length >= least
              and within_reach(t, said, tolerance * t.length)]
    out = []
    for w in words_heard(call, longer, turns, unsure_only=False):
        if not 0 < w.cost <= tolerance * w.syllables:
            continue
        heard_as = w.first.clean[w.start:w.end] if w.first is w.last else w.first.clean[w.start:] + w.last.clean[:w.end]
        if customer and not all(n in heard_as for n in _NEGATIONS.findall(w.phrase)):
            continue
        out.append(w)
    return out


_NEGATIONS = re.compile("[不没别未无非]")


def cue_heard(call: AnalyzedCall, cue: str, segments: Sequence[SegmentView]) -> bool:
    """Whether a cue list's phrase sounds like something said in `segments` (the recogniser's own
    transcripts only; a typed one says what was said)."""
    ids = {u.index for u in segments}
    return bool(words_heard(call, call.lex.cue(cue).phrases, agent_turns(call, lambda u: u.index in ids),
                            unsure_only=False))


def _turn_positions(call: AnalyzedCall) -> dict[tuple[int, bool], set[tuple[int, int]]]:
    """Per agent turn and template set (filled on demand), the (segment, clean index) characters that stand
    for a script sentence's words."""
    return {}


def script_words(call: AnalyzedCall, u: SegmentView, *, items: bool = True) -> set[tuple[int, int]]:
    """The characters of `u`'s turn that read a script sentence (any item's `say` unless `items` is off, any
    of scripts.yaml), by sound: a word the recogniser garbled inside the script (保费 heard as 保证) is the
    script's, a word the agent added to it (…保证全额退还) is not."""
    cache = call.memo(_turn_positions)
    key = (u.turn, items)
    if key not in cache:
        # every turn at once: one alignment of each template over the whole call, its best place per turn
        turns = agent_turns(call)
        speech = speech_of(turns)
        templates = [t for spec in call.lex.items.values() for t in spec.say] if items else []
        templates += [t for lines in (call.lex.scripts or {}).values() for t in lines]
        per_turn: dict[int, set[tuple[int, int]]] = {turn[0].turn: set() for turn in turns}
        for template in templates:
            for a in speech.align_each(template):
                if not _accepts(call, template, a.cost):
                    continue
                for pos in a.matched:
                    where = speech.origin[pos]
                    if where is not None:
                        seg, i = where  # type: ignore[misc]
                        per_turn[seg.turn].add((seg.index, i))
        for turn_id, words in per_turn.items():
            cache[(turn_id, items)] = words
    return cache.get(key, set())


def heard(call: AnalyzedCall, templates: Sequence[Template], speech: Speech | None = None) -> list[ScriptHit]:
    """Each template's best alignment in the speech (the agent's whole call by default) that is close enough
    to count, best first."""
    speech = speech if speech is not None else call.memo(agent_speech)
    hits = []
    for template in templates:
        a = speech.align(template)
        if a is None or a.end <= a.start or not _accepts(call, template, a.cost):
            continue
        first = speech.origin[a.start]
        last = speech.origin[a.end - 1]
        if first is None or last is None:
            continue
        (u0, i0), (u1, i1) = first, last  # type: ignore[misc]
        hits.append(ScriptHit(template, a.cost, u0, i0, u1, i1 + 1))
    return sorted(hits, key=lambda h: (h.error_rate, -h.template.length))
