"""Questionnaire rules: which items the agent asked, in what order, one at a time, and the answers.

An item counts as asked when one agent sentence holds all word groups of one of its phrasings
(paraphrase counts). When one sentence could belong to two items, the item whose words cover more of
the sentence claims the shared words (犹豫期 in 犹豫期后退保会有损失 is surrender_loss, not
cooling_off). Order is judged on the longest run of items in questionnaire order, so one early mention
does not make every later item look out of place.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from callqa.model import Basis, Finding

from .call import AnalyzedCall, SegmentView
from .parties import FACTOR_NEEDS, THIRD_PARTY_NEEDS, factor_hits, third_party_turn
from .phonetic import Template
from .registry import NUMBER, Needs, rule_check
from .script import NEEDS as SCRIPT_NEEDS
from .script import ScriptHit, WordHit, agent_turns, heard, phrase_template, script_words, words_heard
from .spans import Spans
from .textmatch import Hit, PhraseIndex
from .textnorm import tag_question

# what the questionnaire analysis reads, shared by every check built on it
NEEDS = THIRD_PARTY_NEEDS + FACTOR_NEEDS + SCRIPT_NEEDS + Needs(
    settings={"questionnaire.answer_turns": int, "confidence.answer_gap_seconds": NUMBER,
              "alignment.group_min_syllables": int},
    cues=("inconvenient.anywhere", "inconvenient.early", "customer_continues", "early_end.agent_reschedule",
          "early_end.refuse", "early_end.agent_lost", "answers.positive_idioms", "answers.unclear", "answers.hedge",
          "answers.negative", "answers.positive", "answers.regional", "answers.weak", "answers.ack",
          "misleading_sale", "reconfirm"),
)


@dataclass(frozen=True, slots=True)
class Occurrence:
    item: str
    utt: SegmentView
    start: int  # clean-index span of the words that asked it
    end: int
    score: int
    # found by how the speech sounds (a script sentence the recogniser garbled), not in so many words; then
    # whether the sentence it sounds like is a question
    by_sound: bool = False
    question: bool = False
    homophone: bool = False  # found only through words that sound like the item's (由预期 for 犹豫期)
    # found only by its words' sound in a garbled question where it belongs in the questionnaire's order:
    # enough to say it was not skipped, too little to accuse anyone of how it was asked or answered
    guessed: bool = False

    @property
    def time(self) -> float:
        return self.utt.time_at(self.start)

    @property
    def turn(self) -> int:
        return self.utt.turn


@dataclass(slots=True)
class Answer:
    kind: str  # positive | negative | unclear | none
    utt: SegmentView | None = None
    hit: Hit | None = None
    reconfirmed: bool = False  # the agent confirmed an unclear answer again (000 关于再次确认)
    hedged: bool = False  # the customer was unsure (差不多吧, 记不清): the agent must confirm again


@dataclass(slots=True)
class QuestionAnalysis:
    questionnaire: list[str]
    source: str  # given | detected
    items: list[str]
    occurrences: list[Occurrence]  # every item mention, all items of the library, in time order
    first: dict[str, Occurrence] = field(default_factory=dict)
    early_end: tuple[float, str] | None = None  # when and why the call legitimately ended early
    answers: dict[str, Answer] = field(default_factory=dict)
    out_of_order: set[str] = field(default_factory=set)
    merged: dict[int, list[str]] = field(default_factory=dict)  # agent turn -> items asked together
    # items not heard where they belong, though the agent said something there the recogniser garbled: when
    # and where (not reported skipped, but to verify)
    unheard: dict[str, tuple[float, float]] = field(default_factory=dict)

    in_order: set[int] = field(default_factory=set)  # ids of the occurrences in the ordered run

    @property
    def started_at(self) -> float | None:
        """Time of the first questionnaire item after identity: where the questionnaire proper starts.

        Taken from the items asked in order, so a stray early mention does not move it.
        """
        times = [o.time for o in self.occurrences if o.item in self.items and o.item != "identity"
                 and (not self.in_order or id(o) in self.in_order)]
        return min(times) if times else None


def _covered(spans: list[tuple[int, int]]) -> int:
    chars: set[int] = set()
    for a, b in spans:
        chars.update(range(a, b))
    return len(chars)


def detect_items(call: AnalyzedCall, u: SegmentView) -> list[Occurrence]:
    """Questionnaire items asked in one agent utterance, sentence by sentence."""
    lex = call.lex
    out: list[Occurrence] = []
    for s, e in u.norm.sentences():
        hits = lex.item_index.search(u.clean[s:e], check_boundaries=False)
        if not hits:
            continue
        asking = u.norm.is_question(s, loose=True)
        by_item: dict[str, dict[int, list[tuple[int, int]]]] = {}
        exact: set[tuple[int, int]] = set()  # spans heard character for character, not as a homophone
        for h in hits:
            iid, gid = h.tag  # type: ignore[misc]
            by_item.setdefault(iid, {}).setdefault(gid, []).append((s + h.start, s + h.end))
            if not h.homophone:
                exact.add((s + h.start, s + h.end))
        candidates = []
        for iid, groups in by_item.items():
            spec = lex.items[iid]
            if spec.must_ask and not asking:
                continue
            blocked = Spans(groups.get(-2, []))
            if blocked:  # words that look like the item but say something else (收到合同后…)
                groups = {g: [sp for sp in spans if g < 0 or not blocked.overlaps(*sp)] for g, spans in groups.items()}
                groups = {g: spans for g, spans in groups.items() if spans}
            core: list[tuple[int, int]] = []
            for alt in spec.alternatives:
                if all(g in groups for g in alt):
                    for g in alt:
                        core.extend(groups[g])
            if not core:
                continue
            claim = core + groups.get(-1, [])
            candidates.append((_covered(claim), iid, core, claim))
        candidates.sort(key=lambda c: -c[0])
        claimed: list[tuple[int, int]] = []
        taken = Spans()
        for score, iid, core, claim in candidates:
            if any(taken.overlaps(*span) for span in core):
                # shared words belong to the stronger item; this one needs words of its own
                core = [span for span in core if not taken.overlaps(*span)]
                spec = lex.items[iid]
                kept = set(core)
                own = {g for g, spans in by_item[iid].items() if g >= 0 for span in spans if span in kept}
                if not any(all(g in own for g in alt) for alt in spec.alternatives):
                    continue
            claimed.extend(claim)
            taken = Spans(claimed)
            out.append(Occurrence(iid, u, min(a for a, _ in core), max(b for _, b in core), score,
                                  homophone=not any(span in exact for span in core)))
    return out


def items_by_segment(call: AnalyzedCall) -> dict[int, list[Occurrence]]:
    """Every item mention of every agent segment, by segment index (worked out once per call)."""
    return {u.index: detect_items(call, u) for u in call.agent}


def choose_questionnaire(call: AnalyzedCall, occurrences: list[Occurrence]) -> tuple[list[str], str]:
    lex = call.lex
    given = call.transcript.questionnaire
    if given:
        names = [given] if isinstance(given, str) else list(given)
        for n in names:
            if n not in lex.questionnaires:
                raise ValueError(f"unknown questionnaire '{n}' (known: {', '.join(sorted(lex.questionnaires))})")
        return names, "given"
    base = set(lex.questionnaires[lex.default_questionnaire].items)
    asked = {o.item for o in occurrences}
    strong: set[str] = set()
    weak: dict[str, int] = {}
    for u in call.segments:
        for h in lex.detect_index.search(u.clean, check_boundaries=False):
            name, weight = h.tag  # type: ignore[misc]
            if weight >= 3:
                strong.add(name)
            else:
                weak[name] = weak.get(name, 0) + 1
    chosen = []
    for name, q in lex.questionnaires.items():
        if name == lex.default_questionnaire:
            continue
        extra = [i for i in q.items if i not in base]
        # an item only this questionnaire has, or the product type named, decides; weak words alone do not
        if any(i in asked for i in extra) or name in strong or weak.get(name, 0) >= 3:
            chosen.append(name)
    return (chosen or [lex.default_questionnaire]), "detected"


def _first_hit(call: AnalyzedCall, utts: list[SegmentView], cue: str, negatable: bool = False) -> tuple[SegmentView, Hit] | None:
    index = call.lex.cue(cue)
    for u in utts:
        hits = call.find(u, index, negatable=negatable)
        if hits:
            return u, hits[0]
    return None


def find_early_end(call: AnalyzedCall, qa: QuestionAnalysis) -> tuple[float, str] | None:
    """A legitimate early end: not the policyholder, inconvenient and rescheduled, refused, hung up."""
    tp = third_party_turn(call)
    if tp is not None:
        return tp.seg.start, "接听人不是投保人本人"
    start = qa.started_at
    early_customer = [u for u in call.customer if start is None or u.seg.start < start]
    inconvenient = _first_hit(call, call.customer, "inconvenient.anywhere", negatable=True) or _first_hit(
        call, early_customer, "inconvenient.early", negatable=True
    )
    if inconvenient is not None:
        u, _ = inconvenient
        cont = call.next_turns(u.turn, "customer", 2)
        if not any(call.find(c, call.lex.cue("customer_continues")) for c in cont):
            return u.seg.start, "客户表示不方便接听"
    rescheduled = _first_hit(call, call.agent, "early_end.agent_reschedule")
    if rescheduled is not None:
        return rescheduled[0].seg.start, "改约回访时间"
    refused = _first_hit(call, call.customer, "early_end.refuse", negatable=True)
    if refused is not None:
        return refused[0].seg.start, "客户拒绝回访或挂断"
    last_agent = call.agent[-2:]
    lost = _first_hit(call, last_agent, "early_end.agent_lost")
    if lost is not None:
        return lost[0].seg.start, "客户中途挂机"
    return None


def classify_answer(call: AnalyzedCall, utts: list[SegmentView], item: str) -> Answer:
    """Positive, negative or unclear, read the way a QA reviewer reads a reply.

    A bare 嗯/对/是 decides only when nothing clearer follows (嗯 好像听说过吧 is unclear; 买是我买的,
    签名不是我签的 is negative). Otherwise the first clear word decides between yes and not-yes
    (收到了,就是发票还没收到 is yes), and a not-yes with a negative word in it is negative. A hedging
    adverb (大概, 可能) makes an answer unclear only when nothing clearer is said; the item's own words
    repeated back (红利是不确定的 → 不确定) are not a hedge; a mis-selling complaint in reply to an
    item makes it a problem case.
    """
    lex = call.lex
    spec = lex.items[item]
    for u in utts:
        idioms = Spans(h.span for h in lex.cue("answers.positive_idioms").search(u.clean, False))
        own = Spans(h.span for h in lex.item_index.search(u.clean, False) if h.tag[0] == item)  # type: ignore[index]
        unclear = [h for h in lex.cue("answers.unclear").search(u.clean, False)
                   if not idioms.overlaps(*h.span) and not own.overlaps(*h.span)]
        hedges = [h for h in lex.cue("answers.hedge").search(u.clean) if not own.overlaps(*h.span)]
        unsure = Spans(h.span for h in unclear + hedges)
        negative = [h for h in spec.negative.search(u.clean, False) + lex.cue("answers.negative").search(u.clean)
                    if not idioms.overlaps(*h.span) and not unsure.overlaps(*h.span)]
        negative += call.find(u, lex.cue("misleading_sale"), negatable=True, boundaries=False)
        negative.sort(key=lambda h: h.start)
        positive = (lex.cue("answers.positive").search(u.clean) + lex.cue("answers.regional").search(u.clean, False)
                    + lex.cue("answers.positive_idioms").search(u.clean, False))
        weak = {h.span for h in lex.cue("answers.weak").search(u.clean)}
        cues = [(h, "negative") for h in negative] + [(h, "unclear") for h in unclear] + [(h, "positive") for h in positive]
        if not cues:
            if hedges:
                return Answer("unclear", u, hedges[0], hedged=True)
            continue
        cues.sort(key=lambda c: (c[0].start, -(c[0].end - c[0].start)))
        clear = [c for c in cues if not (c[1] == "positive" and c[0].span in weak)]
        if not clear and hedges:
            return Answer("unclear", u, hedges[0], hedged=True)
        h, kind = (clear or cues)[0]
        if kind == "positive" and any(0 <= h.start - g.end <= 2 for g in hedges):
            kind = "unclear"  # 应该是知道吧, 大概说了一下: the yes itself is hedged
        if kind == "positive":
            return Answer("positive", u, h)
        if negative:
            return Answer("negative", u, negative[0], hedged=bool(unclear))
        return Answer("unclear", u, h, hedged=True)
    return Answer("none")


def _longest_ordered(positions: list[int]) -> set[int]:
    """Indices (into positions) of one longest strictly increasing subsequence.

    Strictly increasing positions are distinct items, so this keeps the most items in questionnaire
    order; a repeated item (asked again to confirm) simply stays out of the run.
    """
    tails: list[int] = []
    tails_idx: list[int] = []
    prev = [-1] * len(positions)
    for i, p in enumerate(positions):
        k = bisect.bisect_left(tails, p)
        if k == len(tails):
            tails.append(p)
            tails_idx.append(i)
        else:
            tails[k] = p
            tails_idx[k] = i
        prev[i] = tails_idx[k - 1] if k else -1
    keep: set[int] = set()
    i = tails_idx[-1] if tails_idx else -1
    while i >= 0:
        keep.add(i)
        i = prev[i]
    return keep


def questions_of(call: AnalyzedCall) -> QuestionAnalysis:
    """The questionnaire analysis of a call, worked out once and shared by every check that needs it."""
    return call.memo(analyze_questions)


def analyze_questions(call: AnalyzedCall) -> QuestionAnalysis:
    found = call.memo(items_by_segment)
    occurrences = [o for u in call.agent for o in found[u.index]]
    occurrences.sort(key=lambda o: (o.time, o.start))
    names, source = choose_questionnaire(call, occurrences)
    items = call.lex.questionnaire_items(names)
    qa = QuestionAnalysis(names, source, items, occurrences)
    if "identity" in items and not any(o.item == "identity" for o in occurrences):
        occurrences = _identity_by_factor(call, occurrences)
    occurrences = list(occurrences)
    heard_items = _heard_items(call, items, occurrences)  # may take words back from a homophone mention
    occurrences = sorted([*occurrences, *heard_items], key=lambda o: (o.time, o.start))
    in_place, qa.unheard = _unheard_items(call, items, occurrences)
    occurrences = sorted([*occurrences, *in_place], key=lambda o: (o.time, o.start))
    qa.occurrences = occurrences
    for o in occurrences:
        if o.item in items and o.item not in qa.first:
            qa.first[o.item] = o
    if not any(u.clean for u in call.agent):
        qa.early_end = (0.0, "通话中没有坐席语音")  # nothing was said: nothing was skipped
    elif any(i not in qa.first for i in items):  # an early end matters only if something was left unasked
        qa.early_end = find_early_end(call, qa)

    ordered = [o for o in occurrences if o.item in items]
    positions = [items.index(o.item) for o in ordered]
    keep = _longest_ordered(positions)
    in_run = {ordered[i].item for i in keep}
    qa.in_order = {id(ordered[i]) for i in keep}
    qa.out_of_order = {o.item for o in ordered} - in_run

    by_turn: dict[int, list[Occurrence]] = {}
    by_sentence: dict[tuple[int, int], list[Occurrence]] = {}
    for o in ordered:
        by_turn.setdefault(o.turn, []).append(o)
        by_sentence.setdefault((o.utt.index, o.utt.norm.sentence_of[o.start]), []).append(o)
    several = _SeveralAfter(call)
    for turn in sorted(by_turn):
        asked = [o for o in by_turn[turn] if not o.guessed and _is_asked(call, o, by_sentence, several)]
        turn_items = list(dict.fromkeys(o.item for o in asked))
        if len(turn_items) > 1:
            qa.merged[turn] = turn_items

    n_answer = int(call.lex.setting("questionnaire.answer_turns"))
    question_turns = sorted(by_turn)
    of_item: dict[str, list[Occurrence]] = {}
    for o in ordered:
        of_item.setdefault(o.item, []).append(o)
    for item, occ in qa.first.items():
        if item == "identity":
            continue  # a "no" here is a third party, judged by the identity rules
        later = [o for o in of_item.get(item, ()) if o.turn > occ.turn]
        asked_turns = [occ.turn] + [o.turn for o in later]
        # the customer's final answer stands: asked again after a hesitant reply, the last reply counts
        answer = Answer("none")
        ack = call.lex.cue("answers.ack")
        for t in asked_turns:
            reply = classify_answer(call, _replies(call, t, question_turns, n_answer), item)
            if reply.kind == "none":
                continue
            if (answer.kind in ("negative", "unclear") and reply.kind == "positive" and reply.utt is not None
                    and reply.hit is not None and _is_ack(ack, reply)):
                continue
            answer = reply
        if answer.hedged and answer.utt is not None:
            answer = _reconfirm(call, answer, item)
        qa.answers[item] = answer
    return qa


_ASKING = re.compile(r"[吗呢?]|是否|有没有|是不是|了没")


_SEVERAL = re.compile(r"(两|几|三|这些)(点|个|项|条|个问题)|以上(内容|几点|这些)?|都(清楚|了解|知道|明白)")


def _heard_items(call: AnalyzedCall, items: list[str], occurrences: list[Occurrence]) -> list[Occurrence]:
    """Items of the questionnaire not asked in so many words, found by how the speech sounds.

    Each missing item's sentences (`say`) are aligned against the agent's speech; the closest alignments
    win, one per item, and never over words another item already claimed (犹豫期后退保有损失 stays the
    surrender question however much it sounds like the cooling-off one).
    """
    asked = {o.item for o in occurrences}
    missing = [i for i in items if i not in asked and call.lex.items[i].say]
    if not missing:
        return []
    claimed: dict[int, list[tuple[int, int]]] = {}
    for o in occurrences:
        if not o.homophone:
            claimed.setdefault(o.utt.index, []).append((o.start, o.end))
    candidates: list[tuple[ScriptHit, str]] = [(h, item) for item in missing for h in heard(call, call.lex.items[item].say)]
    candidates.sort(key=lambda c: (c[0].error_rate, -c[0].template.length))
    found: list[Occurrence] = []
    for h, item in candidates:
        if any(o.item == item for o in found):
            continue
        segs = [u for u in call.agent if h.first.index <= u.index <= h.last.index]
        spans = [(u, h.span_in(u)) for u in segs]
        if any(span and Spans(claimed.get(u.index, [])).overlaps(*span) for u, span in spans):
            continue
        # a mention found only through a homophone (由预期 for 犹豫期) inside a whole sentence that sounds
        # like another item is that item's: the longer match explains the words better
        weaker = [o for o in occurrences if o.homophone and any(
            u is o.utt and span and o.start < span[1] and span[0] < o.end for u, span in spans)]
        if any(o.score >= h.template.length for o in weaker):
            continue
        for o in weaker:
            occurrences.remove(o)
        for u, span in spans:
            if span:
                claimed.setdefault(u.index, []).append(span)
        end = h.end if h.last.index == h.first.index else len(h.first.clean)
        found.append(Occurrence(item, h.first, h.start, end, h.template.length, by_sound=True, question=h.is_question))
    return found


def _group_hit(call: AnalyzedCall, item: str, turns: list[list[SegmentView]]) -> ScriptHit | None:
    """An item's word groups heard by sound in one of `turns`: every group of one of its phrasings (退保 …
    现金价值, heard as 吹爆 … 现金价值), the closest such phrasing, as a hit spanning its words."""
    spec = call.lex.items[item]
    if not spec.groups or not turns:
        return None
    words = words_heard(call, [p for phrases in spec.groups.values() for p in phrases], turns, unsure_only=False)
    least = int(call.lex.setting("alignment.group_min_syllables"))
    by_turn: dict[int, list[WordHit]] = {}
    for w in words:
        by_turn.setdefault(w.first.turn, []).append(w)
    best: tuple[float, list[WordHit]] | None = None
    for hits in by_turn.values():
        for alt in spec.alternatives:
            chosen = []
            for g in alt:
                group = [w for w in hits if w.phrase in spec.groups[g]]
                if not group:
                    break
                chosen.append(min(group, key=lambda w: w.cost / w.syllables))
            else:
                syllables = sum(w.syllables for w in chosen)
                cost = sum(w.cost for w in chosen) / syllables
                # a few syllables heard by sound are too little to say an item was asked: 保什么 in
                # 那您看什么时间方便 is not the coverage question
                if cost and syllables < least:
                    continue
                if best is None or cost < best[0]:
                    best = (cost, chosen)
    if best is None:
        return None
    cost, chosen = best
    first = min(chosen, key=lambda w: (w.first.index, w.start))
    last = max(chosen, key=lambda w: (w.last.index, w.end))
    tokens = tuple(t for w in chosen for t in (phrase_template(w.phrase) or Template("", (), None)).tokens)
    template = Template(" … ".join(w.phrase for w in chosen) + "?", tokens, item)  # read to the customer: asked
    return ScriptHit(template, cost * template.length, first.first, first.start, last.last, last.end)


def unaccounted(call: AnalyzedCall, t0: float, t1: float, occurrences: list[Occurrence] | None = None
                ) -> list[tuple[SegmentView, int, int]]:
    """The agent's sentences starting between t0 and t1 that nothing accounts for (no item asked in them, no
    words of the opening, consent or closing), or the question left at the end of one that is mostly such
    words (…的回访专员工号6603, 请问是黄志强先生吗). Occurrences: the items found; default the call's."""
    known = occurrences if occurrences is not None else questions_of(call).occurrences
    first: dict[str, Occurrence] = {}  # where each item was first asked
    in_segment: dict[int, list[Occurrence]] = {}
    for o in sorted(known, key=lambda o: (o.time, o.start)):
        first.setdefault(o.item, o)
        in_segment.setdefault(o.utt.index, []).append(o)
    out = []
    for u in call.agent:
        for s, e in u.norm.sentences():
            if e - s >= UNHEARD_MIN_CHARS and t0 < u.time_at(s) < t1:
                part = _unexplained(call, u, s, e, in_segment.get(u.index, []), first)
                if part is not None:
                    out.append((u, *part))
    return out


