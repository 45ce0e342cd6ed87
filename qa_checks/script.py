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

from .call import AnalyzedCall, SegmentView
from .phonetic import Speech, Template, allowed_cost
from .registry import NUMBER, Needs

NEEDS = Needs(settings={"alignment.tolerance": NUMBER, "alignment.min_syllables": int,
                        "alignment.long_syllables": int})
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


def _turn_positions(call: AnalyzedCall) -> dict[int, set[tuple[int, int]]]:
    """Per agent turn (filled on demand), the (segment, clean index) characters that stand for a script
    sentence's words."""
    return {}


def script_words(call: AnalyzedCall, u: SegmentView) -> set[tuple[int, int]]:
    """The characters of `u`'s turn that read a script sentence (any item's `say`, any of scripts.yaml), by
    sound: a word the recogniser garbled inside the script (保费 heard as 保证) is the script's, a word the
    agent added to it (…保证全额退还) is not."""
    cache = call.memo(_turn_positions)
    if u.turn not in cache:
        turn = [v for v in call.agent if v.turn == u.turn]
        speech = speech_of([turn])
        templates = [t for spec in call.lex.items.values() for t in spec.say]
        templates += [t for lines in (call.lex.scripts or {}).values() for t in lines]
        words: set[tuple[int, int]] = set()
        for template in templates:
            a = speech.align(template)
            if a is None or not _accepts(call, template, a.cost):
                continue
            for pos in a.matched:
                where = speech.origin[pos]
                if where is not None:
                    seg, i = where  # type: ignore[misc]
                    words.add((seg.index, i))
        cache[u.turn] = words
    return cache[u.turn]


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
