"""Reading transcript files from disk, with errors that name the file and the problem."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .model import Transcript, TranscriptError, transcript_from_dict

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
        if path.is_dir():
            found = sorted(f for f in path.rglob("*.json") if f.is_file())
            if not found:
                yield FileError(path, "folder holds no .json transcript files")
            yield from found
        elif path.exists():
            yield path
        else:
            yield FileError(path, "no such file or folder")


def load_transcript(path: Path) -> Transcript:
    """Read and validate one transcript; raises TranscriptError naming what is wrong."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise TranscriptError(f"cannot read: {exc.strerror}") from None
    if size == 0:
        raise TranscriptError("file is empty")
    if size > MAX_BYTES:
        raise TranscriptError(f"file is {size / 1e6:.0f} MB, over the {MAX_BYTES / 1e6:.0f} MB limit for one call")
    try:
        raw = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TranscriptError(f"not UTF-8 text (byte {exc.start})") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise TranscriptError(f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    return transcript_from_dict(data)


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