def _unexplained(call: AnalyzedCall, u: SegmentView, s: int, e: int, occurrences: list[Occurrence],
                 first: dict[str, Occurrence]) -> tuple[int, int] | None:
    """What of a sentence of the agent's nothing accounts for: None when an item is asked in it, or it is
    the opening's, consent's or closing's words (in so many words, or a script sentence of theirs heard by
    sound) but for a few characters; the uncovered end when they cover most of it and a question follows
    them; else the whole sentence. A word of theirs in a longer sentence does not account for it: 太平洋
    in the product's name, 谢谢您 before a garbled question; nor does an item asked before mentioned again
    in a small part of it (…上面的签名是他本人吗 after identity was verified). `occurrences`: the items
    found in `u`; `first`: where each item was first asked."""
    if any(o.utt is u and o.start < e and s < o.end and (first[o.item] is o or (o.end - o.start) * 2 >= e - s)
           for o in occurrences):
        return None
    text = u.clean[s:e]
    covered = {s + i for name in _OWN_WORDS for h in call.lex.cue(name).search(text, False)
               for i in range(h.start, h.end)}
    if call.has_probabilities:
        covered |= {i for seg, i in script_words(call, u, items=False) if seg == u.index and s <= i < e}
    if e - s - len(covered) < UNHEARD_MIN_CHARS:
        return None
    if len(covered) * 2 < e - s:
        return s, e
    tail = e
    while tail > s and tail - 1 not in covered:
        tail -= 1
    return (tail, e) if e - tail >= UNHEARD_MIN_CHARS else None


