"""The review workspace in a real headless Chromium: logging in per role, what each role sees, reviewing
with the audio over HTTP, an appeal and a case through their lifecycle, a cross-site form post, and an
audit row for every audio request the browser makes."""

from __future__ import annotations

import json
import threading
import urllib.request
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from typing import Any

import pytest
from browser import console_errors, require_browser, start_browser, wait_for
from workspacedata import PASSWORD, TEAM_CALL, USERS, Site, make_site

from reports.queue import queue_frame
from reports.tables import Filters, Tables
from workspace.audit import AuditLog

HOME = {"analyst": "/", "team_lead": "/", "qa_lead": "/", "trainer": "/clips", "manager": "/scorecard",
        "admin": "/admin/users"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    require_browser()
    s = make_site(tmp_path_factory.mktemp("web"))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def driver() -> Any:
    require_browser()
    d = start_browser(network_log=True)
    yield d
    d.quit()


def log_in(driver: Any, site: Site, role: str) -> None:
    driver.delete_all_cookies()
    driver.get(site.base + "/login")
    driver.find_element("id", "name").send_keys(USERS[role][0])
    driver.find_element("id", "password").send_keys(PASSWORD)
    driver.find_element("id", "login").click()
    wait_for(lambda: "/login" not in driver.current_url, what=f"{role} logged in")
    driver.get_log("browser")  # what an earlier test left in the console is not this test's


def unexpected_errors(driver: Any, allowed: tuple[str, ...] = ()) -> list[str]:
    return [e for e in console_errors(driver) if not any(a in e for a in allowed)]


@pytest.mark.parametrize("role", list(USERS))
def test_each_role_logs_in_and_lands_on_its_page(site: Site, driver: Any, role: str) -> None:
    log_in(driver, site, role)
    assert driver.current_url.split(site.base, 1)[1].split("?")[0] == HOME[role]
    if role != "manager":  # the scorecard is the report page itself, without the workspace header
        user = driver.find_element("id", "ws-user")
        assert user.get_attribute("data-role") == role and USERS[role][0] in user.text
    # a full recording: only the roles that review calls (asked from the page, as its player would)
    status = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {headers: {Range: 'bytes=0-99'}}).then(r => done(r.status), e => done(String(e)));", f"/audio/{TEAM_CALL}")
    assert status == (206 if role in ("analyst", "team_lead", "qa_lead") else 403)
    assert unexpected_errors(driver, ("403",)) == []


def test_the_login_form_refuses_a_wrong_password(site: Site, driver: Any) -> None:
    driver.delete_all_cookies()
    driver.get(site.base + "/login")
    driver.find_element("id", "name").send_keys(USERS["manager"][0])
    driver.find_element("id", "password").send_keys("not-the-password")
    driver.find_element("id", "login").click()
    error = wait_for(lambda: driver.find_elements("id", "login-error"), what="the error")[0]
    assert "用户名或密码不正确" in error.text
    assert driver.get_cookie("callqa_session") is None


