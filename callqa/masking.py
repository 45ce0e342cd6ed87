"""Masking of personal numbers (phone, ID, policy, bank card) in text shown to or stored for people.

One implementation for every layer: the results layer masks the evidence it stores in the tables, reports
mask pages, exports and clip indexes, and clips bleep the spoken numbers this module finds. It depends on
nothing else of the project.
"""

from __future__ import annotations

import re

# A digit as it is written or read out: Arabic (half and full width), Chinese (〇 is written for 零; 幺 and
# 两 are how 1 and 2 are read out in numbers) and the capital numerals of financial writing (壹贰叁…).
_DIGIT_CHARS = "0-9０-９零〇一二三四五六七八九幺两壹贰貳叁參肆伍陆陸柒捌玖"
_DIGIT = f"[{_DIGIT_CHARS}]"
# What may stand between the digits of one number: spaces, the punctuation people (and recognisers) put
# into a number read in groups ("138,1234,5678", "尾号3、2、1、5", "0571-8888"), and the fillers of
# someone reading it out ("一三八啊一二三四"); at most three of them between two digits.
_PUNCT = r"[ \t\u3000\-－—_,，、]"  # not "." or ":": decimals and clock times (153.3字/分钟, 1:23.7) stay
_FILLER = "(?:那个|就是|然后|啊|呃|嗯|额|哦|噢|呀|吧|哈)"
_SEP = rf"(?:{_PUNCT}|{_FILLER}){{0,3}}"
_RUN = re.compile(rf"{_DIGIT}(?:{_SEP}{_DIGIT}){{3,}}(?:{_SEP}[Xx])?")
_DIGITS = re.compile(_DIGIT)
_TAIL_X = re.compile(rf"{_SEP}[Xx]$")
_ID_LENGTHS = (14, 17)  # digits before the check letter of a 15- or 18-character ID number


def _mask(match: re.Match[str]) -> str:
    text = match.group(0)
    n = len(_DIGITS.findall(text))
    if text[-1] in "Xx":
        if n in _ID_LENGTHS:
            return "*" * (n + 1)
        tail = _TAIL_X.search(text)  # an X after an ordinary number stays as it was
        return "*" * n + (tail.group(0) if tail else "")
    return "*" * n


def mask_numbers(text: str) -> str:
    """Hide every run of 4 or more digits, keeping only how many there were.

    Digits are Arabic 0-9 (also full width), Chinese 零〇一二三四五六七八九幺两 or capital 壹贰叁肆伍陆柒捌玖;
    spaces, commas, enumeration commas, hyphens and spoken fillers (啊, 呃, 那个…) may stand between them.
    The whole run, separators included, becomes one `*` per digit: "尾号三二一五" -> "尾号****",
    "138,1234,5678" -> "***********", "一三八啊一二三四…" -> "*******…". A 15- or 18-character ID number
    ending in X/x is masked with its X ("11010119900307771X" -> 18 `*`). Runs of 1-3 digits (amounts,
    ages, "十五年") are left alone.
    """
    return _RUN.sub(_mask, text) if text else text


def number_spans(text: str) -> list[tuple[int, int]]:
    """Where `mask_numbers` would mask: (start, end) character offsets of each personal number in `text`."""
    return [m.span() for m in _RUN.finditer(text)] if text else []