_OWN_WORDS = ("opening.company", "opening.agent", "opening.purpose", "opening.consent", "thanks", "farewell")
UNHEARD_MIN_CHARS = 5  # a shorter agent sentence (好的, 嗯, 那个) is not a question read out


def _unheard_items(call: AnalyzedCall, items: list[str], occurrences: list[Occurrence]
                   ) -> tuple[list[Occurrence], dict[str, tuple[float, float]]]:
    """Items not found in words or whole sentences, looked for where they belong: between the questions
    asked before and after them in the questionnaire's order.

    An agent question there that no item, opening or closing accounts for was garbled by the recogniser:
    if it sounds like the item's words (`_group_hit`, each group of one phrasing), the item was asked there
    (found items narrow the others' places, so this repeats until nothing more is found); if it sounds
    like nothing, whether the item was asked cannot be told, and the item is returned with that stretch, to
    be verified by a person rather than reported skipped. Where the agent asked nothing unaccounted for,
    the item was skipped. Only for the recogniser's own transcripts (with word probabilities): a typed
    transcript says what was said.
    """
    if not call.has_probabilities:
        return [], {}
    tp = third_party_turn(call)
    if tp is not None and not any(o.item != "identity" and o.time > tp.seg.start for o in occurrences):
        return [], {}  # someone else answered and the agent asked nothing more in words: nothing to look for
    found: list[Occurrence] = []
    while True:
        known = [*occurrences, *found]
        new = [o for item in items if not any(o.item == item for o in known)
               if (o := _in_place(call, items, item, known, sound=True)) is not None]
        if not new:
            break
        found += new[:1]  # one at a time: each find narrows the places of the rest
    unsure: dict[str, tuple[float, float]] = {}
    known = [*occurrences, *found]
    for item in items:
        if not any(o.item == item for o in known):
            place = _in_place(call, items, item, known, sound=False)
            if place is not None:
                unsure[item] = place
    return found, unsure


