"""Logging in and out, users (admin), the audit log (QA lead), sampling and assignments, the live scorecard."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Annotated, Any
from urllib.parse import quote

import polars as pl
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from callqa.masking import mask_numbers
from reports.exports import csv_text
from reports.queue import queue_frame
from reports.scorecard import build_scorecard, previous_week
from reports.scorecard_page import render_html
from reports.site import page_name
from reports.tables import Filters, ReportError, Tables, iso_week, parse_week
from workspace.audit import COLUMNS as AUDIT_COLUMNS
from workspace.audit import Actor
from workspace.roles import Permission, Role, parse_role
from workspace.sampling import SELECTS, SamplingError, week_calls
from workspace.times import local_zone
from workspace.users import Throttled, UserError, new_password

from .auth import LOGIN_COOKIE, SESSION_COOKIE, Act, Viewer, acting, client_ip, need, read_form, same_token, session_of
from .render import environment, page
from .routes_review import HOME
from .state import state

router = APIRouter()
FormAct = Annotated[Act, Depends(acting(form=True))]
LoggedIn = Annotated[Viewer, Depends(need())]
Admin = Annotated[Viewer, Depends(need(Permission.USERS))]
UserChange = Annotated[Act, Depends(acting(Permission.USERS, form=True))]
AuditReader = Annotated[Viewer, Depends(need(Permission.AUDIT))]
Assigner = Annotated[Viewer, Depends(need(Permission.ASSIGN, Permission.REVIEW_ASSIGNED))]
AssignChange = Annotated[Act, Depends(acting(Permission.ASSIGN, form=True))]
AssignmentChange = Annotated[Act, Depends(acting(Permission.REVIEW_ASSIGNED, form=True))]
ScorecardReader = Annotated[Viewer, Depends(need(Permission.SCORECARD))]
AUDIT_PAGE_ROWS = 500


# ---- logging in -------------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """Only a path of this site: never //other.host or a scheme."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target[:500]
    return ""


def _login_page(request: Request, message: str = "", name: str = "", status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    response = page("login.html.j2", None, status, title="登录", login_token=token, message=message, name=name[:80],
                    next=_safe_next(request.query_params.get("next") or request.headers.get("x-next")))
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/login",
                        secure=state(request).settings.secure_cookies)
    return response


