"""Scorecard cost at a year's scale: time and peak memory over synthetic result tables.

Generates (seeded, vectorised) call and finding rows in the real table schemas as weekly run folders
`tables/run-<id>/{calls,findings}.parquet` over 52 weeks, ~200 agents in ~20 teams, rules drawn from
the rule catalogue with realistic frequencies, scores derived from the findings as the engine scores
them, and a share of calls re-scored in a later run (readers must keep only the newest). Then measures,
each in a fresh process so the peak resident memory belongs to that step alone:

    (a) baseline   a lazy scan that only counts the rows of both tables
    (a') for scale: one pass over every column the scorecard reads, for the whole year, no dedup
    (b) scorecard  build_scorecard for one week with its trend
    (c) write      build, then write HTML + Excel + CSV (time of the writing; peak of the whole process)

    python benchmarks/scorecard_scale.py [--calls 1000000] [--findings 5000000] [--dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reports.queue import queue_frame
from reports.scorecard import DIMENSIONS, build_scorecard, rule_catalogue
from reports.scorecard_files import write_all
from reports.tables import Filters, Tables, parse_week, scan_table
from results.schema import CALL_COLUMNS, FINDING_COLUMNS

WEEKS = 52
FIRST_MONDAY = dt.date(2025, 12, 1)  # 2025-W49 … 2026-W48: 2026-W47 has eight weeks before it and one after
TEAMS = 20
AGENTS = 200
RESCORED = 0.02  # share of call rows that are a later re-scoring of an earlier call
# relative frequency of each rule among findings (fillers and vague words are common; 一票否决 is rare)
FREQUENCY = {
    "forbidden.filler": 20, "forbidden.vague": 10, "courtesy.thanks": 8, "closing.standard": 8,
    "forbidden.colloquial": 8, "courtesy.honorific": 6, "dynamics.dead_air": 6, "dynamics.interruption": 5,
    "rate.mismatch": 4, "rate.too_fast": 4, "question.unconfirmed": 4, "forbidden.slang": 3, "rate.too_slow": 2,
    "opening.self_id": 2, "opening.consent": 2, "identity.weak": 2, "forbidden.excuse": 1.5, "question.merged": 1.5,
    "handling.no_appointment": 1.5, "question.negative_answer": 1.5, "forbidden.shirk": 1, "forbidden.cut_off": 1,
    "question.order": 1, "handling.no_soothing": 1, "dynamics.loud": 1, "question.skipped": 1.2,
    "alert.surrender": 0.8, "alert.complaint": 0.5, "forbidden.inducement": 0.5, "identity.sensitive_request": 0.5,
    "forbidden.blame": 0.4, "forbidden.promise": 0.3, "identity.missing": 0.3, "alert.misleading_sale": 0.3,
    "identity.third_party": 0.2,
}
WEIGHTS = {"critical": 40.0, "major": 10.0, "minor": 4.0, "info": 0.0}
PER_RULE_CAP = 2
QUESTIONNAIRES = ["traditional", "participating", "universal", "traditional+participating"]
EVIDENCE = ["这个您放心,肯定没问题", "嗯那个就是说", "您这个应该是可以的吧", "我们这边不负责这个", "您听我说完",
            "我要退保", "当时说的是存款", "我要投诉你们", "那个那个", "回头再说吧"]


def run_id_of(week: int) -> str:
    """Each week's calls are scored by a run early the next Monday; ids sort in time order."""
    day = FIRST_MONDAY + dt.timedelta(days=7 * (week + 1))
    return f"{day:%Y%m%d}T020000-wk{week:02d}"


def _hex(rng: np.random.Generator, n: int, digits: int) -> pl.Series:
    chars = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[rng.integers(0, 16, (n, digits))]
    return pl.Series(np.ascontiguousarray(chars).view(f"S{digits}").ravel()).cast(pl.Utf8)


def _pick(values: list[str] | np.ndarray, index: np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(values, dtype=object)[index], dtype=pl.Utf8)


