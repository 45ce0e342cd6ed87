"""Time to check one transcript against its size: the rulebook must grow linearly (or n log n), never n².

Two shapes that used to be quadratic:

- one agent segment of 2,000–32,000 characters full of forbidden phrases (a hit every few characters,
  all in one sentence): every hit asked about its sentence, its exceptions, the places already taken;
- a call of 2,000–200,000 segments (5-minute callbacks run end to end: every question, answer and
  turn asked about the rest of the call).

The baseline, measured in the same run on the same input, is reading it: parsing the JSON into the
transcript model and normalising every segment's text (linear by construction, and the first thing a
check does). A steady ratio of check to read as the size grows is linear growth; the last two columns
give how much the time grew against how much the input grew from the first size. Text caches are
emptied before each measurement.

    python benchmarks/qa_scaling.py [--segments 2000,8000,32000,200000] [--chars 2000,8000,32000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from qa_throughput import make_calls

from callqa.model import transcript_from_dict
from callqa.transcripts import MAX_BYTES
from qa_checks import check_call, load_lexicon
from qa_checks.textnorm import normalize

# forbidden phrases of several categories, one negated, one in a question, with no sentence end
HITS = "大概可能我不知道,您听我说,这个我不清楚,不是大概,您大概几点方便,保证收益,"


def one_segment(chars: int) -> str:
    text = (HITS * (chars // len(HITS) + 1))[:chars]
    return json.dumps({"call_id": f"ONE-{chars}", "questionnaire": "traditional",
                       "segments": [{"speaker": "agent", "start": 0.0, "end": chars / 3.0, "text": text}]},
                      ensure_ascii=False)


def many_segments(n: int, pool: list[dict]) -> str:
    """`n` segments: whole 5-minute calls one after the other, each shifted to start where the last ended."""
    segments: list[dict] = []
    offset = 0.0
    k = 0
    while len(segments) < n:
        call = pool[k % len(pool)]
        k += 1
        for s in call["segments"][: n - len(segments)]:
            segments.append({**s, "start": round(s["start"] + offset, 2), "end": round(s["end"] + offset, 2)})
        offset = segments[-1]["end"] + 1.0
    return json.dumps({"call_id": f"MANY-{n}", "questionnaire": "traditional", "segments": segments},
                      ensure_ascii=False)


def measure(raw: str, lex) -> tuple[float, float, int]:  # type: ignore[no-untyped-def]
    """Seconds to read (parse and normalise), seconds to parse and check, and findings: the best of a few
    repetitions while a check takes under a second (a shared machine's noise swamps a 20 ms figure)."""
    best_read = best_check = float("inf")
    findings = 0
    for _ in range(5):
        lex.clear_caches()
        t0 = time.perf_counter()
        for seg in transcript_from_dict(json.loads(raw)).segments:
            normalize(seg.text)
        best_read = min(best_read, time.perf_counter() - t0)
        lex.clear_caches()
        t0 = time.perf_counter()
        findings = len(check_call(transcript_from_dict(json.loads(raw)), lex).findings)
        best_check = min(best_check, time.perf_counter() - t0)
        if best_check > 1.0:
            break
    return best_read, best_check, findings


def report(label: str, unit: str, sizes: list[int], make, lex) -> None:  # type: ignore[no-untyped-def]
    print(f"\n{label}")
    print(f"{unit:>10} {'MB':>6} {'read s':>8} {'check s':>8} {'check/read':>12} {'findings':>9} {'time grew':>10} "
          f"{'size grew':>10}")
    first: tuple[int, float] | None = None
    for n in sizes:
        raw = make(n)
        size = len(raw.encode())
        if size > MAX_BYTES:
            print(f"{n:>10} {size / 1e6:>6.1f}  over the {MAX_BYTES / 1e6:.0f} MB limit for one call: skipped")
            continue
        read, check, findings = measure(raw, lex)
        first = first or (n, check)
        print(f"{n:>10} {size / 1e6:>6.1f} {read:>8.3f} {check:>8.3f} {check / read:>12.1f} {findings:>9} "
              f"{check / first[1]:>9.1f}x {n / first[0]:>9.1f}x", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--segments", default="2000,8000,32000,200000")
    ap.add_argument("--chars", default="2000,8000,32000")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    lex = load_lexicon()
    pool = [json.loads(r) for r in make_calls(40, 5.0)]
    check_call(transcript_from_dict(pool[0]), lex)  # jieba's dictionary, loaded once
    report("one agent segment full of forbidden phrases", "chars", [int(x) for x in args.chars.split(",")],
           one_segment, lex)
    report("5-minute calls end to end in one transcript", "segments", [int(x) for x in args.segments.split(",")],
           lambda n: many_segments(n, pool), lex)


if __name__ == "__main__":
    main()