def _in_place(call: AnalyzedCall, items: list[str], item: str, known: list[Occurrence], *, sound: bool) -> Any:
    """The unaccounted agent questions where `item` belongs: with `sound`, an occurrence of the item if one
    sounds like its words; else their time span (None when there are none)."""
    pos = items.index(item)
    # bounded by the items asked in order: a stray mention (每年交多少钱 while verifying identity) is not
    # where the premium question was asked, and must not squeeze the place of the items before it to nothing
    ordered = sorted((o for o in known if o.item in items), key=lambda o: (o.time, o.start))
    run = [ordered[i] for i in sorted(_longest_ordered([items.index(o.item) for o in ordered]))]
    # an item is where it was first asked in that order: 本人 said again in a later question is not
    # identity asked there
    first: dict[str, float] = {}
    after = -1.0
    for o in run:
        after = first[o.item] = min(x.time for x in ordered if x.item == o.item and x.time > after)
    t0 = max((t for i, t in first.items() if i in items[:pos]), default=-1.0)
    t1 = min((t for i, t in first.items() if i in items[pos + 1 :] and t > t0),
             default=call.transcript.duration + 1)
    questions = [(u, s, e) for u, s, e in unaccounted(call, t0, t1, known) if _put_to_customer(call, u, s)]
    if not questions:
        return None
    if not sound:
        u0, s0, _ = questions[0]
        u1, _, e1 = questions[-1]
        return u0.time_at(s0), u1.span_times(0, e1)[1]
    ids = {u.index for u, _, _ in questions}
    hit = _group_hit(call, item, agent_turns(call, lambda v: v.index in ids))
    if hit is None or not any(hit.first is u and s <= hit.start < e for u, s, e in questions):
        return None
    end = hit.end if hit.last is hit.first else len(hit.first.clean)
    return Occurrence(item, hit.first, hit.start, end, hit.template.length, by_sound=True, question=True,
                      guessed=True)


