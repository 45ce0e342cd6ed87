"""Where results persist: one JSON per call, written atomically, and Parquet tables appended by run.

Layout of an output folder:

    transcripts/<call_id>.json   the CONTRACT.md transcript, with word timings and audio measures
    results/<call_id>.json       the QA result (score, findings, metrics, checklist)
    tables/run-<id>/calls.parquet, findings.parquet   one folder per run, moved into place whole
    runs/<id>.json               the run report: every recording, scored, skipped or failed and why

A file is written to a temporary name beside its final one and renamed, so a killed run leaves either
the old file or the new one, never half of one. Tables are built from the per-call results that no
table holds yet, so a run killed before its tables still has them written by the next run, and every
call appears once.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

CALL_COLUMNS = {
    "call_id": pl.Utf8, "agent_id": pl.Utf8, "team": pl.Utf8, "started_at": pl.Utf8, "questionnaire": pl.Utf8,
    "score": pl.Float64, "passed": pl.Boolean, "compliance": pl.Float64, "professionalism": pl.Float64,
    "customer_experience": pl.Float64, "n_findings": pl.Int64, "n_critical": pl.Int64, "n_alerts": pl.Int64,
    "duration": pl.Float64, "agent_chars_per_min": pl.Float64, "customer_chars_per_min": pl.Float64,
    "thanks_count": pl.Int64, "talk_ratio": pl.Float64, "items_asked": pl.Int64, "items_total": pl.Int64,
    "role_confidence": pl.Float64, "separation": pl.Utf8, "recording": pl.Utf8, "audio_sha256": pl.Utf8,
    "run_id": pl.Utf8,
}
FINDING_COLUMNS = {
    "call_id": pl.Utf8, "agent_id": pl.Utf8, "team": pl.Utf8, "started_at": pl.Utf8, "rule": pl.Utf8,
    "kind": pl.Utf8, "severity": pl.Utf8, "dimension": pl.Utf8, "item": pl.Utf8, "speaker": pl.Utf8,
    "start": pl.Float64, "end": pl.Float64, "evidence": pl.Utf8, "message": pl.Utf8, "weight": pl.Float64,
    "recording": pl.Utf8, "run_id": pl.Utf8,
}


def write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


class ResultStore:
    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        for sub in ("transcripts", "results", "tables", "runs"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def clean_leftovers(self) -> None:
        """Remove the temporary files of a killed run (never read). Call once, before a run starts:
        during a run they are the files other calls are writing."""
        for tmp in self.root.glob("*/.*.tmp"):
            tmp.unlink(missing_ok=True)
        for tmp in (self.root / "tables").glob(".tmp-*"):
            shutil.rmtree(tmp, ignore_errors=True)

    def transcript_path(self, call_id: str) -> Path:
        return self.root / "transcripts" / f"{safe_name(call_id)}.json"

    def result_path(self, call_id: str) -> Path:
        return self.root / "results" / f"{safe_name(call_id)}.json"

    def done(self, call_id: str, audio_sha256: str, fingerprint: str) -> bool:
        """Whether this call is already scored from this audio with these settings."""
        path = self.result_path(call_id)
        if not path.exists():
            return False
        try:
            meta = read_json(path).get("pipeline", {})
        except (OSError, json.JSONDecodeError):
            return False
        return meta.get("audio_sha256") == audio_sha256 and meta.get("settings") == fingerprint

    def save_call(self, call_id: str, transcript: dict[str, Any], result: dict[str, Any]) -> None:
        # the transcript first: a result is only ever next to the transcript it was scored from
        write_json_atomic(self.transcript_path(call_id), transcript)
        write_json_atomic(self.result_path(call_id), result)

    def save_run(self, run_id: str, report: dict[str, Any]) -> Path:
        path = self.root / "runs" / f"{run_id}.json"
        write_json_atomic(path, report)
        return path

    # ---- tables ---------------------------------------------------------------------------------
    def table_files(self, name: str) -> list[Path]:
        return sorted((self.root / "tables").glob(f"run-*/{name}.parquet"))

    def scan(self, name: str) -> pl.LazyFrame:
        files = self.table_files(name)
        schema = CALL_COLUMNS if name == "calls" else FINDING_COLUMNS
        if not files:
            return pl.LazyFrame(schema=schema)
        return pl.scan_parquet([str(f) for f in files])

    def tabled_results(self) -> set[tuple[str, str]]:
        """(call_id, result run) pairs already in the tables."""
        frame = self.scan("calls").select("call_id", "run_id").collect()
        return set(zip(frame["call_id"].to_list(), frame["run_id"].to_list(), strict=True))

    def sync_tables(self, run_id: str) -> int:
        """Add every per-call result that no table holds yet; returns the number of calls added.

        The result's own run id travels into the table, so a call re-scored in a later run (new audio,
        new settings) is added again under that run and readers keep its newest row.
        """
        have = self.tabled_results()
        calls: list[dict[str, Any]] = []
        findings: list[dict[str, Any]] = []
        for path in sorted((self.root / "results").glob("*.json")):
            try:
                result = read_json(path)
            except (OSError, json.JSONDecodeError):
                continue
            key = (result["call_id"], result.get("pipeline", {}).get("run_id", ""))
            if key in have:
                continue
            calls.append(call_row(result))
            findings.extend(finding_rows(result))
        if not calls:
            return 0
        tmp = self.root / "tables" / f".tmp-{run_id}-{uuid.uuid4().hex[:6]}"
        tmp.mkdir()
        pl.DataFrame(calls, schema=CALL_COLUMNS).write_parquet(tmp / "calls.parquet")
        pl.DataFrame(findings, schema=FINDING_COLUMNS).write_parquet(tmp / "findings.parquet")
        final = self.root / "tables" / f"run-{run_id}"
        if final.exists():  # the same run syncing twice: a fresh name keeps both parts whole
            final = self.root / "tables" / f"run-{run_id}-{uuid.uuid4().hex[:6]}"
        os.replace(tmp, final)  # both tables appear together or not at all
        return len(calls)


def newest_scorings(calls: pl.LazyFrame) -> pl.LazyFrame:
    """(call_id, run_id) of each call's newest scoring, from those two columns only: a year of calls is
    grouped without reading the rest of its columns. Run ids begin with their start time, so the newest
    sorts last."""
    return calls.group_by("call_id").agg(pl.col("run_id").max())


def latest_calls(frame: pl.LazyFrame) -> pl.LazyFrame:
    """One row per call: the newest scoring (a re-scored call keeps its latest run). A run's rows are
    tabled once, so (call_id, run_id) picks one row."""
    return frame.join(newest_scorings(frame), on=["call_id", "run_id"], how="semi")


def safe_name(call_id: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in call_id)
    return keep.strip(".") or "call"


def _q(value: Any) -> str | None:
    if value is None:
        return None
    return "+".join(value) if isinstance(value, list) else str(value)


def call_row(result: dict[str, Any]) -> dict[str, Any]:
    m = result.get("metrics", {})
    p = result.get("pipeline", {})
    findings = result.get("findings", [])
    dims = result.get("dimensions", {})
    return {
        "call_id": result["call_id"], "agent_id": result.get("agent_id"), "team": result.get("team"),
        "started_at": result.get("started_at"), "questionnaire": _q(result.get("questionnaire")),
        "score": result.get("score"), "passed": result.get("passed"),
        "compliance": dims.get("compliance"), "professionalism": dims.get("professionalism"),
        "customer_experience": dims.get("customer_experience"), "n_findings": len(findings),
        "n_critical": sum(1 for f in findings if f["kind"] == "violation" and f["severity"] == "critical"),
        "n_alerts": sum(1 for f in findings if f["kind"] == "alert"),
        "duration": m.get("duration"), "agent_chars_per_min": m.get("agent_chars_per_min"),
        "customer_chars_per_min": m.get("customer_chars_per_min"), "thanks_count": m.get("thanks_count"),
        "talk_ratio": m.get("talk_ratio"), "items_asked": m.get("items_asked"), "items_total": m.get("items_total"),
        "role_confidence": p.get("role_confidence"), "separation": p.get("separation"),
        "recording": result.get("recording"), "audio_sha256": p.get("audio_sha256"), "run_id": p.get("run_id", ""),
    }


def finding_rows(result: dict[str, Any]) -> Iterable[dict[str, Any]]:
    run_id = result.get("pipeline", {}).get("run_id", "")
    for f in result.get("findings", []):
        yield {
            "call_id": result["call_id"], "agent_id": result.get("agent_id"), "team": result.get("team"),
            "started_at": result.get("started_at"), "rule": f["rule"], "kind": f["kind"],
            "severity": f["severity"], "dimension": f.get("dimension"), "item": f.get("item"),
            "speaker": f.get("speaker"), "start": f.get("start"), "end": f.get("end"), "evidence": f.get("evidence"),
            "message": f.get("message"), "weight": f.get("weight"), "recording": result.get("recording"),
            "run_id": run_id,
        }
