"""`callqa run` and `callqa rescore`: the transcription flow, then the scoring flow.

    recordings ─► transcription flow ─► transcripts ─► scoring flow ─► results + tables
                  (transcription.py)                   (scoring.py)

A call whose transcript is current is not transcribed again (no model loaded); a call whose result is
current is not scored again; a lexicon edit therefore re-scores every call without re-transcribing any.
`rescore` runs the scoring flow alone over stored transcripts.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from callqa.walk import walk
from results.files import legacy_safe_name, remove_leftovers, safe_name
from results.store import ResultStore

from . import warmup
from .audio import AUDIO_SUFFIXES, AudioInfo, recording_problem
from .manifest import DEFAULT_PATTERN, CallMeta, ManifestError, call_meta, read_manifest
from .orchestration import OrchestrationError, ensure_prefect_api, quiet_heartbeats
from .scoring import ScoreOutcome, score_calls
from .settings import PipelineSettings
from .transcription import TranscriptionOutcome, set_progress_hook, transcribe_recordings


@dataclass
class CallOutcome:
    path: str
    call_id: str | None
    status: str  # scored | skipped (transcript and result were current) | failed
    error: str | None = None
    duration: float = 0.0
    score: float | None = None
    passed: bool | None = None
    seconds: float = 0.0
    transcribed: bool = False  # False: the stored transcript was current (or it failed before)


@dataclass
class RunReport:
    run_id: str
    started_at: str
    settings: dict[str, Any]
    outcomes: list[CallOutcome] = field(default_factory=list)
    tabled: int = 0
    finished_at: str | None = None
    notes: list[str] = field(default_factory=list)  # what the run did that the user should know
    error: str | None = None  # why nothing could be processed (no Prefect API), in one line

    def counts(self) -> dict[str, int]:
        out = {"scored": 0, "skipped": 0, "failed": 0}
        for o in self.outcomes:
            out[o.status] += 1
        return out


def new_run_id() -> str:
    """Run ids begin with their UTC start time, so the newest sorts last."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def find_recordings(paths: list[str], problems: list[tuple[str, str]] | None = None) -> list[Path]:
    """Recordings named, and every audio file below a named folder; a folder that cannot be read or a link
    that leads nowhere goes to `problems` as (path, what is wrong), never skipped in silence."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            for f in walk(p, lambda name: Path(name).suffix.lower() in AUDIO_SUFFIXES):
                if isinstance(f, Path):
                    found.append(f)
                elif problems is not None:
                    problems.append((str(f.path), f.problem))
        else:
            found.append(p)
    return found


def one_recording_per_call(calls: list[tuple[str, CallMeta]], report: RunReport) -> list[tuple[str, CallMeta]]:
    """Two recordings never share a result. A call id given to a second recording (two folders each
    holding call1.wav, a manifest naming one id twice) fails that recording, naming both; ids that differ
    only in characters a file name cannot hold (`call 1`, `call_1`) are stored under distinct names
    (results.files.safe_name), noted in the report."""
    first: dict[str, str] = {}
    alike: dict[str, list[str]] = {}
    seen: set[Path] = set()
    kept = []
    for path, meta in calls:
        where = Path(path).resolve()
        if where in seen:  # the same file named twice (a folder and a file in it): one call, not a clash
            report.notes.append(f"{path} was given more than once; scored once")
            continue
        seen.add(where)
        if meta.call_id in first:
            report.outcomes.append(CallOutcome(
                path, meta.call_id, "failed",
                error=f"call id '{meta.call_id}' is also the id of {first[meta.call_id]}: one call id per recording "
                      "(give each its own call_id in manifest.csv)"))
            continue
        first[meta.call_id] = path
        alike.setdefault(legacy_safe_name(meta.call_id), []).append(meta.call_id)
        kept.append((path, meta))
    for ids in alike.values():
        if len(ids) > 1:
            report.notes.append("call ids " + ", ".join(f"'{i}'" for i in ids) + " differ only in characters a file "
                                "name cannot hold; stored as " + ", ".join(f"{safe_name(i)}.json" for i in ids))
    return kept


def _combine(t: TranscriptionOutcome, s: ScoreOutcome | None) -> CallOutcome:
    base = CallOutcome(t.path, t.call_id, "failed", t.error, t.duration, seconds=t.seconds,
                       transcribed=t.status == "transcribed")
    if t.status == "failed" or s is None:
        return base
    base.score, base.passed = s.score, s.passed
    if s.status == "failed":
        base.error = s.error
    elif s.status == "current" and t.status == "current":
        base.status = "skipped"
    else:
        base.status = "scored"
    return base


@flow(name="callqa-run", log_prints=False)
def score_recordings(paths: list[str], out: str, settings: PipelineSettings | None = None,
                     lexicons: str | None = None, filename_pattern: str = DEFAULT_PATTERN) -> RunReport:
    """Transcribe and score every recording under `paths` into `out`; returns the run report (also
    written to out/runs)."""
    settings = settings or PipelineSettings.from_env()
    run_id = new_run_id()
    report = RunReport(run_id, datetime.now(UTC).isoformat(), asdict(settings))
    store = ResultStore(out)
    store.clean_leftovers()
    remove_leftovers(Path(out) / ".cache", "*")
    report.notes += store.quarantine_damaged_tables()
    manifests: dict[Path, dict[str, CallMeta]] = {}
    calls: list[tuple[str, CallMeta]] = []
    problems: list[tuple[str, str]] = []
    found = find_recordings(paths, problems)
    report.outcomes += [CallOutcome(path, None, "failed", error=problem) for path, problem in problems]
    for rec in found:
        try:
            if rec.parent not in manifests:
                manifests[rec.parent] = read_manifest(rec.parent)
            meta = call_meta(rec, manifests[rec.parent], filename_pattern)
        except ManifestError as exc:
            report.outcomes.append(CallOutcome(str(rec), None, "failed", error=str(exc)))
            continue
        problem = recording_problem(rec)
        if problem is not None:
            report.outcomes.append(CallOutcome(str(rec), meta.call_id, "failed", error=problem))
            continue
        calls.append((str(rec), meta))
    calls = one_recording_per_call(calls, report)
    transcribed = transcribe_recordings.with_options(
        task_runner=ThreadPoolTaskRunner(max_workers=max(1, settings.concurrency)))(calls, out, settings, lexicons)
    ready = [t.call_id for t in transcribed if t.status != "failed"]
    scored, report.tabled, notes = score_calls(out, ready, run_id, lexicons)
    report.notes += notes
    by_call = {s.call_id: s for s in scored}
    report.outcomes += [_combine(t, by_call.get(t.call_id)) for t in transcribed]
    report.outcomes.sort(key=lambda o: o.path)
    report.finished_at = datetime.now(UTC).isoformat()
    store.save_run(run_id, asdict(report) | {"counts": report.counts()})
    return report


def run(paths: list[str], out: str, settings: PipelineSettings, lexicons: str | None = None,
        filename_pattern: str = DEFAULT_PATTERN) -> RunReport:
    """Start (or reach) the Prefect API, then the flow. Without an API nothing is processed: every
    recording is reported as not processed, in a run report that says why."""
    warm = warmup.start(find_recordings(paths), out, settings, filename_pattern, lexicons)  # while the server starts
    try:
        ensure_prefect_api()
    except OrchestrationError as exc:
        warm.cancel()
        report = RunReport(new_run_id(), datetime.now(UTC).isoformat(), asdict(settings), error=str(exc))
        report.outcomes = [CallOutcome(str(p), None, "failed", error="not processed: no Prefect API (see the run's "
                                       "error)") for p in find_recordings(paths)]
        report.finished_at = datetime.now(UTC).isoformat()
        ResultStore(out).save_run(report.run_id, asdict(report) | {"counts": report.counts()})
        return report
    warm.server_ready()
    with quiet_heartbeats():
        return score_recordings(paths, out, settings, lexicons, filename_pattern)


@dataclass
class RescoreReport:
    run_id: str
    outcomes: list[ScoreOutcome]
    tabled: int
    dry_run: bool
    notes: list[str] = field(default_factory=list)
    error: str | None = None  # why nothing could be scored (no Prefect API), in one line

    def counts(self) -> dict[str, int]:
        out = {"scored": 0, "current": 0, "failed": 0}
        for o in self.outcomes:
            out[o.status] += 1
        return out


def rescore(out: str, call_ids: list[str], lexicons: str | None = None, *, force: bool = False,
            dry_run: bool = False) -> RescoreReport:
    """Score the stored transcripts of `call_ids` again (those whose result is not current, or all with
    `force`); no audio is decoded and no model is loaded."""
    run_id = new_run_id()
    store = ResultStore(out)
    try:
        ensure_prefect_api()
    except OrchestrationError as exc:
        outcomes = [ScoreOutcome(c, "failed", error="not scored: no Prefect API (see the run's error)")
                    for c in call_ids]
        report = RescoreReport(run_id, outcomes, 0, dry_run, error=str(exc))
        if not dry_run:
            store.save_run(run_id, {"run_id": run_id, "kind": "rescore", "error": report.error,
                                    "outcomes": [asdict(o) for o in outcomes], "counts": report.counts()})
        return report
    notes = []
    if not dry_run:
        store.clean_leftovers()
        notes = store.quarantine_damaged_tables()
    with quiet_heartbeats():
        outcomes, tabled, scoring_notes = score_calls(out, call_ids, run_id, lexicons, force=force, dry_run=dry_run)
    report = RescoreReport(run_id, outcomes, tabled, dry_run, notes + scoring_notes)
    if not dry_run:
        store.save_run(run_id, {"run_id": run_id, "kind": "rescore", "outcomes": [asdict(o) for o in outcomes],
                                "tabled": tabled, "counts": report.counts(), "notes": report.notes})
    return report


__all__ = ["AudioInfo", "CallOutcome", "RescoreReport", "RunReport", "rescore", "run", "score_recordings",
           "set_progress_hook"]
