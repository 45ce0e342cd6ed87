"""Make the audio benchmark's calls: labelled transcripts spoken by TTS voices over a telephone line.

Usage (from the repository root; the TTS virtual environment is described in README.md):

    /tmp/ttsvenv/bin/python benchmarks/audio_bench/make_corpus.py              # calls without audio yet
    /tmp/ttsvenv/bin/python benchmarks/audio_bench/make_corpus.py AB03 AB07    # these calls (again)
    /tmp/ttsvenv/bin/python benchmarks/audio_bench/make_corpus.py --all        # every call (again)
    python benchmarks/audio_bench/make_corpus.py --check                       # validate (numpy, soundfile)

Per call of calls.yaml: every segment of the labelled transcript is spoken by the pair's agent or
customer voice and placed at its labelled start time, lasting exactly its labelled duration (first to
last sound), so the labelled speaking rates, gaps and overlaps hold in the audio and the truth times
are the labelled ones. The text is spoken as written, numbers as the engine reads them
(qa_checks.textnorm.canonical: 95500 → 九五五零零, 15天 → 十五天). Each line is synthesised clause by
clause at a tempo chosen to fill its duration, the clauses joined by short pauses; what the tempo
leaves over is taken up by the pauses and a final resampling of at most a few percent. Then the
telephone line of audio_fixtures/make_fixtures.py: 300-3400 Hz band-pass, 8 kHz, -24 dBFS active speech
level, line noise at the call's level, stereo (agent on its channel) or mono (mixed), a soft limiter,
and on `mulaw` calls G.711 mu-law companding. Deterministic: the random draws come from the call id.

Writes `<call_id>.flac` into audio/ (committed calls) or .generated/ (the rest, git-ignored), a
manifest.csv beside them for `callqa run`, and truth/<call_id>.truth.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent))

from corpus import GENERATED, SAMPLE_RATE, TRUTH, CallSpec, load_calls, select  # noqa: E402

CLAUSE_PAUSE = {"stop": (0.24, 0.30), "comma": (0.15, 0.22), "phrase": (0.05, 0.09)}
PAUSE_LIMITS = (0.04, 1.2)  # a pause stretched to fill a slow line stays far below the dead-air threshold
LONGEST_PHRASE = 16  # characters; longer clauses are split at word boundaries for the TTS
LEAD_OUT = 0.6
MAX_RESAMPLE = 0.03  # beyond this the remainder is time-stretched instead (pitch kept)
CJK = re.compile(r"[\u4e00-\u9fff]")


def tts_text(text: str) -> str:
    """What the voice says: the engine's reading of the text (numbers as read aloud), CJK and breaks only."""
    from qa_checks.textnorm import canonical

    return "".join(ch for ch in canonical(text) if CJK.match(ch) or ch in ",。?!;")


def phrases(text: str) -> list[tuple[str, str]]:
    """(phrase, the pause after it: stop | comma | phrase | '') in speaking order."""
    import jieba

    out: list[tuple[str, str]] = []
    for m in re.finditer(r"([^,。?!;]+)([,。?!;]*)", tts_text(text)):
        body, punct = m.group(1), m.group(2)
        kind = "stop" if any(c in "。?!;" for c in punct) else "comma"
        if len(body) <= LONGEST_PHRASE:
            out.append((body, kind))
            continue
        pieces, cur = [], ""
        for word in jieba.cut(body, HMM=False):
            if cur and len(cur) + len(word) > LONGEST_PHRASE:
                pieces.append(cur)
                cur = ""
            cur += word
        if cur:
            pieces.append(cur)
        out += [(p, "phrase") for p in pieces[:-1]] + [(pieces[-1], kind)]
    if out:
        out[-1] = (out[-1][0], "")
    return out


class Pace:
    """Seconds per character at tempo 1, per voice, learnt as a call's lines are rendered (a first
    guess that saves a second synthesis most of the time)."""

    def __init__(self) -> None:
        self.sec_per_char: dict[str, float] = {}

    def guess(self, voice: str) -> float:
        return self.sec_per_char.get(voice, 0.2)

    def learn(self, voice: str, chars: int, seconds: float, tempo: float) -> None:
        seen = seconds / max(chars, 1) / tempo
        old = self.sec_per_char.get(voice)
        self.sec_per_char[voice] = seen if old is None else 0.7 * old + 0.3 * seen


def fit_length(audio: np.ndarray, n: int) -> np.ndarray:
    """Exactly n samples: a phase-vocoder stretch for the bulk, then a resampling of what is left."""
    import librosa

    if abs(len(audio) / n - 1) > MAX_RESAMPLE:
        audio = librosa.effects.time_stretch(audio, rate=len(audio) / n)
    y = librosa.resample(audio, orig_sr=len(audio), target_sr=n, res_type="soxr_hq")
    return np.pad(y, (0, max(0, n - len(y))))[:n]


