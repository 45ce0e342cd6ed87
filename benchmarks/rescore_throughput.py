"""`callqa rescore` against `callqa check` on the same 1,000 stored transcripts.

A QA team's loop is: a false alarm, a lexicon edit, the effect on last week's calls. This measures that
loop's cost: 1,000 different 5-minute calls are stored as a `callqa run` output folder; then, each as a
whole process, (a) `callqa check` scores the transcript files (the baseline: the engine alone, reading
each file) and (b) `callqa rescore --all` scores the stored transcripts again and writes results and
tables through the scoring flow. In-process figures beside them separate the flow's own cost from the
process start.

    python benchmarks/rescore_throughput.py [--calls 1000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from qa_throughput import make_calls  # noqa: E402

from callqa.model import transcript_from_dict  # noqa: E402
from pipelines.scoring import score_transcript  # noqa: E402
from results.store import ResultStore  # noqa: E402

CALLQA = [sys.executable, "-m", "callqa"]


def build(out: Path, calls: int) -> Path:
    """A run output folder of `calls` stored transcripts, each scored once, and the same transcripts as
    plain files for `callqa check`."""
    store = ResultStore(out)
    files = out.parent / "transcripts-for-check"
    files.mkdir(parents=True, exist_ok=True)
    for k, raw in enumerate(make_calls(calls, 5.0)):
        transcript = transcript_from_dict(__import__("json").loads(raw))
        transcript.call_id = f"B{k:05d}"
        sha = store.save_transcript(transcript)
        store.save_result(transcript.call_id, score_transcript(transcript, sha, None, "20260101T000000-seed"))
        (files / f"B{k:05d}.json").write_bytes(store.transcript_path(transcript.call_id).read_bytes())
    store.sync_tables("20260101T000000-seed")
    return files


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr[-2000:]}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    env = dict(os.environ, PREFECT_LOGGING_LEVEL="WARNING", PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        t0 = time.perf_counter()
        files = build(out, args.calls)
        print(f"{args.calls} stored 5-minute calls built in {time.perf_counter() - t0:.1f} s")
        check, rescore = [], []
        for _ in range(args.runs):  # paired and alternating, so drift hits both alike
            check.append(timed([*CALLQA, "check", str(files), "--json"], env))
            rescore.append(timed([*CALLQA, "rescore", "--results", str(out), "--all"], env))
        c, r = statistics.median(check), statistics.median(rescore)
        print(f"callqa check   (baseline, {args.runs} runs): median {c:.1f} s, {args.calls / c:.0f} calls/s")
        print(f"callqa rescore ({args.runs} runs): median {r:.1f} s, {args.calls / r:.0f} calls/s "
              "(reads transcripts, scores, writes results and tables)")
        print(f"ratio rescore/check: {r / c:.2f} (per run: {', '.join(f'{b / a:.2f}' for a, b in zip(check, rescore, strict=True))})")


if __name__ == "__main__":
    main()
