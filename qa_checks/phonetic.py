"""Finding known script sentences in recognised speech by how they sound: toneless-pinyin alignment.

An agent reads known sentences (the opening, consent, the identity check, each questionnaire item, the
closing). A recogniser at 30–40% character error garbles them (犹豫期后退保有损失 → 由于其后推宝又随时, 合同收到了吗
→ 和同收到了忙), but what it writes still sounds like the sentence. Each script sentence is aligned against
the agent's speech syllable by syllable (semi-global alignment: the whole sentence against any stretch of
the speech), with substitutions costing by how alike two syllables sound: the same toneless syllable
costs nothing, the confusions of southern Mandarin and of telephone audio (zh/z, n/l, f/h, -ng/-n) little,
a syllable a sound or two away more, and an unrelated one as much as a syllable added or dropped. A long
sentence is accepted through many errors; a short one only when it sounds nearly the same, so a short
common word is not invented out of noise.

Script sentences may hold slots, `{name}`, `{company}`, `{number}`, `{date}`, `{product}`, `{money}`, `{*}`,
which take any few syllables at no cost (the customer's name differs every call). The speech is aligned one
agent turn at a time (its segments joined), so a sentence the recogniser cut in two is found whole, but
never across the customer's reply.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np
from pypinyin import Style, pinyin

from .textmatch import fuzz, phrase_syllables
from .textnorm import normalize

# slot name → (fewest, most) syllables it takes
SLOTS: dict[str, tuple[int, int]] = {
    "name": (1, 5), "company": (2, 8), "number": (1, 12), "date": (2, 10), "product": (2, 12),
    "money": (1, 8), "*": (0, 6),
}
_SLOT = re.compile(r"\{(\w+|\*)\}")
_FUZZY_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("l", "n"), ("f", "h"), ("r", "l"))
_FUZZY_FINALS = (("iang", "ian"), ("uang", "uan"), ("ang", "an"), ("eng", "en"), ("ing", "in"), ("ong", "on"))
INDEL = 1.0  # a syllable the recogniser added or dropped
SEPARATOR = "|"  # between turns: nothing aligns across it
_INF = 1e9


@cache
def _fuzz(syl: str) -> str:
    # the alignment's own tables: a few more confusions than word matching allows (r/l, -ong/-on)
    return fuzz(syl, _FUZZY_INITIALS, _FUZZY_FINALS)


def _edits(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@lru_cache(maxsize=200_000)
def syllable_cost(a: str, b: str) -> float:
    """How unlike two toneless syllables sound, 0 (the same) to 1 (unrelated, as costly as an indel)."""
    if a == b:
        return 0.0
    if a == SEPARATOR or b == SEPARATOR:
        return _INF
    fa, fb = _fuzz(a), _fuzz(b)
    if fa == fb:
        return 0.2
    ia, ib = _initial(fa), _initial(fb)
    if fa[len(ia):] == fb[len(ib):] and _PLACE.get(ia, ia) == _PLACE.get(ib, ib):
        return PLACE_COST  # the same final, initials made at one place in the mouth: 合同 heard as 可同, 保 as 跑
    return min(1.0, 0.25 + 0.75 * _edits(fa, fb) / max(len(fa), len(fb)))


@lru_cache(maxsize=200_000)
def reading_cost(syl: str, readings_: tuple[str, ...]) -> float:
    """The cost of a script syllable against a character that may be read any of `readings_` ways: its
    best reading's (kept, since the same pairs come back in every call and every question)."""
    return min(syllable_cost(syl, r) for r in readings_)


PLACE_COST = 0.35  # the least a syllable costs against one that does not sound like it after the fuzz


def within_reach(template: Template, heard: set[str], budget: float) -> bool:
    """Whether `template` could align within `budget` to speech whose syllables (fuzzed, `fuzzed_syllables`)
    are `heard`: each of its syllables heard nowhere costs at least PLACE_COST (INDEL is more), so a phrase
    with too many of them need not be aligned at all."""
    absent = sum(1 for t in template.tokens if isinstance(t, str) and _fuzz(t) not in heard)
    return absent * PLACE_COST <= budget


def fuzzed_syllables(text: str) -> set[str]:
    """Every reading of every character of `text`, fuzzed (the syllables a template could match there)."""
    return {_fuzz(r) for ch in set(text) for r in readings(ch)}


