"""Reading transcript files from disk, with errors that name the file and the problem."""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .model import Transcript, TranscriptError, transcript_from_dict
from .walk import link_problem, walk

MAX_BYTES = int(os.environ.get("CALLQA_MAX_TRANSCRIPT_BYTES", 50 * 1024 * 1024))


@dataclass(frozen=True, slots=True)
class FileError:
    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path | FileError]:
    """Files named directly, and every *.json below a named folder, in a stable order."""
    for p in paths:
        path = Path(p)
        problem = link_problem(path)
        if problem is not None:
            yield FileError(path, problem)
        elif path.is_dir():
            found = [f if isinstance(f, Path) else FileError(f.path, f.problem)
                     for f in walk(path, lambda name: name.endswith(".json"))]
            if not found:
                yield FileError(path, "folder holds no .json transcript files")
            yield from found
        elif path.exists():
            yield path
        else:
            yield FileError(path, "no such file or folder")


def _read_limited(path: Path) -> bytes:
    """The file's bytes, refusing anything but a regular file (a pipe or a device would block or never
    end) and anything over the size limit, even one that grows while it is read."""
    try:
        # O_NONBLOCK: opening a named pipe would otherwise wait for a writer forever
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise TranscriptError("not a regular file")
            if st.st_size == 0:
                raise TranscriptError("file is empty")
            if st.st_size > MAX_BYTES:
                raise TranscriptError(f"file is {st.st_size / 1e6:.0f} MB, over the {MAX_BYTES / 1e6:.0f} MB limit "
                                      "for one call")
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise TranscriptError(f"cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise TranscriptError(f"file grew over the {MAX_BYTES / 1e6:.0f} MB limit for one call while being read")
    return data


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _lone_surrogate(data: Any) -> str | None:
    """A string holding half of a UTF-16 pair (JSON's \\ud800 escape alone): not Unicode text, and no
    file or terminal can be given it. Returns the first such string's escape, else None."""
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError as exc:
                return f"\\u{ord(node[exc.start]):04x}"
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


def parse_json(raw: str) -> Any:
    """JSON text to data, every way it can fail as a TranscriptError saying which."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise TranscriptError(f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise TranscriptError("JSON nested too deeply to read") from None
    except ValueError:  # the only other refusal: an integer past Python's int-string limit
        raise TranscriptError(f"JSON holds a number of more than {sys.get_int_max_str_digits()} digits") from None
    if _SURROGATE_ESCAPE.search(raw):  # only then can a string be half a character
        bad = _lone_surrogate(data)
        if bad is not None:
            raise TranscriptError(f"JSON holds {bad} alone, half of a character: not valid Unicode text")
    return data


def load_transcript(path: Path) -> Transcript:
    """Read and validate one transcript; raises TranscriptError naming what is wrong."""
    try:
        raw = _read_limited(path).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TranscriptError(f"not UTF-8 text (byte {exc.start})") from None
    return transcript_from_dict(parse_json(raw))


def read_transcripts(paths: Iterable[str | os.PathLike[str]]) -> Iterator[tuple[Path, Transcript | FileError]]:
    """Lazily yield (path, transcript) or (path, error) so one bad file never stops a batch."""
    for item in expand_paths(paths):
        if isinstance(item, FileError):
            yield item.path, item
            continue
        try:
            yield item, load_transcript(item)
        except TranscriptError as exc:
            yield item, FileError(item, str(exc))
        except Exception as exc:  # whatever else a hostile file provokes names that file; the batch goes on
            yield item, FileError(item, f"cannot be read: {type(exc).__name__}: {exc}")
