"""Load on loopback: 200 concurrent requests and 20 concurrent decisions, every one answered, none lost.
Correctness only: the bounds on time are generous (latencies are measured in benchmarks/webapp_load.py)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from workspacedata import TEAM_CALL, USERS, Site, changes, make_site

CONCURRENT_READS = 200
CONCURRENT_DECISIONS = 20


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    s = make_site(tmp_path_factory.mktemp("load"))
    yield s
    s.stop()


def test_200_concurrent_requests_and_20_concurrent_decisions_all_answered(site: Site) -> None:
    reader, writer = site.client("qa_lead"), site.client("analyst")
    result = json.loads((site.out / "results" / f"{TEAM_CALL}.json").read_text(encoding="utf-8"))
    findings = [(f"{i}:{f['rule']}:{f.get('start')}", f["rule"]) for i, f in enumerate(result["findings"])]
    paths = [f"/calls/{TEAM_CALL}.html", f"/api/reviews?call_id={TEAM_CALL}", f"/audio/{TEAM_CALL}", "/cases", "/"]
    before = len(site.workspace.decisions.history(TEAM_CALL))
    audio_before = site.workspace.audit.count("audio")

    async def run() -> tuple[list[int], list[int]]:
        limits = httpx.Limits(max_connections=CONCURRENT_READS + CONCURRENT_DECISIONS, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=site.base, cookies=reader.cookies, limits=limits, timeout=120) as r, \
                httpx.AsyncClient(base_url=site.base, cookies=writer.cookies, limits=limits, timeout=120) as w:
            reads = [r.get(paths[i % len(paths)], headers={"Range": "bytes=0-65535"} if "audio" in paths[i % len(paths)]
                           else {}) for i in range(CONCURRENT_READS)]
            writes = []
            for n in range(CONCURRENT_DECISIONS):
                key, rule = findings[n % len(findings)]
                writes.append(w.post("/api/reviews", headers=changes(writer), json={
                    "call_id": TEAM_CALL, "finding_key": key, "rule": rule,
                    "verdict": "confirmed" if n % 2 else "false_positive", "comment": f"第{n}条"}))
            answers = await asyncio.gather(*reads, *writes)
        return [a.status_code for a in answers[:CONCURRENT_READS]], [a.status_code for a in answers[CONCURRENT_READS:]]

    reads, writes = asyncio.run(run())
    assert reads.count(200) + reads.count(206) == CONCURRENT_READS, sorted(set(reads))
    assert writes == [201] * CONCURRENT_DECISIONS
    stored = site.workspace.decisions.history(TEAM_CALL)[before:]
    assert sorted(r.comment for r in stored) == sorted(f"第{n}条" for n in range(CONCURRENT_DECISIONS))
    assert all(r.reviewer == USERS["analyst"][0] for r in stored)
    audio_requests = sum(1 for i in range(CONCURRENT_READS) if "audio" in paths[i % len(paths)])
    assert site.workspace.audit.count("audio") - audio_before == audio_requests
    decisions = [a for a in site.workspace.audit.rows(action="decision", limit=CONCURRENT_DECISIONS)]
    assert len(decisions) == CONCURRENT_DECISIONS
