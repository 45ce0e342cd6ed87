"""Phrase matching shared by every rule family.

Phrases are matched on the clean form of normalised text (see textnorm), in three passes:
exact characters; then, for phrases long enough, pinyin without tones, so ASR homophones
(些些 for 谢谢, 尤玉期 for 犹豫期, 报险 for 保险) still match; optionally also with the confusable
initials and finals of southern Mandarin merged (zh/z, n/l, in/ing…). Short exact hits must sit on
word boundaries (jieba), so 可能性 is not 可能 and 不可能 is not 可能.
A pattern that starts with `re:` is a regular expression over the clean text.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache, lru_cache

import jieba
from pypinyin import Style, lazy_pinyin
from pypinyin.pinyin_dict import pinyin_dict

from .textnorm import canonical, normalize

jieba.setLogLevel(60)

_TONE_MARKS = str.maketrans(
    "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿ",
    "aaaaeeeeiiiioooouuuuvvvvvnnnm",
)
_FUZZY_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("l", "n"), ("f", "h"), ("r", "n"))
_FUZZY_FINALS = (("iang", "ian"), ("uang", "uan"), ("ang", "an"), ("eng", "en"), ("ing", "in"))


class PinyinMode(StrEnum):
    OFF = "off"
    TONELESS = "toneless"
    FUZZY = "fuzzy"


def fuzz(syl: str, initials: tuple[tuple[str, str], ...] = _FUZZY_INITIALS,
         finals: tuple[tuple[str, str], ...] = _FUZZY_FINALS) -> str:
    """A toneless syllable with its confusable initial and final folded (zh→z, -ng→-n): the first
    matching pair of each table."""
    for a, b in initials:
        if syl.startswith(a):
            syl = b + syl[len(a) :]
            break
    for a, b in finals:
        if syl.endswith(a):
            syl = syl[: -len(a)] + b
            break
    return syl


@cache
def char_readings(ch: str, fuzzy: bool) -> frozenset[str]:
    """The toneless main reading of a character of the text (the char itself if it has none).

    Only the main reading: rare readings of common characters (是 can be read tí) would make
    是我签的 sound like 替我签的. The phrase side is read in context, so 银行 is still yin hang.
    """
    raw = pinyin_dict.get(ord(ch))
    if not raw:
        return frozenset((ch,))
    readings = {raw.split(",")[0].translate(_TONE_MARKS)}
    if fuzzy:
        readings = {fuzz(r) for r in readings}
    return frozenset(readings)


def phrase_syllables(clean: str, fuzzy: bool) -> tuple[str, ...]:
    """The phrase's own reading, resolved in context by pypinyin (行 in 银行 is hang)."""
    syls = lazy_pinyin(clean, style=Style.NORMAL, errors=lambda s: list(s))
    if len(syls) != len(clean):  # a non-CJK char split oddly: fall back to per-char readings
        syls = [next(iter(char_readings(c, False))) for c in clean]
    syls = [s.replace("ü", "v") for s in syls]
    return tuple(fuzz(s) if fuzzy else s for s in syls)


@dataclass(frozen=True, slots=True)
class Hit:
    start: int  # clean-index span [start, end)
    end: int
    pattern: str
    tag: object
    homophone: bool = False

    @property
    def span(self) -> tuple[int, int]:
        return self.start, self.end


class Scanner:
    """One pass over a text for the phrases of many indexes at once.

    Every rule family asks about the same utterances with its own phrase list; scanning once and
    handing each index its share keeps the checks fast (a 5-minute call in a few milliseconds).
    """

    def __init__(self, mode: PinyinMode = PinyinMode.TONELESS, homophone_max_word_freq: int = 20):
        self.fuzzy = mode is PinyinMode.FUZZY
        self.homophone_max_word_freq = homophone_max_word_freq
        self._exact: dict[str, list[tuple[str, int, object]]] = defaultdict(list)
        # homophone phrases keyed by their first two syllables: most candidates fail on the second
        self._pinyin: dict[tuple[str, str], list[tuple[tuple[str, ...], str, int, object]]] = defaultdict(list)
        self._starts: dict[str, list[tuple[tuple[str, ...], str, int, object]]] = {}
        self._memo: dict[str, dict[int, list[Hit]]] = {}
        self._owners = 0

    def new_owner(self) -> int:
        self._owners += 1
        return self._owners

    def add(self, owner: int, clean: str, tag: object, pinyin: bool) -> None:
        self._starts.clear()
        self._memo.clear()
        self._exact[clean[0]].append((clean, owner, tag))
        if pinyin and len(clean) >= 2:
            syls = phrase_syllables(clean, self.fuzzy)
            self._pinyin[(syls[0], syls[1])].append((syls, clean, owner, tag))

    def clear_memo(self) -> None:
        self._memo.clear()

    def _starters(self, pair: str) -> list[tuple[tuple[str, ...], str, int, object]]:
        """Pinyin phrases that two characters can begin (any of their readings), cached per pair."""
        found = self._starts.get(pair)
        if found is None:
            if len(self._starts) > 500_000:
                self._starts.clear()
            r0, r1 = char_readings(pair[0], self.fuzzy), char_readings(pair[1], self.fuzzy)
            found = [p for a in r0 for b in r1 for p in self._pinyin.get((a, b), ())]
            self._starts[pair] = found
        return found

    def scan(self, clean: str) -> dict[int, list[Hit]]:
        """Exact and homophone hits of every phrase, grouped by owning index (memoised)."""
        found = self._memo.get(clean)
        if found is not None:
            return found
        if len(self._memo) > 16384:
            self._memo.clear()
        found = {}
        exact_spans: set[tuple[int, int, int, object]] = set()
        n = len(clean)
        exact = self._exact
        for i, ch in enumerate(clean):
            cands = exact.get(ch)
            if not cands:
                continue
            for phrase, owner, tag in cands:
                if clean.startswith(phrase, i):
                    j = i + len(phrase)
                    found.setdefault(owner, []).append(Hit(i, j, phrase, tag))
                    exact_spans.add((i, j, owner, tag))
        if self._pinyin:
            fuzzy = self.fuzzy
            for i in range(n - 1):
                for syls, phrase, owner, tag in self._starters(clean[i : i + 2]):
                    j = i + len(syls)
                    if j > n or (i, j, owner, tag) in exact_spans or clean[i:j] == phrase:
                        continue
                    if all(syls[k] in char_readings(clean[i + k], fuzzy) for k in range(2, len(syls))):
                        if word_freq(clean[i:j]) >= self.homophone_max_word_freq:
                            continue
                        found.setdefault(owner, []).append(Hit(i, j, phrase, tag, homophone=True))
                        exact_spans.add((i, j, owner, tag))
        self._memo[clean] = found
        return found


