"""A slice of calls as one flow run: what a worker of the deployment takes at a time.

    callqa submit ─► one flow run per slice (200 calls) ─► a worker: transcribe the slice ─► score it
                                                                    ─► one append to the tables

A worker's flow run is a process of its own (start-up ≈ 12 s here) that loads the speech models once:
both are paid once per slice, not per call. Recordings, transcripts, results and the stage cache live
under the output location (a shared folder or an object store, `results/storage.py`), so any worker can
take any slice; a remote recording is fetched to a local file a few at a time and removed after.

Exactly once. A slice's run id is fixed when it is submitted and kept by its retries (Prefect's, or a
resubmission of the slice after its worker died). What a worker did before it died is kept: a transcript
or stage result written is current, a result scored under the slice's run id is tabled as it is, and the
one append (`results/slice_tables.py`) adds only the calls the tables do not hold for that run. A call
whose current result came from another run that never reached the tables (a slice that died and was not
retried) is scored again under this slice's run id, so this slice tables it.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import polars as pl
from prefect import flow, tags, task
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from results.schema import run_of
from results.slice_tables import append_slice
from results.storage import StoragePath, is_remote, local_copy, location
from results.store import ResultStore, scan_table

from .audio import AUDIO_SUFFIXES
from .manifest import DEFAULT_PATTERN, CallMeta, ManifestError, call_meta, read_manifest
from .runtime import prepare
from .scoring import ScoreOutcome, score_slice
from .settings import PipelineSettings
from .transcription import TranscriptionOutcome, transcribe_recordings

SLICE_SIZE = 200  # calls per flow run; `CALLQA_SLICE_SIZE` or `callqa submit --slice`
GPU_TAG = "gpu"  # transcription on a GPU runs under this tag; its concurrency limit is the number of GPUs


def slice_size() -> int:
    return max(1, int(os.environ.get("CALLQA_SLICE_SIZE", SLICE_SIZE)))


# ---- listing a batch (the submitting side) -----------------------------------------------------------
@dataclass
class Listing:
    calls: list[CallMeta] = field(default_factory=list)  # each with `recording` set: where workers find it
    errors: list[tuple[str, str]] = field(default_factory=list)  # (recording, why it cannot be submitted)


def _recordings(source: StoragePath) -> list[StoragePath]:
    if source.is_dir():
        return sorted((p for p in source.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()),
                      key=str)
    return [source]


def list_batch(sources: Sequence[str], pattern: str = DEFAULT_PATTERN) -> Listing:
    """Every recording under `sources` (folders searched recursively, files, or URLs of shared storage)
    with its metadata (manifest beside it, else the file name). A local path is made absolute, since
    workers run elsewhere: it must be on storage they mount at the same path."""
    listing = Listing()
    manifests: dict[str, dict[str, CallMeta]] = {}
    seen: dict[str, str] = {}
    for source in sources:
        root = location(source)
        if not root.exists():
            listing.errors.append((source, "not found"))
            continue
        for rec in _recordings(root):
            where = str(rec) if is_remote(rec) else os.path.abspath(rec)
            try:
                folder = str(rec.parent)
                if folder not in manifests:
                    manifests[folder] = read_manifest(rec.parent)
                meta = call_meta(rec, manifests[folder], pattern)
            except ManifestError as exc:
                listing.errors.append((where, str(exc)))
                continue
            if meta.call_id in seen:  # two recordings, one call id: the second would overwrite the first
                listing.errors.append((where, f"call id {meta.call_id!r} is also the id of {seen[meta.call_id]}"))
                continue
            seen[meta.call_id] = where
            listing.calls.append(replace(meta, recording=where))
    return listing


def make_slices(calls: Sequence[CallMeta], size: int) -> list[list[CallMeta]]:
    return [list(calls[i : i + size]) for i in range(0, len(calls), size)]


def slice_run_id(batch_id: str, index: int) -> str:
    """A slice's run id: the batch's (UTC start time first, so newer scorings sort last), then the slice."""
    return f"{batch_id}-s{index:04d}"


# ---- the flow a worker runs ------------------------------------------------------------------------
@dataclass
class SliceReport:
    run_id: str
    out: str
    started_at: str
    worker: dict[str, Any]
    transcribed: int = 0
    scored: int = 0
    current: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)  # {recording or call_id, error}
    tabled: int = 0
    finished_at: str | None = None

    @property
    def calls(self) -> int:
        return self.scored + self.current + len(self.failed)


def _worker() -> dict[str, Any]:
    """Which machine and process ran the slice (a process worker starts each flow run as its child)."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "worker_pid": os.getppid(),
            "flow_run": str(flow_run.get_id() or ""), "attempt": flow_run.get_run_count()}


