"""Files written whole or not at all, owner-only, with names safe for any call id.

Every writer of the project goes through `write_atomic`: the content goes to a temporary name beside the
target, is flushed to disk (fsync), then renamed over the target, so a killed process (or a lost machine)
leaves the old file or the new one, never half of one. Writers of many files call `sync_dir` once at the
end of a batch so the renames themselves are on disk. The temporary names start with a dot and end in `.tmp`;
`remove_leftovers` is the one place that deletes a killed writer's leftovers.

Transcripts, results, tables and reports hold personal data (names, numbers, what customers said): they
are written readable by the owner only, unless `CALLQA_GROUP_READ=1` lets the owner's group read them too
(a QA team sharing one service account's output through a group).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .storage import is_remote, put_file

TMP_PREFIX = "."
TMP_SUFFIX = ".tmp"


def group_readable() -> bool:
    return os.environ.get("CALLQA_GROUP_READ", "").lower() in ("1", "true", "yes", "on")


def file_mode() -> int:
    return 0o640 if group_readable() else 0o600


def dir_mode() -> int:
    return 0o750 if group_readable() else 0o700


def make_dirs(path: Path) -> Path:
    """Create a folder and its missing parents, each with the policy's permissions (mkdir(parents=True)
    would give the parents the default, world-readable ones). An object store has no folders: keys are
    made by writing them."""
    if is_remote(path):
        return path
    path = Path(path)
    if path.is_dir():
        return path
    missing = []
    at = path
    while not at.exists() and at != at.parent:
        missing.append(at)
        at = at.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile by another writer
            folder.mkdir(mode=dir_mode())
    if not path.is_dir():
        path.mkdir(exist_ok=True)  # raises what is in the way (a file of that name)
    return path


def create_private(path: str | os.PathLike[str]) -> Path:
    """Create an empty file with the policy's permissions unless it exists: for files a library creates
    and fills itself (a SQLite database, whose journal files then take the same permissions)."""
    path = Path(path)
    make_dirs(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, file_mode()))
    return path


def sync_dir(folder: Path) -> None:
    """Make the renames into `folder` durable: once per batch of writes, not per file (it costs as much
    as the file's own flush). Nothing to do on an object store: a PUT is durable when it returns."""
    if is_remote(folder):
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def seal(path: Path) -> None:
    """Flush a finished file to disk and give it the policy's permissions (files written by libraries
    into a temporary folder that is then renamed whole)."""
    with path.open("rb+") as fh:
        os.fsync(fh.fileno())
    os.chmod(path, file_mode())


def write_atomic(path: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Call `write(tmp)`, flush it to disk and move it onto `path`; a failure leaves the old file untouched.

    On an object store (`results.storage`) the temporary file is local and goes up in one PUT, which is
    atomic there: the key holds the old object or the whole new one."""
    if is_remote(path):
        with tempfile.TemporaryDirectory(prefix="callqa-put-") as folder:
            tmp = Path(folder) / "object"
            write(tmp)
            put_file(tmp, path)
        return path  # type: ignore[return-value]
    path = Path(path)
    make_dirs(path.parent)
    fd, tmp_name = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        seal(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    return write_atomic(path, lambda tmp: tmp.write_bytes(data))


def write_text_atomic(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    # newline="": the text is written as given (a CSV's own line ends stay as the csv module made them)
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding=encoding, newline=""))


def json_bytes(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> Path:
    return write_bytes_atomic(path, json_bytes(data))


def read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def remove_leftovers(folder: str | os.PathLike[str], pattern: str = "*", older_than_s: float | None = None) -> int:
    """Delete the temporary files and folders a killed writer left under `folder` (`pattern` picks the
    sub-folders to look in, e.g. "*" for one level down); nothing reads them. Call it before writers start,
    never while they run: during a run they are the files being written. Where writers never stop (workers
    sharing a folder), `older_than_s` removes only those untouched for that long: no write takes that long."""
    import shutil
    import time

    if is_remote(folder):
        return 0  # nothing half-written is ever visible there (see write_atomic)
    root = Path(folder)
    removed = 0
    for where in [root, *(p for p in root.glob(pattern) if p.is_dir())]:
        for tmp in where.glob(f"{TMP_PREFIX}*{TMP_SUFFIX}"):
            if older_than_s is not None and time.time() - tmp.stat().st_mtime < older_than_s:
                continue
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)
            removed += 1
    return removed


SAFE_NAME_MAX = 100  # characters of the id kept in a file name (file systems allow 255 bytes)


def _kept(call_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in call_id).strip(".")


def safe_name(call_id: str) -> str:
    """A file name for a call id, distinct for distinct ids.

    An id of letters, digits, '-', '_' and '.' (not at the ends), and not too long, is its own file name.
    Any other id keeps those characters ('_' for the rest, cut to SAFE_NAME_MAX) and gets '~' and a hash of
    the whole id: `call 1` and `call_1` are `call_1~3c9d…` and `call_1`, never one file. '~' is never kept
    from an id, so a hashed name cannot be another id's own name.
    """
    keep = _kept(call_id)
    if keep == call_id and keep and len(keep) <= SAFE_NAME_MAX:
        return keep
    digest = hashlib.sha256(call_id.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{keep[:SAFE_NAME_MAX] or 'call'}~{digest}"


def legacy_safe_name(call_id: str) -> str:
    """The file name earlier versions gave an id (several ids could share one); read to move old files."""
    return _kept(call_id) or "call"