# initials made at one place in the mouth, told apart by aspiration or friction that a telephone line blurs
_PLACE = {i: group for group, members in {"lab": "b p", "alv": "d t", "vel": "g k h", "pal": "j q x",
                                           "den": "z c s"}.items() for i in members.split()}


@cache
def _initial(syl: str) -> str:
    for n in (2, 1):
        if syl[:n] in ("zh", "ch", "sh") or (n == 1 and syl[:1] in "bpmfdtnlgkhjqxzcsrwy"):
            return syl[:n]
    return ""


@cache
def readings(ch: str) -> tuple[str, ...]:
    """Every toneless reading of a character of recognised text (the recogniser may mean any of them)."""
    if not ("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"):
        return (ch,)
    found = pinyin(ch, style=Style.NORMAL, heteronym=True, errors=lambda s: [s])[0]
    return tuple(dict.fromkeys(r.replace("ü", "v") for r in found)) or (ch,)


@dataclass(frozen=True, slots=True)
class Template:
    """A script sentence compiled for alignment: its syllables, with slots as (fewest, most) ranges."""

    text: str
    tokens: tuple[str | tuple[int, int], ...]
    tag: object

    @property
    def length(self) -> int:
        """Syllables that must be heard (slots not counted)."""
        return sum(1 for t in self.tokens if isinstance(t, str))


def compile_template(sentence: str, tag: object = None) -> Template:
    tokens: list[str | tuple[int, int]] = []
    pos = 0
    for m in [*_SLOT.finditer(sentence), None]:
        chunk = sentence[pos : m.start() if m else len(sentence)]
        clean = normalize(chunk).clean
        if clean:
            tokens.extend(phrase_syllables(clean, False))
        if m is None:
            break
        slot = m.group(1)
        if slot not in SLOTS:
            raise ValueError(f"unknown slot {{{slot}}} in {sentence!r} (known: {', '.join(SLOTS)})")
        tokens.append(SLOTS[slot])
        pos = m.end()
    return Template(sentence, tuple(tokens), tag)


@dataclass(frozen=True, slots=True)
class Alignment:
    template: Template
    cost: float
    start: int  # syllable positions in the aligned sequence, [start, end)
    end: int
    matched: tuple[int, ...] = ()  # positions that stand for the template's syllables or slots (not insertions)

    @property
    def error_rate(self) -> float:
        return self.cost / max(1, self.template.length)


