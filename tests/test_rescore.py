"""`callqa rescore`: stored transcripts scored again after a lexicon edit, without audio or models; what
changed is printed; analysts' decisions follow the re-scored findings."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from reportdata import build_output

from callqa.cli import main
from pipelines.flow import rescore
from reports.review import finding_key
from reports.tables import Tables
from results.schema import run_of
from results.store import ResultStore
from workspace.decisions import Review, ReviewStore, apply_to_scoring

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> Path:
    """The fixtures' truth transcripts scored and stored as `callqa run` stores them (no models needed)."""
    return build_output(tmp_path_factory.mktemp("scored") / "out")


@pytest.fixture
def out(scored, tmp_path, prefect_server) -> Path:
    return Path(shutil.copytree(scored, tmp_path / "out"))


def edited_lexicons(tmp_path: Path) -> Path:
    """A QA team's edit: 大概 is no longer vague (off), and 保单 said by the agent counts as colloquial."""
    lexicons = Path(shutil.copytree(ROOT / "lexicons", tmp_path / "lexicons"))
    rules = yaml.safe_load((lexicons / "rules.yaml").read_text(encoding="utf-8"))
    rules["forbidden.vague"]["enabled"] = False
    (lexicons / "rules.yaml").write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    forbidden = yaml.safe_load((lexicons / "forbidden.yaml").read_text(encoding="utf-8"))
    forbidden["forbidden.colloquial"]["phrases"].append("电话号码没变")
    (lexicons / "forbidden.yaml").write_text(yaml.safe_dump(forbidden, allow_unicode=True), encoding="utf-8")
    return lexicons


def results(out: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted((out / "results").glob("*.json"))}


def test_nothing_to_do_when_nothing_changed(out):
    before = results(out)
    report = rescore(str(out), ResultStore(out).call_ids())
    assert report.counts() == {"scored": 0, "current": 5, "failed": 0} and report.tabled == 0
    assert results(out) == before