@dataclass
class PhraseIndex:
    """A set of phrases (each with a tag) compiled for fast repeated search.

    Indexes built for one lexicon share a Scanner, so a text is scanned once for all of them.
    """

    mode: PinyinMode = PinyinMode.TONELESS
    pinyin_min_chars: int = 2
    boundary_max_chars: int = 3
    # a homophone that is itself a common word is that word, not an ASR slip (什么 is not 神马)
    homophone_max_word_freq: int = 20
    scanner: Scanner | None = None
    _regex: list[tuple[re.Pattern[str], str, object]] = field(default_factory=list)
    _owner: int = 0
    _size: int = 0
    phrases: list[str] = field(default_factory=list)  # as written in the lexicon (for a look by sound)

    def __post_init__(self) -> None:
        if self.scanner is None:
            self.scanner = Scanner(self.mode, self.homophone_max_word_freq)
        self._owner = self.scanner.new_owner()

    def __len__(self) -> int:
        return self._size

    def add(self, pattern: str, tag: object) -> None:
        self._size += 1
        self.phrases.append(pattern)
        if pattern.startswith("re:"):
            try:
                self._regex.append((re.compile(pattern[3:]), pattern, tag))
            except re.error as exc:
                raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None
            return
        clean = normalize(pattern).clean
        if not clean:
            return
        pinyin = self.mode is not PinyinMode.OFF and len(clean) >= self.pinyin_min_chars
        assert self.scanner is not None
        self.scanner.add(self._owner, clean, tag, pinyin)

    def extend(self, patterns: Iterable[str], tag: object) -> None:
        for p in patterns:
            self.add(p, tag)

    def clear_memo(self) -> None:
        assert self.scanner is not None
        self.scanner.clear_memo()

    def search(self, clean: str, check_boundaries: bool = True) -> list[Hit]:
        """All hits in a clean string, longest first at each position; overlaps are kept."""
        assert self.scanner is not None
        hits = list(self.scanner.scan(clean).get(self._owner, ()))
        if check_boundaries and hits:
            bounds: frozenset[int] | None = None
            kept = []
            for h in hits:
                if not h.homophone and h.end - h.start <= self.boundary_max_chars:
                    if bounds is None:
                        bounds = word_boundaries(clean)
                    if h.start not in bounds or h.end not in bounds:
                        continue
                kept.append(h)
            hits = kept
        for rx, pattern, tag in self._regex:
            for m in rx.finditer(clean):
                if m.end() > m.start():
                    hits.append(Hit(m.start(), m.end(), pattern, tag))
        hits.sort(key=lambda h: (h.start, -(h.end - h.start)))
        return hits


def load_dictionary() -> None:
    """jieba's dictionary, loaded now instead of at the first word looked up (a third of a second)."""
    jieba.dt.check_initialized()


def word_freq(word: str) -> int:
    """How common a word is in jieba's dictionary (0 when it is not a word)."""
    jieba.dt.check_initialized()
    return jieba.dt.FREQ.get(word, 0)


@lru_cache(maxsize=8192)
def word_boundaries(clean: str) -> frozenset[int]:
    """Positions between jieba words in a clean string (0 and len included)."""
    out = {0}
    pos = 0
    for tok in jieba.cut(clean, HMM=False):
        pos += len(tok)
        out.add(pos)
    return frozenset(out)


def has_cue_before(clean: str, start: int, cues: PhraseIndex, window: int,
                   ignore: PhraseIndex | None = None) -> Hit | None:
    """A cue within `window` characters before `start` (negation, reported speech).

    `ignore` holds set phrases that contain a cue without its meaning (不好意思 holds 不).
    """
    a = max(0, start - window)
    ctx = clean[a:start]
    masked = [h.span for h in ignore.search(clean[max(0, a - 3) : start + 2], False)] if ignore else []
    off = max(0, a - 3)
    for h in cues.search(ctx, check_boundaries=False):
        s, e = a + h.start, a + h.end
        if any(ms + off <= s and e <= me + off for ms, me in masked):
            continue
        return Hit(s, e, h.pattern, h.tag, h.homophone)
    return None


__all__ = ["Hit", "PhraseIndex", "PinyinMode", "Scanner", "canonical", "has_cue_before", "word_boundaries"]
