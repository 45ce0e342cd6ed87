"""What the pipeline costs on top of speech recognition alone, on the same audio in the same run.

Baseline: faster-whisper alone (the same model, device, compute type, beam and VAD) transcribing the
fixture file. Pipeline: the Prefect flow of `callqa run` on the same file, every stage included
(decoding, channel split or diarisation, per-speaker recognition, roles, audio measures, QA, atomic
writes, tables). Both use models already loaded; the flow's temporary Prefect server is started by a
warm-up run first and reported on its own, because it is paid once per batch, not per call.

    python benchmarks/pipeline_overhead.py [--fixture audio_fixtures/stereo_clean.wav] [--repeat 2]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.audio import load_audio  # noqa: E402
from pipelines.settings import PipelineSettings  # noqa: E402
from pipelines.transcribe import whisper_model  # noqa: E402


def whisper_alone(path: Path, settings: PipelineSettings) -> float:
    model = whisper_model(settings)
    t0 = time.perf_counter()
    segments, _ = model.transcribe(str(path), language=settings.language, beam_size=settings.beam_size,
                                   word_timestamps=True, vad_filter=settings.vad_filter)
    for _ in segments:
        pass
    return time.perf_counter() - t0


def pipeline(path: Path, settings: PipelineSettings) -> float:
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fixture", type=Path, action="append", default=None)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    fixtures = args.fixture or [ROOT / "audio_fixtures" / "stereo_clean.wav", ROOT / "audio_fixtures" / "mono_clean.wav"]
    settings = PipelineSettings.from_env()
    t0 = time.perf_counter()
    pipeline(fixtures[0], settings)  # warm-up: loads both models and starts Prefect's temporary server
    print(f"warm-up run (models loaded, temporary Prefect server started): {time.perf_counter() - t0:.1f} s")
    for path in fixtures:
        duration = load_audio(path, settings).info.duration
        base = min(whisper_alone(path, settings) for _ in range(args.repeat))
        full = min(pipeline(path, settings) for _ in range(args.repeat))
        print(f"{path.name}: {duration:.0f} s of audio; faster-whisper alone {base:.1f} s "
              f"({duration / base:.1f}x real time); callqa run {full:.1f} s ({duration / full:.1f}x real time); "
              f"ratio {full / base:.2f} (target ≤ 1.3)")


if __name__ == "__main__":
    main()
