"""The queue, review pages, queue exports, decisions and appeals."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from reports.queue import queue_data, queue_frame, write_queue_csv, write_queue_xlsx
from reports.review import build_view, finding_key
from reports.site import page_name
from results.matching import match_findings
from results.schema import run_of
from workspace.appeals import PENDING, AppealError
from workspace.cases import CASE_TYPES, CaseFilter
from workspace.decisions import Review, insert_review
from workspace.roles import Permission, Role

from .auth import Act, Viewer, acting, need
from .calls import call_for, filters_from_query, finding_of, result_for, text_field
from .render import page
from .state import state

router = APIRouter()
LoggedIn = Annotated[Viewer, Depends(need())]
Reviewer = Annotated[Viewer, Depends(need(Permission.QUEUE))]
Decision = Annotated[Act, Depends(acting(Permission.DECIDE))]
AppealFiling = Annotated[Act, Depends(acting(Permission.APPEAL))]
Ruling = Annotated[Act, Depends(acting(Permission.RULE))]
RulingForm = Annotated[Act, Depends(acting(Permission.RULE, form=True))]
AppealReader = Annotated[Viewer, Depends(need(Permission.APPEAL, Permission.RULE, Permission.DECIDE))]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HOME = {Role.ANALYST: "/", Role.TEAM_LEAD: "/", Role.QA_LEAD: "/", Role.TRAINER: "/clips",
        Role.MANAGER: "/scorecard", Role.ADMIN: "/admin/users"}


@router.get("/")
@router.get("/index.html")
def queue_page(request: Request, viewer: LoggedIn) -> Response:
    if not viewer.can(Permission.QUEUE):
        return RedirectResponse(HOME[viewer.user.role], 303)
    st = state(request)
    # ?week=2026-W47 or ?from=…&to=… narrows the page to a period; a team lead sees its team only
    frame = queue_frame(st.tables(), filters_from_query(request, viewer.team))
    data = queue_data(frame, lambda cid: "calls/" + quote(page_name(cid)), st.workspace.decisions.reviewed_counts())
    title = "质检队列" + (f" · {viewer.team}" if viewer.team else "")
    return page("ws_queue.html.j2", viewer, data=data, title=title)


@router.get("/calls/{name}.html")
def review_page(name: str, request: Request, viewer: Reviewer) -> Response:
    st = state(request)
    # page names are call ids made file-safe, as the result files are named
    result, transcript = call_for(st, viewer, name)
    audio = "/audio/" + quote(result["call_id"], safe="") if viewer.can(Permission.AUDIO) else None
    view = build_view(result, transcript, st.lexicon, audio)
    can = {"decide": viewer.can(Permission.DECIDE), "appeal": viewer.can(Permission.APPEAL),
           "rule": viewer.can(Permission.RULE), "open_case": viewer.can(Permission.OPEN_CASE)}
    return page("ws_review.html.j2", viewer, v=view, r=view.result, m=view.result.get("metrics", {}),
                queue_href="/", can=can, case_types=CASE_TYPES)


@router.get("/export.{kind}")
def export(kind: str, request: Request, viewer: Reviewer) -> Response:
    if kind not in ("csv", "xlsx"):
        raise HTTPException(404, "exports are export.csv and export.xlsx")
    st = state(request)
    filters = filters_from_query(request, viewer.team)
    frame = queue_frame(st.tables(), filters)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"queue.{kind}"
        (write_queue_csv if kind == "csv" else write_queue_xlsx)(frame, path)
        body = path.read_bytes()
    st.workspace.audit.add(viewer.actor, "export", f"queue.{kind}", f"{frame.height} calls; {request.url.query[:500]}")
    return Response(body, media_type="text/csv; charset=utf-8" if kind == "csv" else XLSX,
                    headers={"Content-Disposition": f'attachment; filename="callqa-queue.{kind}"'})


# ---- decisions --------------------------------------------------------------------------------------


def _appeal_rows(st: Any, result: dict[str, Any], keys: list[str]) -> list[dict[str, Any]]:
    """The call's appeals, each with the key of its finding in the newest scoring (None where it is gone)."""
    found = st.workspace.appeals.list(call_id=result["call_id"])
    findings = result.get("findings", [])
    as_findings = [{"rule": a.rule, "item": a.item, "start": a.span_start, "end": a.span_end} for a in found]
    pairs = match_findings(as_findings, findings)
    out = []
    for n, a in enumerate(found):
        key = a.finding_key if a.run_id == run_of(result) and a.finding_key in keys else (
            keys[pairs[n]] if n in pairs else None)
        out.append(dict(a.to_dict(), finding_key=key))
    return out


