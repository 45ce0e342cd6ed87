"""A transcript prepared once for all rule families: normalised text, turns, and shared helpers."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from callqa.model import Basis, Finding, Segment, Transcript

from .lexicon import Lexicon
from .textmatch import Hit, PhraseIndex, has_cue_before
from .textnorm import NormText, normalize

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SegmentView:
    """One segment of the transcript with its normalised text and its position in the call."""

    index: int
    turn: int
    seg: Segment
    norm: NormText
    # clean characters up to the end of each word, filled on first use (words only)
    _word_ends: list[int] = field(default_factory=list, compare=False, repr=False)

    @property
    def speaker(self) -> str:
        return self.seg.speaker

    @property
    def clean(self) -> str:
        return self.norm.clean

    def time_at(self, i: int) -> float:
        """Estimated time of clean character i: from word timings if present, else proportional."""
        seg = self.seg
        n = len(self.norm.clean)
        if n == 0:
            return seg.start
        if seg.words:
            # the first word whose clean characters reach past character i (a bisection, not a walk: a
            # long segment with many hits would otherwise cost words × hits)
            ends = self._word_ends
            if not ends:
                ends.extend(itertools.accumulate(len(normalize(w.word).clean) for w in seg.words))
            k = bisect.bisect_right(ends, i)
            return seg.words[k].start if k < len(seg.words) else seg.words[-1].end
        return seg.start + seg.duration * min(i, n) / n

    def word_probabilities(self, start: int, end: int) -> list[float | None]:
        """The recogniser's probability of each word covering clean characters [start, end)."""
        out: list[float | None] = []
        count = 0
        for w in self.seg.words:
            k = len(normalize(w.word).clean)
            if count < end and count + k > start:
                out.append(w.probability)
            count += k
        return out

    def span_times(self, start: int, end: int) -> tuple[float, float]:
        a = self.time_at(start)
        b = self.time_at(end) if end < len(self.norm.clean) else self.seg.end
        return a, max(a, b)

    def excerpt(self, start: int, end: int) -> str:
        """The canonical text of the hit (with its punctuation), for evidence."""
        p = self.norm.pos
        return self.norm.text[p[start] : p[end - 1] + 1]


