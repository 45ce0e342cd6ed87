"""The transcription flow: recordings → transcripts.

    load → speakers → transcribe → assemble (roles, audio measures) → write the transcript

One task per stage, each with its own retries; the per-call task strings them together and turns a
failure into the call's outcome, never the batch's. A transcript is current while the recording's content
hash and the speech settings' fingerprint are the ones it was made with; a current one is not made again,
and no model is loaded for it. Diarisation and recognition are also cached by the same key as data
(`stage_cache.py`), so a run killed mid-call resumes after its last finished stage.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prefect import flow, task
from prefect.futures import as_completed

from callqa.model import Transcript, Utterance
from qa_checks import load_lexicon
from results.files import sync_dir
from results.store import ResultStore

from .assemble import build_transcript, decide_roles, join_turns, refine_times, split_at_other_speech
from .audio import AudioError, LoadedAudio, file_sha256, load_audio
from .manifest import CallMeta
from .runtime import prepare
from .settings import PipelineSettings
from .speakers import Separation, Track, separate, track_audio
from .stage_cache import StageCache
from .transcribe import begin_ahead, can_begin_ahead, transcribe, utterances_from_json, utterances_to_json


@dataclass
class TranscriptionOutcome:
    path: str
    call_id: str
    status: str  # transcribed | current | failed
    error: str | None = None
    duration: float = 0.0
    seconds: float = 0.0


# A progress callback the command line sets; the flow calls it as each recording finishes.
ProgressHook = Callable[[TranscriptionOutcome], None]
_progress: ProgressHook | None = None


def set_progress_hook(hook: ProgressHook | None) -> None:
    global _progress
    _progress = hook


def _stage_key(audio: LoadedAudio, settings: PipelineSettings, *stages: str) -> str:
    return f"{audio.info.sha256}-{settings.fingerprint(*stages)}"


# the modules whose code shapes who speaks when
SPEAKER_STAGES = ("audio", "speakers", "campplus", "campplus_onnx", "two_speakers")


@task(name="load", retries=2, retry_delay_seconds=1, persist_result=False,
      retry_condition_fn=lambda t, r, s: not isinstance(s.result(raise_on_failure=False), AudioError))
def load_task(path: str, settings: PipelineSettings, sha256: str) -> LoadedAudio:
    return load_audio(path, settings, sha256)


def cached_separation(audio: LoadedAudio, settings: PipelineSettings, cache: StageCache) -> Separation:
    """Who speaks when: stored, being worked out by another thread (the run's warm-up), or worked out here."""
    return cache.cached("speakers", _stage_key(audio, settings, *SPEAKER_STAGES),
                        lambda: separate(audio, settings),
                        Separation.to_json, Separation.from_json)


@task(name="speakers", retries=1, persist_result=False)
def speakers_task(audio: LoadedAudio, settings: PipelineSettings, cache: StageCache) -> Separation:
    return cached_separation(audio, settings, cache)


def _asr_key(audio: LoadedAudio, settings: PipelineSettings) -> str:
    """The recognition stage's cache key: the audio, and every setting and module that shapes its words."""
    return _stage_key(audio, settings, *SPEAKER_STAGES, "transcribe")


def _ahead_key(audio: LoadedAudio, settings: PipelineSettings, track: Track) -> str:
    return f"{_asr_key(audio, settings)}-{track.label}"


def _recognise(audio: LoadedAudio, separation: Separation, settings: PipelineSettings) -> dict[str, list[Utterance]]:
    out = {}
    for track in separation.tracks:
        samples, offsets = track_audio(audio, track)
        out[track.label] = list(transcribe(samples, offsets, settings, ahead=_ahead_key(audio, settings, track)))
    return out


def begin_first_track(audio: LoadedAudio, settings: PipelineSettings, cache: StageCache) -> None:
    """Begin the recogniser's first pass over the call's first track (transcribe.begin_ahead), unless the
    call's recognition is stored already."""
    if not can_begin_ahead(settings) or cache.path("asr", _asr_key(audio, settings)).is_file():
        return
    separation = cached_separation(audio, settings, cache)
    if separation.tracks:
        track = separation.tracks[0]
        begin_ahead(_ahead_key(audio, settings, track), track_audio(audio, track)[0], settings)


@task(name="transcribe", retries=1, persist_result=False)
def transcribe_task(audio: LoadedAudio, separation: Separation, settings: PipelineSettings,
                    cache: StageCache) -> dict[str, list[Utterance]]:
    return cache.cached("asr", _asr_key(audio, settings),
                        lambda: _recognise(audio, separation, settings),
                        utterances_to_json, utterances_from_json)


@task(name="assemble", retries=1, persist_result=False)
def assemble_task(meta: CallMeta, audio: LoadedAudio, separation: Separation,
                  utterances: dict[str, list[Utterance]], settings: PipelineSettings, lexicons: str | None) -> Transcript:
    utterances = join_turns(refine_times(split_at_other_speech(utterances), audio, separation), audio, separation)
    roles = decide_roles(utterances, load_lexicon(lexicons))
    return build_transcript(meta, audio, separation, utterances, roles, settings)


@task(name="write-transcript", retries=3, retry_delay_seconds=1, persist_result=False)
def write_transcript_task(out: str, transcript: Transcript) -> str:
    store = ResultStore(out)
    sha = store.save_transcript(transcript)
    sync_dir(store.root / "transcripts")
    return sha


@task(name="transcribe-call", persist_result=False)
def transcribe_call(path: str, meta: CallMeta, out: str, settings: PipelineSettings,
                    lexicons: str | None) -> TranscriptionOutcome:
    """One recording through every stage; a failure becomes the call's outcome, never the batch's."""
    t0 = time.perf_counter()
    store = ResultStore(out)
    try:
        sha = file_sha256(Path(path))
        if store.transcript_current(meta.call_id, sha, settings.fingerprint()):
            return TranscriptionOutcome(path, meta.call_id, "current", seconds=time.perf_counter() - t0)
        cache = StageCache(store.root / ".cache")
        audio = load_task(path, settings, sha)
        separation = speakers_task(audio, settings, cache)
        utterances = transcribe_task(audio, separation, settings, cache)
        transcript = assemble_task(meta, audio, separation, utterances, settings, lexicons)
        write_transcript_task(out, transcript)
        return TranscriptionOutcome(path, meta.call_id, "transcribed", duration=audio.info.duration,
                                    seconds=time.perf_counter() - t0)
    except AudioError as exc:
        return TranscriptionOutcome(path, meta.call_id, "failed", error=str(exc), seconds=time.perf_counter() - t0)
    except OSError as exc:  # unreadable (permissions, a disk error): named as such
        return TranscriptionOutcome(path, meta.call_id, "failed", error=f"cannot read: {exc.strerror or exc}",
                                    seconds=time.perf_counter() - t0)
    except Exception as exc:  # a broken recording or stage must not stop the batch
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return TranscriptionOutcome(path, meta.call_id, "failed", error=detail, seconds=time.perf_counter() - t0)


@flow(name="callqa-transcribe", log_prints=False)
def transcribe_recordings(calls: list[tuple[str, CallMeta]], out: str, settings: PipelineSettings,
                          lexicons: str | None = None) -> list[TranscriptionOutcome]:
    """Transcribe each (recording, metadata) whose transcript is not current; returns one outcome each."""
    prepare(settings.thread_wait, settings.concurrency)  # before any model loads
    runner = transcribe_call.with_options(task_run_name="transcribe-{path}")
    futures = [runner.submit(path, meta, out, settings, lexicons) for path, meta in calls]
    outcomes = []
    for future in as_completed(futures):
        outcome = future.result()
        outcomes.append(outcome)
        if _progress is not None:
            _progress(outcome)
    return sorted(outcomes, key=lambda o: o.path)
