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


def _questionnaire(value: str | None) -> str | list[str] | None:
    if not value:
        return None
    parts = [p.strip() for p in re.split(r"[+;|]", value) if p.strip()]
    return parts[0] if len(parts) == 1 else parts


def read_manifest(folder: Path) -> dict[str, CallMeta]:
    rows: list[dict[str, str]] = []
    csv_path, json_path = folder / "manifest.csv", folder / "manifest.json"
    try:
        if csv_path.exists():
            with csv_path.open(encoding="utf-8-sig", newline="") as fh:
                rows = list(csv.DictReader(fh))
            where = csv_path
        elif json_path.exists():
            rows = json.loads(json_path.read_text(encoding="utf-8"))
            where = json_path
        else:
            return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as exc:
        raise ManifestError(f"cannot read the manifest: {exc}") from None
    if not isinstance(rows, list):
        raise ManifestError(f"{where}: expected a list of rows")
    out = {}
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not row.get("file"):
            raise ManifestError(f"{where}: row {i + 1} has no 'file'")
        name = str(row["file"])
        out[name] = CallMeta(
            call_id=str(row.get("call_id") or Path(name).stem),
            agent_id=row.get("agent_id") or None,
            team=row.get("team") or None,
            started_at=row.get("started_at") or None,
            questionnaire=_questionnaire(row.get("questionnaire")),
        )
    return out


def from_filename(path: Path, pattern: str = DEFAULT_PATTERN) -> CallMeta:
    m = re.match(pattern, path.stem)
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
        questionnaire=_questionnaire(g.get("questionnaire")),
    )


def call_meta(path: Path, manifest: dict[str, CallMeta], pattern: str = DEFAULT_PATTERN) -> CallMeta:
    return manifest.get(path.name) or manifest.get(str(path)) or from_filename(path, pattern)
