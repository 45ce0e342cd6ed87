"""The Prefect flow: one task per stage, each with its own retries; the flow itself only strings them.

    load → speakers → transcribe → roles + measures → QA → write

The expensive stages (speakers, transcription) are cached by the audio's content hash and the
settings' fingerprint, with results kept in the output folder, so a re-run after a crash, or on a
folder that has grown, does only the new work. Models load once per process (see transcribe.py and
speakers.py). Calls run `concurrency` at a time on a thread pool.
"""

from __future__ import annotations

import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.futures import as_completed
from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings
from prefect.task_runners import ThreadPoolTaskRunner

from qa_checks import load_lexicon

from .assemble import build_transcript, decide_roles, refine_times, score_transcript, split_at_other_speech
from .audio import AUDIO_SUFFIXES, AudioError, AudioInfo, LoadedAudio, file_sha256, load_audio
from .manifest import DEFAULT_PATTERN, CallMeta, ManifestError, call_meta, read_manifest
from .settings import PipelineSettings
from .speakers import Separation, separate, track_audio
from .store import ResultStore
from .transcribe import Utterance, transcribe


@dataclass
class CallOutcome:
    path: str
    call_id: str | None
    status: str  # scored | skipped | failed
    error: str | None = None
    duration: float = 0.0
    score: float | None = None
    passed: bool | None = None
    seconds: float = 0.0


@dataclass
class RunReport:
    run_id: str
    started_at: str
    settings: dict[str, Any]
    outcomes: list[CallOutcome] = field(default_factory=list)
    tabled: int = 0
    finished_at: str | None = None

    def counts(self) -> dict[str, int]:
        out = {"scored": 0, "skipped": 0, "failed": 0}
        for o in self.outcomes:
            out[o.status] += 1
        return out


# A progress callback the command line sets; the flow calls it as each call finishes.
ProgressHook = Callable[[CallOutcome], None]
_progress: ProgressHook | None = None


def set_progress_hook(hook: ProgressHook | None) -> None:
    global _progress
    _progress = hook


def _cache_key(stage: str) -> Callable[[Any, dict[str, Any]], str]:
    def key(_context: Any, params: dict[str, Any]) -> str:
        audio: LoadedAudio = params["audio"]
        settings: PipelineSettings = params["settings"]
        return f"{stage}-{audio.info.sha256}-{settings.fingerprint()}"

    return key


# ---- stages as tasks ------------------------------------------------------------------------------
@task(name="load", retries=2, retry_delay_seconds=1, persist_result=False,
      retry_condition_fn=lambda t, r, s: not isinstance(s.result(raise_on_failure=False), AudioError))
def load_task(path: str, settings: PipelineSettings, sha256: str) -> LoadedAudio:
    return load_audio(path, settings, sha256)


@task(name="speakers", retries=1, cache_key_fn=_cache_key("speakers"), persist_result=True)
def speakers_task(audio: LoadedAudio, settings: PipelineSettings) -> Separation:
    return separate(audio, settings)


@task(name="transcribe", retries=1, cache_key_fn=_cache_key("asr"), persist_result=True)
def transcribe_task(audio: LoadedAudio, separation: Separation, settings: PipelineSettings) -> dict[str, list[Utterance]]:
    out = {}
    for track in separation.tracks:
        samples, offsets = track_audio(audio, track)
        out[track.label] = list(transcribe(samples, offsets, settings))
    return out


@task(name="assemble", retries=1, persist_result=False)
def assemble_task(meta: CallMeta, audio: LoadedAudio, separation: Separation,
                  utterances: dict[str, list[Utterance]], lexicons: str | None) -> dict[str, Any]:
    lex = load_lexicon(lexicons)
    utterances = refine_times(split_at_other_speech(utterances), audio, separation)
    roles = decide_roles(utterances, lex)
    return build_transcript(meta, audio, separation, utterances, roles)


@task(name="qa", retries=1, persist_result=False)
def qa_task(transcript: dict[str, Any], lexicons: str | None, pipeline_meta: dict[str, Any]) -> dict[str, Any]:
    return score_transcript(transcript, load_lexicon(lexicons), pipeline_meta)


@task(name="write", retries=3, retry_delay_seconds=1, persist_result=False)
def write_task(out: str, call_id: str, transcript: dict[str, Any], result: dict[str, Any]) -> None:
    ResultStore(out).save_call(call_id, transcript, result)


