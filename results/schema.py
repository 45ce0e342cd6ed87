"""The result tables' columns, and how a per-call result becomes their rows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import polars as pl

from callqa.masking import mask_numbers
from callqa.model import Severity, Status

CALL_COLUMNS = {
    "call_id": pl.Utf8, "agent_id": pl.Utf8, "team": pl.Utf8, "started_at": pl.Utf8, "questionnaire": pl.Utf8,
    "score": pl.Float64, "passed": pl.Boolean, "compliance": pl.Float64, "professionalism": pl.Float64,
    "customer_experience": pl.Float64, "n_findings": pl.Int64, "n_critical": pl.Int64, "n_alerts": pl.Int64,
    "n_review": pl.Int64,
    "duration": pl.Float64, "agent_chars_per_min": pl.Float64, "customer_chars_per_min": pl.Float64,
    "thanks_count": pl.Int64, "talk_ratio": pl.Float64, "items_asked": pl.Int64, "items_total": pl.Int64,
    "role_confidence": pl.Float64, "separation": pl.Utf8, "recording": pl.Utf8, "audio_sha256": pl.Utf8,
    "lexicon_fingerprint": pl.Utf8, "run_id": pl.Utf8, "early_end": pl.Utf8,
}
FINDING_COLUMNS = {
    "call_id": pl.Utf8, "agent_id": pl.Utf8, "team": pl.Utf8, "started_at": pl.Utf8, "rule": pl.Utf8,
    "kind": pl.Utf8, "severity": pl.Utf8, "dimension": pl.Utf8, "item": pl.Utf8, "speaker": pl.Utf8,
    "start": pl.Float64, "end": pl.Float64, "evidence": pl.Utf8, "message": pl.Utf8, "weight": pl.Float64,
    "status": pl.Utf8, "confidence": pl.Float64, "basis": pl.Utf8, "recording": pl.Utf8, "run_id": pl.Utf8,
}
TABLES = {"calls": CALL_COLUMNS, "findings": FINDING_COLUMNS}


def run_of(result: dict[str, Any]) -> str:
    """The scoring run a result belongs to (results written before scoring kept its own record carry it in
    `pipeline`)."""
    return str((result.get("scoring") or {}).get("run_id") or (result.get("pipeline") or {}).get("run_id") or "")


def status_of(finding: dict[str, Any]) -> str:
    """A finding's status (results scored before statuses existed: their kind)."""
    return str(finding.get("status") or finding.get("kind"))


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
        "n_critical": sum(1 for f in findings if status_of(f) == Status.VIOLATION and f["severity"] == Severity.CRITICAL),
        "n_alerts": sum(1 for f in findings if status_of(f) == Status.ALERT),
        "n_review": sum(1 for f in findings if status_of(f) == Status.NEEDS_REVIEW),
        "duration": m.get("duration"), "agent_chars_per_min": m.get("agent_chars_per_min"),
        "customer_chars_per_min": m.get("customer_chars_per_min"), "thanks_count": m.get("thanks_count"),
        "talk_ratio": m.get("talk_ratio"), "items_asked": m.get("items_asked"), "items_total": m.get("items_total"),
        "role_confidence": p.get("role_confidence"), "separation": p.get("separation"),
        "recording": result.get("recording"), "audio_sha256": p.get("audio_sha256"),
        "lexicon_fingerprint": (result.get("scoring") or {}).get("lexicon_fingerprint"), "run_id": run_of(result),
        "early_end": m.get("early_end"),  # why a call ended early (not the policyholder, refused…): a follow-up case
    }


def _masked(text: str | None) -> str | None:
    return None if text is None else mask_numbers(text)


def finding_rows(result: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """A call's findings as table rows; personal numbers in the evidence and message are masked, since the
    tables are read by every report (the per-call result keeps the words as recognised)."""
    run_id = run_of(result)
    for f in result.get("findings", []):
        yield {
            "call_id": result["call_id"], "agent_id": result.get("agent_id"), "team": result.get("team"),
            "started_at": result.get("started_at"), "rule": f["rule"], "kind": f["kind"],
            "severity": f["severity"], "dimension": f.get("dimension"), "item": f.get("item"),
            "speaker": f.get("speaker"), "start": f.get("start"), "end": f.get("end"),
            "evidence": _masked(f.get("evidence")), "message": _masked(f.get("message")), "weight": f.get("weight"),
            "status": status_of(f), "confidence": f.get("confidence"), "basis": f.get("basis"),
            "recording": result.get("recording"),
            "run_id": run_id,
        }