def generate(root: Path, n_calls: int, n_findings: int, seed: int = 20261116) -> None:
    rng = np.random.default_rng(seed)
    catalogue = rule_catalogue()
    rules = [r for r in FREQUENCY if r in catalogue]
    freq = np.array([FREQUENCY[r] for r in rules], dtype=float)
    kind = np.array([catalogue[r]["kind"] for r in rules])
    severity = np.array([catalogue[r]["severity"] for r in rules])
    dimension = np.array([catalogue[r]["dimension"] for r in rules])
    weight = np.array([WEIGHTS[s] for s in severity])
    deducts = np.where(kind == "violation", weight, 0.0)  # alerts never lower the score
    critical = (kind == "violation") & (severity == "critical")

    # calls: unique ones over the year, then re-scorings of earlier ones in the following week's run
    n_rescored = int(n_calls * RESCORED)
    n_unique = n_calls - n_rescored
    week = np.sort(rng.integers(0, WEEKS, n_unique))
    agent = rng.integers(0, AGENTS, n_unique)
    seconds = rng.integers(0, 7, n_unique) * 86400 + rng.integers(8 * 3600, 20 * 3600, n_unique)
    again = rng.choice(np.flatnonzero(week < WEEKS - 1), n_rescored, replace=False)
    src = np.concatenate([np.arange(n_unique), again])  # row -> the unique call it scores
    run_week = np.concatenate([week, week[again] + 1])
    n = n_calls
    agent_row = agent[src]

    # findings: each assigned to a call row, more to weaker agents and in some weeks of the year
    skill = rng.lognormal(0.0, 0.35, AGENTS)
    season = 1 + 0.15 * np.sin(week[src] / WEEKS * 2 * np.pi * 3)
    p = skill[agent_row] * season
    owner = np.sort(rng.choice(n, n_findings, p=p / p.sum()))
    rule_idx = rng.choice(len(rules), n_findings, p=freq / freq.sum())

    # score as the engine does: a rule deducts at most PER_RULE_CAP times its weight; a critical one fails
    per_rule = pl.DataFrame({"row": owner, "r": rule_idx}).group_by("row", "r").agg(pl.len().alias("k"))
    r = per_rule["r"].to_numpy()
    per_rule = per_rule.with_columns(
        (pl.min_horizontal(pl.col("k"), PER_RULE_CAP) * pl.Series(deducts[r])).alias("ded"),
        pl.Series("dim", dimension[r]), pl.Series("crit", critical[r]))
    lost = per_rule.group_by("row").agg(
        pl.col("ded").sum().alias("all"), pl.col("crit").any(),
        *(pl.col("ded").filter(pl.col("dim") == d).sum().alias(d) for d in DIMENSIONS))
    lost = pl.DataFrame({"row": np.arange(n)}).join(lost, on="row", how="left").fill_null(0).sort("row")

    rate = rng.normal(rng.normal(132, 12, AGENTS)[agent_row], 14).round(1)
    duration = (rng.gamma(6, 50, n) + 60).round(1)
    started = (np.datetime64(FIRST_MONDAY, "s") + (week[src] * 7 * 86400 + seconds[src]).astype("timedelta64[s]"))\
        .astype("datetime64[ms]")
    team_names = [f"回访{t + 1:02d}组" for t in range(TEAMS)]
    agent_team = np.arange(AGENTS) * TEAMS // AGENTS
    run_ids = [run_id_of(w) for w in range(WEEKS + 1)]
    calls = pl.DataFrame({
        "call_id": pl.Series(src), "agent_id": pl.Series(agent_row + 1),
        "team": _pick(team_names, agent_team[agent_row]),
        "started_at": pl.Series(started).dt.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
        "questionnaire": _pick(QUESTIONNAIRES, rng.integers(0, len(QUESTIONNAIRES), n)),
        "score": np.maximum(0.0, 100.0 - lost["all"].to_numpy()),
        "passed": ~lost["crit"].to_numpy().astype(bool),
        **{d: np.maximum(0.0, 100.0 - lost[d].to_numpy()) for d in DIMENSIONS},
        "n_findings": np.bincount(owner, minlength=n),
        "n_critical": np.bincount(owner, weights=critical[rule_idx], minlength=n),
        "n_alerts": np.bincount(owner, weights=kind[rule_idx] == "alert", minlength=n),
        "duration": duration, "agent_chars_per_min": np.where(rng.random(n) < 0.01, np.nan, rate),
        "customer_chars_per_min": rng.normal(150, 25, n).round(1), "thanks_count": rng.poisson(3, n),
        "talk_ratio": rng.beta(6, 4, n), "items_asked": rng.integers(8, 13, n), "items_total": np.full(n, 12),
        "role_confidence": rng.beta(20, 1, n), "separation": _pick(["stereo", "mono"], (rng.random(n) < 0.3) * 1),
        "audio_sha256": _hex(rng, n, 64), "run_id": _pick(run_ids, run_week), "run_week": run_week,
    }).with_columns(
        pl.format("C{}", pl.col("call_id").cast(pl.Utf8).str.zfill(8)).alias("call_id"),
        pl.format("A{}", pl.col("agent_id").cast(pl.Utf8).str.zfill(3)).alias("agent_id"),
        pl.col("agent_chars_per_min").fill_nan(None),
    ).with_columns(pl.format("recordings/{}/{}.wav", pl.col("started_at").str.slice(0, 10), pl.col("call_id"))
                   .alias("recording"))
    calls = calls.select(*CALL_COLUMNS, "run_week").cast(CALL_COLUMNS)

    start = rng.random(n_findings) * duration[owner]
    item = rng.integers(0, 13, n_findings) * (rng.random(n_findings) < 0.2)  # 0: not about a question item
    findings = calls.select("call_id", "agent_id", "team", "started_at", "recording", "run_id", "run_week")[owner]
    findings = findings.with_columns(
        _pick(rules, rule_idx).alias("rule"), _pick(kind, rule_idx).alias("kind"),
        _pick(severity, rule_idx).alias("severity"), _pick(dimension, rule_idx).alias("dimension"),
        pl.when(pl.Series(item) > 0).then(pl.format("q{}", pl.Series(item))).alias("item"),
        _pick(["agent", "customer"], (kind[rule_idx] == "alert") * 1).alias("speaker"),
        pl.Series("start", start.round(2)), pl.Series("end", (start + rng.gamma(2, 1.5, n_findings)).round(2)),
        _pick(EVIDENCE, rng.integers(0, len(EVIDENCE), n_findings)).alias("evidence"),
        pl.Series("weight", weight[rule_idx]),
    ).with_columns(pl.col("rule").alias("message"))
    findings = findings.select(*FINDING_COLUMNS, "run_week").cast(FINDING_COLUMNS)

    tables = root / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    finding_parts = findings.partition_by("run_week", as_dict=True, include_key=False)
    for (w,), part in calls.partition_by("run_week", as_dict=True, include_key=False).items():
        folder = tables / f"run-{run_ids[int(w)]}"
        folder.mkdir(exist_ok=True)
        part.write_parquet(folder / "calls.parquet")
        finding_parts.get((w,), pl.DataFrame(schema=FINDING_COLUMNS)).write_parquet(folder / "findings.parquet")


