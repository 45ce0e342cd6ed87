"""Finding the files of a batch below a folder, with nothing skipped in silence.

A folder that cannot be read, a symbolic link that leads nowhere or round in a loop: each is reported
with its path and problem, so a batch says which inputs it could not take instead of quietly taking
fewer. Linked folders are followed once; a link back up the tree is reported as a loop, not walked for
ever.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Unreadable:
    path: Path
    problem: str


def link_problem(path: Path) -> str | None:
    """Why a symbolic link leads nowhere readable, or None when it is not a broken link."""
    if not path.is_symlink():
        return None
    try:
        path.resolve(strict=True)
    except RuntimeError:  # Python 3.11 reports a loop this way
        return "symbolic link loop"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        return f"broken symbolic link (to {os.readlink(path)})"
    return None


def walk(folder: Path, wanted: Callable[[str], bool]) -> Iterator[Path | Unreadable]:
    """Every file below `folder` whose name is `wanted`, sorted per folder (regular or not: the reader
    says what is wrong with a pipe or a device); and every problem on the way as Unreadable."""
    return _walk(Path(folder), wanted, set())


def _walk(folder: Path, wanted: Callable[[str], bool], seen: set[tuple[int, int]]) -> Iterator[Path | Unreadable]:
    try:
        st = folder.stat()
        if (st.st_dev, st.st_ino) in seen:
            yield Unreadable(folder, "symbolic link loop: this folder was already read")
            return
        seen.add((st.st_dev, st.st_ino))
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        yield Unreadable(folder, f"cannot read folder: {exc.strerror or exc}")
        return
    for entry in entries:
        path = Path(entry.path)
        problem = link_problem(path)
        if problem is not None:
            if wanted(entry.name) or not path.suffix:  # a link that may have been a folder, or a wanted file
                yield Unreadable(path, problem)
            continue
        try:
            is_dir = entry.is_dir()
        except OSError as exc:
            yield Unreadable(path, f"cannot read: {exc.strerror or exc}")
            continue
        if is_dir:
            yield from _walk(path, wanted, seen)
        elif wanted(entry.name):
            yield path
