"""The same batch with one worker and with two, through a real Prefect server on loopback.

A batch of short stereo recordings (cut from the audio fixtures, each different) is submitted in slices
with `callqa submit --wait` to the deployment `callqa deploy` made; process workers (`prefect worker
start --pool callqa --limit 1`) take the slices. Measured per configuration, in the same run: the wall
time from submission to the last slice's end (`submit --wait`), and from the slices' own reports
(out/runs/*.json) the time spent inside the slice flows; the difference is what each slice pays outside
its flow (scheduling, the flow-run process's start-up). The baseline is one worker; the figure is its
wall time over two workers' wall time on the same calls. The embedded `callqa run` of the same batch
(one process, temporary server) is measured beside them. Each configuration writes its own output
folder, so no configuration finds another's transcripts in the stage cache.

    python benchmarks/scale_out.py [--calls 8] [--slice 2] [--clip-s 10]

Needs the speech models (CALLQA_MODELS); it starts its own Prefect server on loopback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import soundfile as sf  # noqa: E402
from servers import Process, prefect_server, tail  # noqa: E402

FIXTURES = ROOT / "audio_fixtures"
SOURCES = ["stereo_clean.wav", "stereo_fast_loud.flac", "stereo_agent_right_issues.flac"]


def make_batch(folder: Path, calls: int, clip_s: int) -> float:
    """`calls` different clips of `clip_s` seconds; returns the seconds of audio."""
    folder.mkdir(parents=True)
    total = 0.0
    for k in range(calls):
        data, rate = sf.read(FIXTURES / SOURCES[k % 3])
        start = (k // 3) * clip_s * rate
        clip = data[start : start + clip_s * rate]
        sf.write(folder / f"20261116T1000{k:02d}_A0{17 + k % 2}_bench{k:02d}.flac", clip, rate)
        total += len(clip) / rate
    return total


def callqa(env: dict[str, str], *args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "callqa", *args], env={**env, "COLUMNS": "200"}, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def seconds(a: str, b: str) -> float:
    return (dt.datetime.fromisoformat(b) - dt.datetime.fromisoformat(a)).total_seconds()


def distributed(env: dict[str, str], home: Path, recordings: Path, workers: int, size: int) -> dict[str, float]:
    out = home / f"out-{workers}"
    done = callqa(env, "deploy", "--storage", str(out))
    assert done.returncode == 0, done.stderr
    started = [Process([sys.executable, "-m", "prefect", "worker", "start", "--pool", "callqa", "--type", "process",
                        "--limit", "1", "--name", f"bench-{workers}-{i}"], env, home / f"w{workers}-{i}.log", home)
               for i in range(workers)]
    try:
        time.sleep(15)  # the workers are up and polling before the clock starts
        t0 = time.perf_counter()
        run = callqa(env, "submit", str(recordings), "--out", str(out), "--slice", str(size), "--wait", "1700")
        wall = time.perf_counter() - t0
        assert run.returncode == 0, run.stdout + run.stderr + "\n".join(tail(w.log) for w in started)
    finally:
        for w in started:
            w.stop()
    reports = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((out / "runs").glob("*.json"))]
    in_slice = sum(seconds(r["started_at"], r["finished_at"]) for r in reports)
    return {"wall": wall, "slices": len(reports), "in_slice": in_slice,
            "workers_used": len({r["worker"]["worker_pid"] for r in reports})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=8)
    parser.add_argument("--slice", type=int, default=2)
    parser.add_argument("--clip-s", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="callqa-scale-") as tmp:
        home = Path(tmp)
        audio = make_batch(home / "recordings", args.calls, args.clip_s)
        print(f"batch: {args.calls} calls, {audio:.0f} s of audio, slices of {args.slice}; {os.cpu_count()} cores")
        with prefect_server(home) as env:
            env = {**env, "PREFECT_WORKER_QUERY_SECONDS": "2", "PREFECT_WORKER_PREFETCH_SECONDS": "2",
                   "CALLQA_MODELS": os.environ.get("CALLQA_MODELS", str(ROOT / "models"))}
            one = distributed(env, home, home / "recordings", 1, args.slice)
            two = distributed(env, home, home / "recordings", 2, args.slice)
        t0 = time.perf_counter()
        embedded = callqa({k: v for k, v in env.items() if not k.startswith("PREFECT_")}, "run",
                          str(home / "recordings"), "--out", str(home / "out-embedded"), "--no-review")
        embedded_s = time.perf_counter() - t0
        assert embedded.returncode == 0, embedded.stderr
    for name, r in (("1 worker", one), ("2 workers", two)):
        print(f"{name}: {r['wall']:.1f} s wall for {r['slices']} slices on {r['workers_used']} worker(s); "
              f"{audio / r['wall']:.2f} audio s per wall s; slice processes busy {r['in_slice']:.1f} s in all")
    print(f"callqa run (one process, the embedded default): {embedded_s:.1f} s, {audio / embedded_s:.2f} audio s per wall s")
    print(f"speed-up of 2 workers over 1 (baseline): {one['wall'] / two['wall']:.2f}x; "
          f"1 worker against callqa run: {embedded_s / one['wall']:.2f}x")


if __name__ == "__main__":
    main()
