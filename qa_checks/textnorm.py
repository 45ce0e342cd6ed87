"""Text normalisation before any matching.

ASR systems and people write the same words differently: traditional or simplified characters,
full- or half-width forms, Arabic or Chinese numerals. Everything is brought to one form: simplified,
half-width, numbers written as they are read aloud (95500 → 九五五零零, 15天 → 十五天, 3% → 百分之三).
The clean form keeps only the spoken characters, so matching ignores punctuation and spaces, and the
character count of the clean form is the count the speaking-rate rules use.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

import opencc

_T2S = opencc.OpenCC("t2s")

DIGITS = "零一二三四五六七八九"
_SMALL_UNITS = ("", "十", "百", "千")
_BIG_UNITS = ("", "万", "亿", "万亿")
# A number followed by one of these is read as a value (十五天, 一万元); otherwise long numbers
# (phone numbers, 工号, ID digits, 95500) are read digit by digit.
_VALUE_UNITS = set("元块万千百亿岁天日个份期次月周倍人年号点分秒条项张家")
_NUMBER = re.compile(r"\d+(?:\.\d+)?%?")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_DIGIT_GROUPS = re.compile(r"(?<=\d)[ \u3000-](?=\d)")
_PUNCT_MAP = str.maketrans(
    {
        "、": ",",
        "，": ",",
        "。": "。",
        "．": "。",
        "…": "。",
        "“": '"',
        "”": '"',
        "「": '"',
        "」": '"',
        "『": '"',
        "』": '"',
        "‘": '"',
        "’": '"',
        "《": '"',
        "》": '"',
    }
)
SENTENCE_END = set("。?!;\n")
_SPACE_BREAK = re.compile(r"(?<=[\u4e00-\u9fff\w])[ \u3000\t]+(?=[\u4e00-\u9fff\w])")
QUOTE = '"'


def _is_spoken(ch: str) -> bool:
    """A character that is pronounced: CJK ideographs, latin letters (digits are gone by then)."""
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or ("a" <= ch <= "z")


def read_digits(digits: str) -> str:
    return "".join(DIGITS[int(d)] for d in digits)


def _read_below_10000(n: int, leading: bool) -> str:
    out = []
    zero_pending = False
    for power in (3, 2, 1, 0):
        d = (n // 10**power) % 10
        if d == 0:
            if out:
                zero_pending = True
            continue
        if zero_pending:
            out.append("零")
            zero_pending = False
        if not (power == 1 and d == 1 and leading and not out):
            out.append(DIGITS[d])
        out.append(_SMALL_UNITS[power])
    return "".join(out)


def read_integer(n: int) -> str:
    """Read an integer as a value: 15 → 十五, 105 → 一百零五, 20000 → 二万."""
    if n == 0:
        return "零"
    groups = []
    while n:
        groups.append(n % 10000)
        n //= 10000
    out: list[str] = []
    need_zero = False
    for i in range(len(groups) - 1, -1, -1):
        g = groups[i]
        if g == 0:
            need_zero = bool(out)
            continue
        if out and (need_zero or g < 1000):
            out.append("零")
        need_zero = False
        out.append(_read_below_10000(g, leading=not out) + _BIG_UNITS[i])
    return "".join(out)


def read_number(token: str, following: str) -> str:
    """Read one Arabic number token as a speaker would say it, given the character after it."""
    percent = token.endswith("%")
    body = token.rstrip("%")
    whole, _, frac = body.partition(".")
    if percent:
        spoken = read_integer(int(whole)) + ("点" + read_digits(frac) if frac else "")
        return "百分之" + spoken
    if frac:
        return read_integer(int(whole)) + "点" + read_digits(frac)
    is_year = len(whole) == 4 and following == "年"
    if is_year or (following not in _VALUE_UNITS and len(whole) >= 4) or (len(whole) > 1 and whole[0] == "0"):
        return read_digits(whole)
    if len(whole) > 12:
        return read_digits(whole)
    return read_integer(int(whole))


def _numbers_to_chinese(text: str) -> str:
    text = _THOUSANDS.sub("", text)
    text = _DIGIT_GROUPS.sub("", text)  # 186 1234 5678 is one phone number, read digit by digit
    out = []
    last = 0
    for m in _NUMBER.finditer(text):
        out.append(text[last : m.start()])
        following = text[m.end() : m.end() + 1]
        out.append(read_number(m.group(), following))
        last = m.end()
    out.append(text[last:])
    return "".join(out)


@lru_cache(maxsize=65536)
def canonical(text: str) -> str:
    """Simplified, half-width, lower-case, numbers as read; punctuation kept in a canonical form."""
    text = _T2S.convert(text)
    text = unicodedata.normalize("NFKC", text).translate(_PUNCT_MAP).lower()
    text = _numbers_to_chinese(text)
    # ASR systems often mark pauses with spaces instead of punctuation: a space between words is a
    # clause break, so 请问现在方便吗 我们开始 still holds a question
    text = _SPACE_BREAK.sub(",", text)
    return text.replace(" ", "").replace("\u3000", "").replace("\t", "")


@dataclass(frozen=True, slots=True)
class NormText:
    """One utterance in canonical form, with its clean (spoken-characters-only) view.

    `clean[i]` is `text[pos[i]]`; sentence and clause ids per clean character let rules look at one
    sentence at a time without re-splitting.
    """

    raw: str
    text: str
    clean: str
    pos: tuple[int, ...]
    sentence_of: tuple[int, ...]
    quoted: tuple[bool, ...]
    # is_question per (sentence, loose): a long utterance with many hits asks about one sentence many times
    _questions: dict[tuple[int, bool], bool] = field(default_factory=dict, compare=False, repr=False)

    def sentences(self) -> list[tuple[int, int]]:
        """Clean-index spans [start, end) of each sentence."""
        spans: list[tuple[int, int]] = []
        start = 0
        for i in range(1, len(self.clean) + 1):
            if i == len(self.clean) or self.sentence_of[i] != self.sentence_of[start]:
                spans.append((start, i))
                start = i
        return spans

    def sentence_text(self, i: int) -> str:
        """The canonical text (with punctuation) of the sentence holding clean index i."""
        s, e = self.sentence_span(i)
        a = self.pos[s]
        b = self.pos[e - 1] + 1
        while b < len(self.text) and self.text[b] in "。?!;,\"":
            b += 1
        return self.text[a:b]

    def sentence_span(self, i: int) -> tuple[int, int]:
        """Clean-index span [start, end) of the sentence holding clean index i.

        Sentence ids never decrease along the text, so the span is two bisections: walking out from i
        would cost the sentence's length per hit, quadratic on one long sentence full of hits."""
        sid = self.sentence_of[i]
        return bisect.bisect_left(self.sentence_of, sid, 0, i), bisect.bisect_right(self.sentence_of, sid, i)

    def is_question(self, i: int, loose: bool = False) -> bool:
        """Whether the sentence holding clean index i is a question.

        `loose` also takes tag questions (收到合同了吧, 收到了没有), which are questions when the
        agent checks an item, but statements when someone hedges (差不多一万五吧).
        """
        key = (self.sentence_of[i], loose)
        found = self._questions.get(key)
        if found is None:
            sent = self.sentence_text(i)
            found = sent.endswith("?") or bool(_QUESTION_WORDS.search(sent)) or (loose and tag_question(sent))
            self._questions[key] = found
        return found


