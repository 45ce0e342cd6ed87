"""Who speaks when in a mono recording of a two-party telephone call, fast on a CPU.

pyannote's general pipeline slides a 10 s window over the call one second at a time, runs a
segmentation network on each window and the speaker embedding once per window and local speaker: every
second of audio goes through CAM++ about ten times, for calls of any number of speakers. A callback
call has two, who take turns with short pauses between them, so this path does the work once:

1. Speech regions from the signal: the Silero voice-activity detector that faster-whisper ships (ONNX,
   about a second per hour of audio), with two thresholds (speech starts above `vad_on`, goes on until
   below `vad_off`) low enough to keep a two-character answer (对, 是的), split at pauses of
   `min_pause_s`: a pause is where the turn can change hands.
2. CAM++ (the same zh/en weights the pyannote path uses) once over each region, in pieces of at most
   `max_piece_s`: frame-level features, then one embedding per region and one per window of `window_s`
   every `step_s` inside long regions.
3. Two speakers: average-linkage clustering of the region embeddings (cosine), the two clusters that
   hold most of the speech as the speakers (a cough or a click forms a third cluster of its own and
   joins the nearer speaker), refined by a few duration-weighted k-means steps.
4. A region is one speaker unless its windows say clearly (`min_margin`) and for long enough
   (`min_run_s`) that the other speaker took over inside it; a shorter run takes its neighbours' label.
5. A speaker's regions less than `join_gap_s` apart become one turn (the pauses inside a sentence).

Measured against pyannote on the audio benchmark's mono calls: see benchmarks/diarization_compare.py
and the README. CAM++ runs on ONNX Runtime (campplus_onnx.py): neither torch nor pyannote is imported
(half a gigabyte less memory, seconds less start-up, the network three times faster on two cores).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .audio import SAMPLE_RATE
from .campplus_onnx import CampPlus, CampPlusOnnx, ensure_graphs

VAD_FRAME = 512  # samples per Silero VAD frame (32 ms at 16 kHz)
TRUNK_HOP_S = 0.02  # CAM++ frame-level features: 10 ms fbank frames, strided by two


@dataclass(frozen=True)
class Params:
    vad_on: float = 0.3
    vad_off: float = 0.2
    min_pause_s: float = 0.15
    min_speech_s: float = 0.1
    pad_s: float = 0.1
    window_s: float = 1.5
    step_s: float = 0.5
    min_run_s: float = 0.6
    min_margin: float = 0.05
    join_gap_s: float = 1.0
    max_piece_s: float = 30.0
    kmeans_steps: int = 3
    max_clustered: int = 2000  # regions clustered directly; the rest (hours-long calls) join the nearer speaker


Span = tuple[float, float]


# ------------------------------------------------------------------------------------ speech regions


def speech_probabilities(mono: np.ndarray) -> np.ndarray:
    """Silero's speech probability per 32 ms frame."""
    from faster_whisper.vad import get_vad_model

    x = np.ascontiguousarray(mono, dtype=np.float32)
    x = np.pad(x, (0, VAD_FRAME - len(x) % VAD_FRAME))
    return np.asarray(get_vad_model()(x), dtype=np.float32).reshape(-1)


def speech_regions(prob: np.ndarray, duration: float, p: Params = Params()) -> list[Span]:
    """Stretches of speech (seconds): hysteresis on the probabilities, split at pauses of min_pause_s."""
    on = np.zeros(len(prob), dtype=bool)
    speaking = False
    for i, v in enumerate(prob):
        speaking = v >= (p.vad_off if speaking else p.vad_on)
        on[i] = speaking
    frame = VAD_FRAME / SAMPLE_RATE
    edges = np.flatnonzero(np.diff(np.concatenate(([0], on.astype(np.int8), [0]))))
    runs: list[list[float]] = []
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if runs and a * frame - runs[-1][1] < p.min_pause_s:
            runs[-1][1] = b * frame
        else:
            runs.append([a * frame, b * frame])
    return [(max(0.0, a - p.pad_s), min(duration, b + p.pad_s)) for a, b in runs if b - a >= p.min_speech_s]


# -------------------------------------------------------------------------------------- embeddings


