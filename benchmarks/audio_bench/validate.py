"""Checks of the audio benchmark's corpus, without any model: truth against its labelled source, and
audio against its truth.

Used by `make_corpus.py --check` and by tests/test_audio_bench.py. Every check returns the problems it
found as sentences (an empty list is a pass), so a failing test says what is wrong with which call.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import yaml
from corpus import ROOT, SAMPLE_RATE, CallSpec, load_calls

sys.path.insert(0, str(ROOT))
from qa_checks.textnorm import spoken_chars

FRAME = 0.01  # seconds per level frame
TIME_TOLERANCE = 0.001  # truth times are the labelled ones, up to the 8 kHz sample grid and 3 decimals
SPEECH_OVER_FLOOR_DB = 12.0
OTHER_CHANNEL_DB = 1.5  # the silent side of a stereo call carries noise only
EDGE_DB = 6.0  # a line's first and last sound stand this far above the noise floor
EDGE_SECONDS = 0.6  # how far inside its labelled span a line's first or last sound may read: a soft onset (谢, 是) or Kokoro's soft trailing decay stays under the 6 dB mark for a while
LEVEL_SPREAD_DB = 4.0  # agent lines all within this of their median (no planted loudness)


def dead_air_seconds() -> float:
    settings = yaml.safe_load((ROOT / "lexicons" / "settings.yaml").read_text(encoding="utf-8"))
    return float(settings["dynamics"]["dead_air_seconds"])


def check_truth(spec: CallSpec) -> list[str]:
    """The truth file says what the labelled source says: text, speakers, times, labels."""
    if not spec.truth_path.exists():
        return [f"{spec.id}: no truth file {spec.truth_path.name}"]
    truth, src, label = spec.truth(), spec.source_transcript(), spec.label()
    errs = []
    if truth["call_id"] != spec.call_id:
        errs.append(f"{spec.id}: call_id {truth['call_id']} is not {spec.call_id}")
    for key in ("agent_id", "started_at", "questionnaire"):
        if truth.get(key) != src.get(key):
            errs.append(f"{spec.id}: {key} {truth.get(key)!r} differs from the source's {src.get(key)!r}")
    if truth["planted"] != list(label.get("rules") or []):
        errs.append(f"{spec.id}: planted {truth['planted']} differs from the label {label.get('rules')}")
    if truth["items"] != dict(label.get("items") or {}):
        errs.append(f"{spec.id}: items differ from the label")
    if truth.get("label_questionnaire") != label.get("questionnaire"):
        errs.append(f"{spec.id}: label_questionnaire differs from the label")
    if truth["source"] != spec.source:
        errs.append(f"{spec.id}: source {truth['source']} is not {spec.source}")
    if truth["voices"]["pair"] != spec.voices or truth["conditions"]["codec"] != spec.codec:
        errs.append(f"{spec.id}: voices or codec differ from calls.yaml")
    if ("channels" in truth) != (spec.layout == "stereo") or truth.get("mono", False) != (spec.layout == "mono"):
        errs.append(f"{spec.id}: layout differs from calls.yaml")
    if "channels" in truth and truth["channels"]["agent"] != spec.agent_channel:
        errs.append(f"{spec.id}: agent channel differs from calls.yaml")
    segs, ssegs = truth["segments"], src["segments"]
    if len(segs) != len(ssegs):
        return [*errs, f"{spec.id}: {len(segs)} segments, the source has {len(ssegs)}"]
    for i, (t, s) in enumerate(zip(segs, ssegs, strict=True)):
        if (t["speaker"], t["text"]) != (s["speaker"], s["text"]):
            errs.append(f"{spec.id}: segment {i} speaker or text differs from the source")
        if abs(t["start"] - s["start"]) > TIME_TOLERANCE or abs(t["end"] - s["end"]) > TIME_TOLERANCE:
            errs.append(f"{spec.id}: segment {i} at {t['start']}-{t['end']}, the source says {s['start']}-{s['end']}")
    if truth["duration"] < max(s["end"] for s in segs):
        errs.append(f"{spec.id}: duration {truth['duration']} ends before the last segment")
    return errs


@dataclass
class AudioFacts:
    """What the audio check measured, for the report line."""

    duration: float = 0.0
    size_mb: float = 0.0
    speech_over_floor_db: float = 0.0
    other_channel_db: float | None = None
    longest_gap: float = 0.0
    agent_level_spread_db: float = 0.0
    worst_edge_s: float = 0.0
    agent_rate: float = 0.0  # 字/分钟 over the labelled spans (the truth's rate)
    agent_rate_audible: float = 0.0  # the same over each line's first to last frame clearly above the floor


def frame_db(x: np.ndarray) -> np.ndarray:
    n = int(FRAME * SAMPLE_RATE)
    frames = x[: len(x) // n * n].reshape(-1, n)
    return 20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-9)


def check_audio(spec: CallSpec, truth: dict | None = None) -> tuple[list[str], AudioFacts]:
    """The audio file matches its truth: format, duration, channels, where the speech is, levels, gaps."""
    import soundfile as sf

    truth = truth or spec.truth()
    path = spec.audio_path
    facts = AudioFacts()
    if not path.exists():
        return [f"{spec.id}: no audio {path}"], facts
    info = sf.info(path)
    data, sr = sf.read(path, dtype="float64", always_2d=True)
    facts.duration = len(data) / sr
    facts.size_mb = path.stat().st_size / 1e6
    errs = []
    if sr != SAMPLE_RATE or truth["sample_rate"] != SAMPLE_RATE:
        errs.append(f"{spec.id}: sample rate {sr}")
    if info.format != "FLAC" or info.subtype != "PCM_16":
        errs.append(f"{spec.id}: {info.format}/{info.subtype}, not FLAC 16-bit")
    stereo = "channels" in truth
    if data.shape[1] != (2 if stereo else 1):
        errs.append(f"{spec.id}: {data.shape[1]} channels for a {'stereo' if stereo else 'mono'} call")
        return errs, facts
    if abs(facts.duration - truth["duration"]) > 1.0 / SAMPLE_RATE + 0.001:
        errs.append(f"{spec.id}: {facts.duration:.3f} s of audio, the truth says {truth['duration']}")
    segs = truth["segments"]
    if any(s["start"] < 0 or s["end"] > facts.duration or s["end"] <= s["start"] for s in segs):
        errs.append(f"{spec.id}: a segment lies outside the file")
        return errs, facts

    def channel_of(speaker: str) -> int:
        return int(truth["channels"][speaker]) if stereo else 0

    levels = [frame_db(data[:, c]) for c in range(data.shape[1])]
    n = len(levels[0])
    busy = {sp: np.zeros(n, dtype=bool) for sp in ("agent", "customer")}
    for s in segs:
        busy[s["speaker"]][int(s["start"] / FRAME) : int(np.ceil(s["end"] / FRAME)) + 1] = True
    anyone = busy["agent"] | busy["customer"]
    # the noise floor of each channel: frames where nobody speaks, at least 50 ms from any speech
    quiet = ~np.convolve(anyone, np.ones(11), mode="same").astype(bool)
    floor = [float(np.median(lv[quiet])) if quiet.any() else float(np.min(lv)) for lv in levels]

    over, edges, agent_db = [], [], []
    agent_chars, agent_secs, agent_audible = 0, 0.0, 0.0
    for s in segs:
        ch = channel_of(s["speaker"])
        a, b = int(s["start"] * sr), int(s["end"] * sr)
        seg_db = 10 * np.log10(np.mean(data[a:b, ch] ** 2) + 1e-18)
        over.append(seg_db - floor[ch])
        if s["speaker"] == "agent":
            agent_db.append(seg_db)
        # first and last sound: the first and last 10 ms frame inside the span clearly above the floor
        lv = levels[ch][int(s["start"] / FRAME) : int(s["end"] / FRAME)]
        loud = np.flatnonzero(lv > floor[ch] + EDGE_DB)
        audible = (loud[-1] - loud[0] + 1) * FRAME if len(loud) else 0.0
        if len(loud):
            edges.append(max(loud[0] * FRAME, (len(lv) - 1 - loud[-1]) * FRAME))
        else:
            edges.append(s["end"] - s["start"])
        if s["speaker"] == "agent":
            agent_chars += spoken_chars(s["text"])
            agent_secs += s["end"] - s["start"]
            agent_audible += min(audible, s["end"] - s["start"])
    facts.speech_over_floor_db = float(min(over))
    facts.agent_rate = 60.0 * agent_chars / agent_secs if agent_secs else 0.0
    facts.agent_rate_audible = 60.0 * agent_chars / agent_audible if agent_audible else 0.0
    facts.worst_edge_s = float(max(edges))
    if min(over) < SPEECH_OVER_FLOOR_DB:
        errs.append(f"{spec.id}: a segment only {min(over):.1f} dB above the noise floor")
    if max(edges) > EDGE_SECONDS:
        i = int(np.argmax(edges))
        errs.append(f"{spec.id}: segment {i} has its first or last sound {edges[i]:.2f} s inside its labelled span")
    if agent_db:
        facts.agent_level_spread_db = float(max(abs(d - np.median(agent_db)) for d in agent_db))
        if facts.agent_level_spread_db > LEVEL_SPREAD_DB:
            errs.append(f"{spec.id}: agent line levels spread {facts.agent_level_spread_db:.1f} dB around their median")
    if stereo:  # the other channel carries only noise while its speaker is silent
        worst = -99.0
        for sp, other in (("agent", "customer"), ("customer", "agent")):
            ch = channel_of(other)
            only = busy[sp] & ~busy[other]
            only = only & ~np.convolve(busy[other], np.ones(11), mode="same").astype(bool)
            if only.any():
                worst = max(worst, float(np.median(levels[ch][only])) - floor[ch])
        facts.other_channel_db = worst
        if worst > OTHER_CHANNEL_DB:
            errs.append(f"{spec.id}: the silent channel is {worst:.1f} dB above its floor")
    # the longest silence inside the call, from the truth spans: below the dead-air threshold
    spans = sorted((s["start"], s["end"]) for s in segs)
    end, gap = spans[0][1], 0.0
    for a, b in spans[1:]:
        gap = max(gap, a - end)
        end = max(end, b)
    facts.longest_gap = gap
    if gap >= dead_air_seconds():
        errs.append(f"{spec.id}: a {gap:.1f} s silence would plant dynamics.dead_air")
    return errs, facts


def committed_megabytes(calls: list[CallSpec]) -> float:
    return sum(c.audio_path.stat().st_size for c in calls if c.committed and c.audio_path.exists()) / 1e6


def report(calls: list[CallSpec] | None = None) -> int:
    calls = calls or load_calls()
    problems = 0
    for spec in calls:
        errs = check_truth(spec)
        if spec.audio_path.exists() and not errs:
            audio_errs, f = check_audio(spec)
            errs += audio_errs
            print(f"{spec.call_id:48s} {f.duration:6.1f}s {f.size_mb:5.2f} MB {'in repo' if spec.committed else 'cache  '} "
                  f"speech ≥{f.speech_over_floor_db:4.1f} dB over floor, edges ≤{f.worst_edge_s:.2f}s, "
                  f"agent levels ±{f.agent_level_spread_db:.1f} dB, longest gap {f.longest_gap:.1f}s, "
                  f"agent {f.agent_rate:.0f}/min ({f.agent_rate_audible:.0f} audible)"
                  + (f", silent channel {f.other_channel_db:+.1f} dB" if f.other_channel_db is not None else ""))
        else:
            print(f"{spec.call_id:48s} {'(no audio)' if not spec.audio_path.exists() else ''}")
        for e in errs:
            print(f"  FAIL {e}")
        problems += len(errs)
    print(f"{len(calls)} calls; audio in the repository {committed_megabytes(calls):.2f} MB")
    return 1 if problems else 0


def main() -> int:
    return report()


if __name__ == "__main__":
    sys.exit(main())

