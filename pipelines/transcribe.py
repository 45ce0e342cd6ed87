"""Stage 3: speech to text with faster-whisper, one pass per speaker track, words kept.

Settings choose the model (a local CTranslate2 folder, or a hub name where a hub is reachable), the
device, compute type and beam. Whisper base writes traditional characters about half the time and
invents subtitle credits on silence: output is converted to simplified and filtered.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import asdict
from functools import lru_cache
from typing import Any

import numpy as np
import opencc

from callqa.model import Utterance, Word

from .audio import SAMPLE_RATE
from .runtime import in_own_thread
from .settings import PipelineSettings, asr_lexicon
from .speakers import to_call_time

_T2S = opencc.OpenCC("t2s")
_MODEL_LOCK = threading.Lock()


@lru_cache(maxsize=2)
def _load(model: str, device: str, compute_type: str, cpu_threads: int):
    from faster_whisper import WhisperModel

    # built in a thread that exits, so every call decodes at the same speed (runtime.py says why)
    return in_own_thread(lambda: WhisperModel(model, device=device, compute_type=compute_type, cpu_threads=cpu_threads))


def whisper_model(settings: PipelineSettings):
    """One model per process: loading takes seconds and hundreds of MB."""
    with _MODEL_LOCK:
        return _load(settings.whisper_model, settings.device, settings.compute_type, settings.cpu_threads)


@lru_cache(maxsize=2)
def batched(model):
    """faster-whisper's batched pipeline over `model` (the `batch_size` setting)."""
    from faster_whisper import BatchedInferencePipeline

    return BatchedInferencePipeline(model=model)


@lru_cache(maxsize=1)
def _filters() -> tuple[tuple[str, ...], float, float, float]:
    lex = asr_lexicon()
    return (
        tuple(str(h) for h in lex.get("hallucinations", [])),
        float(lex.get("no_speech_prob_above", 0.6)),
        float(lex.get("avg_logprob_below", -1.0)),
        float(lex.get("compression_ratio_above", 2.4)),
    )


def _bare(text: str) -> str:
    return re.sub(r"[\s,.!?，。！？、:：]", "", text).lower()


_REPEAT = re.compile(r"(.{1,8}?)\1{3,}")  # a phrase said four or more times running: a decoding loop


def is_hallucination(text: str, no_speech_prob: float, avg_logprob: float, compression_ratio: float) -> bool:
    phrases, nsp, alp, cr = _filters()
    bare = _bare(text)
    if not bare:
        return True
    if any((b := _bare(p)) and b in bare and len(b) >= len(bare) * 0.5 for p in phrases):
        return True
    if compression_ratio > cr:
        return True
    return no_speech_prob > nsp and avg_logprob < alp


def collapse_repeats(text: str) -> str:
    return _REPEAT.sub(r"\1", text)


def _first_pass(samples: np.ndarray, settings: PipelineSettings) -> Iterator[Any]:
    """faster-whisper's segments of a track, to be decoded as they are read. Its voice-activity detection
    and features are computed here, at once, on one core; the recogniser runs as the segments are read."""
    model = whisper_model(settings)
    if settings.batch_size > 0:
        segments, _ = batched(model).transcribe(samples, batch_size=settings.batch_size, **decode_options(settings))
    else:
        segments, _ = model.transcribe(samples, **decode_options(settings))
    return segments