def window_stats(frames: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    """Mean and standard deviation of frames[a:b] for each (a, b), as CAM++'s pooling computes them."""
    c1 = np.concatenate([np.zeros((1, frames.shape[1])), np.cumsum(frames, axis=0, dtype=np.float64)])
    c2 = np.concatenate([np.zeros((1, frames.shape[1])), np.cumsum(frames.astype(np.float64) ** 2, axis=0)])
    out = np.empty((len(spans), 2 * frames.shape[1]))
    last = len(frames)
    for k, (a, b) in enumerate(spans):
        a = min(max(a, 0), max(last - 2, 0))
        b = min(max(b, a + 2), last)
        n = b - a
        s1, s2 = c1[b] - c1[a], c2[b] - c2[a]
        mean = s1 / n
        var = np.maximum(s2 - n * mean**2, 0.0) / max(n - 1, 1)  # unbiased, as torch.std
        out[k] = np.concatenate([mean, np.sqrt(var)])
    return out


@dataclass
class Region:
    start: float
    end: float
    embedding: np.ndarray
    windows: list[tuple[float, float, np.ndarray]]  # (start, end, embedding) inside long regions

    @property
    def duration(self) -> float:
        return self.end - self.start


def embed_regions(model: CampPlus | CampPlusOnnx, mono: np.ndarray, regions: list[Span], p: Params = Params()) -> list[Region]:
    out = []
    for a, b in regions:
        frames = []
        t = a
        while t < b - 1e-9:  # a region longer than max_piece_s runs through the network in pieces
            e = min(b, t + p.max_piece_s)
            frames.append(model.frames(mono[int(t * SAMPLE_RATE) : int(e * SAMPLE_RATE)]))
            t = e
        f = np.concatenate(frames)
        spans = [(0, len(f))]
        wins: list[Span] = []
        if b - a >= 2 * p.window_s:
            starts = np.arange(0.0, b - a - p.window_s + 1e-6, p.step_s)
            wins = [(a + s, a + s + p.window_s) for s in starts]
            spans += [(int((s - a) / TRUNK_HOP_S), int((e - a) / TRUNK_HOP_S)) for s, e in wins]
        emb = model.embed(window_stats(f, spans))
        out.append(Region(a, b, emb[0], [(s, e, v) for (s, e), v in zip(wins, emb[1:], strict=True)]))
    return out


# -------------------------------------------------------------------------------------- two speakers


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)


def two_centroids(embeddings: np.ndarray, weights: np.ndarray, p: Params = Params()) -> np.ndarray:
    """Unit centroids (2, dim) of the two speakers among the region embeddings (n, dim)."""
    from scipy.cluster.hierarchy import fcluster, linkage

    e = _unit(embeddings)
    if len(e) < 2:
        return np.stack([e[0], -e[0]]) if len(e) else np.eye(2, embeddings.shape[1])
    keep = np.argsort(-weights)[: p.max_clustered]
    tree = linkage(e[keep], method="average", metric="cosine")
    most = min(len(keep), 12)
    for k in range(2, most + 1):
        labels = fcluster(tree, k, criterion="maxclust") - 1
        mass = np.bincount(labels, weights=weights[keep])
        top = np.argsort(-mass)[:2]
        # stop at the first cut whose two heaviest clusters hold nearly all the speech and both a real share
        if (mass[top].sum() >= 0.9 * weights[keep].sum() and mass[top[1]] >= 0.05 * weights[keep].sum()) or k == most:
            break
    if len(top) < 2:
        return np.stack([e[keep[0]], -e[keep[0]]])
    centroids = _unit(np.stack([(e[keep][labels == t] * weights[keep][labels == t, None]).sum(0) for t in top]))
    for _ in range(p.kmeans_steps):
        nearest = np.argmax(e @ centroids.T, axis=1)
        if len(set(nearest.tolist())) < 2:
            break
        centroids = _unit(np.stack([(e[nearest == t] * weights[nearest == t, None]).sum(0) for t in (0, 1)]))
    return centroids