@router.get("/api/reviews")
def decisions(request: Request, viewer: Reviewer, call_id: str = "") -> dict[str, Any]:
    st = state(request)
    result = result_for(st, viewer, call_id)
    findings = result.get("findings", [])
    keys = [finding_key(i, f) for i, f in enumerate(findings)]
    placed = st.workspace.decisions.for_scoring(call_id, findings, run_of(result), keys)
    cases = st.workspace.cases.list(CaseFilter(call_id=call_id)) if viewer.can(Permission.CASES) else []
    return {"findings": [dict(r.to_dict(), finding_key=k, carried=k in placed.carried)
                         for k, r in placed.on_findings.items()],
            "earlier": [r.to_dict() for r in placed.earlier],
            "appeals": _appeal_rows(st, result, keys),
            "cases": [c.to_dict() for c in cases]}


def _record_decision(request: Request, act: Act) -> Review:
    st = state(request)
    viewer, data = act.viewer, act.data
    call_id = text_field(data, "call_id", 300)
    verdict = data.get("verdict")
    if verdict not in ("confirmed", "false_positive"):
        raise HTTPException(400, "verdict must be confirmed or false_positive (an appeal goes to /api/appeals)")
    result = result_for(st, viewer, call_id)
    finding = finding_of(result, data)
    with st.workspace.db.write() as conn:
        appeals = st.workspace.appeals.on_finding(conn, finding)
        if any(a.status == PENDING for a in appeals):
            raise HTTPException(409, "这项发现正在申诉中：由质检主管裁决")
        if appeals and viewer.user.role != Role.QA_LEAD:
            raise HTTPException(409, "申诉已裁决，结论为最终结论")
        review = insert_review(conn, Review(call_id, finding.finding_key, finding.rule, verdict,
                                            text_field(data, "comment"), viewer.user.name, finding.run_id,
                                            item=finding.item, span_start=finding.span_start,
                                            span_end=finding.span_end), viewer.actor)
    if verdict == "false_positive":
        st.workspace.cases.close_false_alarm(call_id, finding.rule, finding.item, viewer.actor)
    return review


@router.post("/api/reviews", status_code=201)
async def add_decision(request: Request, act: Decision) -> JSONResponse:
    review = await run_in_threadpool(_record_decision, request, act)
    return JSONResponse(review.to_dict(), 201)


# ---- appeals ----------------------------------------------------------------------------------------


def _file_appeal(request: Request, act: Act) -> dict[str, Any]:
    st = state(request)
    result = result_for(st, act.viewer, text_field(act.data, "call_id", 300))
    finding = finding_of(result, act.data)
    try:
        appeal = st.workspace.appeals.file(finding, text_field(act.data, "reason"), act.viewer.actor,
                                           result.get("agent_id"), result.get("team"))
    except AppealError as exc:
        raise HTTPException(409 if "already" in str(exc) else 400, str(exc)) from None
    return dict(appeal.to_dict(), finding_key=finding.finding_key)


@router.post("/api/appeals", status_code=201)
async def file_appeal(request: Request, act: AppealFiling) -> JSONResponse:
    return JSONResponse(await run_in_threadpool(_file_appeal, request, act), 201)


def _rule(request: Request, appeal_id: int, act: Act) -> dict[str, Any]:
    st = state(request)
    try:
        appeal, decision = st.workspace.appeals.rule(appeal_id, str(act.data.get("outcome") or ""),
                                                     text_field(act.data, "ruling"), act.viewer.actor)
    except LookupError:
        raise HTTPException(404, f"没有申诉 #{appeal_id}") from None
    except AppealError as exc:
        raise HTTPException(409 if "final" in str(exc) else 400, str(exc)) from None
    if decision.verdict == "false_positive":
        st.workspace.cases.close_false_alarm(appeal.call_id, appeal.rule, appeal.item, act.viewer.actor)
    return {"appeal": dict(appeal.to_dict(), finding_key=appeal.finding_key), "decision": decision.to_dict()}


@router.post("/api/appeals/{appeal_id}/ruling")
async def rule_appeal(appeal_id: int, request: Request, act: Ruling) -> dict[str, Any]:
    return await run_in_threadpool(_rule, request, appeal_id, act)


@router.post("/appeals/{appeal_id}/ruling")
async def rule_appeal_form(appeal_id: int, request: Request, act: RulingForm) -> Response:
    await run_in_threadpool(_rule, request, appeal_id, act)
    return RedirectResponse(f"/appeals?ruled={appeal_id}", 303)


@router.get("/appeals")
def appeals_page(request: Request, viewer: AppealReader, status: str = "") -> Response:
    st = state(request)
    found = st.workspace.appeals.list(team=viewer.team, status=status or None)
    return page("appeals.html.j2", viewer, title="申诉", appeals=found, chosen=status,
                ruled=request.query_params.get("ruled"), page_name=page_name)