ANSWER_WITHIN_S = 3.0
WAITS_S = 2.0  # an agent who ends a sentence and says nothing for this long is waiting for an answer


def _put_to_customer(call: AnalyzedCall, u: SegmentView, s: int) -> bool:
    """Whether an agent sentence reads as put to the customer: asked as a question, answered, or left
    waiting for an answer (the agent's last sentence before a pause: a reply the recogniser did not catch,
    a 吧 or 吗 it heard as 法 or 人)."""
    if u.norm.is_question(s, loose=True):
        return True
    end = u.seg.end
    customer, agent = call.memo(_starts)
    i = bisect.bisect_left(customer, (end - 0.2, -1))
    if i < len(customer) and customer[i][0] - end <= ANSWER_WITHIN_S:
        return True
    if u.norm.sentence_span(s)[1] < len(u.clean):
        return False
    following = [t for t, index in agent[bisect.bisect_left(agent, (end - 0.2, -1)):][:2] if index != u.index]
    return bool(following) and following[0] - end >= WAITS_S


def _starts(call: AnalyzedCall) -> tuple[list[tuple[float, int]], list[tuple[float, int]]]:
    """(start, segment index) of the customer's and the agent's segments, in order of start."""
    return (sorted((c.seg.start, c.index) for c in call.customer),
            sorted((v.seg.start, v.index) for v in call.agent))


