"""Follow-up cases (问题件): the cases page per team, a case with its history and moves, the transfer list
(转办单) as Excel, cases opened by hand, and the case figures for managers."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from reports.exports import write_frame_xlsx
from reports.site import page_name
from reports.tables import ReportError, parse_week
from workspace.case_stats import AGE_BUCKETS, calls_dated, case_figures
from workspace.cases import (
    CASE_TYPES,
    GRADES,
    STATUS_LABEL,
    STATUSES,
    TRANSITIONS,
    Case,
    CaseError,
    CaseFilter,
    CaseSource,
)
from workspace.roles import Permission, Role

from .auth import Act, Viewer, acting, need
from .calls import result_for, text_field
from .render import local_time, page
from .routes_review import XLSX
from .state import state

router = APIRouter()
CaseReader = Annotated[Viewer, Depends(need(Permission.CASES))]
CaseStatsReader = Annotated[Viewer, Depends(need(Permission.CASE_STATS))]
CaseChange = Annotated[Act, Depends(acting(Permission.CASES, form=True))]
CaseOpening = Annotated[Act, Depends(acting(Permission.OPEN_CASE))]
OPEN_STATUSES = ("open", "transferred", "resolved")


def _filter(request: Request, viewer: Viewer) -> CaseFilter:
    q = request.query_params
    team = viewer.team or (q.get("team") or None)
    statuses = tuple(s for s in q.getlist("status") if s in STATUSES) or (() if q.get("all") else OPEN_STATUSES)
    return CaseFilter(team=team, status=statuses, grade=tuple(g for g in q.getlist("grade") if g in GRADES),
                      case_type=tuple(t for t in q.getlist("type") if t in CASE_TYPES))


@router.get("/cases")
def cases_page(request: Request, viewer: CaseReader) -> Response:
    st = state(request)
    st.sync_cases()
    f = _filter(request, viewer)
    found = st.workspace.cases.list(f)
    teams = [viewer.team] if viewer.team else st.workspace.cases.teams()
    return page("cases.html.j2", viewer, title="回访问题件" + (f" · {f.team}" if f.team else ""), cases=found,
                filter=f, teams=teams, grades=GRADES, statuses=STATUS_LABEL, query=request.url.query,
                page_name=page_name, case_settings=st.settings.cases)


def _moves(case: Case, viewer: Viewer) -> list[tuple[str, str]]:
    """The statuses this viewer may move the case to, with their labels."""
    return [(to, STATUS_LABEL[to]) for (frm, to), roles in TRANSITIONS.items()
            if frm == case.status and viewer.user.role in roles and viewer.sees_team(case.team)]


@router.get("/cases/stats")
def case_stats(request: Request, viewer: CaseStatsReader, week: str = "") -> Response:
    st = state(request)
    st.sync_cases()
    period = None
    if week:
        try:
            monday, next_monday = parse_week(week)
        except ReportError as exc:
            raise HTTPException(400, str(exc)) from None
        period = calls_dated(monday, next_monday - dt.timedelta(days=1))
    figures = case_figures(st.workspace.cases.list(), period)
    return page("case_stats.html.j2", viewer, title="问题件统计", figures=figures, week=week, ages=AGE_BUCKETS,
                grades=GRADES)


@router.get("/cases/transfer.xlsx")
def transfer_list(request: Request, viewer: CaseReader) -> Response:
    """The transfer list (转办单): a row per case, with room for the handler's result and signature."""
    st = state(request)
    f = _filter(request, viewer)
    rows = [{"问题件编号": c.id, "转办类别": c.type.transfer, "问题类型": c.type.title, "等级": c.grade, "通话": c.call_id,
             "通话时间": (c.call_started_at or "")[:16].replace("T", " "), "业务员/坐席": c.agent_id or "",
             "班组": c.team or "", "问题描述": c.evidence, "状态": c.status_label, "责任人": c.owner or "",
             "转办对象": c.handler or c.type.handler, "下发时间": local_time(c.transferred_at) if c.transferred_at else "",
             "处理时限": local_time(c.due_at) if c.due_at else "", "处理结果": c.resolution, "签收确认": ""}
            for c in st.workspace.cases.list(f)]
    frame = pl.DataFrame(rows, schema={k: pl.Int64 if k == "问题件编号" else pl.Utf8 for k in (
        "问题件编号", "转办类别", "问题类型", "等级", "通话", "通话时间", "业务员/坐席", "班组", "问题描述", "状态", "责任人",
        "转办对象", "下发时间", "处理时限", "处理结果", "签收确认")})
    with tempfile.TemporaryDirectory() as tmp:
        path = write_frame_xlsx(frame, Path(tmp) / "transfer.xlsx", "转办单", autofit=True, freeze_panes=(1, 0),
                                autofilter=True)
        body = path.read_bytes()
    st.workspace.audit.add(viewer.actor, "export", "transfer.xlsx", f"{frame.height} cases; team {f.team or 'all'}")
    return Response(body, media_type=XLSX, headers={"Content-Disposition": 'attachment; filename="callqa-transfer.xlsx"'})