def test_a_trainer_hears_bleeped_clips_and_never_a_full_recording(site: Site, driver: Any) -> None:
    from workspacedata import finding_key_of

    key, _ = finding_key_of(site.out, "mono_issues", "identity.weak")
    from workspace.audit import Actor
    from workspace.decisions import Review

    site.workspace.decisions.add(Review("mono_issues", key, "identity.weak", "confirmed", "", "质检主管丙",
                                        "20261122T000000-fixture"), Actor("质检主管丙", "qa_lead", "127.0.0.1"))
    log_in(driver, site, "trainer")
    driver.get(site.base + "/clips")
    players = driver.find_elements("css selector", "section.clip audio")
    assert players
    driver.set_script_timeout(20)
    durations = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        Promise.all(Array.from(document.querySelectorAll('section.clip audio')).map(a => new Promise(ok => {
            a.addEventListener('loadedmetadata', () => ok(a.duration), {once: true});
            a.addEventListener('error', () => ok(-1), {once: true});
            a.preload = 'metadata'; a.load();
        }))).then(done);""")
    assert all(d > 3 for d in durations), durations
    # the page's text masks numbers too
    assert "二四六八" not in driver.page_source
    driver.get(f"{site.base}/calls/mono_issues.html")
    assert "403" in driver.find_element("id", "error").get_attribute("data-status")
    assert unexpected_errors(driver, ("403",)) == []


def test_an_analyst_reviews_with_seekable_audio_and_cannot_rule(site: Site, driver: Any) -> None:
    from selenium.webdriver.support.ui import Select

    out = site.out
    log_in(driver, site, "analyst")
    Select(driver.find_element("id", "f-team")).select_by_value("回访二组")
    want = queue_frame(Tables(out), Filters(team=("回访二组",)))["call_id"].to_list()
    ids = driver.execute_script("return Array.from(document.querySelectorAll('#queue tbody tr')).map(r => r.dataset.call)")
    assert ids == want
    href = driver.find_element("id", "export-xlsx").get_attribute("href")
    opener = urllib.request.build_opener()
    opener.addheaders = [("Cookie", f"callqa_session={driver.get_cookie('callqa_session')['value']}")]
    sheet = zipfile.ZipFile(BytesIO(opener.open(href).read())).read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert sheet.count("<row ") == len(want) + 1
    driver.find_element("css selector", f'#queue a[href*="{TEAM_CALL}"]').click()
    wait_for(lambda: driver.execute_script("return document.getElementById('player').readyState >= 1"),
             what="audio metadata over HTTP")
    finding = driver.find_element("css selector", '.finding[data-rule="alert.complaint"]')
    start = float(finding.get_attribute("data-seek"))
    finding.click()
    wait_for(lambda: abs(driver.execute_script("return document.getElementById('player').currentTime") - start) < 0.75,
             what="seek over HTTP (byte ranges)")
    finding.find_element("css selector", ".comment").send_keys("客户明确要投诉")
    finding.find_element("css selector", 'button[data-verdict="confirmed"]').click()
    wait_for(lambda: "已确认违规" in finding.find_element("css selector", ".saved").text, what="decision saved")
    stored = site.workspace.decisions.current(TEAM_CALL)
    assert [(r.rule, r.verdict, r.reviewer, r.comment) for r in stored if r.rule == "alert.complaint"] == [
        ("alert.complaint", "confirmed", USERS["analyst"][0], "客户明确要投诉")]
    assert not driver.find_elements("css selector", "[data-ruling], [data-appeal]")  # an analyst neither appeals nor rules
    driver.refresh()
    wait_for(lambda: "已确认违规" in driver.find_element(
        "css selector", '.finding[data-rule="alert.complaint"] .saved').text, what="decision reloaded")
    status = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const csrf = document.querySelector('meta[name="csrf-token"]').content;
        fetch('/api/appeals/1/ruling', {method: 'POST', headers: {'Content-Type': 'application/json',
              'X-CSRF-Token': csrf}, body: JSON.stringify({outcome: 'upheld'})}).then(r => done(r.status));""")
    assert status == 403
    driver.get(site.base + "/")
    assert "已复核" in driver.find_element("css selector", f'#queue tr[data-call="{TEAM_CALL}"]').text
    assert unexpected_errors(driver, ("403",)) == []


def test_an_appeal_from_the_team_lead_to_the_qa_leads_ruling(site: Site, driver: Any) -> None:
    log_in(driver, site, "team_lead")
    driver.get(f"{site.base}/calls/{TEAM_CALL}.html")
    finding = driver.find_element("css selector", '.finding[data-rule="rate.too_fast"]')
    assert not finding.find_elements("css selector", "[data-verdict]")  # a team lead does not decide
    finding.find_element("css selector", ".comment").send_keys("客户语速也快，坐席跟随客户")
    finding.find_element("css selector", "[data-appeal]").click()
    wait_for(lambda: finding.get_attribute("data-appeal") == "pending", what="appeal filed")
    log_in(driver, site, "qa_lead")
    driver.get(f"{site.base}/appeals?status=pending")
    assert driver.find_elements("css selector", "#appeals tr[data-status=pending] form.ruling")
    # the QA lead rules on the review page, beside the finding and its recording
    driver.get(f"{site.base}/calls/{TEAM_CALL}.html")
    finding = driver.find_element("css selector", '.finding[data-rule="rate.too_fast"]')
    wait_for(lambda: finding.find_elements("css selector", "[data-ruling=rejected]"), what="ruling buttons")
    finding.find_element("css selector", ".comment").send_keys("录音中坐席语速确实过快")
    finding.find_element("css selector", "[data-ruling=rejected]").click()
    wait_for(lambda: finding.get_attribute("data-appeal") == "rejected", what="ruling shown")
    (appeal,) = site.workspace.appeals.list(call_id=TEAM_CALL)
    assert appeal.status == "rejected" and appeal.ruled_by == USERS["qa_lead"][0]
    assert appeal.ruling == "录音中坐席语速确实过快"
    assert "已确认违规" in finding.find_element("css selector", ".saved").text
    assert not finding.find_elements("css selector", "[data-ruling]")  # final: nothing left to rule
    driver.get(f"{site.base}/appeals")
    assert driver.find_element("css selector", f"#appeals tr[data-appeal='{appeal.id}']").get_attribute(
        "data-status") == "rejected"
    assert unexpected_errors(driver) == []


