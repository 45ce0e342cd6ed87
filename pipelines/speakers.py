"""Stage 2: who speaks when. Stereo recordings are split by channel; mono ones are diarised.

Call centres record agent and customer on separate channels, which is exact and free; a channel is a
speaker. A mono recording (or a stereo file whose two channels carry the same mix) is diarised: by default with
the two-speaker path made for phone calls (`two_speakers.py`: speech regions, CAM++ once per region, two
clusters), or with the `diarization` setting "pyannote", by pyannote.audio's SpeakerDiarization pipeline
with local weights (segmentation-3.0 + CAM++) told that there are two speakers. Which speaker is the agent
is decided later, from what they say (roles.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from .audio import SAMPLE_RATE, LoadedAudio
from .settings import PipelineSettings


@dataclass(frozen=True)
class Track:
    """One speaker's share of the recording: a channel, or the turns diarisation gave one label."""

    label: str
    channel: int | None  # stereo channel, or None for a diarised speaker in the mono mix
    turns: tuple[tuple[float, float], ...] = ()  # diarised speech regions (seconds); () = whole channel


@dataclass(frozen=True)
class Separation:
    method: str  # "stereo" or "diarization"
    tracks: tuple[Track, ...]

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method,
                "tracks": [{"label": t.label, "channel": t.channel, "turns": [list(p) for p in t.turns]}
                           for t in self.tracks]}

    @classmethod
    def from_json(cls, data: Any) -> Separation:
        tracks = []
        for t in data["tracks"]:
            channel = t["channel"]
            if channel is not None and (isinstance(channel, bool) or not isinstance(channel, int)):
                raise ValueError("track channel must be a whole number")
            tracks.append(Track(str(t["label"]), channel, tuple((float(a), float(b)) for a, b in t["turns"])))
        return cls(str(data["method"]), tuple(tracks))


def is_dual_mono(samples: np.ndarray) -> bool:
    """Two channels carrying the same mix: a mono recording saved as stereo."""
    if samples.shape[0] < 2:
        return False
    a, b = samples[0], samples[1]
    energy = float(np.sum(a * a) + np.sum(b * b))
    return energy == 0 or float(np.sum((a - b) ** 2)) / energy < 0.01


@lru_cache(maxsize=2)
def diarization_pipeline(config: str):
    """The pyannote pipeline, loaded once per process (about a second, 2 GB of torch)."""
    from .diarization import load_pipeline

    return load_pipeline(config)


DIARIZATION_METHODS = ("fast", "pyannote")


def load_diarization(settings: PipelineSettings) -> None:
    """Load now what the default two-speaker path will use (torch and CAM++), so that its first call
    does not wait for them; pyannote's pipeline, a setting to compare against, loads when first used."""
    if settings.diarization == "fast" and settings.num_speakers == 2:
        from .diarization import embedding_weights
        from .two_speakers import campplus_model

        campplus_model(str(embedding_weights(settings.diarization_config)))


def diarize(mono: np.ndarray, settings: PipelineSettings) -> list[Track]:
    if settings.diarization not in DIARIZATION_METHODS:
        raise ValueError(f"diarization setting {settings.diarization!r}: expected one of {', '.join(DIARIZATION_METHODS)}")
    if settings.diarization == "fast" and settings.num_speakers == 2:
        return diarize_two(mono, settings)
    return diarize_pyannote(mono, settings)


def diarize_two(mono: np.ndarray, settings: PipelineSettings) -> list[Track]:
    """Two-party calls: speech regions, CAM++ once per region, two clusters (two_speakers.py)."""
    from .diarization import embedding_weights
    from .two_speakers import diarize as two_speakers

    turns = two_speakers(mono, embedding_weights(settings.diarization_config))
    return [Track(label, None, t) for label, t in sorted(turns.items())]


def diarize_pyannote(mono: np.ndarray, settings: PipelineSettings) -> list[Track]:
    """Any number of speakers (num_speakers): pyannote's SpeakerDiarization pipeline."""
    import torch

    pipeline = diarization_pipeline(settings.diarization_config)
    waveform = torch.from_numpy(np.ascontiguousarray(mono, dtype=np.float32))[None, :]
    output = pipeline({"waveform": waveform, "sample_rate": SAMPLE_RATE}, num_speakers=settings.num_speakers)
    turns: dict[str, list[tuple[float, float]]] = {}
    # exclusive diarisation: one speaker at a time, which is what per-speaker transcription needs
    for turn, _, label in output.exclusive_speaker_diarization.itertracks(yield_label=True):
        turns.setdefault(label, []).append((round(turn.start, 3), round(turn.end, 3)))
    return [Track(label, None, tuple(t)) for label, t in sorted(turns.items())]


def separate(audio: LoadedAudio, settings: PipelineSettings) -> Separation:
    if audio.samples.shape[0] >= 2 and not is_dual_mono(audio.samples):
        return Separation("stereo", (Track("channel_0", 0), Track("channel_1", 1)))
    return Separation("diarization", tuple(diarize(audio.mono, settings)))


def track_audio(audio: LoadedAudio, track: Track, gap: float = 0.5) -> tuple[np.ndarray, list[tuple[float, float, float]]]:
    """The samples of one track, and a map (piece start, piece end, original start) back to call time.

    A diarised speaker's turns are joined with short silences so one recogniser pass covers all of
    them: words keep their speaker, and the model runs once per speaker, not once per turn.
    """
    if track.channel is not None:
        x = audio.samples[track.channel]
        return x, [(0.0, len(x) / SAMPLE_RATE, 0.0)]
    mono = audio.mono
    pieces: list[np.ndarray] = []
    offsets: list[tuple[float, float, float]] = []
    silence = np.zeros(int(gap * SAMPLE_RATE), dtype=np.float32)
    pos = 0.0
    for start, end in track.turns:
        a, b = int(start * SAMPLE_RATE), int(end * SAMPLE_RATE)
        if b <= a:
            continue
        piece = mono[a:b]
        offsets.append((pos, pos + len(piece) / SAMPLE_RATE, start))
        pieces += [piece, silence]
        pos += (len(piece) + len(silence)) / SAMPLE_RATE
    if not pieces:
        return np.zeros(0, dtype=np.float32), []
    return np.concatenate(pieces), offsets


def to_call_time(t: float, offsets: list[tuple[float, float, float]]) -> float:
    """Map a time in a track's joined audio back to the recording's time."""
    best = offsets[0]
    for a, b, orig in offsets:
        if t < a:
            break
        best = (a, b, orig)
        if t <= b:
            break
    a, b, orig = best
    return orig + min(max(t - a, 0.0), b - a)
