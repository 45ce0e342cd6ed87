"""What the pipeline costs on top of speech recognition alone, on the same tracks, in the same run.

Baseline: faster-whisper alone, with the pipeline's own decoding options
(`pipelines.transcribe.decode_options`) and model, on the same tracks the pipeline transcribes: each
channel of a stereo recording, the mix of a mono one (one pass). The model is built in a thread that
exits, which is faster-whisper at its fastest (pipelines/runtime.py says why).

Pipeline: as users run it, two ways, printed per file as a ratio over the baseline:

- whole command: `python -m callqa run FILE --out TMP --no-review` in a process of its own (start-up,
  Prefect's temporary server, imports, model loading, every stage, scoring, writes) against a process
  that loads faster-whisper, decodes the file and transcribes its tracks; also the command's peak memory;
- in process: models loaded and Prefect's temporary server started by a warm-up run, then the flow of
  `callqa run` called from the main thread as the command calls it, against faster-whisper alone on the
  tracks in the same process.

Both sides run with the same OpenMP waiting (the `thread_wait` setting, decided here once and handed to
every process), so the ratio is the pipeline's cost, not the machine's mood. The two processes of the
whole-command measurement run in turn (alone, command, alone, command, ...) and the ratio is taken pair
by pair: its median is the figure, min and max show the spread. The figures in the README come from the
audio benchmark's `AB13` (stereo, 209 s) and `AB27` (mono, 157 s), the default recordings with two
fixtures where that benchmark's audio is present (`audio/`, or made by its `make_corpus.py`):

    python benchmarks/pipeline_overhead.py [--fixture FILE ...] [--repeat 3] [--no-command]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.runtime import prepare, wait_policy  # noqa: E402
from pipelines.settings import PipelineSettings  # noqa: E402

BENCH = ROOT / "benchmarks" / "audio_bench"


def bench_call(name: str) -> Path:
    """A call of the audio benchmark: committed, or made on demand by its make_corpus.py."""
    for folder in ("audio", ".generated"):
        if (BENCH / folder / name).exists():
            return BENCH / folder / name
    return BENCH / "audio" / name


DEFAULT_FIXTURES = [
    bench_call("AB13_H013_cpic_participating_slang_colloquial.flac"),  # stereo, 209 s
    bench_call("AB27_H033_sunshine_universal_no_name_no_thanks.flac"),  # mono, 157 s
    ROOT / "audio_fixtures" / "stereo_clean.wav",
    ROOT / "audio_fixtures" / "mono_clean.wav",
]


def tracks(path: Path, settings: PipelineSettings):
    """The pipeline's own tracks: each channel of a stereo recording, else the mono mix."""
    from pipelines.audio import load_audio
    from pipelines.speakers import is_dual_mono

    audio = load_audio(path, settings)
    if audio.samples.shape[0] >= 2 and not is_dual_mono(audio.samples):
        return [audio.samples[0], audio.samples[1]], audio.info.duration
    return [audio.mono], audio.info.duration


def whisper_alone(model, samples: list, settings: PipelineSettings) -> float:
    from pipelines.transcribe import decode_options

    t0 = time.perf_counter()
    for x in samples:
        segments, _ = model.transcribe(x, **decode_options(settings))
        for _ in segments:
            pass
    return time.perf_counter() - t0


def pipeline_in_process(path: Path, settings: PipelineSettings) -> float:
    from pipelines.flow import run

    with tempfile.TemporaryDirectory() as tmp:
        rec = Path(tmp) / "rec"
        rec.mkdir()
        shutil.copy(path, rec / path.name)
        t0 = time.perf_counter()
        report = run([str(rec)], str(Path(tmp) / "out"), settings)
        elapsed = time.perf_counter() - t0
    if report.counts()["scored"] != 1:
        raise SystemExit(f"the pipeline did not score {path}: {report.outcomes}")
    return elapsed


def timed_process(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak memory in GiB) of a command in a process of its own."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}):\n{err[-2000:]}")
    return wall, usage.ru_maxrss / (1 << 20)


