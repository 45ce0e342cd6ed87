"""Who is asking: the session behind the cookie, its role's permissions, and the CSRF token of a change.

Route dependencies:
    viewer: Viewer = Depends(need(Permission.QUEUE))        # a page or a read: logged in, allowed
    act: Act = Depends(acting(Permission.DECIDE))           # a change with a JSON body: + CSRF header
    act: Act = Depends(acting(Permission.CASES, form=True)) # a change from an HTML form: + CSRF field
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from workspace.audit import Actor
from workspace.roles import Permission, allowed
from workspace.users import Session, User

from .state import state

SESSION_COOKIE = "callqa_session"
LOGIN_COOKIE = "callqa_login"  # the login form's own CSRF token (double submit): no session exists yet
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


class LoginRequired(Exception):
    """No live session: pages redirect to the login form, the API and audio answer 401."""


@dataclass(frozen=True)
class Viewer:
    user: User
    csrf: str
    ip: str

    @property
    def actor(self) -> Actor:
        return Actor(self.user.name, self.user.role.value, self.ip)

    @property
    def team(self) -> str | None:
        """The one team this viewer may see, or None for all."""
        return self.user.scope_team

    def can(self, permission: Permission) -> bool:
        return allowed(self.user.role, permission)

    def sees_team(self, team: str | None) -> bool:
        return self.team is None or team == self.team


@dataclass(frozen=True)
class Act:
    viewer: Viewer
    data: dict[str, Any] = field(default_factory=dict)  # the parsed body: JSON object, or form fields (last value)
    lists: dict[str, list[str]] = field(default_factory=dict)  # form fields with every value (multi-selects)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def session_of(request: Request) -> Session | None:
    token = request.cookies.get(SESSION_COOKIE, "")
    return state(request).workspace.users.session(token) if token else None


def _viewer(request: Request) -> Viewer:
    session = session_of(request)
    if session is None:
        raise LoginRequired
    return Viewer(session.user, session.csrf, client_ip(request))


def need(*permissions: Permission) -> Callable[[Request], Viewer]:
    """A logged-in viewer holding at least one of `permissions` (none given: any logged-in viewer)."""

    def dependency(request: Request) -> Viewer:
        viewer = _viewer(request)
        if permissions and not any(viewer.can(p) for p in permissions):
            raise HTTPException(403, "你的角色无权访问此页面或数据")
        return viewer

    return dependency


async def read_json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise HTTPException(415, "expected a JSON body (Content-Type: application/json)")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HTTPException(400, f"malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return data


async def read_form(request: Request) -> dict[str, list[str]]:
    raw = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise HTTPException(415, "expected a form (application/x-www-form-urlencoded)")
    try:
        return parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=200)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(400, f"malformed form: {exc}") from None


def same_token(given: object, expected: str) -> bool:
    return isinstance(given, str) and bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def acting(*permissions: Permission, form: bool = False) -> Callable[[Request], Awaitable[Act]]:
    """A change: the body parsed, the viewer allowed, and the session's CSRF token presented (a header for
    JSON, a hidden field for forms)."""
    guard = need(*permissions)

    async def dependency(request: Request) -> Act:
        # the body first: a refusal sent before it is read can reach the client as a reset connection
        if form:
            fields = await read_form(request)
            data: dict[str, Any] = {k: v[-1] for k, v in fields.items()}
            token = request.headers.get(CSRF_HEADER) or data.get(CSRF_FIELD)
        else:
            fields, data = {}, await read_json(request)
            token = request.headers.get(CSRF_HEADER)
        viewer = await run_in_threadpool(guard, request)
        if not same_token(token, viewer.csrf):
            raise HTTPException(403, "missing or wrong CSRF token: reload the page")
        return Act(viewer, data, fields)

    return dependency
