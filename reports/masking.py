"""Masking of personal numbers (phone, ID, policy, bank card) in text shown to people outside QA."""

from __future__ import annotations

import re

from qa_checks.textnorm import DIGITS

# Arabic (half and full width) and spoken Chinese digits; 〇 is written for 零, and 幺 and 两 are how 1 and
# 2 are read out in numbers
_DIGIT = f"[0-9０-９{DIGITS}〇幺两]"
_SEP = r"[ \u3000]*[-－]?[ \u3000]*"  # "138 1234 5678", "0571-8888"
_RUN = re.compile(rf"{_DIGIT}(?:{_SEP}{_DIGIT}){{3,}}(?:{_SEP}[Xx])?")
_DIGITS = re.compile(_DIGIT)
_ID_LENGTHS = (14, 17)  # digits before the check letter of a 15- or 18-character ID number


def _mask(match: re.Match[str]) -> str:
    text = match.group(0)
    n = len(_DIGITS.findall(text))
    if text[-1] in "Xx":
        if n in _ID_LENGTHS:
            return "*" * (n + 1)
        tail = re.search(rf"{_SEP}[Xx]$", text)  # an X after an ordinary number stays as it was
        return "*" * n + (tail.group(0) if tail else "")
    return "*" * n


def mask_numbers(text: str) -> str:
    """Hide every run of 4 or more digits, keeping only how many there were.

    Digits are Arabic 0-9 (also full width) or Chinese 零〇一二三四五六七八九幺两, with optional spaces or
    a hyphen between them; the whole run, separators included, becomes one `*` per digit:
    "尾号三二一五" -> "尾号****", "138 1234 5678" -> "***********". A 15- or 18-character ID number
    ending in X/x is masked with its X ("11010119900307771X" -> 18 `*`). Runs of 1-3 digits
    (amounts, ages, "十五年") are left alone.
    """
    return _RUN.sub(_mask, text) if text else text
