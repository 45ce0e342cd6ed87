"""The FastAPI application: routes, guards, and answers for every failure (4xx with a message that names
no server path; 500 without the traceback, which goes to the server's log)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from qa_checks import load_lexicon
from reports.tables import ReportError, Tables
from workspace.store import Workspace

from .auth import LoginRequired, session_of
from .render import page
from .routes_admin import router as admin_router
from .routes_audio import router as audio_router
from .routes_cases import router as cases_router
from .routes_review import router as review_router
from .security import BodyGuard, OriginGuard
from .settings import WebSettings
from .state import AppState

log = logging.getLogger("callqa.webapp")
HEADINGS = {400: "请求有误", 401: "请先登录", 403: "无权访问", 404: "未找到", 405: "方法不允许", 408: "请求超时",
            409: "冲突", 413: "请求过大", 415: "内容类型不支持", 422: "请求有误", 429: "请求过多", 500: "服务器内部错误",
            503: "暂时不可用"}


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return (path.startswith(("/api/", "/audio/", "/clip")) or request.method not in ("GET", "HEAD")
            or "application/json" in request.headers.get("accept", ""))


def _error(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": message}, status)
    viewer = None
    try:
        from .auth import Viewer, client_ip

        session = session_of(request)
        viewer = Viewer(session.user, session.csrf, client_ip(request)) if session else None
    except Exception:  # the error page must not fail on the session lookup
        viewer = None
    return page("error.html.j2", viewer, status, title=HEADINGS.get(status, "错误"), code=status,
                heading=HEADINGS.get(status, "错误"), message=message)


def create_app(settings: WebSettings, workspace: Workspace | None = None) -> FastAPI:
    """The app over `settings.results`; it opens the workspace database unless given one."""
    Tables(settings.results)  # fail at start, not on the first request, when there are no tables
    ws = workspace or Workspace.open(settings.database, settings.cases)
    app_state = AppState(settings, ws, load_lexicon(settings.lexicons))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        app_state.sync_cases(force=True)
        yield

    app = FastAPI(title="callqa review workspace", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.callqa = app_state
    for router in (review_router, audio_router, cases_router, admin_router):
        app.include_router(router)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _exc: LoginRequired) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": "请先登录"}, 401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?next=" + quote(target, safe=""), 303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else HEADINGS.get(exc.status_code, "错误")
        if exc.status_code == 404 and message == "Not Found":
            message = "没有这个页面"
        response = _error(request, exc.status_code, message)
        for k, v in (exc.headers or {}).items():
            response.headers[k] = v
        return response

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors())
        return _error(request, 400, problems[:500] or "malformed request")

    @app.exception_handler(ReportError)
    async def report_error(request: Request, exc: ReportError) -> Response:
        return _error(request, 400, str(exc).replace(str(settings.results), "…"))

    @app.exception_handler(OperationalError)
    async def database_unavailable(request: Request, exc: OperationalError) -> Response:
        log.error("workspace database: %s", exc)
        return _error(request, 503, "工作区数据库暂时无法写入（磁盘已满或被占用），请稍后再试；查看页面不受影响")

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        ref = secrets.token_hex(4)
        log.exception("error %s on %s %s", ref, request.method, request.url.path, exc_info=exc)
        return _error(request, 500, f"服务器内部错误（编号 {ref}，详情见服务器日志）")

    # outermost last: hosts first (DNS rebinding), then the body's size and pace, then origins of changes and
    # the headers every answer carries
    app.add_middleware(OriginGuard, trusted_origins=settings.trusted_origins)
    app.add_middleware(BodyGuard, max_bytes=settings.max_body_bytes, timeout_s=settings.body_timeout_s)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts))
    return app


def describe(app: FastAPI) -> dict[str, Any]:
    """Where the app reads and keeps things (for the start-up message)."""
    st: AppState = app.state.callqa
    return {"results": str(st.settings.results), "database": st.workspace.db.location,
            "recordings": str(st.settings.recordings) if st.settings.recordings else None}