class _SeveralAfter:
    """Whether a question about several points (这两点您都清楚吧) follows a place in an agent turn.

    Per turn, the turn's text is joined once and the last place where such a question starts is kept: a
    question follows a place when it starts at or after it. (Joining the rest of the turn for every item
    mention costs the turn's length per mention: quadratic on a long turn.)"""

    def __init__(self, call: AnalyzedCall):
        self.call = call
        self._turns: dict[int, tuple[dict[int, int], int]] = {}

    def after(self, u: SegmentView, offset: int) -> bool:
        """A several-points question at or after `offset` of `u`'s text, in `u`'s turn."""
        found = self._turns.get(u.turn)
        if found is None:
            starts: dict[int, int] = {}
            parts: list[str] = []
            size = 0
            for t in self.call.turn_segments(u.turn):
                starts[t.index] = size
                parts.append(t.norm.text)
                size += len(t.norm.text)
            last = -1
            for m in _SEVERAL_AT.finditer("".join(parts)):
                last = m.start()
            found = self._turns[u.turn] = (starts, last)
        starts, last = found
        return last >= starts[u.index] + offset


_SEVERAL_AT = re.compile(f"(?=(?:{_SEVERAL.pattern}))")  # every place a several-points question starts


def _is_asked(call: AnalyzedCall, occ: Occurrence, by_sentence: dict[tuple[int, int], list[Occurrence]],
              several: _SeveralAfter) -> bool:
    """Whether an item mention is put to the customer as a question, not only said.

    The sentence is cut between the items it mentions; an item is asked when its part holds a question
    (是否收到合同, 并且阅读了条款吗 asks both). A part without a question is a mention (是的,免责情形不在
    保障范围内,另外犹豫期十五天您清楚这一点吗 asks only the second), unless a later question of the turn
    asks about several points at once (犹豫期十五天…保费每年三千六…这两点您都清楚吧).
    """
    if occ.by_sound:
        return occ.question
    u = occ.utt
    s, _ = u.norm.sentence_span(occ.start)
    same = sorted(by_sentence[(u.index, u.norm.sentence_of[occ.start])], key=lambda o: o.start)
    i = same.index(occ)
    lo = same[i - 1].end if i > 0 else s
    if i + 1 < len(same):
        text = u.norm.text[u.norm.pos[lo] : u.norm.pos[same[i + 1].start]]
    else:  # the last item's part runs to the end of the sentence, punctuation included
        text = u.norm.sentence_text(occ.start)[u.norm.pos[lo] - u.norm.pos[s] :]
    if _ASKING.search(text) or tag_question(text):
        return True
    return several.after(u, u.norm.pos[occ.end - 1] + 1)  # in the rest of the turn after this item


