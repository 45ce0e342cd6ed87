"""A review workspace for the web app's tests: the fixture output folder (reportdata), one user per role,
and the app served on a loopback port."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from reportdata import FIXTURES, build_output

from webapp.app import create_app
from webapp.serve import ServerThread
from webapp.settings import WebSettings
from workspace.store import Workspace

PASSWORD = "correct-horse-battery"
# name, role, team
USERS = {
    "analyst": ("质检员甲", "analyst", None),
    "team_lead": ("班组长乙", "team_lead", "回访二组"),
    "qa_lead": ("质检主管丙", "qa_lead", None),
    "trainer": ("培训师丁", "trainer", None),
    "manager": ("经理戊", "manager", None),
    "admin": ("管理员己", "admin", None),
}
OTHER_TEAM_CALL = "stereo_clean"  # 回访一组: not the team lead's
TEAM_CALL = "stereo_fast_loud"  # 回访二组, with an alert.complaint finding (a case) and rate.too_fast


@dataclass
class Site:
    out: Path
    workspace: Workspace
    server: ServerThread

    @property
    def base(self) -> str:
        return self.server.base

    def client(self, role: str | None = None) -> httpx.Client:
        """A client logged in as the user of `role` (None: not logged in). Its `csrf` attribute holds the
        session's token."""
        c = httpx.Client(base_url=self.base, follow_redirects=False, timeout=30)
        c.csrf = ""  # type: ignore[attr-defined]
        if role:
            name = USERS[role][0]
            c.csrf = login(c, name, PASSWORD)  # type: ignore[attr-defined]
        return c

    def stop(self) -> None:
        self.server.stop()
        self.workspace.close()


def login(c: httpx.Client, name: str, password: str) -> str:
    form = c.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert token, form.text[:500]
    r = c.post("/login", data={"name": name, "password": password, "login_token": token.group(1), "next": ""},
               headers={"Origin": str(c.base_url).rstrip("/")})
    assert r.status_code == 303, (r.status_code, r.text[:300])
    return str(c.get("/api/session").json()["csrf"])


def make_site(root: Path, recordings: Path = FIXTURES, **settings: Any) -> Site:
    out = build_output(root / "out")
    workspace = Workspace.open(out / "workspace.sqlite3")
    for name, role, team in USERS.values():
        workspace.users.add(name, role, PASSWORD, team)
    app = create_app(WebSettings(out, str(out / "workspace.sqlite3"), recordings, **settings), workspace)
    return Site(out, workspace, ServerThread(app).start())


def changes(c: httpx.Client) -> dict[str, str]:
    """Headers of a same-origin JSON change with the session's CSRF token."""
    return {"X-CSRF-Token": c.csrf, "Origin": str(c.base_url).rstrip("/")}  # type: ignore[attr-defined]


def finding_key_of(out: Path, call_id: str, rule: str) -> tuple[str, dict[str, Any]]:
    import json

    result = json.loads((out / "results" / f"{call_id}.json").read_text(encoding="utf-8"))
    for i, f in enumerate(result["findings"]):
        if f["rule"] == rule:
            return f"{i}:{f['rule']}:{f.get('start')}", result
    raise AssertionError(f"{call_id} has no {rule} finding")
