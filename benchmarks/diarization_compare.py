"""Mono calls through both diarisation paths, side by side: speed, DER, who said what, findings.

For each path of the `diarization` setting ("pyannote": pyannote.audio's full pipeline; "fast": the
two-speaker path of pipelines/two_speakers.py), on the same mono recordings:

- diarisation alone, in this process: seconds of CPU per minute of audio, and the diarisation error
  rate against the truth's exact segment times (10 ms frames, 0.25 s collar, overlapped speech left out,
  the better of the two speaker-to-role mappings: roles are decided later, from the words);
- `callqa run` on the recordings, a process per path: wall time, peak memory, and from its output, with
  benchmarks/audio_accuracy.py's functions: the share of characters recognised as the agent's (the
  customer's) that lie inside the agent's (the customer's) true speech, customer-turn recall, CER, and
  the findings' precision and recall against the labelled rules.

The README's tables: diarisation alone on the audio benchmark's twelve mono calls and the two mono
fixtures (`--no-command`), the whole command on seven of them
(`--calls AB06 AB08 AB27 AB31 AB33 mono_clean mono_issues`: a pyannote run of all fourteen takes a quarter
of an hour on two cores):

    python benchmarks/diarization_compare.py [--truth DIR] [--audio DIR ...] [--calls AB02 AB04 ...]
                                             [--methods fast pyannote] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from pipelines.settings import PipelineSettings  # noqa: E402

BENCH = ROOT / "benchmarks" / "audio_bench"
COLLAR = 0.25


@dataclass
class Call:
    name: str
    audio: Path
    truth: dict


def mono_calls(truth_dirs: list[Path], audio_dirs: list[Path], only: list[str] | None) -> list[Call]:
    calls = []
    for folder in truth_dirs:
        for f in sorted(folder.glob("*.truth.json")):
            truth = json.loads(f.read_text(encoding="utf-8"))
            if not truth.get("mono"):
                continue
            audio_name = truth.get("audio") or truth.get("recording")
            found = [d / audio_name for d in [*audio_dirs, f.parent] if (d / audio_name).is_file()]
            name = f.name.removesuffix(".truth.json")
            if found and (not only or any(name.startswith(o) for o in only)):
                calls.append(Call(name, found[0], truth))
    return calls


def der(turns: dict[str, tuple[tuple[float, float], ...]], truth: list[dict], duration: float) -> float:
    """Missed speech, false alarm and confusion over the true speech, with the better label mapping."""
    n = int(duration * 100) + 1
    ref = np.zeros(n, dtype=np.int8)
    skip = np.zeros(n, dtype=bool)
    for s in truth:
        a, b = int(s["start"] * 100), int(s["end"] * 100)
        ref[a:b] = np.where(ref[a:b] > 0, 3, 1 if s["speaker"] == "agent" else 2)  # 3: both at once
        for edge in (a, b):
            skip[max(0, edge - int(COLLAR * 100)) : edge + int(COLLAR * 100)] = True
    keep = ~skip & (ref != 3)
    labels = sorted(turns)
    best = 1.0
    for mapping in ((1, 2), (2, 1)):
        hyp = np.zeros(n, dtype=np.int8)
        for label, code in zip(labels, mapping, strict=False):
            for a, b in turns[label]:
                hyp[int(a * 100) : int(b * 100)] = code
        errors = ((ref != hyp) & keep & ((ref > 0) | (hyp > 0))).sum()
        best = min(best, float(errors / max(1, ((ref > 0) & keep).sum())))
    return best


def diarise_alone(calls: list[Call], settings: PipelineSettings) -> dict[str, dict]:
    from pipelines.audio import load_audio
    from pipelines.speakers import diarize

    out = {}
    for call in calls:
        audio = load_audio(call.audio, settings)
        r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        tracks = diarize(audio.mono, settings)
        wall, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
        cpu = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
        out[call.name] = {"duration": audio.info.duration, "wall": wall, "cpu": cpu,
                          "der": der({t.label: t.turns for t in tracks}, call.truth["segments"], audio.info.duration)}
        print(f"  {settings.diarization:8} {call.name[:40]:40} {audio.info.duration:6.1f} s audio, "
              f"{cpu / audio.info.duration * 60:5.1f} CPU s per audio minute, DER {out[call.name]['der']:6.1%}", flush=True)
    return out


def command_run(calls: list[Call], method: str, out: Path) -> tuple[float, float]:
    """`callqa run` on the calls (copied into one folder with a manifest naming their call ids)."""
    rec = out.parent / f"recordings-{method}"
    rec.mkdir(parents=True, exist_ok=True)
    lines = ["file,call_id"]
    for call in calls:
        shutil.copy(call.audio, rec / call.audio.name)
        lines.append(f"{call.audio.name},{call.truth['call_id']}")
    (rec / "manifest.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT), CALLQA_DIARIZATION=method)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "callqa", "run", str(rec), "--out", str(out), "--no-review"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        print(f"  callqa run ({method}) exited with {os.waitstatus_to_exitcode(status)}: see {out / 'runs'}")
    return time.perf_counter() - t0, usage.ru_maxrss / (1 << 20)


def accuracy(calls: list[Call], out: Path) -> dict:
    """audio_accuracy.py's totals over the calls the run scored."""
    try:
        import audio_accuracy as acc
    except ImportError as exc:
        raise SystemExit(f"benchmarks/audio_accuracy.py is needed for the accuracy side: {exc}") from None
    scores = []
    for call in calls:
        got = acc.find_run_files(out, call.truth["call_id"])
        if got is None:
            print(f"  not scored: {call.name}")
            continue
        truth = dict(call.truth, planted=call.truth.get("planted", []))
        scores.append(acc.score_call(truth, *got))
    return acc.totals(scores)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--truth", type=Path, action="append", default=None,
                    help="folder of *.truth.json (default: the audio benchmark's and audio_fixtures)")
    ap.add_argument("--audio", type=Path, action="append", default=None, help="folder of the recordings")
    ap.add_argument("--calls", nargs="*", default=None, help="names (or their beginnings) to keep")
    ap.add_argument("--methods", nargs="*", default=["pyannote", "fast"])
    ap.add_argument("--keep", type=Path, default=None, help="keep the runs' output here")
    ap.add_argument("--no-command", action="store_true", help="diarisation alone; no `callqa run`")
    args = ap.parse_args()
    truth_dirs = args.truth or [BENCH / "truth", ROOT / "audio_fixtures"]
    audio_dirs = args.audio or [BENCH / "audio", BENCH / ".generated", ROOT / "audio_fixtures"]
    calls = mono_calls(truth_dirs, audio_dirs, args.calls)
    if not calls:
        raise SystemExit("no mono calls with audio found")
    minutes = sum(c.truth.get("duration", 0) or max(s["end"] for s in c.truth["segments"]) for c in calls) / 60
    print(f"{len(calls)} mono calls, {minutes:.1f} min of audio: {', '.join(c.name[:4] for c in calls)}")
    base = PipelineSettings.from_env()
    from pipelines.runtime import prepare

    prepare(base.thread_wait, base.concurrency)
    keep = args.keep or Path(tempfile.mkdtemp(prefix="callqa-diarization-"))
    results = {}
    for method in args.methods:
        settings = replace(base, diarization=method)
        alone = diarise_alone(calls, settings)
        row = {"alone": alone}
        if not args.no_command:
            out = keep / method
            shutil.rmtree(out, ignore_errors=True)
            row["wall"], row["peak"] = command_run(calls, method, out)
            row["acc"] = accuracy(calls, out)
        results[method] = row

    print(f"\n{'path':9} {'CPU s/audio min':>15} {'DER mean':>8} {'DER max':>8} | {'run wall s':>10} {'peak GiB':>8} | "
          f"{'agent':>6} {'customer':>8} {'turns':>6} {'short':>6} {'CER':>6} | {'P':>5} {'R':>5}")
    for method, row in results.items():
        a = row["alone"]
        cpu = sum(v["cpu"] for v in a.values()) / sum(v["duration"] for v in a.values()) * 60
        ders = [v["der"] for v in a.values()]
        line = f"{method:9} {cpu:15.1f} {np.mean(ders):8.1%} {max(ders):8.1%} |"
        if "acc" in row:
            t = row["acc"]
            roles, turns = t["role_attribution"]["mono"], t["customer_turn_recall"]
            line += (f" {row['wall']:10.0f} {row['peak']:8.2f} | {roles['agent']:6.1%} {roles['customer']:8.1%} "
                     f"{turns['all']:6.1%} {turns['short']:6.1%} {t['cer']['all']:6.1%} | "
                     f"{t['audio']['precision']:5.2f} {t['audio']['recall']:5.2f}")
        print(line)
    print(f"\nruns kept in {keep}")


if __name__ == "__main__":
    main()