@contextmanager
def fetched(calls: Sequence[CallMeta], failed: list[TranscriptionOutcome]) -> Iterator[list[tuple[str, CallMeta]]]:
    """(local file, metadata) for each call: shared-storage recordings downloaded for the duration. One
    that cannot be fetched is a failed call (added to `failed`); the others go on."""
    with ExitStack() as stack:
        local = []
        for meta in calls:
            try:
                local.append((str(stack.enter_context(local_copy(location(meta.recording or "")))), meta))
            except OSError as exc:
                failed.append(TranscriptionOutcome(meta.recording or "", meta.call_id, "failed",
                                                   error=f"cannot fetch the recording: {exc}"))
        yield local


def scoring_plan(store: ResultStore, call_ids: Sequence[str], run_id: str) -> tuple[list[str], list[str]]:
    """(calls scored as usual, calls scored again under `run_id`): the second are those whose result comes
    from another run that no table holds (its slice died before its append), so this slice tables them."""
    tabled = set(scan_table(store.root, "calls").filter(pl.col("call_id").is_in(list(call_ids)))
                 .select("call_id", "run_id").collect().iter_rows())
    usual, adopt = [], []
    for cid in call_ids:
        result = store.read_result(cid)
        their_run = run_of(result) if result else None
        if result is None or their_run == run_id or (cid, their_run) in tabled:
            usual.append(cid)
        else:
            adopt.append(cid)
    return usual, adopt


@task(name="append-slice", retries=2, retry_delay_seconds=2, persist_result=False)
def append_task(out: str, run_id: str, call_ids: list[str]) -> int:
    store = ResultStore(out)
    results = [r for r in (store.read_result(c) for c in call_ids) if r is not None and run_of(r) == run_id]
    return append_slice(store.root, run_id, results)


FETCH_AHEAD = 4  # recordings fetched (and transcribed) at a time: a slice's audio never fills the disk


@flow(name="callqa-slice", retries=1, retry_delay_seconds=5, persist_result=True, log_prints=False)
def process_slice(out: str, calls: list[CallMeta], run_id: str, lexicons: str | None = None) -> SliceReport:
    """Transcribe and score one slice of calls into `out` (a folder or URL every worker reaches), append
    them to the tables once, and write the slice's report to out/runs/<run_id>.json."""
    settings = PipelineSettings.from_env()
    prepare(settings.thread_wait, settings.concurrency)  # before any speech library loads
    store = ResultStore(out)
    report = SliceReport(run_id, out, dt.datetime.now(dt.UTC).isoformat(), _worker())
    transcribe = transcribe_recordings.with_options(
        task_runner=ThreadPoolTaskRunner(max_workers=max(1, settings.concurrency)))
    transcribed: list[TranscriptionOutcome] = []
    step = max(FETCH_AHEAD, 2 * settings.concurrency)
    for i in range(0, len(calls), step):
        with ExitStack() as stack:
            if settings.device == "cuda":
                stack.enter_context(tags(GPU_TAG))  # at most as many slices on the GPUs as the limit says
            local = stack.enter_context(fetched(calls[i : i + step], transcribed))
            if local:
                transcribed += transcribe(local, out, settings, lexicons)
    report.transcribed = sum(t.status == "transcribed" for t in transcribed)
    ready = [t.call_id for t in transcribed if t.status != "failed"]
    usual, adopt = scoring_plan(store, ready, run_id)
    outcomes: list[ScoreOutcome] = []
    for ids, force in ((usual, False), (adopt, True)):
        if ids:
            outcomes += score_slice(out, ids, lexicons, run_id, force, True)
    report.scored = sum(o.status == "scored" for o in outcomes)
    report.current = sum(o.status == "current" for o in outcomes)
    where = {meta.call_id: meta.recording or "" for meta in calls}  # not the local copy's name
    report.failed = ([{"recording": where.get(t.call_id, t.path), "error": t.error or ""}
                      for t in transcribed if t.status == "failed"]
                     + [{"call_id": o.call_id, "error": o.error or ""} for o in outcomes if o.status == "failed"])
    report.tabled = append_task(out, run_id, ready)
    report.finished_at = dt.datetime.now(dt.UTC).isoformat()
    store.save_run(run_id, asdict(report) | {"kind": "slice", "calls": report.calls})
    return report


__all__ = ["GPU_TAG", "SLICE_SIZE", "Listing", "SliceReport", "list_batch", "make_slices", "process_slice",
           "slice_run_id", "slice_size"]