class _Ahead:
    """A track's first pass begun by another thread: set when its segments are ready to read."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.segments: Iterator[Any] | None = None


_AHEAD: dict[str, _Ahead] = {}
_AHEAD_LOCK = threading.Lock()


def can_begin_ahead(settings: PipelineSettings) -> bool:
    """Whether `begin_ahead` is single-threaded work for these settings: with the language given, the
    recogniser itself does not run until the segments are read (it would, to detect the language)."""
    return bool(settings.language)


def begin_ahead(key: str, samples: np.ndarray, settings: PipelineSettings) -> None:
    """Begin a track's first pass now, for `transcribe(..., ahead=key)` to read. A run's warm-up does this
    for its first call while the flows are being set up, when one core is otherwise idle."""
    entry = _Ahead()
    with _AHEAD_LOCK:
        if key in _AHEAD:
            return
        _AHEAD.clear()  # one at a time: a pass no stage took (its call failed before) is not kept
        _AHEAD[key] = entry
    try:
        entry.segments = _first_pass(samples, settings)
    except Exception:  # the stage does it again, and reports the failure for its call
        entry.segments = None
    finally:
        entry.ready.set()


def _take_ahead(key: str | None) -> Iterator[Any] | None:
    with _AHEAD_LOCK:
        entry = _AHEAD.pop(key, None) if key else None
    if entry is None:
        return None
    entry.ready.wait()
    return entry.segments


def transcribe(samples: np.ndarray, offsets: list[tuple[float, float, float]], settings: PipelineSettings,
               ahead: str | None = None) -> Iterator[Utterance]:
    """Utterances of one track in call time (lazily, as faster-whisper decodes); `ahead`: the key under
    which another thread may have begun this track's first pass (`begin_ahead`).

    With `hear_missed_speech`, stretches of the track's own signal that the first pass left without words
    (a short 是, 对, 收到了 between two questions, which the voice-activity detector and the recogniser's
    long windows lose) are then decoded one by one.
    """
    if samples.size == 0 or not offsets:
        return
    segments = _take_ahead(ahead)
    if segments is None:
        segments = _first_pass(samples, settings)
    model = whisper_model(settings)
    heard: list[tuple[float, float]] = []  # track-time spans the first pass put words on
    for seg in segments:
        heard += heard_in(seg, settings)
        yield from _utterances(seg, offsets, settings)
    if settings.hear_missed_speech:
        for a, b in missed_speech(samples, heard):
            clip = samples[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)]
            again, _ = model.transcribe(clip, **(decode_options(settings) | SECOND_LOOK))
            for seg in again:
                yield from _utterances(seg, offsets, settings, shift=a)


# a short stretch decoded on its own: no voice-activity cut (it is speech already), no fallback loops
SECOND_LOOK = {"vad_filter": False, "temperature": 0.0, "condition_on_previous_text": False, "initial_prompt": None}
MISSED_MIN_S = 0.3  # shorter sounds are clicks and breaths, not answers
MISSED_CLEAR_S = 0.4  # a stretch this close to a word heard is that word's tail or a breath, not an answer
MISSED_MAX_S = 6.0  # a longer stretch the first pass heard nothing in is noise, not speech it missed
MISSED_PAD_S = 0.2


def missed_speech(samples: np.ndarray, heard: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Stretches of the track's signal, in track time, well above its noise floor and away from anything
    the first pass heard."""
    from .measures import HOP, active_frames, rms_db

    if samples.size < SAMPLE_RATE // 2:
        return []
    db = rms_db(samples)
    voiced = db > -100  # the silence joining a diarised speaker's turns is exact zeros: not the noise floor
    if voiced.sum() < 10:
        return []
    active, _ = active_frames(np.where(voiced, db, np.percentile(db[voiced], 10)))
    times = np.arange(len(db)) * HOP / SAMPLE_RATE
    regions: list[list[float]] = []
    for t, on in zip(times, active, strict=True):
        if not on:
            continue
        if regions and t - regions[-1][1] <= 0.3:
            regions[-1][1] = t
        else:
            regions.append([t, t])
    out = []
    for a, b in regions:
        a, b = a - MISSED_PAD_S, b + MISSED_PAD_S
        if not MISSED_MIN_S <= b - a <= MISSED_MAX_S:
            continue
        if any(s - MISSED_CLEAR_S < b and e + MISSED_CLEAR_S > a for s, e in heard):
            continue
        out.append((max(0.0, a), min(len(samples) / SAMPLE_RATE, b)))
    return out


def heard_in(seg, settings: PipelineSettings) -> list[tuple[float, float]]:
    """The track-time spans a first-pass segment put words on. None for a segment dropped as invented (a
    loop of 尔尔尔 over a minute of a hard voice): it hid real answers, so its span stays unheard and the
    second look decodes it."""
    if dropped(seg, settings):
        return []
    return [(w.start, w.end) for w in seg.words or ()] or [(seg.start, seg.end)]


def dropped(seg, settings: PipelineSettings) -> bool:
    """Whether the filter drops a recognised segment as invented text."""
    return settings.hallucination_filter and is_hallucination(seg.text, seg.no_speech_prob, seg.avg_logprob,
                                                               seg.compression_ratio)