class Speech:
    """A sequence of syllables to align against (a call's agent turns joined by separators), with, for each
    syllable, where it came from (caller-defined, e.g. (segment index, clean index))."""

    def __init__(self, pieces: list[tuple[str, list[object]]]):
        """`pieces`: (clean text, origin of each character); a separator goes between pieces."""
        syllables: list[tuple[str, ...]] = []
        self.origin: list[object | None] = []
        for k, (clean, origins) in enumerate(pieces):
            if k:
                syllables.append((SEPARATOR,))
                self.origin.append(None)
            for ch, where in zip(clean, origins, strict=True):
                syllables.append(readings(ch))
                self.origin.append(where)
        self.syllables = syllables
        self._vocab: dict[tuple[str, ...], int] = {}
        ids = [self._vocab.setdefault(s, len(self._vocab)) for s in syllables]
        self.ids = np.array(ids, dtype=np.int64)
        self.separators = np.cumsum([s == (SEPARATOR,) for s in syllables], dtype=np.int64)
        self._rows: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.syllables)

    def _costs(self, syl: str) -> np.ndarray:
        """Substitution cost of a script syllable against every syllable of the speech."""
        row = self._rows.get(syl)
        if row is None:
            per_id = np.array([reading_cost(syl, readings_) for readings_ in self._vocab], dtype=np.float64)
            row = per_id[self.ids]
            self._rows[syl] = row
        return row

    def align(self, template: Template) -> Alignment | None:
        """The best alignment of the whole template against any stretch of the speech."""
        found = self._dp(template)
        if found is None:
            return None
        last, rows = found
        end = int(np.argmin(last))
        return None if last[end] >= _INF / 2 else self._trace(template, last, rows, end)

    def align_each(self, template: Template) -> list[Alignment]:
        """The best alignment of the template within each piece of the speech (each turn), where one fits."""
        found = self._dp(template)
        if found is None:
            return []
        last, rows = found
        seps = np.concatenate(([0], self.separators))
        out = []
        for lo, hi in _runs(seps):
            end = lo + int(np.argmin(last[lo:hi]))
            if last[end] < _INF / 2:
                out.append(self._trace(template, last, rows, end))
        return out

    def _dp(self, template: Template) -> tuple[np.ndarray, list[tuple[str, np.ndarray, np.ndarray | None]]] | None:
        """Dynamic programming one template token (row) at a time over every boundary of the speech, in
        numpy: a row costs a few vector operations. Inserted syllables use the running minimum of
        `best[k] - INDEL*k`, so a row stays linear. Each row keeps its choices for the traceback."""
        n = len(self)
        if n == 0 or not template.tokens:
            return None
        idx = np.arange(n + 1, dtype=np.float64)
        positions = np.arange(n + 1)
        seps = np.concatenate(([0], self.separators))  # separators up to each boundary
        # syllables the recogniser added: out[j] = min over k <= j in the same turn of best[k] + INDEL*(j-k)
        # one running minimum over the whole speech, each turn lifted above the turns after it so
        # that no minimum reaches back across a separator (vectorised: no Python loop over turns)
        lift = (seps[-1] - seps) * (2 * _INF + INDEL * (n + 1))
        steps = INDEL * idx  # the same for every row
        prev = np.zeros(n + 1)  # free start anywhere
        rows: list[tuple[str, np.ndarray, np.ndarray | None]] = []
        for token in template.tokens:
            if isinstance(token, tuple):  # a slot: skip fewest..most syllables, never across a separator
                lo, hi = token
                cur = np.full(n + 1, _INF)
                shift = np.full(n + 1, -1, dtype=np.int64)
                for k in range(lo, hi + 1):
                    shifted = np.full(n + 1, _INF)
                    if k == 0:
                        shifted = prev.copy()
                    else:
                        shifted[k:] = prev[:-k]
                        shifted[k:][seps[k:] != seps[:-k]] = _INF
                    better = shifted < cur
                    cur = np.where(better, shifted, cur)
                    shift = np.where(better, k, shift)
                prev = cur
                rows.append(("slot", shift, None))
                continue
            diag = np.full(n + 1, _INF)
            diag[1:] = prev[:-1] + self._costs(token)
            delete = prev + INDEL  # the recogniser dropped this syllable
            best = np.minimum(diag, delete)
            took_diag = diag <= delete
            vals = np.minimum(best, _INF) - steps + lift
            m = np.minimum.accumulate(vals)
            origin = np.maximum.accumulate(np.where(vals <= m, positions, 0))
            prev = np.minimum(m - lift + steps, _INF)
            rows.append(("syllable", origin, took_diag))
        return prev, rows

    @staticmethod
    def _trace(template: Template, last: np.ndarray, rows: list[tuple[str, np.ndarray, np.ndarray | None]],
               end: int) -> Alignment:
        j = end
        matched: list[int] = []
        for kind, first, second in reversed(rows):
            if kind == "slot":
                k = int(first[j])
                matched.extend(range(j - k, j))
                j -= k
                continue
            k = int(first[j])  # syllables k..j-1 were inserted
            assert second is not None
            if second[k]:
                matched.append(k - 1)
                j = k - 1
            else:
                j = k
        return Alignment(template, float(last[end]), j, end, tuple(sorted(matched)))


@lru_cache(maxsize=64)
def _runs_cached(key: bytes) -> tuple[tuple[int, int], ...]:
    seps = np.frombuffer(key, dtype=np.int64)
    cuts = [0, *(int(i) for i in np.flatnonzero(np.diff(seps)) + 1), len(seps)]
    return tuple((a, b) for a, b in itertools.pairwise(cuts) if b > a)


def _runs(seps: np.ndarray) -> tuple[tuple[int, int], ...]:
    """Boundary ranges between separators (insertions run within one)."""
    return _runs_cached(seps.tobytes())


def allowed_cost(length: int, tolerance: float, min_syllables: int, long_syllables: int) -> float:
    """How much alignment cost a script sentence of `length` heard syllables may carry and still count.

    Sentences of `long_syllables` or more: `tolerance` per syllable (30–40% errors); shorter ones less and
    less, down to nothing but near-homophones below `min_syllables`.
    """
    if length < min_syllables:
        return 0.25 * length / max(1, min_syllables)  # a fuzzy initial or final, no more
    if length >= long_syllables:
        return tolerance * length
    share = (length - min_syllables + 1) / (long_syllables - min_syllables + 1)
    return tolerance * length * share
