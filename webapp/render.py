"""The app's pages: its own templates first, then the report templates they extend (the queue and review
pages are the same as on disk, with the workspace's header and controls), one nonce per page for its
inline scripts (the Content-Security-Policy allows no other script)."""

from __future__ import annotations

import secrets
from functools import cache
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from reports import render as report_render
from workspace.cases import CASE_TYPES, STATUS_LABEL
from workspace.roles import ROLE_LABEL, Permission

from .auth import Viewer

HERE = Path(__file__).parent


@cache
def environment() -> Environment:
    loader = ChoiceLoader([FileSystemLoader(HERE / "templates"), FileSystemLoader(report_render.HERE / "templates")])
    env = Environment(loader=loader, autoescape=select_autoescape(["j2", "html"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.globals.update(asset=asset, clock=report_render.clock, ROLE_LABEL=ROLE_LABEL, P=Permission,
                       CASE_TYPES=CASE_TYPES, CASE_STATUS=STATUS_LABEL)
    env.filters["json_script"] = report_render.json_script
    env.filters["local_time"] = local_time
    return env


@cache
def asset(name: str) -> Markup:
    own = HERE / "static" / name
    return Markup(own.read_text(encoding="utf-8")) if own.is_file() else report_render.asset(name)


def local_time(stamp: str | None) -> str:
    """'2026-11-23T08:00:00+00:00' as the workspace's local time: '2026-11-23 16:00'."""
    if not stamp:
        return "—"
    from workspace.times import local_zone, parse

    return parse(stamp).astimezone(local_zone()).strftime("%Y-%m-%d %H:%M")


def page(template: str, viewer: Viewer | None, http_status: int = 200, **context: Any) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    html = environment().get_template(template).render(viewer=viewer, csp_nonce=nonce, server=True, **context)
    csp = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; img-src 'self' data:; "
           "media-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    return HTMLResponse(html, http_status, headers={"Content-Security-Policy": csp, "Cache-Control": "no-store"})