def _utterances(seg, offsets: list[tuple[float, float, float]], settings: PipelineSettings,
                shift: float = 0.0) -> Iterator[Utterance]:
    """One recognised segment as utterances in call time (`shift`: where its audio started in the track)."""
    if dropped(seg, settings):
        return
    words = []
    for w in seg.words or []:
        if not w.word.strip():
            continue
        piece = piece_of(w.start + shift, offsets)
        a, b, orig = offsets[piece]
        # a word is in one turn: its end cannot run into the next turn across the joining silence
        start = orig + min(max(w.start + shift - a, 0.0), b - a)
        end = orig + min(max(w.end + shift - a, 0.0), b - a)
        words.append((Word(_T2S.convert(w.word).strip(), round(start, 3), round(max(end, start), 3),
                           round(float(w.probability), 3)), piece))
    if not words:
        text = collapse_repeats(_T2S.convert(seg.text).strip())
        if text and not echoes_prompt(text, settings):
            a, b = to_call_time(seg.start + shift, offsets), to_call_time(seg.end + shift, offsets)
            yield Utterance(round(a, 3), round(max(a, b), 3), text, (), round(float(seg.avg_logprob), 3),
                            round(float(seg.no_speech_prob), 3))
        return
    # one utterance per stretch of speech: split where a diarised turn ends (the joined audio hides
    # the other speaker's time) or at a long pause, so durations stay speaking time
    runs: list[list[Word]] = [[]]
    for i, (w, piece) in enumerate(words):
        if runs[-1] and (piece != words[i - 1][1] or w.start - runs[-1][-1].end > MAX_PAUSE_S):
            runs.append([])
        runs[-1].append(w)
    for run in runs:
        utt = _utterance(run, seg)
        # a "word" shorter than any syllable is a timing artefact, not speech
        if utt.end - utt.start >= MIN_UTTERANCE_S and not echoes_prompt(utt.text, settings):
            yield utt


def decode_options(settings: PipelineSettings) -> dict[str, object]:
    """faster-whisper's keyword arguments for the settings (word timings always: findings are timed to them)."""
    return {
        "language": settings.language,
        "beam_size": settings.beam_size,
        "word_timestamps": True,
        "temperature": [0.0, 0.2, 0.4, 0.6, 0.8, 1.0] if settings.temperature_fallback else 0.0,
        "condition_on_previous_text": settings.condition_on_previous_text,
        "no_speech_threshold": settings.no_speech_threshold,
        "log_prob_threshold": settings.log_prob_threshold,
        "compression_ratio_threshold": settings.compression_ratio_threshold,
        "vad_filter": settings.vad_filter,
        "vad_parameters": {"threshold": settings.vad_threshold, "min_silence_duration_ms": settings.vad_min_silence_ms,
                           "speech_pad_ms": settings.vad_speech_pad_ms},
        "initial_prompt": settings.initial_prompt or None,
        "hotwords": settings.hotwords or None,
    }


MAX_PAUSE_S = 1.5
MIN_UTTERANCE_S = 0.15


def piece_of(t: float, offsets: list[tuple[float, float, float]]) -> int:
    for i, (_a, b, _) in enumerate(offsets):
        if t < b + 0.25:
            return i
    return len(offsets) - 1


@lru_cache(maxsize=8)
def _prompt_terms(prompt: str, hotwords: str) -> tuple[str, ...]:
    """The prompt's phrases and the hotwords, longest first (computed once per setting)."""
    terms = set(hotwords.split()) | set(re.split(r"[、。,，]", prompt))
    return tuple(sorted((t for t in terms if t), key=len, reverse=True))


def echoes_prompt(text: str, settings: PipelineSettings) -> bool:
    """Whisper repeats its own prompt on unclear audio (产品说明书责任免除 out of a cough, 亲笔 out of 清楚).

    Text made only of prompt terms, or a short piece of one, is dropped.
    """
    terms = _prompt_terms(settings.initial_prompt, settings.hotwords)
    bare = _bare(text)
    if not terms:
        return False
    if 0 < len(bare) <= 4 and any(bare in t and bare != t for t in terms):
        return True
    rest = bare
    for term in terms:
        rest = rest.replace(term, "")
    return not rest


def _utterance(words: list[Word], seg) -> Utterance:
    text = collapse_repeats("".join(w.word for w in words))
    return Utterance(words[0].start, max(words[-1].end, words[0].start), text, tuple(words),
                     round(float(seg.avg_logprob), 3), round(float(seg.no_speech_prob), 3))


def utterances_to_json(by_track: dict[str, list[Utterance]]) -> dict[str, Any]:
    return {label: [asdict(u) for u in utts] for label, utts in by_track.items()}


def utterances_from_json(data: Any) -> dict[str, list[Utterance]]:
    def words(raw: list[dict[str, Any]]) -> tuple[Word, ...]:
        return tuple(Word(str(w["word"]), float(w["start"]), float(w["end"]),
                          None if w.get("probability") is None else float(w["probability"])) for w in raw)

    def number(v: Any) -> float | None:
        return None if v is None else float(v)

    return {str(label): [Utterance(float(u["start"]), float(u["end"]), str(u["text"]), words(u["words"]),
                                   number(u.get("avg_logprob")), number(u.get("no_speech_prob"))) for u in utts]
            for label, utts in data.items()}