@router.get("/login")
def login_form(request: Request) -> Response:
    if session_of(request) is not None:
        return RedirectResponse("/", 303)
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    form = {k: v[-1] for k, v in (await read_form(request)).items()}
    if not same_token(form.get("login_token"), request.cookies.get(LOGIN_COOKIE, "")):
        return _login_page(request, "登录表单已过期，请重新输入", status=403)
    st = state(request)
    name, ip = (form.get("name") or "").strip(), client_ip(request)
    try:
        user = await run_in_threadpool(st.workspace.users.authenticate, name, form.get("password") or "", ip)
    except Throttled as exc:
        response = _login_page(request, f"登录失败次数过多，请 {exc.retry_after_s} 秒后再试", name, 429)
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response
    if user is None:
        return _login_page(request, "用户名或密码不正确", name, 401)
    token, _ = await run_in_threadpool(st.workspace.users.start_session, user, ip)
    await run_in_threadpool(st.workspace.audit.add, Actor(user.name, user.role.value, ip), "login", user.name)
    target = _safe_next(form.get("next")) or HOME[user.role]
    response = RedirectResponse(target, 303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", path="/",
                        secure=st.settings.secure_cookies, max_age=12 * 3600)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, act: FormAct) -> Response:
    st = state(request)
    await run_in_threadpool(st.workspace.users.end_session, request.cookies.get(SESSION_COOKIE, ""))
    await run_in_threadpool(st.workspace.audit.add, act.viewer.actor, "logout", act.viewer.user.name)
    response = RedirectResponse("/login", 303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/api/session")
def whoami(viewer: LoggedIn) -> dict[str, Any]:
    """The logged-in user, role, team and the session's CSRF token (for scripts; other origins cannot read it)."""
    return {"user": viewer.user.name, "role": viewer.user.role.value, "team": viewer.team, "csrf": viewer.csrf,
            "permissions": sorted(p.value for p in Permission if viewer.can(p))}


# ---- users ------------------------------------------------------------------------------------------


@router.get("/admin/users")
def users_page(request: Request, viewer: Admin) -> Response:
    st = state(request)
    return page("users.html.j2", viewer, title="用户管理", users=st.workspace.users.all(), roles=list(Role),
                created=None, error=None)


def _user_change(request: Request, act: Act, user_id: int | None) -> tuple[str | None, str | None]:
    """(a message to show, a one-time password to show) after creating or changing a user."""
    st = state(request)
    d = act.data
    try:
        if user_id is None:
            password = d.get("password") or new_password()
            user = st.workspace.users.add(d.get("name") or "", parse_role(d.get("role") or ""), password,
                                          d.get("team") or None)
            st.workspace.audit.add(act.viewer.actor, "user_add", user.name, f"{user.role.value} {user.team or ''}")
            return f"已创建用户 {user.name}", None if d.get("password") else password
        password = new_password() if d.get("reset") else None
        changed = st.workspace.users.change(user_id, role=d.get("role") or None, team=d.get("team"),
                                            active=d.get("active") == "on", password=password)
        st.workspace.audit.add(act.viewer.actor, "user_change", changed.name,
                               f"{changed.role.value} {changed.team or ''} {'active' if changed.active else 'disabled'}"
                               + (" password reset" if password else ""))
        return f"已更新用户 {changed.name}", password
    except (UserError, ValueError) as exc:
        raise HTTPException(400, str(exc)) from None


@router.post("/admin/users")
async def add_user(request: Request, act: UserChange) -> Response:
    message, password = await run_in_threadpool(_user_change, request, act, None)
    return _users_after(request, act.viewer, message, password)


@router.post("/admin/users/{user_id}")
async def change_user(user_id: int, request: Request, act: UserChange) -> Response:
    message, password = await run_in_threadpool(_user_change, request, act, user_id)
    return _users_after(request, act.viewer, message, password)


def _users_after(request: Request, viewer: Viewer, message: str | None, password: str | None) -> Response:
    st = state(request)
    return page("users.html.j2", viewer, title="用户管理", users=st.workspace.users.all(), roles=list(Role),
                created=message, password=password, error=None)


# ---- the audit log ----------------------------------------------------------------------------------


def _audit_query(request: Request) -> dict[str, Any]:
    q = request.query_params
    zone = local_zone()

    def bound(name: str, days: int) -> str | None:
        value = q.get(name) or ""
        if not value:
            return None
        try:
            day = dt.date.fromisoformat(value) + dt.timedelta(days=days)
        except ValueError:
            raise HTTPException(400, f"'{name}': not a date (YYYY-MM-DD)") from None
        return dt.datetime.combine(day, dt.time(0), zone).astimezone(dt.UTC).isoformat()

    return {"action": q.get("action") or None, "user": q.get("user") or None, "target": q.get("target") or None,
            "since": bound("from", 0), "until": bound("to", 1)}


@router.get("/audit")
def audit_page(request: Request, viewer: AuditReader) -> Response:
    st = state(request)
    query = _audit_query(request)
    rows = list(st.workspace.audit.rows(**query, limit=AUDIT_PAGE_ROWS))
    return page("audit.html.j2", viewer, title="审计日志", rows=rows, q=request.query_params,
                total=st.workspace.audit.count(), limit=AUDIT_PAGE_ROWS, query_string=request.url.query)


@router.get("/audit.csv")
def audit_export(request: Request, viewer: AuditReader) -> Response:
    st = state(request)
    rows = [dict(r.to_dict(), detail=mask_numbers(r.detail)) for r in
            st.workspace.audit.rows(**_audit_query(request), newest_first=False)]
    st.workspace.audit.add(viewer.actor, "export", "audit.csv", f"{len(rows)} rows; {request.url.query[:400]}")
    body = ("\ufeff" + csv_text(AUDIT_COLUMNS, rows)).encode("utf-8")
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="callqa-audit.csv"'})


# ---- sampling and assignments -----------------------------------------------------------------------


@router.get("/assignments")
def assignments_page(request: Request, viewer: Assigner, week: str = "") -> Response:
    st = state(request)
    lead = viewer.can(Permission.ASSIGN)
    week = week or iso_week(dt.date.today())
    try:
        parse_week(week)
    except ReportError as exc:
        raise HTTPException(400, str(exc)) from None
    found = st.workspace.sampling.list(week=week if lead else None, reviewer=None if lead else viewer.user.name)
    analysts = [u.name for u in st.workspace.users.with_role(Role.ANALYST)] + \
        [u.name for u in st.workspace.users.with_role(Role.QA_LEAD)]
    return page("assignments.html.j2", viewer, title="抽检与分派" if lead else "我的复核任务", assignments=found,
                week=week, lead=lead, rules=st.workspace.sampling.rules() if lead else [], selects=SELECTS,
                reviewers=analysts, weeks=st.workspace.sampling.weeks(), page_name=page_name,
                message=request.query_params.get("msg"))


def _draw(request: Request, act: Act) -> str:
    st = state(request)
    week = str(act.data.get("week") or "")
    try:
        frame = queue_frame(st.tables(), Filters(week=week))
    except ReportError as exc:
        raise HTTPException(400, str(exc)) from None
    new = st.workspace.sampling.draw_week(parse_week_name(week), week_calls(frame.iter_rows(named=True)), act.viewer.actor)
    return f"抽取 {len(new)} 通新通话"


def parse_week_name(week: str) -> str:
    try:
        return iso_week(parse_week(week)[0])
    except ReportError as exc:
        raise HTTPException(400, str(exc)) from None


@router.post("/assignments/draw")
async def draw(request: Request, act: AssignChange) -> Response:
    message = await run_in_threadpool(_draw, request, act)
    return RedirectResponse(f"/assignments?week={parse_week_name(str(act.data.get('week') or ''))}&msg={quote(message)}",
                            303)


def _assign(request: Request, act: Act) -> str:
    st = state(request)
    week = parse_week_name(str(act.data.get("week") or ""))
    try:
        if act.data.get("evenly"):
            reviewers = [u.name for u in st.workspace.users.with_role(Role.ANALYST)]
            given = st.workspace.sampling.assign_evenly(week, reviewers, act.viewer.actor)
            return "平均分派：" + "，".join(f"{k} {v} 通" for k, v in given.items())
        reviewer = str(act.data.get("reviewer") or "")
        user = st.workspace.users.by_name(reviewer)
        if user is None or not user.active or user.role not in (Role.ANALYST, Role.QA_LEAD):
            raise HTTPException(400, f"{reviewer!r} is not an active analyst")
        try:
            ids = [int(i) for i in act.lists.get("ids", [])]
        except ValueError:
            raise HTTPException(400, "assignment ids must be numbers") from None
        return f"已分派 {st.workspace.sampling.assign(ids, reviewer, act.viewer.actor)} 通给 {reviewer}"
    except SamplingError as exc:
        raise HTTPException(400, str(exc)) from None


@router.post("/assignments/assign")
async def assign(request: Request, act: AssignChange) -> Response:
    message = await run_in_threadpool(_assign, request, act)
    return RedirectResponse(f"/assignments?week={parse_week_name(str(act.data.get('week') or ''))}&msg={quote(message)}",
                            303)


def _finish(request: Request, assignment_id: int, act: Act) -> None:
    try:
        state(request).workspace.sampling.finish(assignment_id, act.viewer.actor, act.viewer.can(Permission.ASSIGN))
    except LookupError:
        raise HTTPException(404, f"没有复核任务 #{assignment_id}") from None
    except PermissionError as exc:
        raise HTTPException(403, str(exc)) from None


@router.post("/assignments/{assignment_id}/done")
async def finish(assignment_id: int, request: Request, act: AssignmentChange) -> Response:
    await run_in_threadpool(_finish, request, assignment_id, act)
    return RedirectResponse("/assignments?msg=" + quote("已完成"), 303)


def _save_rule(request: Request, act: Act) -> None:
    d = act.data
    try:
        rule_id = int(d["id"]) if d.get("id") else None
        share = float(d.get("share_percent") or 0) / 100
        minimum = int(d.get("minimum") or 0)
    except ValueError:
        raise HTTPException(400, "share and minimum must be numbers") from None
    try:
        state(request).workspace.sampling.save_rule(act.viewer.actor, rule_id=rule_id, name=d.get("name") or "",
                                                    selects=d.get("selects") or "", share=share, minimum=minimum,
                                                    active=d.get("active") == "on")
    except LookupError:
        raise HTTPException(404, f"没有抽检规则 #{rule_id}") from None
    except SamplingError as exc:
        raise HTTPException(400, str(exc)) from None


@router.post("/sampling")
async def save_sampling_rule(request: Request, act: AssignChange) -> Response:
    await run_in_threadpool(_save_rule, request, act)
    return RedirectResponse("/assignments?msg=" + quote("抽检规则已保存"), 303)


# ---- the weekly scorecard, live ---------------------------------------------------------------------


@router.get("/scorecard")
def scorecard(request: Request, viewer: ScorecardReader, week: str = "") -> Response:
    st = state(request)
    st.sync_cases()
    tables = st.tables()
    try:
        sc = build_scorecard(tables, week or _default_week(tables), workspace=st.workspace,
                             lexicons=st.settings.lexicons)
    except ReportError as exc:
        raise HTTPException(404 if "no calls" in str(exc) else 400, _without_paths(str(exc), st)) from None
    nav = environment().get_template("ws_scorecard_nav.html.j2").render(viewer=viewer, week=sc.week)
    html = render_html(sc, Markup(nav)).replace(str(st.settings.results), "…")  # the page names no server path
    return HTMLResponse(html, headers={"Cache-Control": "no-store", "Content-Security-Policy":
                                       "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                                       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"})


def _default_week(tables: Tables) -> str:
    """Last complete week, or the newest week with calls when that one has none."""
    week = previous_week()
    monday, next_monday = parse_week(week)
    dates = tables.calls.select(pl.col("date").max().alias("last"),
                                pl.col("date").is_between(monday, next_monday - dt.timedelta(days=1)).any()
                                .alias("any")).collect()
    last, has_calls = dates["last"][0], dates["any"][0]
    return week if has_calls or last is None else iso_week(last)


def _without_paths(message: str, st: Any) -> str:
    return message.replace(str(st.settings.results.resolve()), "…").replace(str(st.settings.results), "…")