def label_region(region: Region, centroids: np.ndarray, p: Params = Params()) -> list[tuple[float, float, int]]:
    """(start, end, speaker) pieces of one region: one speaker, unless its windows clearly say otherwise."""
    whole = int(np.argmax(_unit(region.embedding) @ centroids.T))
    if not region.windows:
        return [(region.start, region.end, whole)]
    step = TRUNK_HOP_S
    n = max(1, round(region.duration / step))
    votes = np.zeros((n, 2))
    count = np.full(n, 1e-9)
    for s, e, v in region.windows:  # each frame: the mean score of the windows that cover it
        i, j = int((s - region.start) / step), int((e - region.start) / step)
        votes[i:j] += _unit(v) @ centroids.T
        count[i:j] += 1
    covered = count >= 1
    diff = np.where(covered, (votes[:, 0] - votes[:, 1]) / count, 0.0)
    labels = np.where(covered, (diff < 0).astype(int), whole)
    runs: list[list[Any]] = []
    i = 0
    while i < n:
        j = i
        while j < n and labels[j] == labels[i]:
            j += 1
        runs.append([i, j, int(labels[i]), float(np.abs(diff[i:j]).mean())])
        i = j
    if len(runs) > 1:
        for r in runs:  # too short or too unclear to be a change of speaker
            if (r[1] - r[0]) * step < p.min_run_s or r[3] < p.min_margin:
                r[2] = -1
        for k, r in enumerate(runs):
            if r[2] == -1:
                sides = [runs[q] for q in (k - 1, k + 1) if 0 <= q < len(runs) and runs[q][2] != -1]
                r[2] = max(sides, key=lambda x: x[1] - x[0])[2] if sides else whole
    return [(region.start + a * step, min(region.end, region.start + b * step), lab) for a, b, lab, _ in runs]


def join_turns(pieces: list[tuple[float, float, int]], gap: float) -> dict[int, list[Span]]:
    """Each speaker's turns: consecutive pieces of one speaker less than `gap` apart are one turn."""
    turns: dict[int, list[Span]] = {0: [], 1: []}
    last = None
    for a, b, who in sorted(pieces):
        own = turns[who]
        if own and last == who and a - own[-1][1] <= gap:
            own[-1] = (own[-1][0], max(own[-1][1], b))
        else:
            own.append((a, b))
        last = who
    return turns


_MODEL_LOCK = threading.Lock()


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """numpy's matrix products on one OpenBLAS thread while CAM++ runs (unless OPENBLAS_NUM_THREADS or
    OMP_NUM_THREADS is set). The filter bank's products are small, and OpenBLAS's idle pool took the
    cores from ONNX Runtime's threads between them: 2.0 s of CAM++ on a 2.6-minute call against 0.8 s.
    Only here: the recogniser's features go on being computed as before, to the last bit."""
    if "OPENBLAS_NUM_THREADS" in os.environ or "OMP_NUM_THREADS" in os.environ:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@lru_cache(maxsize=2)
def _campplus(state_dict: str) -> CampPlus | CampPlusOnnx:
    graphs = ensure_graphs(state_dict)
    return CampPlusOnnx(*graphs) if graphs is not None else CampPlus(state_dict)


def campplus_model(state_dict: str) -> CampPlus | CampPlusOnnx:
    """One CAM++ per process, however many threads ask at once: on ONNX Runtime (campplus_onnx.py), or
    in torch where its graphs cannot be had."""
    with _MODEL_LOCK:
        return _campplus(state_dict)


def diarize(mono: np.ndarray, state_dict: str | Path, p: Params = Params(),
            model: CampPlus | CampPlusOnnx | None = None) -> dict[str, tuple[Span, ...]]:
    """The two speakers' turns (seconds, rounded to the millisecond), labelled SPEAKER_00 and SPEAKER_01;
    `model`: the network to use (default: the process's one for `state_dict`)."""
    duration = len(mono) / SAMPLE_RATE
    spans = speech_regions(speech_probabilities(mono), duration, p)
    if not spans:
        return {}
    with one_blas_thread():
        regions = embed_regions(model or campplus_model(str(state_dict)), mono, spans, p)
    centroids = two_centroids(np.stack([r.embedding for r in regions]), np.array([r.duration for r in regions]), p)
    pieces = [piece for r in regions for piece in label_region(r, centroids, p)]
    turns = join_turns(pieces, p.join_gap_s)
    return {f"SPEAKER_{k:02d}": tuple((round(a, 3), round(b, 3)) for a, b in v) for k, v in sorted(turns.items()) if v}
