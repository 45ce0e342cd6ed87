"""The queue and review pages in a real headless browser, from disk (the web app: test_webapp_browser.py)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from browser import console_errors, wait_for
from reportdata import FIXTURES, build_output, fixture_transcript, manifest

from callqa.model import transcript_from_dict
from pipelines.scoring import score_transcript
from reports.queue import queue_frame
from reports.site import build_site
from reports.tables import Filters, Tables
from results.store import ResultStore

# a customer reads out personal numbers; none of them may reach a page
PII_LINES = [
    ("agent", "请您核对一下身份证号码和手机号码。"),
    ("customer", "身份证是110101199003077718，手机13812345678。"),
    ("customer", "银行卡号6222 0212 3456 7890，尾号幺三五七。"),
    ("customer", "身份证后四位是三二一五。"),
]
PII = ["110101199003077718", "13812345678", "6222 0212 3456 7890", "6222021234567890", "幺三五七", "三二一五",
       "1990030777", "12345678"]
_RUN = re.compile(r"[0-9零〇一二三四五六七八九幺两](?:[ -]?[0-9零〇一二三四五六七八九幺两]){3,}")


def add_pii_call(out: Path) -> str:
    row = manifest()["stereo_clean.wav"]
    transcript = fixture_transcript(FIXTURES / "stereo_clean.truth.json", dict(row, call_id="pii_call"))
    t = transcript["segments"][-1]["end"]
    for i, (speaker, text) in enumerate(PII_LINES):
        transcript["segments"].append({"speaker": speaker, "start": t + 1 + 3 * i, "end": t + 3 + 3 * i, "text": text})
    t_obj = transcript_from_dict(transcript)
    result = score_transcript(t_obj, "fixture-truth", None, "20261122T000001-pii")
    result["pipeline"] = {"separation": "truth", "role_confidence": 1.0}
    store = ResultStore(out)
    store.save_call(t_obj, result)
    store.sync_tables("20261122T000001-pii")
    return "pii_call"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = build_output(tmp_path_factory.mktemp("out"))
    add_pii_call(out)
    report = build_site(out)
    assert report.errors == [] and report.missing_audio == []
    return out, report.dest


def queue_ids(driver) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#queue tbody tr')).map(r => r.dataset.call)")


def choose(driver, field: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", f"f-{field}")).select_by_value(value)


def set_date(driver, field: str, value: str) -> None:
    driver.execute_script(
        "const el = document.getElementById(arguments[0]); el.value = arguments[1];"
        "el.dispatchEvent(new Event('change'));", f"f-{field}", value)


def expected(out: Path, **filters) -> list[str]:
    return queue_frame(Tables(out), Filters(**filters))["call_id"].to_list()


def test_queue_lists_worst_first_and_every_filter_matches_the_tables(site, driver):
    out, dest = site
    driver.get((dest / "index.html").as_uri())
    assert queue_ids(driver) == expected(out)
    results = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in (out / "results").glob("*.json")}
    failed = [c for c, r in results.items() if not r["passed"]]
    assert queue_ids(driver)[: len(failed)] == sorted(failed, key=lambda c: results[c]["score"])
    options = driver.execute_script("return JSON.parse(document.getElementById('queue-data').textContent).options")
    checked = 0
    for field, key in (("rule", "rule"), ("rule", "family"), ("severity", "severity"), ("agent", "agent"),
                       ("team", "team"), ("questionnaire", "questionnaire")):
        for value in options[key]:
            choose(driver, field, value)
            want = expected(out, **{field: (value,)})
            assert queue_ids(driver) == want, (field, value)
            assert driver.find_element("id", "n-shown").text == str(len(want))
            checked += 1
            choose(driver, field, "")
    assert checked >= 12
    # combined: a rule family and a severity must hold for the same finding; dates inclusive
    choose(driver, "rule", "alert")
    choose(driver, "severity", "major")
    assert queue_ids(driver) == expected(out, rule=("alert",), severity=("major",))
    driver.find_element("id", "reset").click()
    set_date(driver, "from", "2026-11-17")
    set_date(driver, "to", "2026-11-19")
    want = expected(out, date_from=dt.date(2026, 11, 17), date_to=dt.date(2026, 11, 19))
    assert queue_ids(driver) == want and 0 < len(want) < len(expected(out))
    # the filters live in the address, so a reload keeps them
    driver.refresh()
    assert queue_ids(driver) == want
    assert console_errors(driver) == []


def test_rule_counts_match_the_findings_and_narrow_the_queue(site, driver):
    out, dest = site
    driver.get((dest / "index.html").as_uri())
    findings = Tables(out).findings.collect()
    chips = driver.find_elements("css selector", "#rule-counts .chip")
    counts = {c.get_attribute("data-rule"): int(c.text.rsplit("×", 1)[1]) for c in chips}
    assert counts == {r: n for r, n in findings["rule"].value_counts().iter_rows()}
    chip = next(c for c in chips if c.get_attribute("data-rule") == "forbidden.vague")
    chip.click()
    assert queue_ids(driver) == expected(out, rule=("forbidden.vague",))
    assert driver.find_element("id", "f-rule").get_attribute("value") == "forbidden.vague"
    assert console_errors(driver) == []


def test_review_page_click_on_a_finding_seeks_the_audio(site, driver):
    out, dest = site
    driver.get((dest / "calls" / "stereo_agent_right_issues.html").as_uri())
    wait_for(lambda: driver.execute_script("return document.getElementById('player').readyState >= 1"),
             what="audio metadata")
    findings = driver.find_elements("css selector", ".finding[data-seek]")
    result = json.loads((out / "results" / "stereo_agent_right_issues.json").read_text(encoding="utf-8"))
    assert len(driver.find_elements("css selector", ".finding")) == len(result["findings"])
    targets = [f for f in findings if float(f.get_attribute("data-seek")) > 5]
    assert targets
    for f in targets:
        start = float(f.get_attribute("data-seek"))
        f.click()
        t = wait_for(lambda s=start: (lambda now: now if abs(now - s) < 0.75 else None)(
            driver.execute_script("return document.getElementById('player').currentTime")), what=f"seek to {start}")
        assert abs(t - start) < 0.75
    # a click on a conversation line plays from that line
    line = driver.find_elements("css selector", "#conversation .line")[5]
    start = float(line.get_attribute("data-seek"))
    line.click()
    wait_for(lambda: abs(driver.execute_script("return document.getElementById('player').currentTime") - start) < 0.75,
             what="seek to a line")
    # and from the keyboard: Enter on a focused finding
    from selenium.webdriver.common.keys import Keys

    target = targets[-1]
    driver.execute_script("document.getElementById('player').currentTime = 0")
    target.send_keys(Keys.ENTER)
    start = float(target.get_attribute("data-seek"))
    wait_for(lambda: abs(driver.execute_script("return document.getElementById('player').currentTime") - start) < 0.75,
             what="seek from the keyboard")
    # the fired words are highlighted in the transcript
    marked = [m.text for m in driver.find_elements("css selector", "#conversation mark")]
    vague = next(f for f in result["findings"] if f["rule"] == "forbidden.vague")
    assert any(m and m in vague["evidence"] for m in marked)
    # checklist rows match the result, including the skipped item
    rows = driver.find_elements("css selector", "#checklist tbody tr")
    assert len(rows) == len(result["checklist"])
    skipped = [r["item"] for r in result["checklist"] if not r["asked"]]
    assert skipped and all(
        "漏问" in driver.find_element("css selector", f'#checklist tr[data-item="{i}"]').text for i in skipped)
    assert driver.find_element("css selector", "svg.rate")
    assert console_errors(driver) == []


def test_personal_numbers_are_masked_in_every_page_source(site, driver):
    out, dest = site
    for page in [dest / "index.html", *sorted((dest / "calls").glob("*.html"))]:
        driver.get(page.as_uri())
        source = driver.page_source
        on_disk = page.read_text(encoding="utf-8")
        for number in PII:
            assert number not in source and number not in on_disk, (page.name, number)
        call = page.stem
        transcript = out / "transcripts" / f"{call}.json"
        if transcript.exists():
            for seg in json.loads(transcript.read_text(encoding="utf-8"))["segments"]:
                for run in _RUN.findall(seg["text"]):
                    assert run not in on_disk, (page.name, run)
    pii_page = (dest / "calls" / "pii_call.html").read_text(encoding="utf-8")
    assert "**************" in pii_page  # masked, not dropped: the reviewer sees a number was said


def test_clips_index_plays_every_clip_from_disk(site, driver, tmp_path):
    from reports.clips import ClipOptions, make_clips

    out, _ = site
    report = make_clips(Tables(out), Filters(severity=("major", "critical")), tmp_path / "clips", ClipOptions())
    assert report.clips
    driver.get((tmp_path / "clips" / "index.html").as_uri())
    players = driver.find_elements("css selector", "audio")
    assert len(players) == len(report.clips)
    driver.set_script_timeout(20)
    durations = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const audios = Array.from(document.querySelectorAll('audio'));
        Promise.all(audios.map(a => new Promise(ok => {
            a.addEventListener('loadedmetadata', () => ok(a.duration), {once: true});
            a.addEventListener('error', () => ok(-1), {once: true});
            a.preload = 'metadata'; a.load();
        }))).then(done);""")
    for clip, seconds in zip(report.clips, durations, strict=True):
        assert abs(seconds - (clip.clip_end - clip.clip_start)) < 0.05, clip
    assert console_errors(driver) == []