# ---- measurements, one per process --------------------------------------------------------------


def _peak_mib() -> tuple[float, float | None]:
    """ru_maxrss (KiB on Linux), and VmHWM as a cross-check: Linux carries the parent's high-water mark
    into ru_maxrss across fork and exec, so the parent is kept small (it generates nothing itself)."""
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    try:
        hwm = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM"))
        return maxrss, int(hwm.split()[1]) / 1024
    except (OSError, StopIteration):
        return maxrss, None


def measure(step: str, root: Path, week: str, weeks_back: int) -> dict[str, float | int]:
    t0 = time.perf_counter()
    out: dict[str, float | int] = {}
    if step == "baseline":
        calls, findings = pl.collect_all([scan_table(root, "calls").select(pl.len()),
                                          scan_table(root, "findings").select(pl.len())])
        out.update(call_rows=int(calls.item()), finding_rows=int(findings.item()))
    elif step == "read":
        text = ("call_id", "run_id", "started_at", "team", "agent_id")  # touched, not hashed: a plain read
        calls, findings = pl.collect_all([
            scan_table(root, "calls").select(pl.col(*text).str.len_bytes().sum(),
                                             pl.col("passed", "score", *DIMENSIONS, "agent_chars_per_min").sum()),
            scan_table(root, "findings").select(pl.col(*text, "rule", "kind", "severity").str.len_bytes().sum())])
        out.update(calls=calls.width, findings=findings.width)
    elif step == "scorecard":
        sc = build_scorecard(Tables(root), week, weeks_back)
        out.update(agents=sc.agents.height, week_calls=int(sc.overall["calls"][0]))
    elif step == "queue":  # the analysts' queue for the same week, worst first, with its filters' data
        frame = queue_frame(Tables(root), Filters(week=week))
        out.update(rows=frame.height)
    elif step == "write":
        sc = build_scorecard(Tables(root), week, weeks_back)
        out["build_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        with tempfile.TemporaryDirectory() as dest:
            files = write_all(sc, dest)
            out["bytes"] = sum(f.stat().st_size for f in files)
        out["write_s"] = time.perf_counter() - t1
    out["seconds"] = time.perf_counter() - t0
    out["peak_mib"], out["hwm_mib"] = _peak_mib()
    return out


def run_child(step: str, root: Path, week: str, weeks_back: int) -> dict[str, float | int]:
    cmd = [sys.executable, __file__, "--measure", step, "--dir", str(root), "--week", week,
           "--weeks-back", str(weeks_back)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _peak(result: dict[str, float | int]) -> str:
    hwm = f"; VmHWM {result['hwm_mib']:.0f}" if result.get("hwm_mib") else ""
    return f"peak {result['peak_mib']:.0f} MiB (ru_maxrss{hwm})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--findings", type=int, default=5_000_000)
    ap.add_argument("--dir", type=Path, default=None, help="output folder to (re)use; default a temporary one")
    ap.add_argument("--keep", action="store_true", help="keep the generated folder")
    ap.add_argument("--week", default="2026-W47")
    ap.add_argument("--weeks-back", type=int, default=8)
    ap.add_argument("--measure", choices=["generate", "baseline", "read", "scorecard", "write", "queue"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure == "generate":
        generate(args.dir, args.calls, args.findings)
        return
    if args.measure:
        print(json.dumps(measure(args.measure, args.dir, args.week, args.weeks_back)))
        return
    parse_week(args.week)
    root = args.dir or Path(tempfile.mkdtemp(prefix="scorecard-scale-"))
    try:
        if not any(root.glob("tables/run-*/calls.parquet")):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--measure", "generate", "--dir", str(root),
                            "--calls", str(args.calls), "--findings", str(args.findings)], check=True)
            print(f"generated {args.calls:,} call rows and {args.findings:,} finding rows in "
                  f"{time.perf_counter() - t0:.1f} s under {root}")
        size = sum(f.stat().st_size for f in root.glob("tables/run-*/*.parquet")) / 2**20
        print(f"tables: {len(list(root.glob('tables/run-*')))} run folders, {size:.0f} MiB of parquet")
        base = run_child("baseline", root, args.week, args.weeks_back)
        print(f"(a) baseline  count rows: {base['seconds']:.3f} s, {_peak(base)} "
              f"({base['call_rows']:,} calls, {base['finding_rows']:,} findings)")
        read = run_child("read", root, args.week, args.weeks_back)
        print(f"(a') read the scorecard's columns of the whole year once: {read['seconds']:.3f} s, {_peak(read)}")
        card = run_child("scorecard", root, args.week, args.weeks_back)
        print(f"(b) scorecard {args.week} + {args.weeks_back} weeks: {card['seconds']:.3f} s, {_peak(card)} "
              f"({card['week_calls']:,} calls of {card['agents']} agents)")
        write = run_child("write", root, args.week, args.weeks_back)
        print(f"(c) write HTML+Excel+CSV: {write['write_s']:.3f} s (build {write['build_s']:.3f} s in the same "
              f"process), {_peak(write)}, {write['bytes'] / 2**10:.0f} KiB written")
        queue = run_child("queue", root, args.week, args.weeks_back)
        print(f"(d) queue of {args.week}: {queue['seconds']:.3f} s, {_peak(queue)} ({queue['rows']:,} calls)")
        print(f"ratio (b)/(a): {card['seconds'] / base['seconds']:.1f}x time, "
              f"{card['peak_mib'] / base['peak_mib']:.1f}x peak memory; (b)/(a'): "
              f"{card['seconds'] / read['seconds']:.2f}x time, {card['peak_mib'] / read['peak_mib']:.2f}x peak memory")
    finally:
        if args.dir is None and not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
