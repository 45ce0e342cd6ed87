"""Stage results kept between runs, as data: JSON files keyed by the audio's hash and the settings.

Diarisation and recognition are the expensive stages; their results are kept under `OUT/.cache/` so a
re-run after a crash, or on a folder that has grown, does only the new work. They are stored as plain
JSON read back through each stage's own decoder (never pickled objects: anyone who can write the cache
folder could otherwise make the pipeline run code). A file that cannot be decoded is treated as missing
and the stage runs again.

Within a process one computation per entry runs at a time: a second caller for the same entry (the run's
warm-up working ahead on its first call, then the flow reaching that call) waits for the first and reads
what it stored, rather than doing the same work beside it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from results.files import read_json, safe_name, write_json_atomic
from results.storage import location

T = TypeVar("T")
FORMAT = 1  # bumped when a stage's stored shape changes: older entries are then recomputed

_running: dict[Path, threading.Event] = {}  # entries being computed in this process, set when done
_running_lock = threading.Lock()


class StageCache:
    def __init__(self, root: str | Path):
        self.root = location(root)  # a local folder, or shared storage: the key means the same on every machine

    def path(self, stage: str, key: str) -> Path:
        return self.root / stage / f"{safe_name(key)}.json"

    def load(self, stage: str, key: str, decode: Callable[[Any], T]) -> T | None:
        path = self.path(stage, key)
        if not path.is_file():
            return None
        try:
            data = read_json(path)
            if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("key") != key:
                return None
            return decode(data["value"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, stage: str, key: str, value: Any) -> None:
        write_json_atomic(self.path(stage, key), {"format": FORMAT, "key": key, "value": value})

    def cached(self, stage: str, key: str, compute: Callable[[], T], encode: Callable[[T], Any],
               decode: Callable[[Any], T]) -> T:
        """The stage's stored result for `key`, or `compute()` stored for next time; while another thread
        of this process computes the same entry, its result (or, if it failed, a computation here)."""
        path = self.path(stage, key)
        while True:
            found = self.load(stage, key, decode)
            if found is not None:
                return found
            with _running_lock:
                other = _running.get(path)
                if other is None:
                    mine = _running[path] = threading.Event()
            if other is None:
                break
            other.wait()  # then read what it stored; if it stored nothing, compute here
        try:
            value = compute()
            self.save(stage, key, encode(value))
            return value
        finally:
            with _running_lock:
                del _running[path]
            mine.set()