def test_dry_run_then_rescore_after_a_lexicon_edit(out, tmp_path):
    lexicons = edited_lexicons(tmp_path)
    before = results(out)
    vague_calls = [c for c, r in before.items() if any(f["rule"] == "forbidden.vague" for f in r["findings"])]
    phone_calls = [c for c, r in before.items()
                   if any("电话号码没变" in s["text"] for s in json.loads((out / "transcripts" / f"{c}.json").read_text(
                       encoding="utf-8"))["segments"] if s["speaker"] == "agent")]
    assert vague_calls and phone_calls

    dry = CliRunner().invoke(main, ["rescore", "--results", str(out), "--lexicons", str(lexicons), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "5 calls selected: 5 would be scored again" in dry.output
    assert re.search(rf"forbidden\.vague\s+\+0\s+-{len(vague_calls)}\b", dry.output)
    assert re.search(rf"forbidden\.colloquial\s+\+{len(phone_calls)}\s+-0\b", dry.output)
    assert results(out) == before  # nothing written

    real = CliRunner().invoke(main, ["rescore", "--results", str(out), "--lexicons", str(lexicons)])
    assert real.exit_code == 0, real.output
    after = results(out)
    for call_id, result in after.items():
        rules = {f["rule"] for f in result["findings"]}
        assert "forbidden.vague" not in rules
        assert ("forbidden.colloquial" in rules) == (call_id in phone_calls)
        assert result["scoring"]["lexicon_fingerprint"] != before[call_id]["scoring"]["lexicon_fingerprint"]
    # the tables give the newest scoring of each call, once
    calls = Tables(out).calls.collect()
    assert calls.height == 5 and set(calls["run_id"]) == {run_of(r) for r in after.values()}
    assert "5 added to the tables" in real.output
    # the same edit again: every result is current
    again = CliRunner().invoke(main, ["rescore", "--results", str(out), "--lexicons", str(lexicons)])
    assert "0 were scored again, 5 already current" in again.output


def test_filters_select_the_calls_rescored(out, tmp_path):
    lexicons = edited_lexicons(tmp_path)
    agent = json.loads((out / "results" / "stereo_clean.json").read_text(encoding="utf-8"))["agent_id"]
    result = CliRunner().invoke(main, ["rescore", "--results", str(out), "--lexicons", str(lexicons),
                                       "--agent", agent])
    assert result.exit_code == 0, result.output
    n = sum(1 for r in results(out).values() if r["agent_id"] == agent)
    assert f"{n} calls selected: {n} were scored again" in result.output


def test_a_verdict_flip_is_reported(out, tmp_path):
    lexicons = Path(shutil.copytree(ROOT / "lexicons", tmp_path / "lexicons"))
    rules = yaml.safe_load((lexicons / "rules.yaml").read_text(encoding="utf-8"))
    failed = [c for c, r in results(out).items() if not r["passed"]]
    assert failed
    for rule in rules.values():  # nothing fails a call any more
        if rule["severity"] == "critical":
            rule["severity"] = "major"
    (lexicons / "rules.yaml").write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    result = CliRunner().invoke(main, ["rescore", "--results", str(out), "--lexicons", str(lexicons)])
    for call_id in failed:
        assert f"verdict flipped: {call_id}: FAIL → PASS" in result.output
    assert f"{len(failed)} calls changed verdict" in result.output


def test_decisions_follow_the_rescored_findings(out, tmp_path):
    call_id = "stereo_agent_right_issues"
    before = results(out)[call_id]
    store = ReviewStore(tmp_path / "reviews.sqlite3")
    findings = before["findings"]
    vague = next(i for i, f in enumerate(findings) if f["rule"] == "forbidden.vague")
    cut_in = next(i for i, f in enumerate(findings) if f["rule"] == "dynamics.interruption")
    for i, verdict in ((vague, "false_positive"), (cut_in, "confirmed")):
        store.add(Review(call_id, finding_key(i, findings[i]), findings[i]["rule"], verdict, "复核意见",
                         "王", run_of(before)).on(findings[i]))
    # re-scored: 大概 no longer counts, and a new major finding at the opening comes before the interruption
    lexicons = edited_lexicons(tmp_path)
    forbidden = yaml.safe_load((lexicons / "forbidden.yaml").read_text(encoding="utf-8"))
    forbidden["forbidden.shirk"]["phrases"].append("您好")
    (lexicons / "forbidden.yaml").write_text(yaml.safe_dump(forbidden, allow_unicode=True), encoding="utf-8")
    rescore(str(out), [call_id], str(lexicons))
    after = results(out)[call_id]
    assert run_of(after) != run_of(before)
    keys = [finding_key(i, f) for i, f in enumerate(after["findings"])]
    placed = store.for_scoring(call_id, after["findings"], run_of(after), keys)
    moved = next(k for k, f in zip(keys, after["findings"], strict=True) if f["rule"] == "dynamics.interruption")
    assert moved != finding_key(cut_in, findings[cut_in])  # the finding moved in the list…
    assert placed.on_findings[moved].verdict == "confirmed" and moved in placed.carried  # …its decision followed
    assert [(r.rule, r.verdict) for r in placed.earlier] == [("forbidden.vague", "false_positive")]
    assert len(store.history(call_id)) == 2  # nothing rewritten


def test_a_newer_decision_wins_and_an_unplaceable_one_is_earlier():
    f = {"rule": "forbidden.vague", "item": None, "start": 10.0, "end": 10.8}
    old = Review("c", "0:forbidden.vague:10.0", "forbidden.vague", "confirmed", run_id="r1", id=1).on(f)
    new = Review("c", "3:forbidden.vague:10.1", "forbidden.vague", "false_positive", run_id="r2", id=2).on(
        dict(f, start=10.1))
    legacy = Review("c", "1:rate.too_fast:5.0", "rate.too_fast", "appeal", run_id="r0", id=0)  # no span recorded
    moved = dict(f, start=10.05, end=10.9)
    placed = apply_to_scoring([legacy, old, new], [moved], "r3", ["0:forbidden.vague:10.05"])
    assert placed.on_findings["0:forbidden.vague:10.05"].verdict == "false_positive"
    assert [r.verdict for r in placed.earlier] == ["appeal"]