_TAG_QUESTION = re.compile(r"(吧|没有?)$|对吧|是吧|对不对")
_HEDGE = re.compile(r"差不多|大概|可能|应该|估计|也许|或许")


def tag_question(text: str) -> bool:
    """A clause that checks something with the listener (收到合同了吧, 看过没有, 对吧).

    A clause ending in 吧 that hedges (差不多下周吧) is a guess, not a question.
    """
    for clause in re.split(r"[,。!?;]", text):
        if _TAG_QUESTION.search(clause) and not (clause.endswith("吧") and _HEDGE.search(clause)):
            return True
    return False
_QUESTION_WORDS = re.compile(r"[吗呢](?=[,。!?;]|$)|是否|是不是|有没有|对不对|好不好|可不可以|能不能|清楚吗|了解吗|什么|多少|几点|哪")


@lru_cache(maxsize=65536)
def normalize(raw: str) -> NormText:
    text = canonical(raw)
    clean: list[str] = []
    pos: list[int] = []
    sentence_of: list[int] = []
    quoted: list[bool] = []
    sid = 0
    in_quote = False
    for i, ch in enumerate(text):
        if ch in SENTENCE_END:
            sid += 1
        elif ch == QUOTE:
            in_quote = not in_quote
        elif _is_spoken(ch):
            clean.append(ch)
            pos.append(i)
            sentence_of.append(sid)
            quoted.append(in_quote)
    return NormText(raw, text, "".join(clean), tuple(pos), tuple(sentence_of), tuple(quoted))


def spoken_chars(raw: str) -> int:
    """Characters as spoken: the speaking-rate numerator (numbers counted as read aloud)."""
    return len(normalize(raw).clean)


def asks(clause: str) -> bool:
    """Whether a clause asks the listener something: a question word or particle, or a tag question."""
    return bool(_QUESTION_WORDS.search(clause + ",")) or tag_question(clause)