class AnalyzedCall:
    """The transcript plus derived views every family needs; built once per call."""

    def __init__(self, transcript: Transcript, lexicon: Lexicon):
        self.transcript = transcript
        self.lex = lexicon
        self.segments: list[SegmentView] = []
        self._memo: dict[Callable[..., Any], Any] = {}
        turn = -1
        last_speaker = None
        for i, seg in enumerate(transcript.segments):
            if seg.speaker != last_speaker:
                turn += 1
                last_speaker = seg.speaker
            self.segments.append(SegmentView(i, turn, seg, normalize(seg.text)))
        self.n_turns = turn + 1
        # turn numbers never decrease along the segments: the segments of a turn, or those after it, are
        # found by bisection (a call of 200,000 segments must not be walked once per question)
        self._turns = [u.turn for u in self.segments]
        self._by_speaker: dict[str, tuple[list[SegmentView], list[int]]] = {}

    def memo(self, analysis: Callable[[AnalyzedCall], T]) -> T:
        """`analysis(self)`, computed once per call: analyses several checks share (the questionnaire,
        the speaking rate) are worked out on first use and kept with the call."""
        if analysis not in self._memo:
            self._memo[analysis] = analysis(self)
        return self._memo[analysis]

    @cached_property
    def has_probabilities(self) -> bool:
        """Whether the transcript says how sure the recogniser was of its words (callqa's own do)."""
        return any(w.probability is not None for s in self.transcript.segments for w in s.words)

    def heard_confidence(self, u: SegmentView, start: int, end: int) -> float | None:
        """How sure the recogniser was of the words at clean characters [start, end) of `u`: their mean
        probability (None without probabilities)."""
        probs = u.word_probabilities(start, end)
        if not probs or any(p is None for p in probs):
            return None
        return sum(probs) / len(probs)  # type: ignore[arg-type]

    def region_confidence(self, speaker: str, t0: float, t1: float) -> float | None:
        """How sure the recogniser was of what `speaker` said between t0 and t1: the mean probability of
        the words, weighted by their characters. An absence there (no consent, no item asked) is only as
        sure as this: a garbled stretch may hide the words. 1.0 when nothing was said; None without
        probabilities."""
        if not self.has_probabilities:
            return None
        total = weight = 0.0
        for u in self.segments:
            if u.speaker != speaker or u.seg.end <= t0 or u.seg.start >= t1:
                continue
            for w in u.seg.words:
                if w.probability is None or not (t0 <= (w.start + w.end) / 2 <= t1):
                    continue
                k = len(normalize(w.word).clean)
                total += w.probability * k
                weight += k
        return total / weight if weight else 1.0

    @cached_property
    def agent(self) -> list[SegmentView]:
        """The agent's utterances that hold words (an empty segment says nothing to check)."""
        return [u for u in self.segments if u.speaker == "agent" and u.clean]

    @cached_property
    def customer(self) -> list[SegmentView]:
        return [u for u in self.segments if u.speaker == "customer" and u.clean]

    def turn_segments(self, turn: int) -> list[SegmentView]:
        return self.segments[bisect.bisect_left(self._turns, turn) : bisect.bisect_right(self._turns, turn)]

    def _speaker_segments(self, speaker: str) -> tuple[list[SegmentView], list[int]]:
        found = self._by_speaker.get(speaker)
        if found is None:
            utts = [u for u in self.segments if u.speaker == speaker]
            found = self._by_speaker[speaker] = (utts, [u.turn for u in utts])
        return found

    def next_turns(self, after_turn: int, speaker: str, count: int) -> list[SegmentView]:
        """Segments of the next `count` turns of `speaker` after `after_turn`."""
        utts, turns_of = self._speaker_segments(speaker)
        turns: list[int] = []
        out: list[SegmentView] = []
        for k in range(bisect.bisect_right(turns_of, after_turn), len(utts)):  # islice would walk the skipped
            u = utts[k]
            if u.turn not in turns:
                if len(turns) == count:
                    break
                turns.append(u.turn)
            out.append(u)
        return out

    # ---- shared meaning checks ----------------------------------------------------------------
    def negated(self, u: SegmentView, hit: Hit) -> bool:
        """A negation just before the hit, in the same sentence (不是大概, 我们不能保证)."""
        sent_start, _ = u.norm.sentence_span(hit.start)
        window = min(int(self.lex.setting("matching.negation_window")), hit.start - sent_start)
        cues, ignore = self.lex.cue("negation"), self.lex.cue("negation_ignore")
        return window > 0 and has_cue_before(u.clean, hit.start, cues, window, ignore) is not None

    def reported(self, u: SegmentView, hit: Hit) -> bool:
        """Inside quotation marks, or right after 您说 / 客户说: someone else's words."""
        if u.norm.quoted[hit.start]:
            return True
        sent_start, _ = u.norm.sentence_span(hit.start)
        window = min(5, hit.start - sent_start)
        return window > 0 and has_cue_before(u.clean, hit.start, self.lex.cue("reported_speech"), window) is not None

    def find(self, u: SegmentView, index: PhraseIndex, *, negatable: bool = False, boundaries: bool = True) -> list[Hit]:
        hits = index.search(u.clean, check_boundaries=boundaries)
        if negatable:
            hits = [h for h in hits if not self.negated(u, h)]
        return hits

    def finding(self, rule: str, u: SegmentView | None, start: float, end: float, evidence: str, message: str,
                item: str | None = None, *, basis: Basis = Basis.HEARD, confidence: float | None = None) -> Finding:
        spec = self.lex.rules[rule]
        return Finding(
            rule=rule,
            kind=spec.kind,
            severity=spec.severity,
            dimension=spec.dimension,
            speaker=u.speaker if u else None,
            start=start,
            end=end,
            evidence=evidence,
            message=message,
            item=item,
            weight=spec.weight,
            basis=basis,
            confidence=confidence,
        )

    def hit_finding(self, rule: str, u: SegmentView, hit: Hit, message: str, item: str | None = None) -> Finding:
        """A finding resting on words heard: as sure as the recogniser was of them."""
        a, b = u.span_times(hit.start, hit.end)
        return self.finding(rule, u, a, b, u.excerpt(hit.start, hit.end), message, item,
                            confidence=self.heard_confidence(u, hit.start, hit.end))

    def absent_finding(self, rule: str, u: SegmentView | None, start: float, end: float, evidence: str,
                       message: str, region: tuple[float, float], item: str | None = None) -> Finding:
        """A finding resting on words not heard in `region` (agent speech): as sure as what was heard there."""
        return self.finding(rule, u, start, end, evidence, message, item, basis=Basis.ABSENT,
                            confidence=self.region_confidence("agent", *region))
