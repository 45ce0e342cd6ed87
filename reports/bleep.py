"""Spoken personal numbers in audio: where they are (from the transcript's word timings) and a tone over them.

A trainer listens to clips of what went wrong, never to a customer reading out an ID or a phone number.
The numbers are the ones `mask_numbers` hides in text; their time comes from the recogniser's words (a
number usually spans several words: 幺三八 / 一二三四 / …), and a segment without word timings places the
number by its share of the segment's characters, with a wider margin, since such a guess can be off.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from callqa.masking import number_spans

WORD_MARGIN_S = 0.08  # around a number placed by word timings
GUESS_MARGIN_S = 0.6  # around a number placed by its position in a segment without word timings
TONE_HZ = 1000.0
TONE_LEVEL = 0.25  # of full scale


def spoken_number_spans(segments: Iterable[Mapping[str, Any]]) -> list[tuple[float, float]]:
    """(start, end) in seconds of every personal number said in the call, merged where they overlap."""
    spans: list[tuple[float, float]] = []
    for seg in segments:
        try:
            s0, s1 = float(seg["start"]), float(seg["end"])
        except (KeyError, TypeError, ValueError):
            continue
        words = [w for w in seg.get("words") or [] if isinstance(w, Mapping) and w.get("word")]
        if words:
            spans += _by_words(words)
        else:
            text = str(seg.get("text") or "")
            for a, b in number_spans(text):
                # the characters' share of the segment's time, widened: speech is not evenly paced
                t0 = s0 + (s1 - s0) * a / len(text) - GUESS_MARGIN_S
                t1 = s0 + (s1 - s0) * b / len(text) + GUESS_MARGIN_S
                spans.append((max(s0, t0), min(s1, t1)))
    return merge(spans)


def _by_words(words: Sequence[Mapping[str, Any]]) -> list[tuple[float, float]]:
    text, owner = "", []
    for i, w in enumerate(words):
        text += str(w["word"])
        owner += [i] * len(str(w["word"]))
    out = []
    for a, b in number_spans(text):
        hit = [words[i] for i in sorted(set(owner[a:b]))]
        try:
            out.append((float(hit[0]["start"]) - WORD_MARGIN_S, float(hit[-1]["end"]) + WORD_MARGIN_S))
        except (KeyError, TypeError, ValueError):
            continue
    return out


def merge(spans: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted((max(0.0, a), b) for a, b in spans if b > a):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def within(spans: Sequence[tuple[float, float]], start: float, end: float) -> list[tuple[float, float]]:
    """The spans overlapping [start, end], clipped to it."""
    return [(max(a, start), min(b, end)) for a, b in spans if b > start and a < end]


def bleep(samples: np.ndarray, rate: int, offset: float, spans: Sequence[tuple[float, float]],
          full_scale: float = 1.0) -> np.ndarray:
    """`samples` (frames × channels, starting `offset` seconds into the recording) with every span replaced
    by a tone on all channels. `full_scale` is the sample value of 0 dBFS (2**31 for int32 samples)."""
    out = samples.copy()
    for a, b in spans:
        i, j = max(0, round((a - offset) * rate)), min(len(out), round((b - offset) * rate))
        if j <= i:
            continue
        t = np.arange(i, j) / rate
        tone = TONE_LEVEL * full_scale * np.sin(2 * np.pi * TONE_HZ * t)
        out[i:j] = tone.astype(out.dtype)[:, None] if out.ndim == 2 else tone.astype(out.dtype)
    return out


def decode_span(recording: Path, start: float, end: float) -> tuple[np.ndarray, int, float]:
    """recording[start:end] decoded to float32 (frames × channels), its rate and where it really starts."""
    import soundfile as sf

    try:
        with sf.SoundFile(str(recording)) as f:
            rate = f.samplerate
            first = min(max(round(start * rate), 0), f.frames)
            f.seek(first)
            data = f.read(max(0, min(round(end * rate), f.frames) - first), dtype="float32", always_2d=True)
            return data, rate, first / rate
    except (sf.LibsndfileError, RuntimeError):
        pass
    import av

    with av.open(str(recording), metadata_errors="ignore") as c:
        stream = c.streams.audio[0]
        rate = stream.rate
        resampler = av.AudioResampler(format="fltp", layout=stream.layout.name, rate=rate)
        chunks = [f.to_ndarray() for frame in c.decode(stream) for f in resampler.resample(frame)]
    whole = np.concatenate(chunks, axis=1).T if chunks else np.zeros((0, 1), np.float32)
    first = min(max(round(start * rate), 0), len(whole))
    return whole[first:max(first, round(end * rate))].astype(np.float32), rate, first / rate


def bleeped_wav(recording: Path, start: float, end: float, spans: Sequence[tuple[float, float]]) -> bytes:
    """A WAV (16-bit) of recording[start:end] with the spans toned out."""
    import soundfile as sf

    data, rate, offset = decode_span(recording, start, end)
    if len(data) == 0:
        raise ValueError(f"nothing to play between {start:.2f} and {end:.2f} s")
    buf = io.BytesIO()
    sf.write(buf, bleep(data, rate, offset, within(spans, start, end)), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()
