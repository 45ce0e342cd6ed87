"""A call as a route reaches it: within the viewer's team, its result and transcript, its recording inside
the recordings folder, and the finding a decision or an appeal is about."""

from __future__ import annotations

import datetime as dt
import mimetypes
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request

from reports.review import CallNotFound, finding_key, load_call, load_result
from reports.tables import Filters, ReportError, resolve_recording
from results.schema import run_of
from workspace.decisions import Review

from .auth import Viewer
from .state import AppState

AUDIO_TYPES = {".flac": "audio/flac", ".wav": "audio/wav", ".mp3": "audio/mpeg", ".m4a": "audio/mp4",
               ".ogg": "audio/ogg", ".opus": "audio/ogg", ".aac": "audio/aac", ".amr": "audio/amr",
               ".wma": "audio/x-ms-wma", ".webm": "audio/webm"}
MAX_ID = 300


def filters_from_query(request: Request, team: str | None = None) -> Filters:
    """The queue's filters from the address (rule, severity, agent, team, questionnaire, from, to, week);
    `team` (a team lead's) overrides whatever team was asked for."""
    query = request.query_params

    def many(name: str) -> tuple[str, ...]:
        return tuple(v for v in query.getlist(name) if v)[:50]

    def day(name: str) -> dt.date | None:
        value = query.get(name) or ""
        if not value:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise HTTPException(400, f"'{name}': not a date (YYYY-MM-DD): {value[:40]!r}") from None

    filters = Filters(rule=many("rule"), severity=many("severity"), agent=many("agent"),
                      team=(team,) if team else many("team"), questionnaire=many("questionnaire"),
                      date_from=day("from"), date_to=day("to"), week=query.get("week") or None)
    try:
        filters.date_range()
    except ReportError as exc:
        raise HTTPException(400, str(exc)) from None
    return filters


def _check_id(call_id: str) -> str:
    if not call_id or len(call_id) > MAX_ID or "\x00" in call_id:
        raise HTTPException(400, "malformed call id")
    return call_id


def result_for(state: AppState, viewer: Viewer, call_id: str) -> dict[str, Any]:
    """The call's newest result, if the viewer may see the call (404 without naming any path)."""
    try:
        result = load_result(state.settings.results, _check_id(call_id))
    except CallNotFound:
        raise HTTPException(404, f"没有通话 {call_id[:80]!r}") from None
    except (OSError, ValueError):
        raise HTTPException(500, f"通话 {call_id[:80]!r} 的结果无法读取") from None
    if not viewer.sees_team(result.get("team")):
        raise HTTPException(403, "这通通话不属于你的班组")
    return result


def call_for(state: AppState, viewer: Viewer, call_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    result_for(state, viewer, call_id)  # scope and existence first
    try:
        return load_call(state.settings.results, call_id)
    except (OSError, ValueError):
        raise HTTPException(500, f"通话 {call_id[:80]!r} 的转写无法读取") from None


def recording_file(state: AppState, result: dict[str, Any]) -> tuple[Path, str]:
    """The call's recording and its media type; only a file inside the recordings folder, of an audio kind.
    A result whose `recording` points anywhere else is refused (the message names no path)."""
    root = state.settings.recordings
    if root is None:
        raise HTTPException(404, "录音目录未配置（callqa serve --recordings DIR）")
    path = resolve_recording(state.settings.results, result.get("recording"))
    if path is None:
        raise HTTPException(404, f"通话 {result['call_id']!r} 的录音文件不存在")
    path = path.resolve()  # symbolic links followed: a link inside the folder to a file outside is outside
    if not path.is_relative_to(root) or not path.is_file():
        raise HTTPException(403, f"通话 {result['call_id']!r} 的录音不在录音目录内，拒绝提供")
    kind = AUDIO_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or ""
    if not kind.startswith("audio/"):
        raise HTTPException(403, f"通话 {result['call_id']!r} 的录音不是音频文件，拒绝提供")
    return path, kind


def finding_of(result: dict[str, Any], data: dict[str, Any]) -> Review:
    """The finding of the call's newest scoring a request names (finding_key and rule), as a Review carrying
    its scoring, rule, item and span (what a decision or an appeal records)."""
    key, rule = data.get("finding_key"), data.get("rule")
    if not isinstance(key, str) or not isinstance(rule, str) or not key or not rule:
        raise HTTPException(400, "'finding_key' and 'rule' are required (non-empty strings)")
    for i, f in enumerate(result.get("findings", [])):
        if finding_key(i, f) == key and f["rule"] == rule:
            return Review(result["call_id"], key, rule, "", run_id=run_of(result)).on(f)
    raise HTTPException(400, f"call {result['call_id']!r} has no finding {key[:80]!r} of rule {rule[:80]!r}")


def text_field(data: dict[str, Any], name: str, limit: int = 2000) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise HTTPException(400, f"'{name}' must be a string")
    return value.strip()[:limit]
