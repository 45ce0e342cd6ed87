"""A call's reviewed score: its automatic score with the findings analysts (or an appeal ruling) rejected as
false alarms given back. A finding confirmed, under appeal or not reviewed keeps its deduction; a call no
one reviewed keeps its automatic score."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from callqa.model import Dimension, Finding, Kind, Severity
from qa_checks.lexicon import Lexicon
from qa_checks.scoring import score
from results.schema import run_of
from workspace.decisions import ReviewStore

from .review import CallNotFound, finding_key, load_result

COLUMNS = {"call_id": pl.Utf8, "reviewed_score": pl.Float64, "reviewed_passed": pl.Boolean,
           "reviewed_findings": pl.Int64, "false_alarms": pl.Int64}


@dataclass(frozen=True)
class ReviewedScore:
    call_id: str
    score: float
    passed: bool
    reviewed: int  # findings with a current decision
    false_alarms: int


def _finding(f: dict[str, Any]) -> Finding:
    return Finding(f["rule"], Kind(f["kind"]), Severity(f["severity"]), Dimension(f["dimension"]), f.get("speaker"),
                   float(f.get("start") or 0.0), float(f.get("end") or 0.0), f.get("evidence") or "",
                   f.get("message") or "", f.get("item"), float(f.get("weight") or 0.0))


def reviewed_score(result: dict[str, Any], store: ReviewStore, lex: Lexicon) -> ReviewedScore | None:
    """The reviewed score of one call's newest scoring, or None when none of its findings was reviewed."""
    findings = result.get("findings", [])
    keys = [finding_key(i, f) for i, f in enumerate(findings)]
    placed = store.for_scoring(result["call_id"], findings, run_of(result), keys)
    if not placed.on_findings:
        return None
    rejected = {k for k, d in placed.on_findings.items() if d.verdict == "false_positive"}
    kept = [_finding(f) for k, f in zip(keys, findings, strict=True) if k not in rejected and f["rule"] in lex.rules]
    total, _, passed = score(kept, lex)
    return ReviewedScore(result["call_id"], total, passed, len(placed.on_findings), len(rejected))


def reviewed_scores(out_dir: Path, call_ids: Iterable[str], store: ReviewStore, lex: Lexicon) -> pl.DataFrame:
    """Reviewed scores of those of `call_ids` that have decisions (one row each)."""
    rows = []
    for call_id in store.reviewed_calls(sorted(set(call_ids))):
        try:
            found = reviewed_score(load_result(Path(out_dir), call_id), store, lex)
        except (CallNotFound, OSError, ValueError, KeyError):
            continue  # a result that cannot be read keeps its automatic score
        if found is not None:
            rows.append({"call_id": found.call_id, "reviewed_score": found.score, "reviewed_passed": found.passed,
                         "reviewed_findings": found.reviewed, "false_alarms": found.false_alarms})
    return pl.DataFrame(rows, schema=COLUMNS)