def alone_main(path: Path) -> None:
    """`--whisper-alone FILE`: the baseline process (load the model, decode, transcribe the tracks)."""
    from faster_whisper import WhisperModel

    from pipelines.runtime import in_own_thread

    settings = PipelineSettings.from_env()
    model = in_own_thread(lambda: WhisperModel(settings.whisper_model, device=settings.device,
                                               compute_type=settings.compute_type, cpu_threads=settings.cpu_threads))
    samples, _ = tracks(path, settings)
    whisper_alone(model, samples, settings)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fixture", type=Path, action="append", default=None,
                    help="a recording (repeatable; default: AB13, AB27 where present, and two fixtures)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each measurement (whole command: pairs, the median ratio counts; in process: "
                         "the fastest counts)")
    ap.add_argument("--no-command", action="store_true", help="skip the whole-command measurement")
    ap.add_argument("--whisper-alone", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.whisper_alone:
        prepare()  # the waiting policy is in the environment the parent handed down
        return alone_main(args.whisper_alone)
    fixtures = args.fixture or [p for p in DEFAULT_FIXTURES if p.exists()]
    settings = PipelineSettings.from_env()
    # one waiting policy for every process of this run, baseline and pipeline alike
    env = dict(os.environ, PYTHONPATH=str(ROOT), PREFECT_LOGGING_LEVEL="WARNING")
    if "OMP_WAIT_POLICY" not in env and "GOMP_SPINCOUNT" not in env:
        if wait_policy(settings.thread_wait, settings.concurrency) == "passive":
            env["OMP_WAIT_POLICY"] = "PASSIVE"
        else:
            env["GOMP_SPINCOUNT"] = "300000"
    os.environ.update({k: env[k] for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT") if k in env})
    chosen = prepare(settings.thread_wait, settings.concurrency)
    print(f"OpenMP waiting: {chosen['thread_wait']}; allocator: {chosen['allocator']}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    rows = []
    if not args.no_command:
        for path in fixtures:
            pairs, peaks = [], []
            with tempfile.TemporaryDirectory() as tmp:
                for i in range(args.repeat):
                    base = timed_process([sys.executable, __file__, "--whisper-alone", str(path)], env)[0]
                    full, peak = timed_process([sys.executable, "-m", "callqa", "run", str(path), "--out",
                                                str(Path(tmp) / f"out{i}"), "--no-review"], env)
                    pairs.append((base, full))
                    peaks.append(peak)
            ratios = [full / base for base, full in pairs]
            base, full = (statistics.median(x) for x in zip(*pairs, strict=True))
            rows.append((path.name, "command", base, full, statistics.median(ratios), max(peaks)))
            print(f"{path.name}: whole process: faster-whisper alone {base:.1f} s, callqa run {full:.1f} s (medians), "
                  f"ratio {statistics.median(ratios):.2f} (pairs: {', '.join(f'{r:.2f}' for r in ratios)}); "
                  f"peak memory {max(peaks):.2f} GiB", flush=True)

    from pipelines.transcribe import whisper_model

    t0 = time.perf_counter()
    pipeline_in_process(fixtures[0], settings)  # warm-up: models loaded, Prefect's temporary server started
    print(f"warm-up run (models loaded, temporary Prefect server started): {time.perf_counter() - t0:.1f} s")
    for path in fixtures:
        samples, duration = tracks(path, settings)
        kind = "stereo" if len(samples) == 2 else "mono"
        base = min(whisper_alone(whisper_model(settings), samples, settings) for _ in range(args.repeat))
        full = min(pipeline_in_process(path, settings) for _ in range(args.repeat))
        rows.append((path.name, "in process", base, full, full / base, None))
        print(f"{path.name} ({kind}, {duration:.0f} s): in process: faster-whisper alone {base:.1f} s, "
              f"callqa run {full:.1f} s, ratio {full / base:.2f}", flush=True)
    print(f"\npeak memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1 << 20):.2f} GiB")
    print(f"\n{'file':56} {'how':11} {'alone s':>8} {'callqa s':>8} {'ratio':>6} {'peak GiB':>8}")
    for name, how, base, full, ratio, peak in rows:
        print(f"{name[:56]:56} {how:11} {base:8.1f} {full:8.1f} {ratio:6.2f} "
              f"{'' if peak is None else f'{peak:8.2f}':>8}")


if __name__ == "__main__":
    main()
