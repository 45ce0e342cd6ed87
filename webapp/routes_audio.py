"""Recordings: whole, with byte ranges, to the roles that review calls; as clips of confirmed findings with
the spoken numbers toned out, to trainers. Every request is a row of the audit log first: when that row
cannot be written (a full disk), no audio goes out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, Response
from sqlalchemy.exc import SQLAlchemyError

from callqa.masking import mask_numbers
from reports.bleep import bleeped_wav, spoken_number_spans
from reports.clips import snippet
from reports.labels import SEVERITY_LABEL
from reports.review import CallNotFound, finding_key, load_call, load_result
from results.schema import run_of
from workspace.audit import Actor
from workspace.roles import Permission

from .auth import Viewer, need
from .calls import recording_file, result_for
from .render import page
from .state import AppState, state

router = APIRouter()
Listener = Annotated[Viewer, Depends(need(Permission.AUDIO))]
Trainer = Annotated[Viewer, Depends(need(Permission.CLIPS))]
CLIP_CONTEXT_S = 3.0
CLIP_MAX_S = 30.0


def _audit_or_refuse(st: AppState, actor: Actor, action: str, target: str, detail: str) -> None:
    try:
        st.workspace.audit.add(actor, action, target, detail)
    except SQLAlchemyError:
        raise HTTPException(503, "审计日志无法写入，录音暂不提供") from None


@router.get("/audio/{call_id}")
def audio(call_id: str, request: Request, viewer: Listener) -> Response:
    st = state(request)
    result = result_for(st, viewer, call_id)
    path, kind = recording_file(st, result)
    _audit_or_refuse(st, viewer.actor, "audio", call_id, request.headers.get("range", "whole")[:100])
    # Starlette's FileResponse answers Range requests (206, 416) and HEAD
    return FileResponse(path, media_type=kind, headers={"Cache-Control": "no-store"})


@dataclass(frozen=True)
class TrainerClip:
    call_id: str
    key: str
    rule: str
    severity: str
    agent_id: str | None
    team: str | None
    start: float
    end: float
    message: str
    evidence: str
    snippet: str

    @property
    def severity_label(self) -> str:
        return SEVERITY_LABEL.get(self.severity, self.severity)

    @property
    def window(self) -> tuple[float, float]:
        start = max(0.0, self.start - CLIP_CONTEXT_S)
        return start, min(self.end, self.start + CLIP_MAX_S) + CLIP_CONTEXT_S


def confirmed_findings(st: AppState, call_id: str) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """finding key -> (result, finding) for the findings of the call's newest scoring whose current
    decision is a confirmation."""
    result = load_result(st.settings.results, call_id)
    findings = result.get("findings", [])
    keys = [finding_key(i, f) for i, f in enumerate(findings)]
    placed = st.workspace.decisions.for_scoring(call_id, findings, run_of(result), keys)
    return {k: (result, f) for k, f in zip(keys, findings, strict=True)
            if k in placed.on_findings and placed.on_findings[k].verdict == "confirmed" and f.get("start") is not None}


def trainer_clips(st: AppState) -> list[TrainerClip]:
    clips = []
    for call_id in sorted({r.call_id for r in st.workspace.decisions.with_verdict("confirmed")}):
        try:
            confirmed = confirmed_findings(st, call_id)
            _, transcript = load_call(st.settings.results, call_id)
        except (CallNotFound, OSError, ValueError):
            continue
        segments = transcript.get("segments", [])
        for key, (result, f) in confirmed.items():
            clip = TrainerClip(call_id, key, f["rule"], f["severity"], result.get("agent_id"), result.get("team"),
                               float(f["start"]), float(f.get("end") or f["start"]),
                               mask_numbers(f.get("message") or ""), mask_numbers(f.get("evidence") or ""), "")
            a, b = clip.window
            clips.append(TrainerClip(**{**clip.__dict__, "snippet": snippet(segments, a, b)}))
    return sorted(clips, key=lambda c: (c.rule, c.call_id, c.start))


@router.get("/clips")
def clips_page(request: Request, viewer: Trainer) -> Response:
    return page("trainer_clips.html.j2", viewer, title="培训片段", clips=trainer_clips(state(request)))


@router.get("/clip")
def clip(request: Request, viewer: Trainer, call_id: str = "", key: str = "") -> Response:
    st = state(request)
    result = result_for(st, viewer, call_id)
    try:
        confirmed = confirmed_findings(st, call_id)
    except (CallNotFound, OSError, ValueError):
        raise HTTPException(404, f"没有通话 {call_id[:80]!r}") from None
    if key not in confirmed:
        raise HTTPException(404, "这项发现没有被确认为违规：没有它的培训片段")
    _, f = confirmed[key]
    path, _ = recording_file(st, result)
    _, transcript = load_call(st.settings.results, call_id)
    start = max(0.0, float(f["start"]) - CLIP_CONTEXT_S)
    end = min(float(f.get("end") or f["start"]), float(f["start"]) + CLIP_MAX_S) + CLIP_CONTEXT_S
    _audit_or_refuse(st, viewer.actor, "clip", call_id, f"{f['rule']} {start:.1f}-{end:.1f}s")
    try:
        body = bleeped_wav(path, start, end, spoken_number_spans(transcript.get("segments", [])))
    except (OSError, ValueError, RuntimeError):
        raise HTTPException(500, f"通话 {call_id[:80]!r} 的录音无法解码") from None
    return Response(body, media_type="audio/wav", headers={"Cache-Control": "no-store"})