def render_line(voice_name: str, text: str, n24: int, rng: np.random.Generator, pace: Pace) -> tuple[np.ndarray, dict]:
    """The line at 24 kHz, exactly n24 samples from its first to its last sound."""
    from voices import SR, VOICES, fixtures

    voice = VOICES[voice_name]
    parts = phrases(text)
    if not parts:
        raise ValueError(f"nothing to say in {text!r}")
    target = n24 / SR
    pauses = [float(rng.uniform(*CLAUSE_PAUSE[kind])) for _, kind in parts[:-1]]
    if sum(pauses) > 0.35 * target:  # a fast line: keep most of its time for the words
        pauses = [p * 0.35 * target / sum(pauses) for p in pauses]
    chars = sum(len(body) for body, _ in parts)
    speech_target = target - sum(pauses)
    lo, hi = voice.tempo_range
    tempo = float(np.clip(speech_target / (chars * pace.guess(voice_name)), lo, hi))
    for attempt in range(2):
        clips = [voice.render(body, tempo) for body, _ in parts]
        speech = sum(len(c) for c in clips) / SR
        pace.learn(voice_name, chars, speech, tempo)
        off = speech_target / speech
        new = float(np.clip(tempo * off, lo, hi))
        if attempt or abs(off - 1) <= 0.04 or new == tempo:
            break
        tempo = new
    if pauses:  # the pauses take up what the tempo left over, within bounds
        spread = (target - speech - sum(pauses)) / len(pauses)
        pauses = [float(np.clip(p + spread, *PAUSE_LIMITS)) for p in pauses]
    audio = fixtures.join_with_pauses(clips, pauses, SR)
    stretch = len(audio) / n24
    return fit_length(audio, n24), {"tempo": round(tempo, 3), "stretch": round(stretch, 4)}


def mulaw(x: np.ndarray, mu: float = 255.0) -> np.ndarray:
    """G.711-style mu-law companding to 8 bits and back (what a telephone trunk does to the signal)."""
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    q = np.round(y * 127.0) / 127.0
    return np.sign(q) * np.expm1(np.abs(q) * np.log1p(mu)) / mu


def seed_of(spec: CallSpec) -> int:
    return int(re.sub(r"\D", "", spec.id) or 0) * 7919 + 101


def build(spec: CallSpec) -> dict:
    import soundfile as sf
    from voices import PAIRS, fixtures

    src = spec.source_transcript()
    label = spec.label()
    pair = PAIRS[spec.voices]
    if spec.layout == "mono" and not pair.mono_ok:
        raise ValueError(f"{spec.id}: pair {spec.voices} is not separable in a mono mix")
    rng = np.random.default_rng(seed_of(spec))
    pace = Pace()  # learnt afresh per call, so that a call comes out the same made alone or in a batch
    segs = src["segments"]
    total = round((max(s["end"] for s in segs) + LEAD_OUT) * SAMPLE_RATE)
    tracks = {"agent": np.zeros(total), "customer": np.zeros(total)}
    truth_segs, stretches = [], []
    for seg in segs:
        s0, s1 = round(seg["start"] * SAMPLE_RATE), round(seg["end"] * SAMPLE_RATE)
        voice = pair.agent if seg["speaker"] == "agent" else pair.customer
        audio24, info = render_line(voice, seg["text"], (s1 - s0) * 3, rng, pace)
        clip = fixtures.telephone_line(audio24, 0.0)[: s1 - s0]
        tracks[seg["speaker"]][s0 : s0 + len(clip)] += clip
        stretches.append(info["stretch"])
        truth_segs.append({"speaker": seg["speaker"], "start": round(s0 / SAMPLE_RATE, 3),
                           "end": round(s1 / SAMPLE_RATE, 3), "text": seg["text"]})
    noise_rng = np.random.default_rng(seed_of(spec) + 7919)

    def noise() -> np.ndarray:
        nz = fixtures.bandpass(noise_rng.standard_normal(total), SAMPLE_RATE)
        return nz * 10 ** (spec.noise_dbfs / 20) / np.sqrt(np.mean(nz**2))

    if spec.layout == "stereo":
        a = int(spec.agent_channel or 0)
        chans: list[np.ndarray] = [np.zeros(0), np.zeros(0)]
        chans[a] = tracks["agent"] + noise()
        chans[1 - a] = tracks["customer"] + noise()
        data = np.stack(chans, axis=1)
    else:
        data = tracks["agent"] + tracks["customer"] + noise()
    data, limited = fixtures.soft_limit(data)
    if spec.codec == "mulaw":
        data = mulaw(data)
    spec.folder.mkdir(parents=True, exist_ok=True)
    sf.write(spec.audio_path, data, SAMPLE_RATE, subtype="PCM_16", format="FLAC")

    truth: dict = {"call_id": spec.call_id}
    for key in ("agent_id", "started_at", "questionnaire"):  # as the source gives them, no more
        if key in src:
            truth[key] = src[key]
    truth |= {
        "recording": spec.audio_name,
        "sample_rate": SAMPLE_RATE,
        "duration": round(total / SAMPLE_RATE, 3),
    }
    if spec.layout == "stereo":
        truth["channels"] = {"agent": int(spec.agent_channel or 0), "customer": 1 - int(spec.agent_channel or 0)}
    else:
        truth["mono"] = True
    truth |= {
        "planted": list(label.get("rules") or []),
        "items": dict(label.get("items") or {}),
        "label_questionnaire": label.get("questionnaire"),
        "note": label.get("note", ""),
        "source": spec.source,
        "voices": {"pair": spec.voices, "agent": pair.agent, "customer": pair.customer},
        "conditions": {"layout": spec.layout, "codec": spec.codec, "noise_dbfs": spec.noise_dbfs,
                       "band_hz": list(fixtures.BAND), "speech_dbfs": fixtures.SPEECH_DBFS},
        "segments": truth_segs,
    }
    TRUTH.mkdir(exist_ok=True)
    spec.truth_path.write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    worst = max(stretches, key=lambda s: abs(s - 1))
    print(f"{spec.call_id}: {total / SAMPLE_RATE:.1f} s {spec.layout} {spec.voices} {spec.codec} "
          f"{spec.audio_path.stat().st_size / 1e6:.2f} MB; lines fitted by at most {100 * (worst - 1):+.1f} %, "
          f"limiter {limited} samples", flush=True)
    return truth


