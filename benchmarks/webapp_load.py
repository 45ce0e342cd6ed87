"""The review workspace under load on loopback: latency of 200 concurrent requests and 20 concurrent decisions.

The app (uvicorn, SQLite workspace) serves the five audio fixtures' output folder in a process of its own;
a client process fires every request of a burst at once, each on its own connection, and the burst repeats
`--rounds` times. Each kind of
request is measured against the baseline of the same run: the same burst of `/healthz`, which touches no
table, template or database, so the ratio is what the page or decision itself costs under that load.

    python benchmarks/webapp_load.py [--rounds 3] [--requests 200] [--decisions 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from workspacedata import TEAM_CALL, changes, make_site  # noqa: E402


async def burst(base: str, cookies: httpx.Cookies, requests: list[tuple[str, str, dict, dict | None]]) -> list[float]:
    """Fire every request at once; returns each one's seconds (raises on an unexpected status)."""
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, cookies=cookies, limits=limits, timeout=300) as client:
        async def one(method: str, path: str, headers: dict, body: dict | None) -> float:
            t0 = time.perf_counter()
            r = await client.request(method, path, headers=headers, json=body)
            if r.status_code not in (200, 201, 206):
                raise SystemExit(f"{method} {path}: {r.status_code} {r.text[:200]}")
            return time.perf_counter() - t0

        return await asyncio.gather(*(one(*req) for req in requests))


def figures(times: list[float]) -> tuple[float, float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))], ordered[-1]


def serve() -> None:
    """The server side: the site, two logged-in users, their cookies on stdout; runs until stdin closes."""
    with tempfile.TemporaryDirectory() as tmp:
        site = make_site(Path(tmp))
        reader, writer = site.client("qa_lead"), site.client("analyst")
        result = json.loads((site.out / "results" / f"{TEAM_CALL}.json").read_text(encoding="utf-8"))
        print(json.dumps({"base": site.base, "reader": dict(reader.cookies), "writer": dict(writer.cookies),
                          "writer_headers": changes(writer),
                          "findings": [(f"{i}:{f['rule']}:{f.get('start')}", f["rule"])
                                       for i, f in enumerate(result["findings"])]}), flush=True)
        sys.stdin.read()
        print(len(site.workspace.decisions.history(TEAM_CALL)), flush=True)
        site.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--decisions", type=int, default=20)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        info = json.loads(server.stdout.readline())
        base, reader, writer = info["base"], httpx.Cookies(info["reader"]), httpx.Cookies(info["writer"])
        findings = info["findings"]
        kinds = {
            "/healthz (baseline)": ("GET", "/healthz", {}, None),
            "review page": ("GET", f"/calls/{TEAM_CALL}.html", {}, None),
            "decisions API (GET)": ("GET", f"/api/reviews?call_id={TEAM_CALL}", {}, None),
            "audio, 64 KiB range": ("GET", f"/audio/{TEAM_CALL}", {"Range": "bytes=0-65535"}, None),
            "queue page": ("GET", "/", {}, None),
        }
        print(f"{args.requests} concurrent requests per burst, {args.rounds} bursts per kind; seconds per request")
        base_p50 = None
        for name, req in kinds.items():
            times: list[float] = []
            walls = []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                times += asyncio.run(burst(base, reader, [req] * args.requests))
                walls.append(time.perf_counter() - t0)
            p50, p95, worst = figures(times)
            base_p50 = base_p50 or p50
            print(f"  {name:24s} p50 {p50:6.3f}  p95 {p95:6.3f}  max {worst:6.3f}  burst {statistics.median(walls):6.2f} s"
                  f"  p50 ratio to baseline {p50 / base_p50:5.1f}")
        times, walls = [], []
        for r in range(args.rounds):
            reqs = []
            for n in range(args.decisions):
                key, rule = findings[n % len(findings)]
                reqs.append(("POST", "/api/reviews", info["writer_headers"], {
                    "call_id": TEAM_CALL, "finding_key": key, "rule": rule, "verdict": "confirmed",
                    "comment": f"round {r} decision {n}"}))
            t0 = time.perf_counter()
            times += asyncio.run(burst(base, writer, reqs))
            walls.append(time.perf_counter() - t0)
        p50, p95, worst = figures(times)
        server.stdin.close()
        stored = int(server.stdout.readline())
        print(f"{args.decisions} concurrent decisions per burst: p50 {p50:.3f}  p95 {p95:.3f}  max {worst:.3f} s, "
              f"burst {statistics.median(walls):.2f} s, p50 ratio to /healthz {p50 / (base_p50 or p50):.1f}; "
              f"{stored} of {args.decisions * args.rounds} stored")
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
