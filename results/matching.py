"""Which finding of a newer scoring is the same finding as one of an older scoring of the same call.

A call is re-scored when the lexicons or the engine change; its findings are recomputed from scratch and
their order and exact times may move. Two findings are the same when they have the same rule and item and
their time spans overlap (a zero-length span overlaps what contains it). Used to say what a re-scoring
changed, and to carry analysts' decisions over to the newer scoring.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

TOLERANCE_S = 0.05  # times are rounded to hundredths: spans that touch within this overlap


def _span(f: Mapping[str, Any]) -> tuple[float, float]:
    start = float(f.get("start") or 0.0)
    end = float(f.get("end") if f.get("end") is not None else start)
    return start, max(start, end)


def overlap(a: Mapping[str, Any], b: Mapping[str, Any]) -> float | None:
    """Seconds two findings' spans share (0.0 when they only touch), or None when they are apart."""
    (a0, a1), (b0, b1) = _span(a), _span(b)
    if a0 > b1 + TOLERANCE_S or b0 > a1 + TOLERANCE_S:
        return None
    return max(0.0, min(a1, b1) - max(a0, b0))


def same_finding(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return a.get("rule") == b.get("rule") and a.get("item") == b.get("item") and overlap(a, b) is not None


def match_findings(old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]) -> dict[int, int]:
    """Pairs {old index: new index} of the same finding; each finding pairs at most once.

    Within one rule and item, both lists are walked in time order and each old finding takes the earliest
    unpaired new one it overlaps, so a call with thousands of findings is matched in n log n.
    """
    groups: dict[tuple[Any, Any], tuple[list[int], list[int]]] = {}
    for i, f in enumerate(old):
        groups.setdefault((f.get("rule"), f.get("item")), ([], []))[0].append(i)
    for j, f in enumerate(new):
        key = (f.get("rule"), f.get("item"))
        if key in groups:
            groups[key][1].append(j)
    pairs: dict[int, int] = {}
    for olds, news in groups.values():
        olds.sort(key=lambda i: _span(old[i]))
        news.sort(key=lambda j: _span(new[j]))
        free = list(news)  # unpaired new findings, in time order
        lo = 0
        for i in olds:
            start, end = _span(old[i])
            while lo < len(free) and _span(new[free[lo]])[1] < start - TOLERANCE_S:
                lo += 1  # ends before this old finding starts: no later old finding reaches it either
            for k in range(lo, len(free)):
                j = free[k]
                if _span(new[j])[0] > end + TOLERANCE_S:
                    break
                if overlap(old[i], new[j]) is not None:
                    pairs[i] = j
                    del free[k]
                    break
    return pairs
