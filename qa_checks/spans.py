"""A set of character spans asked "does any of you touch this?" in log time.

Rules drop a hit that lies inside an exception, a quotation, a questionnaire sentence or an ignored
phrase. Asking every span in turn costs hits × spans, which on one long utterance full of hits (a 30,000-
character segment) is quadratic. Sorted by start with a running maximum of the ends, any question
"is there a span starting at or before x that reaches past y" is one bisection.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable

_EMPTY: list[int] = []


class Spans:
    """Half-open spans [a, b), in any order and overlapping freely."""

    __slots__ = ("_reach", "_starts")

    def __init__(self, spans: Iterable[tuple[int, int]] = ()):
        ordered = sorted(spans)
        if not ordered:  # the usual case: most utterances have no exception, no quotation, no script
            self._starts = self._reach = _EMPTY
            return
        self._starts = [a for a, _ in ordered]
        self._reach = list(itertools.accumulate((b for _, b in ordered), max))

    def __len__(self) -> int:
        return len(self._starts)

    def __bool__(self) -> bool:
        return bool(self._starts)

    def _furthest_end(self, upto: int, *, strict: bool) -> int | None:
        """The furthest end among spans starting before `upto` (at or before it unless `strict`)."""
        k = bisect.bisect_left(self._starts, upto) if strict else bisect.bisect_right(self._starts, upto)
        return self._reach[k - 1] if k else None

    def overlaps(self, start: int, end: int) -> bool:
        """Any span sharing a character with [start, end): a < end and start < b."""
        reach = self._furthest_end(end, strict=True)
        return reach is not None and reach > start

    def contains(self, start: int, end: int) -> bool:
        """Any span holding [start, end) whole: a <= start and end <= b."""
        reach = self._furthest_end(start, strict=False)
        return reach is not None and reach >= end

    def holds(self, position: int) -> bool:
        """Any span holding the character at `position`: a <= position < b."""
        reach = self._furthest_end(position, strict=False)
        return reach is not None and reach > position