def _is_ack(ack: PhraseIndex, reply: Answer) -> bool:
    """Whether a positive reply rests on a bare acknowledgement (嗯, 行, 好的)."""
    assert reply.utt is not None and reply.hit is not None
    return any(h.span == reply.hit.span for h in ack.search(reply.utt.clean, False))


def _reconfirm(call: AnalyzedCall, answer: Answer, item: str) -> Answer:
    """After an unsure answer, did the agent confirm again, and what did the customer finally say?

    Confirming is asking again, a confirmation phrase (跟您再确认一下, 对吧), or going over the item
    once more without moving to another question (不是大概,是整整十五天). The customer's final word
    counts: unsure, then a clear yes on confirmation, is a yes.
    """
    assert answer.utt is not None
    follow = call.next_turns(answer.utt.turn, "agent", 1)
    found = call.memo(items_by_segment)
    asked = [o.item for f in follow for o in found.get(f.index, ())]
    phrase = any(call.find(f, call.lex.cue("reconfirm")) for f in follow)
    restated = any(h.tag[0] == item for f in follow for h in call.lex.item_index.search(f.clean, False))  # type: ignore[index]
    moved_on = any(i != item for i in asked)
    if not (item in asked or phrase or (restated and not moved_on)):
        return answer
    final = classify_answer(call, call.next_turns(follow[-1].turn, "customer", 1), item)
    if final.kind in ("positive", "negative"):
        return Answer(final.kind, final.utt, final.hit, reconfirmed=True)
    return Answer(answer.kind, answer.utt, answer.hit, reconfirmed=True, hedged=True)


def _identity_by_factor(call: AnalyzedCall, occurrences: list[Occurrence]) -> list[Occurrence]:
    """An agent who verifies with a birth date or ID digits (您出生日期是…对不对) has asked the identity item."""
    start = min((o.time for o in occurrences if o.item != "identity"), default=None)
    hits = factor_hits(call, start)
    if not hits:
        return occurrences
    u, h = hits[0]
    found = Occurrence("identity", u, h.start, h.end, h.end - h.start)
    return sorted([*occurrences, found], key=lambda o: (o.time, o.start))


def _replies(call: AnalyzedCall, turn: int, question_turns: list[int], n: int) -> list[SegmentView]:
    """Customer utterances answering the question asked in `turn` (until the next question);
    `question_turns` are the turns holding an item, in order."""
    k = bisect.bisect_right(question_turns, turn)
    next_q = question_turns[k] if k < len(question_turns) else call.n_turns
    return [u for u in call.next_turns(turn, "customer", n) if u.turn < next_q]


@rule_check("question.skipped", needs=NEEDS)
def check_skipped(call: AnalyzedCall) -> Iterator[Finding]:
    """漏题: a question of the call's questionnaire never asked. Paraphrase counts as asked; after a
    legitimate early end (a third party, rescheduled, refused, hung up) only gaps before the last asked item
    count. As sure as the agent's speech was heard where the question belongs (between the questions
    asked before and after it)."""
    qa = questions_of(call)
    label = "+".join(qa.questionnaire)
    asked_pos = [qa.items.index(i) for i in qa.first]
    last_pos = max(asked_pos, default=-1)
    end = call.transcript.duration
    for pos, item in enumerate(qa.items):
        if item in qa.first or (qa.early_end is not None and pos > last_pos):
            continue
        if item == "identity" and qa.early_end is not None and "本人" in qa.early_end[1]:
            continue  # a third party answered: the identity question had no one to go to
        title = call.lex.items[item].title
        if item in qa.unheard:  # the agent said something there the recogniser garbled: it may be this item
            a, b = qa.unheard[item]
            yield call.finding("question.skipped", None, a, b, "",
                               f"问卷({label})第{pos + 1}题「{title}」未能识别是否询问(该处录音识别不清,请核听)",
                               item=item, basis=Basis.ABSENT, confidence=0.0)
            continue
        yield call.absent_finding("question.skipped", None, 0.0, end, "", f"问卷({label})第{pos + 1}题「{title}」未询问(漏题)",
                                  region=_where_it_belongs(qa, pos, end), item=item)