def test_a_case_through_transfer_reply_and_close(site: Site, driver: Any) -> None:
    log_in(driver, site, "analyst")
    driver.get(site.base + "/cases")
    row = driver.find_element("css selector", "#cases-table tr[data-status=open]")
    case_id = row.get_attribute("data-case")
    row.find_element("css selector", "a").click()

    def submit(to: str, **fields: str) -> None:
        form = driver.find_element("css selector", f"form.move[data-to={to}]")
        for name, value in fields.items():
            form.find_element("css selector", f"input[name={name}]").send_keys(value)
        form.find_element("css selector", "button").click()
        wait_for(lambda: driver.execute_script("const c = document.getElementById('case');"
                                               "return c ? c.dataset.status : null;") == to, what=f"case {to}")

    submit("transferred", handler="业务部门", note="请两个工作日内回复")
    log_in(driver, site, "team_lead")
    driver.get(f"{site.base}/cases/{case_id}")
    assert [f.get_attribute("data-to") for f in driver.find_elements("css selector", "form.move")] == ["resolved"]
    submit("resolved", note="已联系客户，问题已解决")
    log_in(driver, site, "analyst")
    driver.get(f"{site.base}/cases/{case_id}")
    submit("closed", note="再次回访确认")
    steps = [r.text for r in driver.find_elements("css selector", "#history tbody tr")]
    assert len(steps) == 4 and "已结案" in steps[-1] and "已转办" in steps[1]
    assert unexpected_errors(driver) == []


class _Attacker(BaseHTTPRequestHandler):
    """Another site (another port on the same host: same-site, so SameSite cookies go along) whose page
    posts a decision the moment it opens, as a text/plain form: no preflight, the browser just sends it."""

    target = ""
    body = ""

    def do_GET(self) -> None:
        page = f"""<!doctype html><html><body><form id="f" method="post" action="{self.target}" enctype="text/plain">
<input type="hidden" name='{self.body[:-2]}' value='"}}'></form><script>document.getElementById("f").submit()</script>
</body></html>""".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *args: Any) -> None:
        pass


def test_a_cross_site_form_post_is_rejected(site: Site, driver: Any) -> None:
    from workspacedata import finding_key_of

    key, _ = finding_key_of(site.out, "mono_issues", "alert.surrender")
    body = json.dumps({"call_id": "mono_issues", "finding_key": key, "rule": "alert.surrender",
                       "verdict": "false_positive", "x": ""})
    handler = type("Attacker", (_Attacker,), {"target": f"{site.base}/api/reviews", "body": body})
    evil = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        log_in(driver, site, "qa_lead")
        before = len(site.workspace.decisions.history("mono_issues"))
        driver.get(f"http://127.0.0.1:{evil.server_address[1]}/")
        wait_for(lambda: "/api/reviews" in driver.current_url, what="the forged post")
        assert "cross-origin request refused" in driver.page_source
        assert len(site.workspace.decisions.history("mono_issues")) == before
    finally:
        evil.shutdown()
        evil.server_close()


def test_every_audio_request_of_the_browser_has_its_audit_row(site: Site, driver: Any) -> None:
    log_in(driver, site, "qa_lead")
    driver.get_log("performance")  # drop what came before
    log = AuditLog(site.workspace.db)
    before = log.count("audio")
    driver.get(f"{site.base}/calls/mono_issues.html")
    wait_for(lambda: driver.execute_script("return document.getElementById('player').readyState >= 1"),
             what="audio metadata")
    for f in driver.find_elements("css selector", ".finding[data-seek]")[:3]:
        f.click()
    driver.execute_script("document.getElementById('player').pause()")
    requests = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.responseReceived" and "/audio/" in message["params"]["response"]["url"]:
            requests.add(message["params"]["requestId"])
    assert requests
    wait_for(lambda: log.count("audio") - before >= len(requests), what="audit rows")
    assert log.count("audio") - before == len(requests)
    rows = list(log.rows(action="audio", limit=len(requests)))
    assert {(r.user, r.target) for r in rows} == {(USERS["qa_lead"][0], "mono_issues")}
