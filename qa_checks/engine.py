"""Run the registered checks on a transcript and put the result together (CONTRACT.md output).

The engine knows no rule by name: it loops over the checks of the registry whose rules are enabled in
`rules.yaml`, then over the measures, and scores what they found.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

from callqa import __version__
from callqa.model import CallResult, Finding, Kind, Status, Transcript

# the families register their checks when imported
from . import dynamics, events, forbidden, identity, opening, questions, rate  # noqa: F401
from .call import AnalyzedCall
from .lexicon import Lexicon, read_lexicon
from .questions import checklist, questions_of
from .registry import MEASURES, enabled_checks, validate
from .scoring import score


@lru_cache(maxsize=1)
def engine_version() -> str:
    """The package version and a hash of the rule code: a result scored by other code is re-scored."""
    h = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for path in sorted(here.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"{__version__}+{h.hexdigest()[:10]}"


def load_lexicon(directory: str | os.PathLike[str] | None = None) -> Lexicon:
    """Load the lexicons and check them against the rule registry both ways (LexiconError naming the file
    and the entry); cached per folder and content."""
    lex = read_lexicon(directory)
    if (lex.directory, lex.fingerprint) not in _VALIDATED:
        validate(lex)
        _VALIDATED.add((lex.directory, lex.fingerprint))
    return lex


_VALIDATED: set[tuple[Path, str]] = set()


def status_of(finding: Finding, lex: Lexicon) -> Status:
    """A violation or an alert as found, unless it rests on words the recogniser was unsure of."""
    found = Status.ALERT if finding.kind == Kind.ALERT else Status.VIOLATION
    if finding.confidence is None:
        return found
    if finding.confidence < float(lex.setting(f"confidence.{finding.basis.value}_below")):
        return Status.NEEDS_REVIEW
    return found


def check_call(transcript: Transcript, lexicon: Lexicon | None = None) -> CallResult:
    """Score one call against the whole rulebook. Pure: no I/O beyond the (cached) lexicon."""
    lex = lexicon or load_lexicon()
    call = AnalyzedCall(transcript, lex)
    findings: list[Finding] = []
    for check in enabled_checks(lex):
        findings += [f for f in check.run(call) if lex.rules[f.rule].enabled]
    metrics: dict[str, object] = {}
    for m in MEASURES.values():
        metrics.update(m.run(call))
    for f in findings:
        f.status = status_of(f, lex)
    order = {rule: i for i, rule in enumerate(lex.rules)}  # the catalogue's order breaks ties
    findings.sort(key=lambda f: (f.kind != Kind.VIOLATION, f.severity.rank, f.start, order[f.rule]))
    overall, dims, passed = score(findings, lex)
    qa = questions_of(call)
    a_secs = float(metrics.get("agent_speaking_seconds", 0.0))  # type: ignore[arg-type]
    c_secs = float(metrics.get("customer_speaking_seconds", 0.0))  # type: ignore[arg-type]
    metrics.update({
        "duration": round(transcript.duration, 2),
        "segments": len(transcript.segments),
        "talk_ratio": round(a_secs / (a_secs + c_secs), 3) if a_secs + c_secs > 0 else None,
        "items_asked": len(qa.first),
        "items_total": len(qa.items),
        "early_end": qa.early_end[1] if qa.early_end else None,
    })
    q = qa.questionnaire[0] if len(qa.questionnaire) == 1 else list(qa.questionnaire)
    return CallResult(
        call_id=transcript.call_id,
        questionnaire=q,
        questionnaire_source=qa.source,
        score=overall,
        passed=passed,
        dimensions=dims,
        findings=findings,
        metrics=metrics,
        agent_id=transcript.agent_id,
        started_at=transcript.started_at,
        team=transcript.team,
        recording=transcript.recording,
        checklist=checklist(call),
        scoring={"lexicon_fingerprint": lex.fingerprint, "engine_version": engine_version()},
    )
