"""Text from files on its way to a terminal: control characters shown, never obeyed.

Call ids, file names, transcript text and lexicon entries come from outside. An escape sequence in any
of them would reach the terminal as a command (colours, cursor moves, a rewritten title, a hyperlink, a
line erased), and a right-to-left override would show a line in another order than it reads. Every
such character is shown as its escape (ESC as \\x1b) instead, so the reader sees that it is there. Rich
markup in them ([red]) is left as text by the callers, who pass Text objects or escape it.
"""

from __future__ import annotations

import re

# C0 and C1 controls (tab kept), DEL, and the bidirectional overrides, embeddings and isolates
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match[str]) -> str:
    ch = match.group()
    if ch == "\n":
        return "\\n"
    if ch == "\r":
        return "\\r"
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def plain(text: object) -> str:
    """`text` as a string safe to print: control and direction characters shown as escapes."""
    s = str(text)
    if _UNSAFE.search(s) is None:
        return s
    return _UNSAFE.sub(_escaped, s)


_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def json_line(line: str) -> str:
    """A JSON text with the characters `json.dumps(ensure_ascii=False)` leaves raw but a terminal may
    obey (C1 controls, direction overrides) written as \\u escapes: the same JSON value, safe to print."""
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", line)