@task(name="call", persist_result=False)
def call_task(path: str, meta: CallMeta, out: str, settings: PipelineSettings, lexicons: str | None,
              run_id: str) -> CallOutcome:
    """One recording through every stage; a failure becomes the call's outcome, never the run's."""
    t0 = time.perf_counter()
    store = ResultStore(out)
    try:
        sha = file_sha256(Path(path))
        if store.done(meta.call_id, sha, settings.fingerprint()):
            return CallOutcome(path, meta.call_id, "skipped", seconds=time.perf_counter() - t0)
        audio = load_task(path, settings, sha)
        separation = speakers_task(audio, settings)
        utterances = transcribe_task(audio, separation, settings)
        transcript = assemble_task(meta, audio, separation, utterances, lexicons)
        pipeline_meta = {
            "run_id": run_id, "audio_sha256": audio.info.sha256, "settings": settings.fingerprint(),
            "whisper_model": settings.whisper_model, "separation": separation.method,
            "role_confidence": transcript["audio"]["roles"]["confidence"], "audio": asdict(audio.info),
        }
        result = qa_task(transcript, lexicons, pipeline_meta)
        write_task(out, meta.call_id, transcript, result)
        return CallOutcome(path, meta.call_id, "scored", duration=audio.info.duration, score=result["score"],
                           passed=result["passed"], seconds=time.perf_counter() - t0)
    except AudioError as exc:
        return CallOutcome(path, meta.call_id, "failed", error=str(exc), seconds=time.perf_counter() - t0)
    except Exception as exc:  # a broken recording or stage must not stop the batch
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return CallOutcome(path, meta.call_id, "failed", error=detail, seconds=time.perf_counter() - t0)


def find_recordings(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES)
        else:
            found.append(p)
    return found


@flow(name="callqa-score-recordings", log_prints=False)
def score_recordings(paths: list[str], out: str, settings: PipelineSettings | None = None,
                     lexicons: str | None = None, filename_pattern: str = DEFAULT_PATTERN) -> RunReport:
    """Score every recording under `paths` into `out`; returns the run report (also written to out/runs)."""
    settings = settings or PipelineSettings.from_env()
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    report = RunReport(run_id, datetime.now(UTC).isoformat(), asdict(settings))
    store = ResultStore(out)
    store.clean_leftovers()
    recordings = find_recordings(paths)
    manifests: dict[Path, dict[str, CallMeta]] = {}
    submitted = []
    runner_task = call_task.with_options(task_run_name="call-{path}")
    for rec in recordings:
        folder = rec.parent
        try:
            if folder not in manifests:
                manifests[folder] = read_manifest(folder)
            meta = call_meta(rec, manifests[folder], filename_pattern)
        except ManifestError as exc:
            report.outcomes.append(CallOutcome(str(rec), None, "failed", error=str(exc)))
            continue
        if not rec.exists():
            report.outcomes.append(CallOutcome(str(rec), meta.call_id, "failed", error="file not found"))
            continue
        submitted.append(runner_task.submit(str(rec), meta, out, settings, lexicons, run_id))
    for future in as_completed(submitted):
        outcome = future.result()
        report.outcomes.append(outcome)
        if _progress is not None:
            _progress(outcome)
    report.outcomes.sort(key=lambda o: o.path)
    report.tabled = store.sync_tables(run_id)
    report.finished_at = datetime.now(UTC).isoformat()
    store.save_run(run_id, asdict(report) | {"counts": report.counts()})
    return report


def run(paths: list[str], out: str, settings: PipelineSettings, lexicons: str | None = None,
        filename_pattern: str = DEFAULT_PATTERN) -> RunReport:
    """Run the flow with the concurrency the settings ask for; cached stage results live in out/.cache."""
    configured = score_recordings.with_options(task_runner=ThreadPoolTaskRunner(max_workers=max(1, settings.concurrency)))
    with temporary_settings({PREFECT_LOCAL_STORAGE_PATH: Path(out).resolve() / ".cache"}):
        return configured(paths, out, settings, lexicons, filename_pattern)


__all__ = ["AudioInfo", "CallOutcome", "RunReport", "run", "score_recordings", "set_progress_hook"]
