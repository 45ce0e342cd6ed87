"""One writer at a time per output folder.

Two runs on one folder would both transcribe every call, both clean the other's temporary files away
mid-write and both add the same scorings to the tables. Every command that writes into an output folder
(`callqa run`, `rescore`, `review`, `scorecard`) holds an exclusive lock on `OUT/.callqa.lock` while it
writes; a second one waits for it or stops at once with a message naming the holder.

The lock is the operating system's (flock), so it is released when its holder ends in any way, a kill
included: there is no stale lock to clean up. The file also records who holds it (process id, host,
command, start time) for the message; that record is informative only, the lock itself decides.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .files import file_mode, make_dirs

LOCK_NAME = ".callqa.lock"


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) the lock, as it recorded itself."""

    pid: int | None
    host: str | None
    command: str | None
    since: str | None

    def describe(self) -> str:
        parts = []
        if self.command:
            parts.append(f"`{self.command}`")
        if self.pid:
            parts.append(f"process {self.pid}" + (f" on {self.host}" if self.host else ""))
        if self.since:
            parts.append(f"since {self.since}")
        return ", ".join(parts) or "another callqa process"


class FolderBusy(Exception):
    """Another process holds the folder's lock."""

    def __init__(self, folder: Path, holder: Holder):
        self.folder = folder
        self.holder = holder
        super().__init__(f"{folder} is in use by another callqa command ({holder.describe()}); nothing was "
                         "written. Wait for it to finish, or run again with --wait to wait for it.")


def _holder(fd: int) -> Holder:
    try:
        raw = os.pread(fd, 4096, 0)
        data = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (OSError, ValueError):  # being rewritten right now, or not ours
        data = {}
    if not isinstance(data, dict):
        data = {}
    pid = data.get("pid")
    return Holder(pid if isinstance(pid, int) else None, _str(data.get("host")), _str(data.get("command")),
                  _str(data.get("since")))


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike[str], command: str, *, wait: bool = False,
                on_wait: Callable[[Holder], None] | None = None) -> Iterator[Path]:
    """Hold the output folder's lock for the block. Busy: raise FolderBusy, or with `wait` call
    `on_wait(holder)` once and wait until the holder is done."""
    root = make_dirs(Path(folder))
    path = root / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, file_mode())
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            if not wait:
                raise FolderBusy(root, holder) from None
            if on_wait is not None:
                on_wait(holder)
            fcntl.flock(fd, fcntl.LOCK_EX)
        record = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                  "since": datetime.now(UTC).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode("utf-8"), 0)
        yield path
    finally:
        os.close(fd)  # closing releases the lock


def holder_of(folder: str | os.PathLike[str]) -> Holder | None:
    """Who holds the folder's lock now, or None when nobody does (for status messages and tests)."""
    path = Path(folder) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _holder(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