def _where_it_belongs(qa: QuestionAnalysis, pos: int, end: float) -> tuple[float, float]:
    """From the end of the turn asking the item before `pos` to the start of the turn asking the item after."""
    before = [qa.first[i] for i in qa.items[:pos] if i in qa.first]
    after = [qa.first[i] for i in qa.items[pos + 1 :] if i in qa.first]
    t0 = max((o.utt.seg.end for o in before), default=0.0)
    t1 = min((o.utt.seg.start for o in after), default=end)
    return (t0, t1) if t1 > t0 else (0.0, end)


@rule_check("question.order", needs=NEEDS)
def check_order(call: AnalyzedCall) -> Iterator[Finding]:
    """Questions asked out of the questionnaire's order, judged on the longest run of items in order."""
    qa = questions_of(call)
    lex = call.lex
    for item in qa.out_of_order:
        occ = qa.first[item]
        pos = qa.items.index(item)
        before = [o for o in qa.occurrences if o.item in qa.items and o.time > occ.time
                  and qa.items.index(o.item) < pos]
        after_title = lex.items[before[0].item].title if before else "前面的问题"
        u = occ.utt
        a, b = u.span_times(occ.start, occ.end)
        yield call.finding("question.order", u, a, b, u.norm.sentence_text(occ.start),
                           f"「{lex.items[item].title}」在「{after_title}」之前提问,顺序与问卷不符", item=item,
                           basis=Basis.STRUCTURE, confidence=call.heard_confidence(u, occ.start, occ.end))


@rule_check("question.merged", needs=NEEDS)
def check_merged(call: AnalyzedCall) -> Iterator[Finding]:
    """Two or more questions put in one agent turn without the customer answering in between."""
    qa = questions_of(call)
    gap = float(call.lex.setting("confidence.answer_gap_seconds"))
    for turn, same in qa.merged.items():
        turn_utts = call.turn_segments(turn)
        titles = "、".join(call.lex.items[i].title for i in same)
        # a pause between the questions long enough for an answer the recogniser did not catch, or the
        # customer heard speaking inside the turn (the recogniser stretched a word over their 清楚)
        spoken = [u for u in turn_utts if u.clean]
        t0, t1 = turn_utts[0].seg.start, turn_utts[-1].seg.end
        paused = call.has_probabilities and (
            any(b.seg.start - a.seg.end >= gap for a, b in itertools.pairwise(spoken))
            or any(t0 < c.seg.start < t1 and c.clean for c in call.customer))
        for k, item in enumerate(same):
            f = call.finding("question.merged", turn_utts[0], turn_utts[0].seg.start, turn_utts[-1].seg.end,
                             "".join(t.seg.text for t in turn_utts),
                             f"一次提问合并了多个问题({titles}),客户未逐一作答", item=item, basis=Basis.STRUCTURE,
                             confidence=0.0 if paused else None)
            if k:
                f.weight = 0.0  # one merged question is one deduction; the other items are named for review
            yield f


@rule_check("question.negative_answer", needs=NEEDS)
def check_negative_answer(call: AnalyzedCall) -> Iterator[Finding]:
    """The customer answered a question negatively or unclearly: a problem case (问题件) to hand over."""
    for item, ans in questions_of(call).answers.items():
        spec = call.lex.items[item]
        if ans.kind in ("negative", "unclear") and ans.utt is not None and ans.hit is not None and spec.negative_alert:
            word = "否定" if ans.kind == "negative" else "模糊"
            yield call.hit_finding("question.negative_answer", ans.utt, ans.hit,
                                   f"客户对「{spec.title}」{word}回答,需作为问题件转办", item=item)


@rule_check("question.unconfirmed", needs=NEEDS)
def check_unconfirmed(call: AnalyzedCall) -> Iterator[Finding]:
    """An unsure answer (差不多吧, 记不清) that the agent did not confirm again (000 再次确认)."""
    for item, ans in questions_of(call).answers.items():
        if (ans.kind in ("negative", "unclear") and ans.utt is not None and ans.hit is not None and ans.hedged
                and not ans.reconfirmed):
            yield call.hit_finding("question.unconfirmed", ans.utt, ans.hit,
                                   f"客户对「{call.lex.items[item].title}」回答含糊,坐席未再次确认", item=item)


def checklist(call: AnalyzedCall) -> list[dict[str, object]]:
    """Per questionnaire item: asked or not, order, merging, answer; for review pages."""
    qa = questions_of(call)
    rows = []
    for item in qa.items:
        occ = qa.first.get(item)
        ans = qa.answers.get(item)
        rows.append({
            "item": item,
            "title": call.lex.items[item].title,
            "asked": occ is not None,
            "start": round(occ.time, 2) if occ else None,
            "out_of_order": item in qa.out_of_order,
            "merged": any(item in same for same in qa.merged.values()),
            "answer": ans.kind if ans else "none",
        })
    return rows