def write_manifests(calls: list[CallSpec]) -> None:
    """manifest.csv beside the audio of each folder: call ids, and the questionnaire where the source gives it."""
    by_folder: dict[Path, list[CallSpec]] = {}
    for c in calls:
        by_folder.setdefault(c.folder, []).append(c)
    for folder, cs in by_folder.items():
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "manifest.csv").open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(["file", "call_id", "agent_id", "started_at", "questionnaire"])
            for c in cs:
                src = c.source_transcript()
                q = src.get("questionnaire")
                q = "+".join(q) if isinstance(q, list) else (q or "")
                w.writerow([c.audio_name, c.call_id, src.get("agent_id", ""), src.get("started_at", ""), q])


def calls_markdown(calls: list[CallSpec]) -> str:
    """The table of calls for README.md: where each comes from, how it sounds, what it plants."""
    rows = ["| call | source | layout | voices | codec, noise | length | planted | audio |", "|---|---|---|---|---|---|---|---|"]
    for c in calls:
        t = c.truth()
        layout = f"stereo, agent {'left' if c.agent_channel == 0 else 'right'}" if c.layout == "stereo" else "mono"
        size = f"{c.audio_path.stat().st_size / 1e6:.2f} MB in repo" if c.committed and c.audio_path.exists() else "on demand"
        rows.append(f"| {c.id} | `{c.source_path.parent.parent.name}/{c.source_path.stem}` | {layout} | {c.voices} | "
                    f"{c.codec}, {c.noise_dbfs:.0f} dBFS | {t['duration']:.0f} s | "
                    f"{', '.join(f'`{r}`' for r in t['planted']) or 'clean'} | {size} |")
    return "\n".join(rows)


def write_readme_table(calls: list[CallSpec]) -> None:
    readme = HERE / "README.md"
    text = readme.read_text(encoding="utf-8")
    head, rest = text.split("<!-- calls -->", 1)
    _, tail = rest.split("<!-- /calls -->", 1)
    readme.write_text(f"{head}<!-- calls -->\n{calls_markdown(calls)}\n<!-- /calls -->{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("calls", nargs="*", help="call ids (AB03), slices (1:8) or 'committed'; default: those without audio")
    ap.add_argument("--all", action="store_true", help="make every call again")
    ap.add_argument("--check", action="store_true", help="validate the audio that exists against the truth")
    ap.add_argument("--readme", action="store_true", help="write the table of calls into README.md")
    args = ap.parse_args(argv)
    calls = load_calls()
    if args.readme:
        write_readme_table(calls)
        return 0
    if args.check:
        from validate import report

        return report(calls)
    todo = select(calls, args.calls) if args.calls else calls
    if not (args.all or args.calls):
        todo = [c for c in todo if not c.audio_path.exists()]
    for spec in todo:
        build(spec)
    write_manifests(calls)
    GENERATED.mkdir(exist_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
