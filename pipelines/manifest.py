"""Call metadata for recordings: a manifest beside them, else the file name.

A manifest is `manifest.csv` or `manifest.json` in the recordings folder, one row per recording:

    file,call_id,agent_id,team,started_at,questionnaire
    20261116_A017_0001.wav,C20261116-0001,A017,T3,2026-11-16T10:32:00+08:00,traditional

(`file` is required; JSON is a list of such objects.) Recordings without a row are named by the
pattern `<date>_<agent>_<anything>` (20261116T103200_A017_0001.wav) when they fit it, else the call id
is the file name without its extension. A different pattern is a setting (a regular expression with
named groups call_id, agent_id, team, started_at, questionnaire).
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

DEFAULT_PATTERN = r"^(?P<date>\d{8})(?:T?(?P<time>\d{4,6}))?_(?P<agent_id>[A-Za-z]*\d+)_(?P<rest>.+)$"
FIELDS = ("call_id", "agent_id", "team", "started_at", "questionnaire")


class ManifestError(ValueError):
    pass


@dataclass(frozen=True)
class CallMeta:
    call_id: str
    agent_id: str | None = None
    team: str | None = None
    started_at: str | None = None
    questionnaire: str | list[str] | None = None
    # where the recording is kept, when the file decoded is a local copy of it (shared storage): what
    # the transcript and the result name as the call's recording
    recording: str | None = None


def _questionnaire(value: object, where: str) -> str | list[str] | None:
    if value is None or value == "":
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        parts = [v.strip() for v in value if v.strip()]
    elif isinstance(value, str):
        parts = [p.strip() for p in re.split(r"[+;|]", value) if p.strip()]
    else:
        raise ManifestError(f"{where}: questionnaire must be a name or names joined by '+', got {type(value).__name__}")
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else parts


def _text(row: dict[object, object], key: str, where: str) -> str | None:
    """A manifest cell as text (a number in a JSON manifest is read as written); None when empty."""
    value = row.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ManifestError(f"{where}: {key} must be text, got {type(value).__name__}")
    text = str(value).strip()
    return text or None


def read_manifest(folder: Path) -> dict[str, CallMeta]:
    rows: object = []
    csv_path, json_path = folder / "manifest.csv", folder / "manifest.json"
    where = csv_path if csv_path.exists() or csv_path.is_symlink() else json_path
    if not where.exists() and not where.is_symlink():
        return {}
    if not where.is_file():  # a folder, a pipe (which would never end), a broken link
        raise ManifestError(f"{where}: not a readable file")
    try:
        if where == csv_path:
            with csv_path.open(encoding="utf-8-sig", newline="") as fh:
                rows = list(csv.DictReader(fh))
        else:
            rows = json.loads(json_path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{where}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except (OSError, ValueError, RecursionError, csv.Error) as exc:
        raise ManifestError(f"{where}: cannot read the manifest: {type(exc).__name__}: {exc}") from None
    if not isinstance(rows, list):
        raise ManifestError(f"{where}: expected a list of rows")
    out = {}
    for i, row in enumerate(rows):
        at = f"{where}: row {i + 1}"
        if not isinstance(row, dict):
            raise ManifestError(f"{at}: expected a row of columns, got {type(row).__name__}")
        name = _text(row, "file", at)
        if not name:
            raise ManifestError(f"{at} has no 'file'")
        out[name] = CallMeta(
            call_id=_text(row, "call_id", at) or Path(name).stem,
            agent_id=_text(row, "agent_id", at),
            team=_text(row, "team", at),
            started_at=_text(row, "started_at", at),
            questionnaire=_questionnaire(row.get("questionnaire"), at),
        )
    return out


def check_pattern(pattern: str) -> re.Pattern[str]:
    """The file-name pattern compiled; ManifestError saying what is wrong with it otherwise."""
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ManifestError(f"file-name pattern {pattern!r} is not a regular expression: {exc}") from None


def from_filename(path: Path, pattern: str = DEFAULT_PATTERN) -> CallMeta:
    m = check_pattern(pattern).match(path.stem)
    if not m:
        return CallMeta(call_id=path.stem)
    g = {k: v for k, v in m.groupdict().items() if v}
    started = g.get("started_at")
    if not started and "date" in g:
        stamp = g["date"] + (g.get("time", "") + "000000")[:6]
        try:
            started = datetime.strptime(stamp, "%Y%m%d%H%M%S").isoformat()
        except ValueError:
            started = None
    return CallMeta(
        call_id=g.get("call_id") or path.stem,
        agent_id=g.get("agent_id"),
        team=g.get("team"),
        started_at=started,
        questionnaire=_questionnaire(g.get("questionnaire"), f"{path.name}: file-name pattern"),
    )


def call_meta(path: Path, manifest: dict[str, CallMeta], pattern: str = DEFAULT_PATTERN) -> CallMeta:
    return manifest.get(path.name) or manifest.get(str(path)) or from_filename(path, pattern)
