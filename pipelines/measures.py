"""Stage 4: what the audio says beyond the words: loudness per utterance, silences, talk ratio.

These feed the rules that need the audio (dynamics.loud, dynamics.dead_air); overlaps for
dynamics.interruption come from the utterance times themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .audio import SAMPLE_RATE, LoadedAudio

FRAME = 800  # 50 ms frames
HOP = 400
# levels are sums over whole hops (see rms_db): a frame is whole hops, centred by whole hops
assert FRAME % HOP == 0 and (FRAME // 2) % HOP == 0
ACTIVE_DB = 15.0  # speech: this far above the recording's noise floor
# the soft ends of words (a fading final, a breathy initial) are quieter: an utterance's edges are sought
# this far above the floor, so its duration (the speaking-rate denominator) is its whole sound
EDGE_DB = 6.0


@dataclass(frozen=True)
class Measures:
    silences: list[tuple[float, float]]  # both sides quiet, inside the call, longest first
    noise_floor_dbfs: float
    talk_ratio: float | None  # agent share of speaking time


def rms_db(x: np.ndarray) -> np.ndarray:
    """Frame levels (dB) of `x`: the RMS of each FRAME-sample frame every HOP samples, frames centred on
    their hop (zeros beyond the ends): librosa.feature.rms(center=True) to within 1e-5 dB, without
    librosa's second-long import or its copy of every frame. Each frame is FRAME // HOP whole hops, so
    the energy of each hop is summed once, over a view of the samples."""
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    per, lead = FRAME // HOP, (FRAME // 2) // HOP
    n_frames = 1 + len(x) // HOP
    full = len(x) // HOP
    body = x[: full * HOP].reshape(full, HOP)
    tail = np.zeros((n_frames + per - 1 - lead - full, HOP), dtype=np.float32)
    rest = x[full * HOP :]
    if len(rest):
        tail[0, : len(rest)] = rest
    energy = np.concatenate([np.zeros(lead), np.einsum("ij,ij->i", body, body, dtype=np.float64),
                             np.einsum("ij,ij->i", tail, tail, dtype=np.float64)])
    power = sum(energy[k : k + n_frames] for k in range(per)) / FRAME
    return 20 * np.log10(np.maximum(np.sqrt(power), 1e-6))


def frame_times(n: int) -> np.ndarray:
    """The time (s) of each of n frames of rms_db: its centre."""
    return np.arange(n) * HOP / SAMPLE_RATE


def levels_db(audio: LoadedAudio, channel: int | None) -> np.ndarray:
    """Frame levels (dBFS) of one channel, or of the mono mix for None; computed once per recording and
    shared by the stages that need them (edge snapping, silences)."""
    if channel is None and audio.samples.shape[0] == 1:
        channel = 0  # a mono recording's mix is its one channel
    cache: dict[int | None, np.ndarray] = audio.derived.setdefault("levels_db", {})  # type: ignore[assignment]
    if channel not in cache:
        cache[channel] = rms_db(audio.samples[channel] if channel is not None else audio.mono)
    return cache[channel]


def active_frames(db: np.ndarray, above: float = ACTIVE_DB) -> tuple[np.ndarray, float]:
    """Frames `above` dB over the noise floor (the 10th percentile level), and that floor."""
    floor = float(np.percentile(db, 10))
    return db > floor + above, floor


def segment_loudness(samples: np.ndarray, start: float, end: float) -> float | None:
    """Loudness of one utterance (dBFS, RMS of its loudest half: pauses inside do not dilute it)."""
    a, b = int(start * SAMPLE_RATE), int(end * SAMPLE_RATE)
    x = samples[a:b]
    if x.size < FRAME:
        return None
    db = rms_db(x)
    top = np.sort(db)[len(db) // 2 :]
    return round(float(np.mean(top)), 1)


def silences(audio: LoadedAudio, speech: list[tuple[float, float]], min_gap: float = 2.0) -> tuple[list[tuple[float, float]], float]:
    """Stretches where nobody speaks, between the first and the last speech of the call.

    Speech is both what the recogniser heard and what the signal shows above the noise floor, so a
    cough or a hold tone is not dead air and an unrecognised mumble is not either.
    """
    levels = np.max(np.stack([levels_db(audio, ch) for ch in range(audio.samples.shape[0])]), axis=0)
    active, floor = active_frames(levels)
    times = frame_times(len(levels))
    for a, b in speech:
        active[(times >= a) & (times <= b)] = True
    if not active.any():
        return [], floor
    first, last = times[np.argmax(active)], times[len(active) - 1 - np.argmax(active[::-1])]
    gaps = []
    start = None
    for t, on in zip(times, active, strict=True):
        if not on and first < t < last:
            start = t if start is None else start
        elif start is not None:
            if t - start >= min_gap:
                gaps.append((round(float(start), 2), round(float(t), 2)))
            start = None
    gaps.sort(key=lambda g: g[0] - g[1])
    return gaps, round(floor, 1)


def measure(audio: LoadedAudio, agent_time: float, customer_time: float,
            speech: list[tuple[float, float]]) -> Measures:
    gaps, floor = silences(audio, speech)
    total = agent_time + customer_time
    return Measures(gaps, floor, round(agent_time / total, 3) if total > 0 else None)