@router.get("/cases/{case_id}")
def case_page(case_id: int, request: Request, viewer: CaseReader) -> Response:
    st = state(request)
    case = st.workspace.cases.get(case_id, viewer.team)
    if case is None:
        raise HTTPException(404, f"没有问题件 #{case_id}")
    return page("case.html.j2", viewer, title=f"问题件 #{case.id}", case=case, history=st.workspace.cases.history(case.id),
                moves=_moves(case, viewer), page_name=page_name, message=request.query_params.get("moved"))


def _move(request: Request, case_id: int, act: Act) -> Case:
    st = state(request)
    to = str(act.data.get("to") or "")
    if to not in STATUSES:
        raise HTTPException(400, f"status {to[:20]!r}: one of {', '.join(STATUSES)}")
    try:
        return st.workspace.cases.move(case_id, to, act.viewer.actor, act.viewer.user.role,
                                       note=text_field(act.data, "note"), handler=text_field(act.data, "handler", 200),
                                       scope_team=act.viewer.team)
    except LookupError:
        raise HTTPException(404, f"没有问题件 #{case_id}") from None
    except PermissionError as exc:
        raise HTTPException(403, str(exc)) from None
    except CaseError as exc:
        raise HTTPException(409, str(exc)) from None


@router.post("/cases/{case_id}/move")
async def move_case(case_id: int, request: Request, act: CaseChange) -> Response:
    case = await run_in_threadpool(_move, request, case_id, act)
    return RedirectResponse(f"/cases/{case.id}?moved={case.status}", 303)


def _open(request: Request, act: Act) -> dict[str, Any]:
    st = state(request)
    result = result_for(st, act.viewer, text_field(act.data, "call_id", 300))
    kind = text_field(act.data, "case_type", 40)
    if kind not in CASE_TYPES:
        raise HTTPException(400, f"case type {kind!r}: one of {', '.join(CASE_TYPES)}")
    owner = next((u.name for u in st.workspace.users.with_role(Role.TEAM_LEAD, result.get("team"))), None)
    src = CaseSource(result["call_id"], str((result.get("scoring") or {}).get("run_id") or ""), kind,
                     result.get("agent_id"), result.get("team"), result.get("started_at"),
                     evidence=text_field(act.data, "note"))
    try:
        return st.workspace.cases.open_by_hand(src, owner, text_field(act.data, "note"), act.viewer.actor).to_dict()
    except CaseError as exc:
        raise HTTPException(409, str(exc)) from None


@router.post("/api/cases", status_code=201)
async def open_case(request: Request, act: CaseOpening) -> JSONResponse:
    return JSONResponse(await run_in_threadpool(_open, request, act), 201)
