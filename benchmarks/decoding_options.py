"""Which faster-whisper options suit telephone calls: CER and customer answers heard, option by option.

Every variant decodes the same audio with the pipeline's own recogniser stage (`pipelines.transcribe`):
- real Mandarin recordings with reference texts (`--real-speech DIR`: wav files and refs.txt, "stem text" per
  line), at 16 kHz and band-limited to the telephone's 8 kHz;
- the stereo calls of the audio benchmark (`--truth DIR`, its truth files; audio beside them or in
  `--audio DIR`), each channel on its own as the pipeline decodes it: CER of the agent's and the
  customer's speech, and the share of the customer's turns that get any text at all (short answers:
  是, 对, 没有, 收到了), and how much text is heard where nobody spoke (invented words).

The first variant is the pipeline's defaults (the baseline of the same run); the table gives each variant's
figures beside it.

    python benchmarks/decoding_options.py --real-speech DIR --truth benchmarks/audio_bench/truth

(DIR: Mandarin recordings `<stem>.wav` with their reference texts in `refs.txt`.)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from audio_accuracy import clean, edit_distance  # noqa: E402

from pipelines.audio import SAMPLE_RATE, load_audio  # noqa: E402
from pipelines.settings import PipelineSettings  # noqa: E402
from pipelines.transcribe import transcribe  # noqa: E402

VARIANTS: dict[str, dict[str, object]] = {
    "defaults": {},
    "beam 1": {"beam_size": 1},
    "no temperature fallback": {"temperature_fallback": False},
    "previous text": {"condition_on_previous_text": True},
    "VAD 0.35": {"vad_threshold": 0.35},
    "VAD 0.35, silence 500 ms": {"vad_threshold": 0.35, "vad_min_silence_ms": 500},
    "VAD silence 500 ms, pad 200 ms": {"vad_min_silence_ms": 500, "vad_speech_pad_ms": 200},
    "no VAD": {"vad_filter": False},
    "no-speech 0.8": {"no_speech_threshold": 0.8},
    "no hallucination filter": {"hallucination_filter": False},
    "compression 2.0": {"compression_ratio_threshold": 2.0},
    "no second look at missed speech": {"hear_missed_speech": False},
    "previous text, VAD 0.35": {"condition_on_previous_text": True, "vad_threshold": 0.35},
    "previous text, VAD 0.35, no fallback": {"condition_on_previous_text": True, "vad_threshold": 0.35,
                                             "temperature_fallback": False},
    "VAD 0.35, no fallback": {"vad_threshold": 0.35, "temperature_fallback": False},
}


def telephone(x: np.ndarray) -> np.ndarray:
    """Band-limited as a telephone line carries it: down to 8 kHz and back."""
    import librosa

    y = librosa.resample(x, orig_sr=SAMPLE_RATE, target_sr=8000, res_type="soxr_hq")
    return librosa.resample(y, orig_sr=8000, target_sr=SAMPLE_RATE, res_type="soxr_hq").astype(np.float32)


def decode(samples: np.ndarray, settings: PipelineSettings) -> list:
    return list(transcribe(samples, [(0.0, len(samples) / SAMPLE_RATE, 0.0)], settings))


def real_speech(folder: Path) -> list[tuple[np.ndarray, str]]:
    import soundfile as sf

    refs = dict(line.split(maxsplit=1) for line in (folder / "refs.txt").read_text(encoding="utf-8").splitlines()
                if line.strip())
    out = []
    for stem, ref in sorted(refs.items()):
        x, sr = sf.read(str(folder / f"{stem}.wav"), dtype="float32", always_2d=True)
        x = x.mean(axis=1)
        if sr != SAMPLE_RATE:
            import librosa

            x = librosa.resample(x, orig_sr=sr, target_sr=SAMPLE_RATE).astype(np.float32)
        out.append((x, ref))
    return out


def bench_calls(truth_dir: Path, audio_dir: Path | None, limit: int) -> list[tuple[np.ndarray, dict]]:
    calls = []
    for path in sorted(truth_dir.glob("*.truth.json")):
        truth = json.loads(path.read_text(encoding="utf-8"))
        if truth.get("mono") or "channels" not in truth:
            continue
        name = truth.get("recording") or truth.get("audio")
        audio_path = next((p for p in [(audio_dir or path.parent) / str(name), path.parent / str(name)] if p.is_file()),
                          None)
        if audio_path is None:
            continue
        calls.append((load_audio(audio_path, PipelineSettings()).samples, truth))
        if len(calls) >= limit:
            break
    return calls


def score_call(samples: np.ndarray, truth: dict, settings: PipelineSettings) -> dict[str, float]:
    figures = {"agent_err": 0, "agent_ref": 0, "cust_err": 0, "cust_ref": 0, "turns": 0, "heard": 0,
               "invented": 0}
    for role in ("agent", "customer"):
        channel = int(truth["channels"][role])
        utts = decode(samples[channel], settings)
        segs = [s for s in truth["segments"] if s["speaker"] == role]
        hyp = "".join(clean(u.text) for u in utts)
        ref = "".join(clean(s["text"]) for s in segs)
        key = "agent" if role == "agent" else "cust"
        figures[f"{key}_err"] += edit_distance(hyp, ref)
        figures[f"{key}_ref"] += len(ref)
        spans = [(w.start, w.end) for u in utts for w in u.words] or [(u.start, u.end) for u in utts]
        if role == "customer":
            for s in segs:
                figures["turns"] += 1
                figures["heard"] += any(a < s["end"] + 0.3 and b > s["start"] - 0.3 for a, b in spans)
        # words heard on this channel where its speaker said nothing (half a second from any line)
        figures["invented"] += sum(1 for u in utts for w in u.words
                                   if not any(s["start"] - 0.5 <= (w.start + w.end) / 2 <= s["end"] + 0.5
                                              for s in segs))
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real-speech", type=Path, default=None, help="folder of wav files and refs.txt")
    ap.add_argument("--truth", type=Path, default=None, help="the audio benchmark's truth files")
    ap.add_argument("--audio", type=Path, default=None, help="where the benchmark audio is, if not beside")
    ap.add_argument("--calls", type=int, default=8, help="stereo benchmark calls to decode")
    ap.add_argument("--variant", action="append", default=None, help=f"only these (of: {', '.join(VARIANTS)})")
    args = ap.parse_args()
    base = PipelineSettings.from_env()
    real = real_speech(args.real_speech) if args.real_speech else []
    calls = bench_calls(args.truth, args.audio, args.calls) if args.truth else []
    print(f"{len(real)} real recordings, {len(calls)} stereo benchmark calls; model {base.whisper_model}")
    header = (f"{'variant':32} {'real16':>7} {'real8':>7} {'agent':>7} {'cust':>7} {'turns':>7} {'invent':>7} "
              f"{'secs':>6}")
    print(header)
    for name in args.variant or list(VARIANTS):
        settings = dataclasses.replace(base, **VARIANTS[name])  # type: ignore[arg-type]
        t0 = time.perf_counter()
        row = {}
        if real:
            for label, prep in (("real16", lambda x: x), ("real8", telephone)):
                err = ref = 0
                for x, text in real:
                    hyp = "".join(clean(u.text) for u in decode(prep(x), settings))
                    err += edit_distance(hyp, clean(text))
                    ref += len(clean(text))
                row[label] = f"{100 * err / ref:6.1f}%"
        if calls:
            total: dict[str, float] = {}
            for samples, truth in calls:
                for k, v in score_call(samples, truth, settings).items():
                    total[k] = total.get(k, 0) + v
            row["agent"] = f"{100 * total['agent_err'] / max(1, total['agent_ref']):6.1f}%"
            row["cust"] = f"{100 * total['cust_err'] / max(1, total['cust_ref']):6.1f}%"
            row["turns"] = f"{100 * total['heard'] / max(1, total['turns']):6.1f}%"
            row["invent"] = f"{int(total['invented']):7d}"
        secs = time.perf_counter() - t0
        print(f"{name:32} {row.get('real16', '-'):>7} {row.get('real8', '-'):>7} {row.get('agent', '-'):>7} "
              f"{row.get('cust', '-'):>7} {row.get('turns', '-'):>7} {row.get('invent', '-'):>7} {secs:6.0f}",
              flush=True)


if __name__ == "__main__":
    main()
